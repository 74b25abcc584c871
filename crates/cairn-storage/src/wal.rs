//! The write-ahead log: one record per committed transaction (and per DDL
//! statement), written in batches by one writer thread that fsyncs once per
//! batch (group commit). Layout and validity rules: `rfcs/0001-storage-format.md`.
//!
//! A committer appends its record to the queue (getting a log sequence
//! number, LSN) while it holds the store's commit lock, then waits outside
//! the lock until the writer reports the LSN written (and synced, under
//! `synchronous = full`). If a write or fsync fails, every queued record
//! past the last good one fails; the store undoes those commits in memory
//! and calls [`Wal::reset`], which cuts the file back so later commits can
//! go on once the disk works again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::{Error, Result, Value};
use cairn_vector::hnsw::GraphParts;
use parking_lot::{Condvar, Mutex};

use crate::codec::{le32, le64, Dec, Enc};
use crate::fs::{VFile, Vfs};
use crate::schema::{ColumnDef, IndexDef, TableSchema, TriggerDef, ViewDef};
use crate::vector::{BuiltGraph, VectorIndexDef};
use crate::{RowId, Ts};

/// Format version written into every WAL file header. Version 2 added
/// record kind 10 (a vector index with its built graph), version 3 record
/// kinds 11 and 12 (CREATE / DROP TRIGGER); a writer appends to an
/// older-version file it finds, and readers take every
/// record kind they know in any file (the manifest's `wal_format_version`
/// is what tells an older reader to stop). Version 4 added record kind 13
/// (a transaction that ran DDL), version 5 vector index options
/// (quantization and rerank, flagged in the metric byte; SQ8 codes after a
/// built graph's live flags), version 6 RaBitQ codes (codec byte 2 and its
/// bits; the seed, centroid and records after the live flags).
pub const WAL_FORMAT_VERSION: u32 = 6;
/// Oldest WAL format version this build reads.
pub const WAL_FORMAT_OLDEST: u32 = 1;
/// Version byte of record payloads.
pub const WAL_RECORD_VERSION: u8 = 1;
/// A WAL file is rotated once it grows past this size.
pub const WAL_FILE_BYTES_MAX: u64 = 64 << 20;
/// Under `synchronous = normal`, the longest time written data waits for an
/// fsync.
pub const NORMAL_SYNC_INTERVAL: Duration = Duration::from_millis(50);

const FILE_MAGIC: &[u8; 8] = b"CAIRNWAL";
pub(crate) const FILE_HEADER: usize = 32;
const BATCH_MAGIC: u32 = u32::from_le_bytes(*b"BTCH");
const BATCH_HEADER: usize = 32;
const RECORD_HEADER: usize = 8;

// The layouts of RFC 0001 Part 3, pinned at compile time: a file header is
// magic 8, version 4, reserved 4, sequence 8, reserved 4, crc 4; a batch
// header is magic 4, record count 4, sequence 8, synced-through 8, body
// length 4, crc 4; a record header is length 4, crc 4. Batches stay 8-byte
// aligned (bodies are padded), which needs 8-byte-multiple headers.
const _: () = assert!(FILE_HEADER == FILE_MAGIC.len() + 4 + 4 + 8 + 4 + 4);
const _: () = assert!(BATCH_HEADER == 4 + 4 + 8 + 8 + 4 + 4);
const _: () = assert!(RECORD_HEADER == 4 + 4);
const _: () = assert!(FILE_HEADER.is_multiple_of(8) && BATCH_HEADER.is_multiple_of(8));
/// The longest a synced batch waits for more committers to join it.
const GATHER_WAIT_MAX: Duration = Duration::from_micros(500);
/// Condition variables committers wait on, by LSN.
const WAIT_STRIPES: usize = 64;
/// Largest encode buffer kept between records.
const SCRATCH_BYTES_KEPT_MAX: usize = 16 << 20;
/// Largest record payload accepted (a bound for decoders, not a design
/// limit of commits: 1 GiB).
const RECORD_BYTES_MAX: u32 = 1 << 30;

/// When a commit counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Acknowledged once written to the OS; never fsynced by commits (a
    /// power cut may lose recent commits, a process crash loses none).
    Off,
    /// Acknowledged once written to the OS; fsynced at most
    /// [`NORMAL_SYNC_INTERVAL`] later.
    Normal,
    /// Acknowledged only after its batch is fsynced.
    Full,
}

impl Synchronous {
    pub fn parse(s: &str) -> Option<Synchronous> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "0" => Some(Synchronous::Off),
            "normal" | "1" => Some(Synchronous::Normal),
            "full" | "2" | "on" => Some(Synchronous::Full),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Synchronous::Off => "off",
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        }
    }
}

// ---- records -------------------------------------------------------------

/// Record kinds (the first payload byte).
mod kind {
    pub const COMMIT: u8 = 1;
    pub const CREATE_TABLE: u8 = 2;
    pub const DROP_TABLE: u8 = 3;
    pub const CREATE_VIEW: u8 = 4;
    pub const DROP_VIEW: u8 = 5;
    pub const CREATE_INDEX: u8 = 6;
    pub const CREATE_VECTOR_INDEX: u8 = 7;
    pub const DROP_INDEX: u8 = 8;
    pub const ADD_COLUMN: u8 = 9;
    /// A vector index with the graph its build produced (WAL format 2).
    pub const CREATE_VECTOR_INDEX_BUILT: u8 = 10;
    /// A trigger (WAL format 3).
    pub const CREATE_TRIGGER: u8 = 11;
    pub const DROP_TRIGGER: u8 = 12;
    /// A transaction that ran DDL: its catalog records, then its commit
    /// (if it wrote rows), applied together or not at all (WAL format 4).
    pub const TRANSACTION: u8 = 13;
}

