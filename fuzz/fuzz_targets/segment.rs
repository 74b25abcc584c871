//! One segment file: the container decoder (header, trailer, section
//! table, checksums) and the full load a database open runs (rows,
//! indexes, HNSW graphs via `Graph::from_parts`). Any bytes load or fail
//! with `Corrupt`, never panic. The checkpoint timestamp is taken from the
//! header bytes so mutated inputs reach the loader.
#![no_main]

use cairn_core::ErrorKind;
use cairn_storage::fuzzing::{decode_segment_file, load_segment_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = decode_segment_file(data) {
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        return;
    }
    let ts = data
        .get(24..32)
        .and_then(|b| b.try_into().ok())
        .map_or(1, u64::from_le_bytes);
    if let Err(e) = load_segment_file(data, ts) {
        // A loaded index may fail its own checks (Corrupt); nothing else.
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    }
});
