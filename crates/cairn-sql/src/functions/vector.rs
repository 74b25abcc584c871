//! The vector SQL functions: `vec_distance_l2` / `l2_distance`,
//! `vec_distance_cosine`, the inner products, `vec_dims`, `vec_norm`,
//! `l2_normalize` and `vector(text)`. Values, the text form and the
//! distance arithmetic are in [`cairn_core::vector`]; these only adapt
//! SQL arguments to it (NULL in, NULL out).

use std::sync::Arc;

use cairn_core::vector::{distance, l2_normalize, norm, to_half, DistanceKind};
use cairn_core::{Error, Value};

use super::arg;

fn distance_fn(kind: DistanceKind, args: &[Value]) -> Result<Value, Error> {
    let a = arg(args, 0).vector_arg()?;
    let b = arg(args, 1).vector_arg()?;
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(Value::Null);
    };
    Ok(match distance(kind, &a, &b)? {
        Some(d) => Value::real(d),
        None => Value::Null,
    })
}

pub(crate) fn fn_l2_distance(args: &[Value]) -> Result<Value, Error> {
    distance_fn(DistanceKind::L2, args)
}

pub(crate) fn fn_cosine_distance(args: &[Value]) -> Result<Value, Error> {
    distance_fn(DistanceKind::Cosine, args)
}

pub(crate) fn fn_negative_inner_product(args: &[Value]) -> Result<Value, Error> {
    distance_fn(DistanceKind::NegativeDot, args)
}

pub(crate) fn fn_inner_product(args: &[Value]) -> Result<Value, Error> {
    distance_fn(DistanceKind::Dot, args)
}

pub(crate) fn fn_dims(args: &[Value]) -> Result<Value, Error> {
    Ok(match arg(args, 0).vector_arg()? {
        Some(v) => Value::Integer(v.len() as i64),
        None => Value::Null,
    })
}

pub(crate) fn fn_norm(args: &[Value]) -> Result<Value, Error> {
    Ok(match arg(args, 0).vector_arg()? {
        Some(v) => Value::real(norm(&v)),
        None => Value::Null,
    })
}

pub(crate) fn fn_l2_normalize(args: &[Value]) -> Result<Value, Error> {
    let arg = arg(args, 0);
    Ok(match arg.vector_arg()? {
        Some(v) => {
            let n = l2_normalize(&v);
            match arg {
                Value::HalfVec(_) => Value::HalfVec(Arc::from(to_half(&n)?)),
                _ => Value::vector(n)?,
            }
        }
        None => Value::Null,
    })
}

/// `vector('[1,2]')`: text (or a vector) as a VECTOR value.
pub(crate) fn fn_vector(args: &[Value]) -> Result<Value, Error> {
    Ok(match arg(args, 0).vector_arg()? {
        Some(v) => Value::vector(v.into_owned())?,
        None => Value::Null,
    })
}