/// One row written by a commit: new values, or `None` for a delete.
pub(crate) type RowWrite = (RowId, Option<Vec<Value>>);

/// A decoded WAL record.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    Commit {
        ts: Ts,
        tables: Vec<(u64, Vec<RowWrite>)>,
    },
    CreateTable {
        id: u64,
        schema: TableSchema,
    },
    DropTable {
        name: String,
    },
    CreateView(ViewDef),
    DropView {
        name: String,
    },
    CreateIndex {
        table: String,
        def: IndexDef,
    },
    /// Replay builds the index's graph from the rows, unless `built`
    /// carries the graph the live build produced (kind 10).
    CreateVectorIndex {
        table: String,
        def: VectorIndexDef,
        built: Option<Arc<BuiltGraph>>,
    },
    DropIndex {
        name: String,
    },
    AddColumn {
        table: String,
        column: ColumnDef,
        create_sql: String,
    },
    CreateTrigger(TriggerDef),
    DropTrigger {
        name: String,
    },
    /// A transaction that ran DDL (kind 13): `ddl` in order (never a
    /// commit or another transaction), then `commit` (a [`Record::Commit`])
    /// if it wrote rows.
    Transaction {
        ddl: Vec<Record>,
        commit: Option<Box<Record>>,
    },
}

/// Frames a payload: length, checksum, payload.
fn frame(out: &mut Vec<u8>, payload_kind: u8, body: impl FnOnce(&mut Enc<'_>)) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    let mut e = Enc(out);
    e.u8(payload_kind);
    e.u8(WAL_RECORD_VERSION);
    body(&mut e);
    let payload = &out[start + RECORD_HEADER..];
    let len = payload.len() as u32;
    let crc = crc32c::crc32c(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Encodes a commit record from the transaction's write set, in table then
/// first-write order. `rows` yields, per table, (table id, row writes).
pub(crate) fn encode_commit<'a>(
    out: &mut Vec<u8>,
    ts: Ts,
    tables: impl Iterator<Item = (u64, Vec<(RowId, Option<&'a [Value]>)>)>,
) {
    let tables: Vec<_> = tables.collect();
    frame(out, kind::COMMIT, |e| {
        e.u64(ts);
        e.len(tables.len());
        for (id, rows) in &tables {
            e.u64(*id);
            e.len(rows.len());
            for (rid, row) in rows {
                e.u64(*rid);
                match row {
                    None => e.u8(0),
                    Some(values) => {
                        e.u8(1);
                        e.values(values);
                    }
                }
            }
        }
    });
}

/// Encodes a CreateVectorIndex record that carries the built graph (kind
/// 10): table name, index definition, graph (`live`: one flag per node).
pub(crate) fn encode_vector_index_built(
    out: &mut Vec<u8>,
    table: &str,
    def: &VectorIndexDef,
    graph: &GraphParts,
    live: &[bool],
) {
    frame(out, kind::CREATE_VECTOR_INDEX_BUILT, |e| {
        e.str(table);
        e.vector_index(def);
        e.built_graph(graph, live);
    });
}

/// Encodes a transaction record (kind 13) from its DDL records and its
/// commit, each already framed (their frames are dropped: the outer
/// record's checksum covers them).
pub(crate) fn encode_transaction(out: &mut Vec<u8>, ddl: &[Vec<u8>], commit: Option<&[u8]>) {
    frame(out, kind::TRANSACTION, |e| {
        e.len(ddl.len());
        for r in ddl {
            e.bytes(&r[RECORD_HEADER..]);
        }
        match commit {
            None => e.u8(0),
            Some(c) => {
                e.u8(1);
                e.bytes(&c[RECORD_HEADER..]);
            }
        }
    });
}

impl Record {
    /// Appends this record, framed.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Commit { ts, tables } => encode_commit(
                out,
                *ts,
                tables.iter().map(|(id, rows)| {
                    (*id, rows.iter().map(|(r, v)| (*r, v.as_deref())).collect())
                }),
            ),
            Record::CreateTable { id, schema } => frame(out, kind::CREATE_TABLE, |e| {
                e.u64(*id);
                e.schema(schema);
            }),
            Record::DropTable { name } => frame(out, kind::DROP_TABLE, |e| e.str(name)),
            Record::CreateView(v) => frame(out, kind::CREATE_VIEW, |e| e.view(v)),
            Record::DropView { name } => frame(out, kind::DROP_VIEW, |e| e.str(name)),
            Record::CreateIndex { table, def } => frame(out, kind::CREATE_INDEX, |e| {
                e.str(table);
                e.index(def);
            }),
            Record::CreateVectorIndex {
                table,
                def,
                built: None,
            } => frame(out, kind::CREATE_VECTOR_INDEX, |e| {
                e.str(table);
                e.vector_index(def);
            }),
            Record::CreateVectorIndex {
                table,
                def,
                built: Some(b),
            } => encode_vector_index_built(out, table, def, &b.graph.to_parts(), &b.live),
            Record::DropIndex { name } => frame(out, kind::DROP_INDEX, |e| e.str(name)),
            Record::AddColumn {
                table,
                column,
                create_sql,
            } => frame(out, kind::ADD_COLUMN, |e| {
                e.str(table);
                e.column(column);
                e.str(create_sql);
            }),
            Record::CreateTrigger(t) => frame(out, kind::CREATE_TRIGGER, |e| e.trigger(t)),
            Record::DropTrigger { name } => frame(out, kind::DROP_TRIGGER, |e| e.str(name)),
            Record::Transaction { ddl, commit } => {
                let framed = |r: &Record| {
                    let mut b = Vec::new();
                    r.encode(&mut b);
                    b
                };
                let ddl: Vec<Vec<u8>> = ddl.iter().map(framed).collect();
                let commit = commit.as_deref().map(framed);
                encode_transaction(out, &ddl, commit.as_deref());
            }
        }
    }

    /// Decodes one record payload (kind, version, body); `base` is its
    /// offset in `file`, for errors.
    pub(crate) fn decode(payload: &[u8], file: &str, base: u64) -> Result<Record> {
        let mut d = Dec::new(payload, file, base);
        let k = d.u8()?;
        let version = d.u8()?;
        if version != WAL_RECORD_VERSION {
            return Err(d.err(format!("record version {version} (this build reads 1)")));
        }
        let r = match k {
            kind::COMMIT => {
                let ts = d.u64()?;
                let n = d.count(12)?;
                let mut tables = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = d.u64()?;
                    let rows_n = d.count(9)?;
                    let mut rows = Vec::with_capacity(rows_n);
                    for _ in 0..rows_n {
                        let rid = d.u64()?;
                        let row = match d.u8()? {
                            0 => None,
                            1 => Some(d.values()?),
                            op => return Err(d.err(format!("unknown row operation {op}"))),
                        };
                        rows.push((rid, row));
                    }
                    tables.push((id, rows));
                }
                Record::Commit { ts, tables }
            }
            kind::CREATE_TABLE => Record::CreateTable {
                id: d.u64()?,
                schema: d.schema()?,
            },
            kind::DROP_TABLE => Record::DropTable {
                name: d.str()?.to_string(),
            },
            kind::CREATE_VIEW => Record::CreateView(d.view()?),
            kind::DROP_VIEW => Record::DropView {
                name: d.str()?.to_string(),
            },
            kind::CREATE_INDEX => Record::CreateIndex {
                table: d.str()?.to_string(),
                def: d.index()?,
            },
            kind::CREATE_VECTOR_INDEX => Record::CreateVectorIndex {
                table: d.str()?.to_string(),
                def: d.vector_index()?,
                built: None,
            },
            kind::CREATE_VECTOR_INDEX_BUILT => {
                let table = d.str()?.to_string();
                let def = d.vector_index()?;
                let built = d.built_graph(&def)?;
                Record::CreateVectorIndex {
                    table,
                    def,
                    built: Some(Arc::new(built)),
                }
            }
            kind::DROP_INDEX => Record::DropIndex {
                name: d.str()?.to_string(),
            },
            kind::CREATE_TRIGGER => Record::CreateTrigger(d.trigger()?),
            kind::DROP_TRIGGER => Record::DropTrigger {
                name: d.str()?.to_string(),
            },
            kind::ADD_COLUMN => Record::AddColumn {
                table: d.str()?.to_string(),
                column: d.column()?,
                create_sql: d.str()?.to_string(),
            },
            kind::TRANSACTION => decode_transaction(&mut d, file, base)?,
            k => return Err(d.err(format!("unknown record kind {k}"))),
        };
        if !d.done() {
            return Err(d.err("trailing bytes after the record"));
        }
        Ok(r)
    }
}

