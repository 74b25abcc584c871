//! Entry points for fuzz targets and property tests of the decoders. Not a
//! stable API: each function runs one decoder over untrusted bytes and must
//! return an error (never panic) on anything malformed.

use std::path::Path;

use cairn_core::{Result, Value};

use crate::codec::{Dec, Enc};
use crate::fs::{SimFs, Vfs};
use crate::manifest::Manifest;
use crate::wal::{self, Record};

/// Decodes `bytes` as one WAL file (`wal/00000000000000000001.wal`) the way
/// open does; returns the number of records it holds.
pub fn decode_wal_file(bytes: &[u8], salvage: bool) -> Result<usize> {
    let fs = SimFs::new();
    let dir = Path::new("/db/wal");
    fs.create_dir_all(dir)?;
    let mut f = fs.open_write(&dir.join(wal::file_name(1)))?;
    f.write_at(0, bytes)?;
    Ok(wal::scan(&fs, dir, 1, salvage)?.records.len())
}

/// Decodes one WAL record payload (kind, version, body).
pub fn decode_wal_record(payload: &[u8]) -> Result<()> {
    Record::decode(payload, "record", 0).map(|_| ())
}

/// Decodes a MANIFEST file.
pub fn decode_manifest(bytes: &[u8]) -> Result<Manifest> {
    Manifest::decode(bytes, "MANIFEST")
}

/// Encodes a row of values the way WAL records do.
pub fn encode_values(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    Enc(&mut out).values(values);
    out
}

/// Decodes a row of values; the bytes must be exactly one encoded row.
pub fn decode_values(bytes: &[u8]) -> Result<Vec<Value>> {
    let mut d = Dec::new(bytes, "values", 0);
    let v = d.values()?;
    if !d.done() {
        return Err(d.err("trailing bytes after the values"));
    }
    Ok(v)
}

/// A valid WAL file image holding one commit record per row in `rows`
/// (table id 1), each in its own batch — a seed for fuzzing and for
/// corruption tests.
pub fn wal_file_with_commits(rows: &[Vec<Value>]) -> Vec<u8> {
    let mut out = wal::file_header(1).to_vec();
    for (i, row) in rows.iter().enumerate() {
        let mut rec = Vec::new();
        Record::Commit {
            ts: i as u64 + 1,
            tables: vec![(1, vec![(i as u64 + 1, Some(row.clone()))])],
        }
        .encode(&mut rec);
        wal::append_batch_image(&mut out, i as u64 + 1, i as u64, &rec);
    }
    out
}

/// Decodes `bytes` as a segment file (header, trailer, section table,
/// section checksums); returns the number of sections.
pub fn decode_segment_file(bytes: &[u8]) -> Result<usize> {
    crate::checkpoint::decode_file(bytes, "segment").map(|(_, s)| s.len())
}

/// Loads `bytes` as the only segment file of a checkpoint at timestamp
/// `ts` into an empty store (rows, indexes, HNSW graphs): the full decoder
/// a database open runs.
pub fn load_segment_file(bytes: &[u8], ts: u64) -> Result<()> {
    let fs = SimFs::new();
    let dir = Path::new("/db");
    fs.create_dir_all(&dir.join("segments"))?;
    let name = format!("{ts:020}-00000000000000000001.seg");
    let mut f = fs.open_write(&dir.join("segments").join(&name))?;
    f.write_at(0, bytes)?;
    crate::checkpoint::load(
        &crate::shared::Shared::new(),
        &crate::merkle::Merkle::new(true),
        &crate::jobs::Jobs::default(),
        &fs,
        dir,
        &crate::manifest::CheckpointRef {
            ts,
            files: vec![name],
        },
    )
}
