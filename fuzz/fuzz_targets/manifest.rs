//! A MANIFEST file: any bytes decode or fail with `Corrupt`, never panic;
//! whatever decodes re-encodes to a manifest that decodes to the same value.
#![no_main]

use cairn_core::ErrorKind;
use cairn_storage::fuzzing::decode_manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_manifest(data) {
        Ok(m) => {
            let bytes = m.encode().expect("a decoded manifest encodes");
            let again = decode_manifest(&bytes).expect("an encoded manifest decodes");
            assert_eq!(m, again);
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}"),
    }
});