/// The body of a transaction record (kind 13): its DDL records, then its
/// commit. An inner record's kind is checked before it is decoded, so
/// nesting never recurses more than one level.
fn decode_transaction(d: &mut Dec<'_>, file: &str, base: u64) -> Result<Record> {
    let n = d.count(4)?;
    let mut ddl = Vec::with_capacity(n);
    for _ in 0..n {
        let inner = d.bytes()?;
        if matches!(inner.first(), Some(&(kind::COMMIT | kind::TRANSACTION))) {
            return Err(d.err("a commit or transaction among a transaction's DDL records"));
        }
        ddl.push(Record::decode(inner, file, base)?);
    }
    let commit = match d.u8()? {
        0 => None,
        1 => {
            let inner = d.bytes()?;
            if inner.first() != Some(&kind::COMMIT) {
                return Err(d.err("a transaction's commit is not a commit record"));
            }
            Some(Box::new(Record::decode(inner, file, base)?))
        }
        f => return Err(d.err(format!("unknown commit flag {f}"))),
    };
    if ddl.is_empty() && commit.is_none() {
        return Err(d.err("an empty transaction record"));
    }
    Ok(Record::Transaction { ddl, commit })
}

// ---- files ---------------------------------------------------------------

/// `wal/NNNNNNNNNNNNNNNNNNNN.wal` for sequence number `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{seq:020}.wal")
}

