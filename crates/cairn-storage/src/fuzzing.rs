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

/// Encodes planner statistics as a segment file's PLANNER_STATS section
/// body (RFC 0001 §4.7).
pub fn encode_planner_stats(stats: &crate::stats::TableStats) -> Vec<u8> {
    crate::checkpoint::encode_planner_stats(stats)
}

/// Decodes a PLANNER_STATS section body for a table of `columns` columns.
pub fn decode_planner_stats(bytes: &[u8], columns: usize) -> Result<crate::stats::TableStats> {
    let sections = [(crate::checkpoint::section::PLANNER_STATS, bytes, 0u64)];
    crate::checkpoint::load_planner_stats(&sections, "stats", columns)?
        .ok_or_else(|| cairn_core::Error::internal("the section vanished"))
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

/// A valid WAL record payload (kind, version, body) of kind 10: a vector
/// index `v_e` (L2, m = 4) over column 1 of table `v`, with the graph of
/// `n` seeded pseudo-random `dims`-dimensional vectors (keys 1..=n) and
/// every third node not live — a seed for fuzzing and mutation tests. A
/// quantized index's record carries the graph's codes.
pub fn vector_index_built_record(
    n: usize,
    dims: usize,
    seed: u64,
    quantization: crate::Quantization,
) -> Result<Vec<u8>> {
    use crate::Quantization;
    use cairn_vector::hnsw::{Graph, HnswParams, Metric};
    let params = HnswParams {
        m: 4,
        ef_construction: 16,
        metric: Metric::L2,
    };
    let mut state = seed;
    let vectors: Vec<f32> = (0..n * dims)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    let keys: Vec<u64> = (1..=n as u64).collect();
    let mut graph = Graph::build(params, dims, keys, vectors, None)
        .map_err(|e| cairn_core::Error::internal(e.to_string()))?;
    graph.quantize(quantization);
    let def = crate::vector::VectorIndexDef {
        name: "v_e".into(),
        column: 1,
        dims,
        params,
        quantization,
        rerank: if quantization == Quantization::None {
            cairn_vector::hnsw::RERANK_DEFAULT
        } else {
            3
        },
        compact_ratio: crate::vector::COMPACT_RATIO_DEFAULT,
        create_sql: "CREATE INDEX v_e ON v USING hnsw (e)".into(),
    };
    let live: Vec<bool> = (0..n).map(|i| i % 3 != 2).collect();
    let mut framed = Vec::new();
    wal::encode_vector_index_built(&mut framed, "v", &def, &graph.to_parts(), &live);
    Ok(framed.split_off(8))
}

/// A valid WAL record payload of kind 13: a transaction that created table
/// `t` (id 7, an integer key and a text column), added a column to it and
/// wrote `rows` (values for the two first columns) — a seed for fuzzing
/// and mutation tests.
pub fn transaction_record(rows: &[Vec<Value>]) -> Vec<u8> {
    use crate::schema::{ColumnDef, TableSchema};
    use cairn_core::DataType;
    let column = |name: &str, data_type: DataType| ColumnDef {
        name: name.into(),
        data_type,
        declared_type: format!("{data_type}"),
        nullable: true,
        default_sql: None,
        added_default: Value::Null,
    };
    let schema = TableSchema {
        name: "t".into(),
        columns: vec![column("id", DataType::Integer), column("s", DataType::Text)],
        primary_key: Some(vec![0]),
        checks: Vec::new(),
        auto_increment: Some(0),
        create_sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)".into(),
    };
    let record = Record::Transaction {
        ddl: vec![
            Record::CreateTable { id: 7, schema },
            Record::AddColumn {
                table: "t".into(),
                column: column("n", DataType::Integer),
                create_sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER)".into(),
            },
        ],
        commit: (!rows.is_empty()).then(|| {
            Box::new(Record::Commit {
                ts: 3,
                tables: vec![(
                    7,
                    (rows.iter().enumerate())
                        .map(|(i, r)| (i as u64 + 1, Some(r.clone())))
                        .collect(),
                )],
            })
        }),
    };
    let mut framed = Vec::new();
    record.encode(&mut framed);
    framed.split_off(8)
}

/// Decodes a WAL record payload and encodes the record again (payload
/// only): equal to the input for every record this build writes.
pub fn reencode_wal_record(payload: &[u8]) -> Result<Vec<u8>> {
    let mut framed = Vec::new();
    Record::decode(payload, "record", 0)?.encode(&mut framed);
    Ok(framed.split_off(8))
}
