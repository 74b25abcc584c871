//! Property tests of the vector text decoder and the vector value rules:
//! any text gives a vector or a typed error (never a panic), valid vectors
//! round-trip through their text form exactly, and casts enforce dimensions.

use cairn_core::vector::{self, VectorError, VECTOR_DIMS_MAX};
use cairn_core::{DataType, ErrorKind, Value};
use proptest::prelude::*;

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<f32>().prop_filter("finite", |x| x.is_finite()),
        -1.0f32..1.0,
        Just(0.0f32),
        Just(-0.0f32),
        Just(f32::MIN_POSITIVE),
        Just(f32::MAX),
    ]
}

proptest! {
    #[test]
    fn any_text_parses_or_fails_typed(s in ".{0,64}") {
        match vector::parse(&s) {
            Ok(v) => prop_assert!(vector::validate(&v).is_ok()),
            Err(VectorError::Malformed { .. } | VectorError::NonFinite { .. } | VectorError::BadDims { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn bracketed_soup_never_panics(body in "[0-9eE+\\-., naifINAF]{0,40}") {
        let _ = vector::parse(&format!("[{body}]"));
    }

    #[test]
    fn valid_vectors_round_trip_exactly(v in prop::collection::vec(finite_f32(), 1..64)) {
        let text = vector::format(&v);
        let back = vector::parse(&text).expect("own output parses");
        prop_assert_eq!(back.len(), v.len());
        for (a, b) in back.iter().zip(&v) {
            prop_assert_eq!(a.to_bits(), b.to_bits(), "{} in {}", b, text);
        }
    }

    #[test]
    fn casts_check_dimensions(v in prop::collection::vec(-10.0f32..10.0, 1..20), dims in 1u32..20) {
        let value = Value::text(&vector::format(&v));
        let r = value.cast(DataType::Vector(dims));
        if v.len() == dims as usize {
            prop_assert!(r.is_ok());
        } else {
            prop_assert_eq!(r.map_err(|e| e.kind()).err(), Some(ErrorKind::Vector));
        }
    }

    #[test]
    fn halfvec_text_round_trips_through_f16(v in prop::collection::vec(-60000.0f32..60000.0, 1..32)) {
        let value = Value::text(&vector::format(&v)).cast(DataType::HalfVec(0)).expect("in range");
        let text = value.to_text().expect("text");
        let again = Value::text(&text).cast(DataType::HalfVec(0)).expect("reparse");
        prop_assert_eq!(value, again);
    }
}

#[test]
fn limits_are_enforced() {
    let max = format!("[{}]", vec!["0.5"; VECTOR_DIMS_MAX].join(","));
    assert_eq!(vector::parse(&max).map(|v| v.len()), Ok(VECTOR_DIMS_MAX));
    let over = format!("[{}]", vec!["0.5"; VECTOR_DIMS_MAX + 1].join(","));
    assert!(matches!(
        vector::parse(&over),
        Err(VectorError::BadDims { .. })
    ));
}