/// The sequence number in a WAL file name, if it is one.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn file_header(seq: u64) -> [u8; FILE_HEADER] {
    let mut h = [0u8; FILE_HEADER];
    h[0..8].copy_from_slice(FILE_MAGIC);
    h[8..12].copy_from_slice(&WAL_FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a file header; returns the file's sequence number.
pub(crate) fn check_file_header(data: &[u8], file: &str) -> Result<u64> {
    if data.len() < FILE_HEADER {
        return Err(Error::corrupt(file, 0, "shorter than the WAL file header"));
    }
    if &data[0..8] != FILE_MAGIC {
        return Err(Error::corrupt(file, 0, "not a Cairn WAL file (bad magic)"));
    }
    if le32(data, 28) != crc32c::crc32c(&data[0..28]) {
        return Err(Error::corrupt(
            file,
            28,
            "WAL file header checksum mismatch",
        ));
    }
    let version = le32(data, 8);
    if !(WAL_FORMAT_OLDEST..=WAL_FORMAT_VERSION).contains(&version) {
        return Err(Error::corrupt(
            file,
            8,
            format!(
                "WAL format version {version}; this build reads {WAL_FORMAT_OLDEST}..={WAL_FORMAT_VERSION}"
            ),
        ));
    }
    Ok(le64(data, 16))
}

/// A batch that checked out: its sequence number, what it says was synced
/// before it, its records' payload ranges, and where it ends.
struct Batch {
    seq: u64,
    synced_through: u64,
    records: Vec<(usize, usize)>,
    end: usize,
}

/// Parses the batch at `off`; `Err(reason)` when it does not check out.
fn parse_batch(data: &[u8], off: usize) -> std::result::Result<Batch, String> {
    let Some(h) = data.get(off..off + BATCH_HEADER) else {
        return Err("batch header runs past the end of the file".into());
    };
    if le32(h, 0) != BATCH_MAGIC {
        return Err("no batch header here".into());
    }
    if le32(h, 28) != crc32c::crc32c(&h[0..28]) {
        return Err("batch header checksum mismatch".into());
    }
    let count = le32(h, 4) as usize;
    let seq = le64(h, 8);
    let synced_through = le64(h, 16);
    let body_len = le32(h, 24) as usize;
    let start = off + BATCH_HEADER;
    let Some(end) = start.checked_add(body_len).filter(|&e| e <= data.len()) else {
        return Err("batch body runs past the end of the file".into());
    };
    let mut records = Vec::with_capacity(count.min(body_len / RECORD_HEADER));
    let mut at = start;
    for i in 0..count {
        if at + RECORD_HEADER > end {
            return Err(format!("record {i} of the batch runs past its end"));
        }
        let len = le32(data, at);
        let crc = le32(data, at + 4);
        if len > RECORD_BYTES_MAX || at + RECORD_HEADER + len as usize > end {
            return Err(format!("record {i} of the batch has an impossible length"));
        }
        let p = at + RECORD_HEADER;
        let payload = &data[p..p + len as usize];
        if crc32c::crc32c(payload) != crc {
            return Err(format!("record {i} of the batch fails its checksum"));
        }
        records.push((p, len as usize));
        at = p + len as usize;
    }
    // Padding to 8 bytes, nothing else.
    if end - at >= 8 || data[at..end].iter().any(|&b| b != 0) {
        return Err("batch body has bytes after its records".into());
    }
    Ok(Batch {
        seq,
        synced_through,
        records,
        end,
    })
}

/// What a scan of the WAL found.
pub(crate) struct WalScan {
    /// Decoded records in log order, with their file and offset.
    pub(crate) records: Vec<(Record, Arc<str>, u64)>,
    /// Files found, in order: (sequence, valid length). The last one is
    /// where writing resumes; a valid length of 0 means its header must be
    /// rewritten.
    pub(crate) files: Vec<(u64, u64)>,
    /// Sequence number the next batch gets.
    pub(crate) next_batch: u64,
    /// Where the log was cut and why (a torn tail, or salvage).
    pub(crate) cut: Option<String>,
    /// A file after the last one that holds nothing (to delete).
    pub(crate) orphan: Option<u64>,
}

/// Reads every WAL file from `first_seq` on. A batch that fails its checks
/// at the tail of the last file is cut off when no later batch says it was
/// synced (a torn write a crash left); anywhere else it is
/// [`Error::Corrupt`] — unless `salvage`, which keeps what precedes it.
pub(crate) fn scan(fs: &dyn Vfs, dir: &Path, first_seq: u64, salvage: bool) -> Result<WalScan> {
    let mut seqs: Vec<u64> = fs
        .list(dir)?
        .iter()
        .filter_map(|n| parse_file_name(n))
        .filter(|&s| s >= first_seq)
        .collect();
    seqs.sort_unstable();
    // A last file whose header never reached the disk (a crash while
    // rotating) holds nothing: batches are written only after the header
    // is synced. Writing resumes in the file before it.
    let mut orphan = None;
    if let Some(&seq) = seqs.last() {
        let path = dir.join(file_name(seq));
        let data = fs.read(&path)?;
        let name = path.display().to_string();
        if let Err(e) = check_file_header(&data, &name) {
            if later_synced(&data, 0, 0).is_none() && seqs.len() > 1 {
                seqs.pop();
                orphan = Some((seq, e.to_string()));
            }
        }
    }
    let mut out = WalScan {
        records: Vec::new(),
        files: Vec::new(),
        next_batch: 1,
        cut: None,
        orphan: None,
    };
    let mut expected: Option<u64> = None;
    for (i, &seq) in seqs.iter().enumerate() {
        let path = dir.join(file_name(seq));
        let name = path.display().to_string();
        let shared_name: Arc<str> = Arc::from(name.as_str());
        let data = fs.read(&path)?;
        let last = i + 1 == seqs.len();
        if let Some(prev) = out.files.last() {
            if seq != prev.0 + 1 {
                let e = Error::corrupt(&name, 0, format!("WAL file {} is missing", prev.0 + 1));
                if salvage {
                    out.cut = Some(e.to_string());
                    break;
                }
                return Err(e);
            }
        }
        match check_file_header(&data, &name) {
            Ok(s) if s == seq => {}
            Ok(s) => {
                return Err(Error::corrupt(
                    &name,
                    16,
                    format!("header says WAL file {s}, the name says {seq}"),
                ))
            }
            Err(e) => {
                // A file whose header never reached the disk (a crash while
                // rotating) holds nothing: batches are written only after
                // the header is synced.
                if last && later_synced(&data, 0, 0).is_none() {
                    out.files.push((seq, 0));
                    out.cut = Some(e.to_string());
                    break;
                }
                if salvage {
                    out.cut = Some(e.to_string());
                    break;
                }
                return Err(e);
            }
        }
        let mut off = FILE_HEADER;
        let mut stop = false;
        while off < data.len() {
            let parsed = parse_batch(&data, off).and_then(|b| match expected {
                Some(e) if b.seq != e => Err(format!("batch {} where {e} was expected", b.seq)),
                _ => Ok(b),
            });
            match parsed {
                Ok(b) => {
                    for &(p, len) in &b.records {
                        let r = Record::decode(&data[p..p + len], &name, p as u64);
                        match r {
                            Ok(r) => out.records.push((r, shared_name.clone(), p as u64)),
                            // The checksum held, so this is not a torn
                            // write: the record itself is wrong.
                            Err(e) if salvage => {
                                out.cut = Some(e.to_string());
                                stop = true;
                                break;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    if stop {
                        break;
                    }
                    expected = Some(b.seq + 1);
                    off = b.end;
                }
                Err(why) => {
                    let want = expected.unwrap_or(1);
                    let torn = last && later_synced(&data, off, want).is_none();
                    let e = Error::corrupt(&name, off as u64, why);
                    if torn || salvage {
                        out.cut = Some(e.to_string());
                        stop = true;
                        break;
                    }
                    return Err(e);
                }
            }
        }
        out.files.push((seq, off as u64));
        if stop {
            break;
        }
    }
    out.next_batch = expected.unwrap_or(1);
    if let Some((seq, why)) = orphan {
        out.orphan = Some(seq);
        out.cut.get_or_insert(why);
    }
    Ok(out)
}

/// The offset of a valid batch after `off` whose header says batch `want`
/// (or a later one) had been synced — proof that the data at `off` was
/// durable and is damaged, not torn.
///
/// The search starts after the damaged batch's declared body when its
/// header is intact (so data inside a torn batch that happens to look like
/// a batch cannot count as proof); otherwise right after `off`.
fn later_synced(data: &[u8], off: usize, want: u64) -> Option<usize> {
    let mut at = off + 8;
    if let Some(h) = data.get(off..off + BATCH_HEADER) {
        if le32(h, 0) == BATCH_MAGIC && le32(h, 28) == crc32c::crc32c(&h[0..28]) {
            let body_end = (off + BATCH_HEADER).saturating_add(le32(h, 24) as usize);
            at = at.max(body_end.div_ceil(8) * 8);
        }
    }
    while at + BATCH_HEADER <= data.len() {
        if le32(data, at) == BATCH_MAGIC {
            if let Ok(b) = parse_batch(data, at) {
                if b.synced_through >= want && b.seq > want {
                    return Some(at);
                }
            }
        }
        at += 8;
    }
    None
}

// ---- the writer ------------------------------------------------------------

struct State {
    /// Framed records not yet taken by the writer.
    buf: Vec<u8>,
    buf_records: u32,
    /// LSN of the newest record appended.
    next_lsn: u64,
    written_lsn: u64,
    durable_lsn: u64,
    /// The newest batch sequence number written / synced.
    written_batch: u64,
    synced_batch: u64,
    mode: Synchronous,
    /// Set when a write or fsync failed; cleared by [`Wal::reset`].
    failure: Option<Error>,
    /// LSNs in (from, to] whose records were discarded after a failure.
    failed: Vec<(u64, u64, Error)>,
    /// Written bytes not yet fsynced.
    dirty: bool,
    last_sync: Instant,
    /// Records in the last batch, and how long writing and syncing it
    /// took: the writer waits up to half that long for as many records
    /// to gather before it starts the next synced batch (group commit
    /// under load; no wait for a lone committer).
    last_batch_records: u32,
    last_batch_time: Duration,
    /// Records the writer is gathering for (0: not gathering).
    gather_target: u32,
    shutdown: bool,
}

struct LogFile {
    file: Box<dyn VFile>,
    seq: u64,
    /// Bytes written (valid) so far.
    end: u64,
    /// Bytes known durable.
    durable_end: u64,
    /// (batch, LSN) of the newest batch written / synced.
    written: (u64, u64),
    synced: (u64, u64),
}

struct Shared {
    /// The oldest file of the log (bumped by checkpoints).
    first_seq: std::sync::atomic::AtomicU64,
    /// Bytes written since the oldest file began, updated by the writer.
    log_bytes: std::sync::atomic::AtomicU64,
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    state: Mutex<State>,
    to_writer: Condvar,
    /// Committers wait on the stripe of their LSN (`lsn % WAIT_STRIPES`),
    /// so a batch wakes only the committers it covers, not all of them.
    to_waiters: Vec<Condvar>,
    io: Mutex<LogFile>,
}

/// The WAL writer: a queue, a thread, and the current file.
/// The newest LSN that counts as committed: durable under `full`, written
/// otherwise.
fn committed_lsn(st: &State) -> u64 {
    match st.mode {
        Synchronous::Full => st.durable_lsn,
        _ => st.written_lsn,
    }
}

/// See [`Wal::good_lsn_handle`].
pub(crate) struct GoodLsn(Arc<Shared>);

impl GoodLsn {
    pub(crate) fn get(&self) -> u64 {
        committed_lsn(&self.0.state.lock())
    }
}

pub(crate) struct Wal {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Reused buffer records are encoded into before they are queued
    /// (appends come one at a time, under the store's commit lock).
    scratch: Mutex<Vec<u8>>,
}

impl Wal {
    /// Starts writing at the end of the scanned log: the last file is cut
    /// to its valid length (or created), then the writer thread starts.
    pub(crate) fn start(
        fs: Arc<dyn Vfs>,
        dir: PathBuf,
        scan: &WalScan,
        mode: Synchronous,
    ) -> Result<Wal> {
        let (seq, valid) = scan.files.last().copied().unwrap_or((1, 0));
        let path = dir.join(file_name(seq));
        let mut file = fs.open_write(&path)?;
        let end = if valid < FILE_HEADER as u64 {
            file.set_len(0)?;
            file.write_at(0, &file_header(seq))?;
            FILE_HEADER as u64
        } else {
            file.set_len(valid)?;
            valid
        };
        file.sync()?;
        fs.sync_dir(&dir)?;
        let last = scan.next_batch.saturating_sub(1);
        let first = scan.files.first().map_or(seq, |f| f.0);
        let shared = Arc::new(Shared {
            first_seq: std::sync::atomic::AtomicU64::new(first),
            log_bytes: std::sync::atomic::AtomicU64::new(
                seq.saturating_sub(first) * WAL_FILE_BYTES_MAX + end,
            ),
            fs,
            dir,
            state: Mutex::new(State {
                buf: Vec::new(),
                buf_records: 0,
                next_lsn: 0,
                written_lsn: 0,
                durable_lsn: 0,
                written_batch: last,
                synced_batch: last,
                mode,
                failure: None,
                failed: Vec::new(),
                dirty: false,
                last_sync: Instant::now(),
                last_batch_records: 0,
                last_batch_time: Duration::ZERO,
                gather_target: 0,
                shutdown: false,
            }),
            to_writer: Condvar::new(),
            to_waiters: (0..WAIT_STRIPES).map(|_| Condvar::new()).collect(),
            io: Mutex::new(LogFile {
                file,
                seq,
                end,
                durable_end: end,
                written: (last, 0),
                synced: (last, 0),
            }),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-wal".into())
            .spawn(move || writer(&s))
            .map_err(|e| Error::io("spawn", "cairn-wal thread", &e))?;
        Ok(Wal {
            shared,
            thread: Mutex::new(Some(thread)),
            scratch: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn mode(&self) -> Synchronous {
        self.shared.state.lock().mode
    }

    pub(crate) fn set_mode(&self, mode: Synchronous) {
        self.shared.state.lock().mode = mode;
        self.shared.to_writer.notify_one();
    }

    /// Queues a framed record; returns its LSN.
    pub(crate) fn append_bytes(&self, record: &[u8]) -> u64 {
        self.queue(|buf| buf.extend_from_slice(record))
    }

    /// [`Wal::append_bytes`] for a record in its own buffer, which becomes
    /// the queue when the queue is empty (no copy of a large record).
    fn append_owned(&self, record: Vec<u8>) -> u64 {
        self.queue(|buf| {
            if buf.is_empty() {
                *buf = record;
            } else {
                buf.extend_from_slice(&record);
            }
        })
    }

    /// Adds one record to the queue with `push`; returns its LSN.
    fn queue(&self, push: impl FnOnce(&mut Vec<u8>)) -> u64 {
        let mut st = self.shared.state.lock();
        push(&mut st.buf);
        st.buf_records += 1;
        st.next_lsn += 1;
        let lsn = st.next_lsn;
        // While the writer gathers a batch, wake it only when the batch is
        // complete (not once per record).
        let wake = st.gather_target == 0 || st.buf_records >= st.gather_target;
        drop(st);
        if wake {
            self.shared.to_writer.notify_one();
        }
        lsn
    }

    /// Waits until record `lsn` is written (and synced, under `full`), or
    /// returns the error that stopped it.
    pub(crate) fn wait(&self, lsn: u64) -> Result<()> {
        let mut st = self.shared.state.lock();
        loop {
            if let Some((_, _, e)) = st.failed.iter().find(|f| f.0 < lsn && lsn <= f.1) {
                return Err(e.clone());
            }
            let done = match st.mode {
                Synchronous::Full => st.durable_lsn >= lsn,
                _ => st.written_lsn >= lsn,
            };
            if done {
                return Ok(());
            }
            if let Some(e) = &st.failure {
                return Err(e.clone());
            }
            self.shared.stripe(lsn).wait(&mut st);
        }
    }

    /// The LSN of the newest record that counts as committed (durable under
    /// `full`, written otherwise).
    /// Also says whether a write or fsync failed and [`Wal::reset`] has
    /// not recovered (the writer stops at a failure, so the LSN then no
    /// longer moves). One lock: the commit path asks this every time.
    /// A handle that reads [`Wal::good_lsn`]'s LSN without keeping the
    /// `Wal` (or the store) alive.
    pub(crate) fn good_lsn_handle(&self) -> GoodLsn {
        GoodLsn(self.shared.clone())
    }

    pub(crate) fn good_lsn(&self) -> (u64, bool) {
        let st = self.shared.state.lock();
        (committed_lsn(&st), st.failure.is_some())
    }

    /// After a failure: discards the queued and failed records (their
    /// committers got the error), cuts the file back to its last good byte
    /// and syncs it. Fails (and stays failed) while the disk still does.
    pub(crate) fn reset(&self) -> Result<()> {
        let mut st = self.shared.state.lock();
        let Some(err) = st.failure.clone() else {
            return Ok(());
        };
        let full = st.mode == Synchronous::Full;
        let good = committed_lsn(&st);
        let mut io = self.shared.io.lock();
        let keep = if full { io.durable_end } else { io.end };
        io.file.set_len(keep)?;
        io.file.sync()?;
        io.end = keep;
        io.durable_end = keep;
        if full {
            io.written = io.synced;
        } else {
            io.synced = io.written;
        }
        if st.next_lsn > good {
            let upto = st.next_lsn;
            st.failed.push((good, upto, err));
        }
        st.buf.clear();
        st.buf_records = 0;
        st.written_lsn = good;
        st.durable_lsn = good;
        if full {
            st.written_batch = st.synced_batch;
        } else {
            st.synced_batch = st.written_batch;
        }
        st.dirty = false;
        st.failure = None;
        drop(io);
        drop(st);
        self.shared.to_writer.notify_one();
        Ok(())
    }

    /// Writes and fsyncs everything queued, then stops the writer thread.
    pub(crate) fn close(&self) -> Result<()> {
        self.shared.state.lock().shutdown = true;
        self.shared.to_writer.notify_one();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
        let st = self.shared.state.lock();
        match &st.failure {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Syncs the current file and starts the next one; returns its
    /// sequence number (records appended from now on go there).
    pub(crate) fn rotate_now(&self) -> Result<u64> {
        let mut io = self.shared.io.lock();
        io.file.sync()?;
        io.durable_end = io.end;
        rotate(&self.shared, &mut io)?;
        self.shared
            .first_seq
            .store(io.seq, std::sync::atomic::Ordering::Relaxed);
        self.shared
            .log_bytes
            .store(io.end, std::sync::atomic::Ordering::Relaxed);
        Ok(io.seq)
    }

    /// Bytes the log holds since the last checkpoint (approximate; read
    /// without waiting for the writer).
    pub(crate) fn log_bytes(&self) -> u64 {
        self.shared
            .log_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// (file, offset) up to which the log is known durable.
    pub(crate) fn synced_position(&self) -> (u64, u64) {
        let io = self.shared.io.lock();
        (io.seq, io.durable_end)
    }

    /// Writes everything queued so far and fsyncs it, whatever the mode
    /// (a durable point for `normal`/`off`; used by checkpoints and tests).
    pub(crate) fn sync_now(&self) -> Result<()> {
        let mut st = self.shared.state.lock();
        let lsn = st.next_lsn;
        // Records a failure discarded are never written: once the newest
        // one is among them, everything before it that can be is.
        while st.written_lsn < lsn && !st.failed.iter().any(|f| f.0 < lsn && lsn <= f.1) {
            if let Some(e) = &st.failure {
                return Err(e.clone());
            }
            self.shared.stripe(lsn).wait(&mut st);
        }
        drop(st);
        let mut io = self.shared.io.lock();
        io.file.sync()?;
        io.durable_end = io.end;
        io.synced = io.written;
        let (batch, synced_lsn) = io.synced;
        drop(io);
        let mut st = self.shared.state.lock();
        st.durable_lsn = st.durable_lsn.max(synced_lsn);
        st.synced_batch = st.synced_batch.max(batch);
        st.dirty = st.durable_lsn < st.written_lsn;
        Ok(())
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Empties a buffer for reuse, freeing it after a one-off large record.
fn recycle(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > SCRATCH_BYTES_KEPT_MAX {
        *buf = Vec::new();
    }
}

/// Writes one batch (and syncs it when asked); rotates the file when it
/// is full. Returns whether the batch is synced. On failure the file's
/// valid end stays before the batch (so [`Wal::reset`] cuts it off).
fn write_batch(
    shared: &Shared,
    io: &mut LogFile,
    seq: u64,
    upto_lsn: u64,
    synced_through: u64,
    count: u32,
    body: &[u8],
    sync: bool,
) -> Result<bool> {
    let end = if body.len() > SCRATCH_BYTES_KEPT_MAX {
        // A large record (an index's graph): written in place rather than
        // copied behind its header first.
        let (header, pad) = batch_header(seq, synced_through, count, body.len());
        io.file.write_at(io.end, &header)?;
        io.file.write_at(io.end + BATCH_HEADER as u64, body)?;
        let body_end = io.end + (BATCH_HEADER + body.len()) as u64;
        if pad > 0 {
            io.file.write_at(body_end, &[0u8; 8][..pad])?;
        }
        body_end + pad as u64
    } else {
        let mut out = Vec::with_capacity(BATCH_HEADER + body.len() + 8);
        batch_image(&mut out, seq, synced_through, count, body);
        io.file.write_at(io.end, &out)?;
        io.end + out.len() as u64
    };
    let full = end >= WAL_FILE_BYTES_MAX;
    if sync || full {
        io.file.sync()?;
        io.durable_end = end;
        io.synced = (seq, upto_lsn);
    }
    io.end = end;
    io.written = (seq, upto_lsn);
    let first = shared.first_seq.load(std::sync::atomic::Ordering::Relaxed);
    shared.log_bytes.store(
        io.seq.saturating_sub(first) * WAL_FILE_BYTES_MAX + end,
        std::sync::atomic::Ordering::Relaxed,
    );
    if full {
        // A failed rotation is retried after the next batch; the batch just
        // written is durable either way.
        let _ = rotate(shared, io);
    }
    Ok(sync || full)
}

/// Appends a batch (header, records, zero padding to 8 bytes) to `out`.
fn batch_image(out: &mut Vec<u8>, seq: u64, synced_through: u64, count: u32, body: &[u8]) {
    let (h, pad) = batch_header(seq, synced_through, count, body.len());
    out.extend_from_slice(&h);
    out.extend_from_slice(body);
    out.resize(out.len() + pad, 0);
}

/// The header of a batch whose records take `body_len` bytes, and the
/// zero padding that follows them.
fn batch_header(
    seq: u64,
    synced_through: u64,
    count: u32,
    body_len: usize,
) -> ([u8; BATCH_HEADER], usize) {
    let pad = (8 - body_len % 8) % 8;
    let mut h = [0u8; BATCH_HEADER];
    h[0..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&count.to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h[16..24].copy_from_slice(&synced_through.to_le_bytes());
    h[24..28].copy_from_slice(&((body_len + pad) as u32).to_le_bytes());
    let crc = crc32c::crc32c(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    (h, pad)
}

/// Appends a one-record batch to a WAL file image (tests and fuzz seeds).
pub(crate) fn append_batch_image(out: &mut Vec<u8>, seq: u64, synced_through: u64, record: &[u8]) {
    batch_image(out, seq, synced_through, 1, record);
}

/// Starts the next WAL file (the current one is synced).
fn rotate(shared: &Shared, io: &mut LogFile) -> Result<()> {
    let seq = io.seq + 1;
    let path = shared.dir.join(file_name(seq));
    let setup = |file: &mut Box<dyn VFile>| -> Result<()> {
        file.set_len(0)?;
        file.write_at(0, &file_header(seq))?;
        file.sync()?;
        shared.fs.sync_dir(&shared.dir)
    };
    let mut file = shared.fs.open_write(&path)?;
    if let Err(e) = setup(&mut file) {
        // Leave no half-made file behind to be taken for the log's tail.
        let _ = shared.fs.remove(&path);
        let _ = shared.fs.sync_dir(&shared.dir);
        return Err(e);
    }
    io.file = file;
    io.seq = seq;
    io.end = FILE_HEADER as u64;
    io.durable_end = io.end;
    Ok(())
}

fn writer(shared: &Shared) {
    let mut spare = Vec::new();
    let mut st = shared.state.lock();
    loop {
        if st.failure.is_some() {
            if st.shutdown {
                break;
            }
            shared.to_writer.wait(&mut st);
            continue;
        }
        let sync_due = st.dirty
            && (st.mode == Synchronous::Full
                || st.shutdown
                || (st.mode == Synchronous::Normal
                    && st.last_sync.elapsed() >= NORMAL_SYNC_INTERVAL));
        if st.buf.is_empty() && !sync_due {
            if st.shutdown {
                break;
            }
            if st.dirty && st.mode == Synchronous::Normal {
                let left = NORMAL_SYNC_INTERVAL.saturating_sub(st.last_sync.elapsed());
                shared.to_writer.wait_for(&mut st, left);
            } else {
                shared.to_writer.wait(&mut st);
            }
            continue;
        }
        if st.mode == Synchronous::Full && st.buf_records < st.last_batch_records {
            // More committers were active a batch ago than have queued
            // now: give the rest a moment to arrive (they are usually
            // finishing the statements of their next transaction).
            let deadline = Instant::now() + st.last_batch_time.min(GATHER_WAIT_MAX);
            st.gather_target = st.last_batch_records;
            while st.buf_records < st.last_batch_records
                && !st.shutdown
                && st.failure.is_none()
                && !shared.to_writer.wait_until(&mut st, deadline).timed_out()
            {}
            st.gather_target = 0;
            if st.failure.is_some() {
                continue;
            }
        }
        std::mem::swap(&mut st.buf, &mut spare);
        let count = std::mem::take(&mut st.buf_records);
        let upto = st.next_lsn;
        let seq = st.written_batch + 1;
        let synced_through = st.synced_batch;
        let want_sync = st.mode == Synchronous::Full
            || st.shutdown
            || (st.mode == Synchronous::Normal && st.last_sync.elapsed() >= NORMAL_SYNC_INTERVAL);
        drop(st);
        let started = Instant::now();
        let result = {
            let mut io = shared.io.lock();
            if spare.is_empty() {
                // Only a sync was due.
                io.file.sync().map(|()| {
                    io.durable_end = io.end;
                    io.synced = io.written;
                    true
                })
            } else {
                write_batch(
                    shared,
                    &mut io,
                    seq,
                    upto,
                    synced_through,
                    count,
                    &spare,
                    want_sync,
                )
            }
        };
        let wrote = !spare.is_empty();
        recycle(&mut spare);
        let took = started.elapsed();
        st = shared.state.lock();
        if wrote {
            st.last_batch_records = count;
            st.last_batch_time = took;
        }
        let from = st.written_lsn.min(st.durable_lsn);
        match result {
            Ok(synced) => {
                if wrote {
                    st.written_lsn = upto;
                    st.written_batch = seq;
                }
                if synced {
                    st.durable_lsn = st.written_lsn;
                    st.synced_batch = st.written_batch;
                    st.dirty = false;
                    st.last_sync = Instant::now();
                } else if wrote {
                    st.dirty = true;
                }
            }
            Err(e) => st.failure = Some(e),
        }
        if st.failure.is_some() || !wrote {
            shared.wake_all();
        } else {
            shared.wake(from, st.written_lsn);
        }
    }
    drop(st);
    shared.wake_all();
}

impl Shared {
    fn stripe(&self, lsn: u64) -> &Condvar {
        &self.to_waiters[(lsn % WAIT_STRIPES as u64) as usize]
    }

    /// Wakes the committers waiting for LSNs in `(from, to]`.
    fn wake(&self, from: u64, to: u64) {
        if to.saturating_sub(from) >= WAIT_STRIPES as u64 {
            self.wake_all();
            return;
        }
        for lsn in from + 1..=to {
            self.stripe(lsn).notify_all();
        }
    }

    fn wake_all(&self) {
        for c in &self.to_waiters {
            c.notify_all();
        }
    }
}

impl crate::log::CommitLog for Wal {
    fn append(&self, encode: &mut dyn FnMut(&mut Vec<u8>)) -> u64 {
        let mut buf = self.scratch.lock();
        buf.clear();
        encode(&mut buf);
        if buf.len() > SCRATCH_BYTES_KEPT_MAX {
            // A one-off large record (an index's graph): handed over, not
            // copied, and its buffer not kept.
            return self.append_owned(std::mem::take(&mut *buf));
        }
        self.append_bytes(&buf)
    }

    fn wait(&self, lsn: u64) -> Result<()> {
        Wal::wait(self, lsn)
    }

    fn good_lsn(&self) -> (u64, bool) {
        Wal::good_lsn(self)
    }

    fn reset(&self) -> Result<()> {
        Wal::reset(self)
    }

    fn may_fail(&self) -> bool {
        true
    }

    fn replayed(&self) -> bool {
        true
    }
}
