//! One encoded row of values: any bytes decode or fail with `Corrupt`,
//! never panic. The encoding is canonical (fixed-width little-endian
//! fields, exact lengths, booleans only 0/1, Real kept as raw bits, vector
//! elements finite and kept as raw bits), so whatever decodes must
//! re-encode to exactly the input.
#![no_main]

use cairn_core::ErrorKind;
use cairn_storage::fuzzing::{decode_values, encode_values};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_values(data) {
        Ok(values) => assert!(
            encode_values(&values) == data,
            "decoded values re-encode differently"
        ),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}"),
    }
});
