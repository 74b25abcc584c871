//! A whole WAL file, read the way open reads it, strictly and with salvage.
//! Neither may panic; every failure is `Corrupt`; when the strict read
//! succeeds, salvage must read exactly the same records (it only turns
//! errors into cuts).
#![no_main]

use cairn_core::ErrorKind;
use cairn_storage::fuzzing::decode_wal_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = decode_wal_file(data, false);
    let salvage = decode_wal_file(data, true);
    for r in [&strict, &salvage] {
        if let Err(e) = r {
            assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        }
    }
    if let Ok(n) = strict {
        match salvage {
            Ok(m) => assert_eq!(n, m, "salvage read a different log"),
            Err(e) => panic!("strict read {n} records, salvage failed: {e}"),
        }
    }
});
