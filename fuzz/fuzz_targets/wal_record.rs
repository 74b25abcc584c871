//! One WAL record payload (kind, version, body): any bytes decode or fail
//! with `Corrupt`, never panic.
#![no_main]

use cairn_core::ErrorKind;
use cairn_storage::fuzzing::decode_wal_record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = decode_wal_record(data) {
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    }
});
