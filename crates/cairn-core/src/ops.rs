//! Arithmetic and string operators on [`Value`], with SQLite's semantics:
//! NULL in → NULL out; INTEGER op INTEGER stays INTEGER unless it overflows
//! (then REAL); `/` and `%` by zero yield NULL; text operands are read by
//! their numeric prefix.

use std::sync::Arc;

use crate::value::{Numeric, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

pub fn arith(op: ArithOp, a: &Value, b: &Value) -> Value {
    let (Some(x), Some(y)) = (a.to_numeric(), b.to_numeric()) else {
        return Value::Null;
    };
    match (x, y) {
        (Numeric::Int(x), Numeric::Int(y)) => int_arith(op, x, y),
        _ if op == ArithOp::Rem => real_rem(a, b),
        _ => real_arith(op, x.as_f64(), y.as_f64()),
    }
}

/// `%` when an operand is not an integer (SQLite): each operand is made an
/// integer on its own, as CAST(x AS INTEGER) does (reals truncate and
/// saturate, text gives its integer prefix, integers stay exact), the
/// integer remainder is taken, and the result is a REAL.
fn real_rem(a: &Value, b: &Value) -> Value {
    let int = |v: &Value| match v.cast(crate::value::DataType::Integer) {
        Ok(Value::Integer(i)) => i,
        _ => 0,
    };
    let (xi, yi) = (int(a), int(b));
    if yi == 0 {
        return Value::Null;
    }
    // x % -1 is 0 (and i64::MIN % -1 would overflow).
    Value::Real(xi.checked_rem(yi).unwrap_or(0) as f64)
}

fn int_arith(op: ArithOp, x: i64, y: i64) -> Value {
    let r = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div => {
            if y == 0 {
                return Value::Null;
            }
            // i64::MIN / -1 overflows: SQLite gives a REAL.
            x.checked_div(y)
        }
        ArithOp::Rem => {
            if y == 0 {
                return Value::Null;
            }
            Some(x.checked_rem(y).unwrap_or(0))
        }
    };
    match r {
        Some(v) => Value::Integer(v),
        None => real_arith(op, x as f64, y as f64),
    }
}

fn real_arith(op: ArithOp, x: f64, y: f64) -> Value {
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => {
            if y == 0.0 {
                return Value::Null;
            }
            x / y
        }
        ArithOp::Rem => return real_rem(&Value::Real(x), &Value::Real(y)),
    };
    Value::real(r)
}

pub fn negate(a: &Value) -> Value {
    match a.to_numeric() {
        None => Value::Null,
        Some(Numeric::Int(i)) => match i.checked_neg() {
            Some(v) => Value::Integer(v),
            None => Value::Real(-(i as f64)),
        },
        Some(Numeric::Real(f)) => Value::Real(-f),
    }
}

/// Unary `+`: SQLite returns the operand unchanged.
pub fn plus(a: &Value) -> Value {
    a.clone()
}

pub fn concat(a: &Value, b: &Value) -> Value {
    let mut s = String::new();
    if push_text(a, &mut s) && push_text(b, &mut s) {
        Value::Text(Arc::from(s))
    } else {
        Value::Null
    }
}

/// Appends `v` as text (what [`Value::to_text`] gives) to `out`, without a
/// copy in between for text and integers; `false`, appending nothing, for
/// NULL.
pub fn push_text(v: &Value, out: &mut String) -> bool {
    use std::fmt::Write;
    match v {
        Value::Null => return false,
        Value::Text(s) | Value::Json(s) => out.push_str(s),
        Value::Integer(i) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "{i}");
        }
        other => match other.to_text() {
            Some(t) => out.push_str(&t),
            None => return false,
        },
    }
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    ShiftLeft,
    ShiftRight,
}

pub fn bitwise(op: BitOp, a: &Value, b: &Value) -> Value {
    let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) else {
        return Value::Null;
    };
    Value::Integer(match op {
        BitOp::And => x & y,
        BitOp::Or => x | y,
        BitOp::Xor => x ^ y,
        BitOp::ShiftLeft => shift(x, y),
        BitOp::ShiftRight => shift(x, y.checked_neg().unwrap_or(i64::MAX)),
    })
}

fn shift(x: i64, by: i64) -> i64 {
    if by >= 64 {
        0
    } else if by >= 0 {
        x << by
    } else if by <= -64 {
        if x < 0 {
            -1
        } else {
            0
        }
    } else {
        x >> (-by)
    }
}

pub fn bit_not(a: &Value) -> Value {
    match a.as_i64() {
        Some(i) => Value::Integer(!i),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_arithmetic() {
        use ArithOp::*;
        let i = Value::Integer;
        assert_eq!(arith(Div, &i(7), &i(2)), i(3));
        assert_eq!(arith(Div, &i(-7), &i(2)), i(-3));
        assert!(arith(Div, &i(1), &i(0)).is_null());
        assert!(arith(Rem, &i(1), &i(0)).is_null());
        assert_eq!(arith(Rem, &i(-7), &i(3)), i(-1));
        assert_eq!(
            arith(Add, &i(i64::MAX), &i(1)),
            Value::Real(i64::MAX as f64 + 1.0)
        );
        assert_eq!(arith(Mul, &Value::Real(1.5), &i(2)), Value::Real(3.0));
        assert!(arith(Add, &Value::Null, &i(1)).is_null());
        assert_eq!(negate(&i(i64::MIN)), Value::Real(-(i64::MIN as f64)));
    }
}
