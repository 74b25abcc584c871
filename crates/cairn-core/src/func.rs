//! The scalar function library (abs, round, substr, date functions, JSON ...),
//! resolved by name at plan time.
//! (Placeholder: completed by the function-library work; see missions/foundation.md.)

use crate::error::Result;
use crate::value::Value;

/// A scalar function: a name, its arity range and an evaluator.
pub struct ScalarFunction {
    pub name: &'static str,
    pub min_args: usize,
    /// `None` = variadic.
    pub max_args: Option<usize>,
    /// False for functions whose result changes between calls (random, now).
    pub deterministic: bool,
    pub eval: fn(&[Value]) -> Result<Value>,
}

/// Looks up a scalar function by its lower-case name.
pub fn lookup(_name: &str) -> Option<&'static ScalarFunction> {
    None
}
