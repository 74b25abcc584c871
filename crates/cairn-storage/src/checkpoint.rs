//! Checkpoints: the committed state at a timestamp written as segment files
//! (one per table, one for the catalog's views), a new manifest naming them,
//! and the WAL before them deleted. Layout: `rfcs/0001-storage-format.md`,
//! Part 4.
//!
//! The [`Checkpointer`] is the store's part that writes them (on demand,
//! after a commit once one is due, at a clean close when the log holds
//! anything since the last one, and after a vector index whose graph was
//! too large for the log) and owns the manifest while the
//! database is open; [`load`] reads one back into the parts of a store
//! being opened (`durable.rs`). Both take the shared core
//! (`shared.rs`) and the verifiable state (`merkle.rs`), never the store.
//!
//! Each table file holds the rows visible at the checkpoint (not their
//! history), the B-tree entries, every HNSW graph as flat arrays, the
//! vector columns as aligned arrays and the Merkle row versions; opening
//! maps the file, validates it and loads those arrays, so no index is
//! rebuilt. The arrays are copied out of the mapping, not used in place
//! (see `missions/durability.md`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cairn_core::{Error, Result, Value};
use parking_lot::Mutex;

use crate::catalog::Catalog;
use crate::codec::{le32, le64, Dec, Enc};
use crate::commit::ready;
use crate::fs::Vfs;
use crate::index::BTreeIndex;
use crate::jobs::Jobs;
use crate::manifest::{CheckpointRef, Manifest};
use crate::merkle::Merkle;
use crate::schema::{IndexDef, TriggerDef};
use crate::shared::Shared;
use crate::stats::{ColumnStats, TableStats};
use crate::table::{Table, TableInner};
use crate::vector::VectorIndexDef;
use crate::wal::{Record, Wal};
use crate::Ts;
use cairn_vector::quant::Quantization;

/// Format version written into segment file headers.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Oldest segment format version this build reads.
pub const SEGMENT_FORMAT_OLDEST: u32 = 1;
/// A checkpoint runs after a commit once the WAL holds this many bytes.
pub const CHECKPOINT_WAL_BYTES: u64 = 64 << 20;
/// ... or once this long has passed since the last one, if the WAL holds
/// more than [`CHECKPOINT_WAL_BYTES_MIN`].
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);
pub const CHECKPOINT_WAL_BYTES_MIN: u64 = 1 << 20;

const MAGIC: &[u8; 8] = b"CAIRNSEG";
const FOOTER_MAGIC: &[u8; 4] = b"CSGF";
const HEADER: usize = 64;
const SECTION_ENTRY: usize = 24;
const TRAILER: usize = 16;
const ALIGN: usize = 64;

// The layouts of RFC 0001 Part 4, pinned at compile time: the header is
// magic 8, version 4, reserved 4, table id 8, ts 8, rows 8, next row id 8,
// auto max 8, reserved 4, crc 4; a section entry is kind 4, crc 4, offset
// 8, length 8; the trailer is section count 4, table crc 4, version 4,
// footer magic 4. Sections start 64-byte aligned, so the header must be a
// multiple of the alignment.
const _: () = assert!(HEADER == MAGIC.len() + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 4 + 4);
const _: () = assert!(HEADER.is_multiple_of(ALIGN));
const _: () = assert!(SECTION_ENTRY == 4 + 4 + 8 + 8);
const _: () = assert!(TRAILER == 4 + 4 + 4 + FOOTER_MAGIC.len());

/// Section kinds.
pub(crate) mod section {
    /// Table schema, ordered index definitions, vector index definitions.
    pub const TABLE: u32 = 1;
    /// Visible rows: count, then (row id, row) each.
    pub const ROWS: u32 = 2;
    /// View definitions (catalog file).
    pub const VIEWS: u32 = 3;
    /// Trigger definitions (catalog file; only when there is a trigger).
    pub const TRIGGERS: u32 = 18;
    /// Per vector index: graph count; per graph its shape. The graphs'
    /// arrays follow as sections 5..=11, in this order, graph by graph.
    pub const GRAPHS: u32 = 4;
    pub const G_KEYS: u32 = 5;
    pub const G_LEVELS: u32 = 6;
    pub const G_UPPER_OFFSET: u32 = 7;
    pub const G_LEVEL0: u32 = 8;
    pub const G_UPPER: u32 = 9;
    pub const G_VECTORS: u32 = 10;
    pub const G_ALIVE: u32 = 11;
    /// A quantized graph's SQ8 codes, right after its G_ALIVE: per
    /// dimension the lower bound, then the step (f32 each), then one byte
    /// per dimension per node.
    pub const G_SQ8: u32 = 20;
    /// A RaBitQ-quantized graph's codes, right after its G_ALIVE: the
    /// rotation seed (u64), the centroid (f32 per dimension), then per node
    /// its record of u64 words (bit planes, then four f32 factors).
    pub const G_RABITQ: u32 = 21;

    /// The section holding a graph's codes of `quantization`, if any.
    pub fn of_codes(quantization: super::Quantization) -> Option<u32> {
        match quantization {
            super::Quantization::None => None,
            super::Quantization::Sq8 => Some(G_SQ8),
            super::Quantization::RaBitQ { .. } => Some(G_RABITQ),
        }
    }
    /// Every ordered index (primary key first): name, then its entries for
    /// the visible rows in key order: key, row ids.
    pub const INDEXES: u32 = 12;
    /// Vector columns of fixed dimension stored as arrays: per column its
    /// position, dimensions, element type and how many rows hold a vector.
    /// One VECTOR_DATA section per listed column follows, in order.
    pub const VECTOR_COLUMNS: u32 = 13;
    /// A column's vectors, in row order, as f32 or f16 (little-endian).
    pub const VECTOR_DATA: u32 = 14;
    /// Per column: NULL count, smallest and largest value (NULL for vector
    /// columns and columns with no non-NULL value).
    pub const STATISTICS: u32 = 15;
    /// Row versions other than 1 of a keyed table's trie leaves (RFC
    /// 0002): count, then (32-byte key hash, u64 version) in key order.
    /// Optional (absent: every version is 1).
    pub const ROW_VERSIONS: u32 = 16;
    /// Catalog file: the history log's commit records: count, then
    /// (u64 commit ts, 32-byte state root) in commit order. Optional
    /// (absent in checkpoints written before roots were kept).
    pub const HISTORY: u32 = 17;
    /// The planner's statistics (`ANALYZE`): rows, sampled rows, then per
    /// column NULLs, distinct values, most common values with counts and
    /// histogram bounds. Optional (absent: none were taken). RFC 0001 §4.7.
    pub const PLANNER_STATS: u32 = 19;
}

/// The value tag, inside ROWS, of a vector kept in its column's
/// VECTOR_DATA array (not used by the WAL).
const TAG_IN_COLUMN: u8 = 10;

/// Vector columns of fixed dimension: (position, dims, f16 elements).
fn vector_columns(schema: &crate::schema::TableSchema) -> Vec<(usize, usize, bool)> {
    schema
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c.data_type {
            cairn_core::DataType::Vector(n) if n > 0 => Some((i, n as usize, false)),
            cairn_core::DataType::HalfVec(n) if n > 0 => Some((i, n as usize, true)),
            _ => None,
        })
        .collect()
}

/// Appends `v`'s elements to a column array if it is a vector of the
/// column's kind and dimension.
fn push_column_vector(out: &mut Vec<u8>, v: &Value, dims: usize, half: bool) -> bool {
    match v {
        Value::Vector(x) if !half && x.len() == dims => {
            for f in x.iter() {
                out.extend_from_slice(&f.to_le_bytes());
            }
            true
        }
        Value::HalfVec(x) if half && x.len() == dims => {
            for f in x.iter() {
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            true
        }
        _ => false,
    }
}

fn rd_u32(c: &[u8]) -> u32 {
    le32(c, 0)
}

fn rd_u64(c: &[u8]) -> u64 {
    le64(c, 0)
}

fn rd_f32(c: &[u8]) -> f32 {
    f32::from_bits(le32(c, 0))
}

fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u64s(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads an array section of `n` elements of `size` bytes.
fn array<T>(
    (body, at): (&[u8], u64),
    n: usize,
    size: usize,
    file: &str,
    f: impl Fn(&[u8]) -> T,
) -> Result<Vec<T>> {
    if n.checked_mul(size) != Some(body.len()) {
        return Err(Error::corrupt(
            file,
            at,
            format!(
                "array of {} bytes where {n} elements of {size} were expected",
                body.len()
            ),
        ));
    }
    Ok(body.chunks_exact(size).map(f).collect())
}

/// A segment file's header fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegHeader {
    /// 0 for the catalog file.
    pub(crate) table_id: u64,
    pub(crate) ts: Ts,
    pub(crate) rows: u64,
    pub(crate) next_row_id: u64,
    pub(crate) auto_max: i64,
}

/// Builds a segment file: header, 64-byte-aligned sections, section table,
/// trailer.
pub(crate) fn encode_file(h: &SegHeader, sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER];
    out[0..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    out[16..24].copy_from_slice(&h.table_id.to_le_bytes());
    out[24..32].copy_from_slice(&h.ts.to_le_bytes());
    out[32..40].copy_from_slice(&h.rows.to_le_bytes());
    out[40..48].copy_from_slice(&h.next_row_id.to_le_bytes());
    out[48..56].copy_from_slice(&h.auto_max.to_le_bytes());
    let crc = crc32c::crc32c(&out[0..60]);
    out[60..64].copy_from_slice(&crc.to_le_bytes());
    let mut table = Vec::new();
    for (kind, body) in sections {
        let off = out.len() as u64;
        out.extend_from_slice(body);
        table.extend_from_slice(&kind.to_le_bytes());
        table.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
        table.extend_from_slice(&off.to_le_bytes());
        table.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.resize(out.len().div_ceil(ALIGN) * ALIGN, 0);
    }
    let table_crc = crc32c::crc32c(&table);
    out.extend_from_slice(&table);
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.extend_from_slice(&table_crc.to_le_bytes());
    out.extend_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(FOOTER_MAGIC);
    out
}

/// Validates a segment file (header, trailer, section table, every
/// section's bounds and checksum) and returns its header and sections.
pub(crate) fn decode_file<'a>(
    data: &'a [u8],
    file: &str,
) -> Result<(SegHeader, Vec<(u32, &'a [u8], u64)>)> {
    let bad = |off: usize, detail: String| Error::corrupt(file, off as u64, detail);
    if data.len() < HEADER + TRAILER {
        return Err(bad(
            0,
            "shorter than a segment file's header and trailer".into(),
        ));
    }
    if &data[0..8] != MAGIC {
        return Err(bad(0, "not a Cairn segment file (bad magic)".into()));
    }
    if le32(data, 60) != crc32c::crc32c(&data[0..60]) {
        return Err(bad(60, "segment header checksum mismatch".into()));
    }
    let version = le32(data, 8);
    if !(SEGMENT_FORMAT_OLDEST..=SEGMENT_FORMAT_VERSION).contains(&version) {
        return Err(bad(
            8,
            format!(
                "segment format version {version}; this build reads \
                 {SEGMENT_FORMAT_OLDEST}..={SEGMENT_FORMAT_VERSION}"
            ),
        ));
    }
    let header = SegHeader {
        table_id: le64(data, 16),
        ts: le64(data, 24),
        rows: le64(data, 32),
        next_row_id: le64(data, 40),
        auto_max: le64(data, 48) as i64,
    };
    let t = data.len() - TRAILER;
    if &data[t + 12..t + 16] != FOOTER_MAGIC {
        return Err(bad(t + 12, "segment trailer magic missing".into()));
    }
    if le32(data, t + 8) != version {
        return Err(bad(
            t + 8,
            "trailer and header disagree on the version".into(),
        ));
    }
    let count = le32(data, t) as usize;
    let table_len = count
        .checked_mul(SECTION_ENTRY)
        .filter(|&n| n <= t - HEADER)
        .ok_or_else(|| bad(t, format!("section count {count} does not fit the file")))?;
    let table_at = t - table_len;
    let table = &data[table_at..t];
    if le32(data, t + 4) != crc32c::crc32c(table) {
        return Err(bad(t + 4, "section table checksum mismatch".into()));
    }
    let mut sections = Vec::with_capacity(count);
    let mut min = HEADER;
    for i in 0..count {
        let e = i * SECTION_ENTRY;
        let kind = le32(table, e);
        let crc = le32(table, e + 4);
        let off = le64(table, e + 8);
        let len = le64(table, e + 16);
        let entry_at = table_at + e;
        let start = usize::try_from(off)
            .ok()
            .filter(|&o| o >= min && o % ALIGN == 0);
        let Some(start) = start else {
            return Err(bad(
                entry_at,
                format!("section {i} starts at bad offset {off}"),
            ));
        };
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= table_at)
            .ok_or_else(|| bad(entry_at, format!("section {i} runs past the section table")))?;
        let body = &data[start..end];
        if crc32c::crc32c(body) != crc {
            return Err(bad(
                start,
                format!("section {i} (kind {kind}) checksum mismatch"),
            ));
        }
        // Padding between sections must be zero too.
        let padded = end.div_ceil(ALIGN) * ALIGN;
        if data[end..padded.min(table_at)].iter().any(|&b| b != 0) {
            return Err(bad(end, "nonzero padding after a section".into()));
        }
        sections.push((kind, body, start as u64));
        min = padded;
    }
    if min < table_at {
        return Err(bad(
            min,
            "bytes between the last section and the section table".into(),
        ));
    }
    Ok((header, sections))
}

/// File name of a table's segment in the checkpoint at `ts`.
fn table_file(ts: Ts, id: u64) -> String {
    format!("{ts:020}-{id:020}.seg")
}

fn catalog_file(ts: Ts) -> String {
    format!("{ts:020}-catalog.seg")
}

impl Table {
    /// The table's segment file at `ts`: definitions and visible rows.
    pub(crate) fn checkpoint_image(
        &self,
        ts: Ts,
        versions: &[(cairn_merkle::Hash, u64)],
    ) -> Result<Vec<u8>> {
        let inner = self.inner.read();
        let mut defs = Vec::new();
        let mut e = Enc(&mut defs);
        e.schema(&inner.schema);
        let secondary: Vec<_> = inner.indexes.btrees().filter(|i| !i.def.primary).collect();
        e.len(secondary.len());
        for i in secondary {
            e.index(&i.def);
        }
        e.len(inner.indexes.hnsws().count());
        for v in inner.indexes.hnsws() {
            e.vector_index(&v.def);
        }
        let mut rows = Vec::new();
        let mut n = 0u64;
        rows.extend_from_slice(&0u64.to_le_bytes());
        let vcols = vector_columns(&inner.schema);
        let mut vdata: Vec<(Vec<u8>, u64)> = vec![(Vec::new(), 0); vcols.len()];
        let ncols = inner.schema.columns.len();
        let mut nulls = vec![0u64; ncols];
        let mut minmax: Vec<Option<(Value, Value)>> = vec![None; ncols];
        inner.for_each_visible(ts, &mut |rid, values| {
            let full = inner.full_row(values);
            let mut e = Enc(&mut rows);
            e.u64(rid);
            e.len(full.len());
            for (j, v) in full.iter().enumerate() {
                if let Some(k) = vcols.iter().position(|c| c.0 == j) {
                    let (_, dims, half) = vcols[k];
                    if push_column_vector(&mut vdata[k].0, v, dims, half) {
                        vdata[k].1 += 1;
                        e.u8(TAG_IN_COLUMN);
                        continue;
                    }
                }
                e.value(v);
                if j < ncols {
                    if v.is_null() {
                        nulls[j] += 1;
                    } else if !v.is_vector() {
                        match &mut minmax[j] {
                            None => minmax[j] = Some((v.clone(), v.clone())),
                            Some((lo, hi)) => {
                                if v < lo {
                                    *lo = v.clone();
                                }
                                if v > hi {
                                    *hi = v.clone();
                                }
                            }
                        }
                    }
                }
            }
            n += 1;
            Ok(true)
        })?;
        rows[0..8].copy_from_slice(&n.to_le_bytes());
        let mut vmeta = Vec::new();
        let mut e = Enc(&mut vmeta);
        e.len(vcols.len());
        for (&(col, dims, half), (_, present)) in vcols.iter().zip(&vdata) {
            e.u32(col as u32);
            e.u32(dims as u32);
            e.u8(u8::from(half));
            e.u64(*present);
        }
        let mut stats = Vec::new();
        let mut e = Enc(&mut stats);
        e.u64(n);
        e.len(ncols);
        for (nulls, mm) in nulls.iter().zip(&minmax) {
            e.u64(*nulls);
            let (lo, hi) = mm.clone().unwrap_or_default();
            e.value(&lo);
            e.value(&hi);
        }
        let mut index_body = Vec::new();
        let mut e = Enc(&mut index_body);
        e.len(inner.indexes.btrees().count());
        for (no, index) in inner.indexes.btrees().enumerate() {
            e.str(&index.def.name);
            let entries = inner.index_entries(no, ts);
            e.u64(entries.len() as u64);
            for (key, ids) in entries {
                e.values(&key);
                e.len(ids.len());
                for id in ids {
                    e.u64(id);
                }
            }
        }
        let mut sections = vec![
            (section::TABLE, defs),
            (section::STATISTICS, stats),
            (section::VECTOR_COLUMNS, vmeta),
        ];
        sections.extend(vdata.into_iter().map(|(d, _)| (section::VECTOR_DATA, d)));
        sections.push((section::ROWS, rows));
        sections.push((section::INDEXES, index_body));
        let (shapes, arrays) = graph_sections(&inner, ts);
        sections.push((section::GRAPHS, shapes));
        sections.extend(arrays);
        sections.push((section::ROW_VERSIONS, row_versions_section(versions)));
        if let Some(stats) = self.stats() {
            sections.push((section::PLANNER_STATS, encode_planner_stats(&stats)));
        }
        let header = SegHeader {
            table_id: self.id,
            ts,
            rows: n,
            next_row_id: self.max_row_id() + 1,
            auto_max: self.auto_max(),
        };
        Ok(encode_file(&header, &sections))
    }
}

/// The checkpointer of an on-disk database, a part of the store: owns the
/// manifest while the database is open (a checkpoint and the clean close
/// in `durable.rs` rewrite it) and when checkpoints run. Writing one takes
/// the shared core and the verifiable state, never the store.
pub(crate) struct Checkpointer {
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    wal: Arc<Wal>,
    /// The manifest as last written.
    pub(crate) manifest: Mutex<Manifest>,
    /// A checkpoint is running (automatic ones skip then).
    running: AtomicBool,
    /// When the last checkpoint ended (or the database was opened).
    last: Mutex<Instant>,
}

impl Checkpointer {
    /// The checkpointer of the database in `dir` whose manifest reads
    /// `manifest` and whose log is `wal`.
    pub(crate) fn new(fs: Arc<dyn Vfs>, dir: PathBuf, wal: Arc<Wal>, manifest: Manifest) -> Self {
        Checkpointer {
            fs,
            dir,
            wal,
            manifest: Mutex::new(manifest),
            running: AtomicBool::new(false),
            last: Mutex::new(Instant::now()),
        }
    }

    /// Whether an automatic checkpoint is due: the WAL since the last one
    /// passed [`CHECKPOINT_WAL_BYTES`], or it holds commits and
    /// [`CHECKPOINT_INTERVAL`] has passed (checked at commits).
    fn due(&self) -> bool {
        let bytes = self.wal.log_bytes();
        bytes > CHECKPOINT_WAL_BYTES
            || (bytes > CHECKPOINT_WAL_BYTES_MIN
                && self.last.lock().elapsed() >= CHECKPOINT_INTERVAL)
    }

    /// Whether the log holds anything since the last checkpoint (a close
    /// then writes one, so the next open replays nothing).
    pub(crate) fn has_work(&self) -> bool {
        self.wal.log_bytes() > crate::wal::FILE_HEADER as u64
    }

    /// After a commit: runs an automatic checkpoint when one is due and
    /// none is running (this committer pays for it; its commit is done
    /// either way).
    pub(crate) fn if_due(&self, shared: &Shared, merkle: &Merkle) {
        if self.due() && !self.running.swap(true, Ordering::AcqRel) {
            let _ = self.write(shared, merkle);
            self.running.store(false, Ordering::Release);
        }
    }

    /// Writes a checkpoint now: every committed row into segment files, a
    /// manifest naming them, and deletes the WAL files they cover. Commits
    /// wait while it runs. Returns the checkpoint's commit timestamp.
    pub(crate) fn write(&self, shared: &Shared, merkle: &Merkle) -> Result<Ts> {
        let mut cs = shared.commit_lock.lock();
        ready(shared, merkle, &mut cs)?;
        // The catalog holds an open transaction's DDL, which no checkpoint
        // may write; the next one after it ends will.
        cs.check_schema_free(None)?;
        // Every commit applied so far is in the log and durable.
        self.wal.sync_now()?;
        ready(shared, merkle, &mut cs)?;
        let ts = cs.last_assigned;
        shared.publish(ts);
        // Records after `ts` go to files from `first` on.
        let first = self.wal.rotate_now()?;
        let fs = &*self.fs;
        let seg_dir = self.dir.join("segments");
        let mut tables = shared.catalog.tables();
        tables.sort_by_key(|t| t.id);
        let (versions, records) = merkle.with(shared, |m| {
            let v: Vec<Vec<(cairn_merkle::Hash, u64)>> =
                tables.iter().map(|t| m.versions_of(t.id)).collect();
            (v, m.records().to_vec())
        });
        let mut files = Vec::new();
        for (t, versions) in tables.iter().zip(&versions) {
            let name = table_file(ts, t.id);
            crate::fs::replace_file(fs, &seg_dir, &name, &t.checkpoint_image(ts, versions)?)?;
            files.push(name);
        }
        let name = catalog_file(ts);
        let image = catalog_image(shared, ts, merkle.enabled().then_some(&records));
        crate::fs::replace_file(fs, &seg_dir, &name, &image)?;
        files.push(name);
        fs.sync_dir(&seg_dir)?;
        let mut m = self.manifest.lock().clone();
        m.checkpoint = Some(CheckpointRef {
            ts,
            files: files.clone(),
        });
        m.wal_first = first;
        m.write(fs, &self.dir)?;
        *self.manifest.lock() = m;
        remove_unlisted(fs, &self.dir, first, &files)?;
        *self.last.lock() = Instant::now();
        Ok(ts)
    }
}

/// The catalog file of a checkpoint at `ts`: the views, the triggers (a
/// TRIGGERS section only when there is one), the next table id and (when
/// roots are kept) the history's commit records.
fn catalog_image(
    shared: &Shared,
    ts: Ts,
    records: Option<&Vec<(Ts, cairn_merkle::Hash)>>,
) -> Vec<u8> {
    let mut views = Vec::new();
    {
        let list = shared.catalog.views();
        let mut e = Enc(&mut views);
        e.len(list.len());
        for v in &list {
            e.view(v);
        }
    }
    let mut sections = vec![(section::VIEWS, views)];
    let triggers = shared.catalog.triggers();
    if !triggers.is_empty() {
        let mut body = Vec::new();
        let mut e = Enc(&mut body);
        e.len(triggers.len());
        for t in &triggers {
            e.trigger(t);
        }
        sections.push((section::TRIGGERS, body));
    }
    let header = SegHeader {
        table_id: 0,
        ts,
        rows: 0,
        next_row_id: shared.catalog.next_table_id(),
        auto_max: 0,
    };
    let Some(records) = records else {
        return encode_file(&header, &sections);
    };
    let mut history = Vec::with_capacity(4 + records.len() * 40);
    history.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for (rts, root) in records {
        history.extend_from_slice(&rts.to_le_bytes());
        history.extend_from_slice(&root.0);
    }
    sections.push((section::HISTORY, history));
    encode_file(&header, &sections)
}

/// The triggers of a catalog file's TRIGGERS section (none without one);
/// they are installed once every table and view is in.
fn catalog_triggers(sections: &[(u32, &[u8], u64)], file: &str) -> Result<Vec<TriggerDef>> {
    let Some(&(_, body, at)) = sections.iter().find(|s| s.0 == section::TRIGGERS) else {
        return Ok(Vec::new());
    };
    let mut d = Dec::new(body, file, at);
    let n = d.count(12)?;
    let triggers = (0..n).map(|_| d.trigger()).collect::<Result<Vec<_>>>()?;
    if !d.done() {
        return Err(d.err("bytes after the triggers"));
    }
    Ok(triggers)
}

/// Loads the catalog file of a checkpoint at `cp_ts` into `catalog`: its
/// views, the next table id and (when present) the history records.
fn load_catalog_file(
    catalog: &Catalog,
    h: &SegHeader,
    sections: &[(u32, &[u8], u64)],
    file: &str,
    cp_ts: Ts,
) -> Result<Option<Vec<(Ts, cairn_merkle::Hash)>>> {
    let (body, at) = section_of(sections, section::VIEWS, file)?;
    let mut d = Dec::new(body, file, at);
    let n = d.count(4)?;
    for _ in 0..n {
        let v = d.view()?;
        catalog
            .apply(&Record::CreateView(v), cp_ts, None)
            .map_err(|e| d.err(format!("view does not load: {e}")))?;
    }
    catalog.observe_next_table_id(h.next_row_id);
    let Some(&(_, body, at)) = sections.iter().find(|s| s.0 == section::HISTORY) else {
        return Ok(None);
    };
    let mut d = Dec::new(body, file, at);
    let n = d.count(40)?;
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        let rts = d.u64()?;
        let root = d.hash()?;
        if records
            .last()
            .is_some_and(|r: &(Ts, cairn_merkle::Hash)| r.0 > rts)
            || rts > cp_ts
        {
            return Err(d.err("history records out of order"));
        }
        records.push((rts, root));
    }
    if !d.done() {
        return Err(d.err("bytes after the history"));
    }
    Ok(Some(records))
}

/// The body and offset of the section of `kind` (corruption if missing).
fn section_of<'a>(
    sections: &[(u32, &'a [u8], u64)],
    kind: u32,
    file: &str,
) -> Result<(&'a [u8], u64)> {
    sections
        .iter()
        .find(|s| s.0 == kind)
        .map(|s| (s.1, s.2))
        .ok_or_else(|| Error::corrupt(file, 0, format!("section kind {kind} missing")))
}

/// A vector index as a table file holds it: its definition and its graphs
/// (with their alive flags).
type LoadedVectorIndex = (VectorIndexDef, Vec<(cairn_vector::hnsw::Graph, Vec<bool>)>);

/// What loading one table file leaves for after the last file: the
/// table's name, its vector indexes (restored once every table is in),
/// and its trie's row versions other than 1.
struct LoadedTable {
    name: String,
    vectors: Vec<LoadedVectorIndex>,
    versions: Option<std::collections::HashMap<cairn_merkle::Hash, u64>>,
}

/// Loads a checkpoint's segment files into the parts of an empty store
/// (the catalog and tables in `shared`, the verifiable state, the vector
/// index jobs), and sets the commit clock to the checkpoint.
pub(crate) fn load(
    shared: &Shared,
    merkle: &Merkle,
    jobs: &Jobs,
    fs: &dyn Vfs,
    dir: &Path,
    cp: &CheckpointRef,
) -> Result<()> {
    let seg_dir = dir.join("segments");
    let mut cs = shared.commit_lock.lock();
    let mut vector_defs = Vec::new();
    let mut row_versions = std::collections::HashMap::new();
    let mut history = None;
    let mut triggers = Vec::new();
    for name in &cp.files {
        let path = seg_dir.join(name);
        let file = path.display().to_string();
        // Shared: a quantized graph reads its f32 vectors (only for the
        // re-rank) in place from the file, and holds the mapping.
        let data = Arc::new(fs.map(&path)?);
        let (h, sections) = decode_file(&data, &file)?;
        if h.ts != cp.ts {
            return Err(Error::corrupt(
                &file,
                24,
                format!(
                    "segment of checkpoint {} where the manifest names checkpoint {}",
                    h.ts, cp.ts
                ),
            ));
        }
        if h.table_id == 0 {
            for t in catalog_triggers(&sections, &file)? {
                triggers.push((t, file.clone()));
            }
            if let Some(records) = load_catalog_file(&shared.catalog, &h, &sections, &file, cp.ts)?
            {
                history = Some((records, file.clone()));
            }
            continue;
        }
        let loaded = load_table_file(&shared.catalog, &h, &sections, &data, &file, cp.ts)?;
        if let Some(map) = loaded.versions {
            row_versions.insert(h.table_id, map);
        }
        for (def, graphs) in loaded.vectors {
            vector_defs.push((loaded.name.clone(), def, graphs, file.clone()));
        }
    }
    for (table, def, graphs, file) in vector_defs {
        let t = shared
            .catalog
            .table(&table)
            .ok_or_else(|| Error::corrupt(&file, 0, "vector index of a missing table"))?;
        let jobs_due = t
            .restore_vector_index(def, graphs, cp.ts)
            .map_err(|e| Error::corrupt(&file, 0, format!("vector index does not load: {e}")))?;
        jobs.spawn_index_jobs(jobs_due.into_iter().map(|j| (t.clone(), j)).collect());
        shared.catalog.bump();
    }
    for (t, file) in triggers {
        shared
            .catalog
            .apply(&Record::CreateTrigger(t), cp.ts, None)
            .map_err(|e| Error::corrupt(&file, 0, format!("trigger does not load: {e}")))?;
    }
    let (records, file) = match history {
        Some((r, f)) => (Some(r), f),
        None => (None, String::from("checkpoint")),
    };
    merkle.load(&shared.catalog, cp.ts, &row_versions, records, &file)?;
    cs.last_assigned = cp.ts;
    shared.set_published(cp.ts);
    Ok(())
}

/// Loads one table's segment file (header `h`, validated `sections`) of
/// the checkpoint at `cp_ts`: creates the table in `catalog` and fills in
/// its rows and ordered indexes; returns what is left for later.
fn load_table_file(
    catalog: &Catalog,
    h: &SegHeader,
    sections: &[(u32, &[u8], u64)],
    data: &Arc<crate::fs::Mapped>,
    file: &str,
    cp_ts: Ts,
) -> Result<LoadedTable> {
    let (body, at) = section_of(sections, section::TABLE, file)?;
    let mut d = Dec::new(body, file, at);
    let schema = d.schema()?;
    let n = d.count(4)?;
    let mut indexes = Vec::with_capacity(n);
    for _ in 0..n {
        indexes.push(d.index()?);
    }
    let n = d.count(4)?;
    let mut vectors = Vec::with_capacity(n);
    for _ in 0..n {
        vectors.push(d.vector_index()?);
    }
    let name = schema.name.clone();
    let columns = schema.columns.len();
    let table = catalog
        .apply(
            &Record::CreateTable {
                id: h.table_id,
                schema,
            },
            cp_ts,
            None,
        )
        .and_then(|()| {
            catalog
                .table(&name)
                .ok_or_else(|| Error::internal("loaded table vanished"))
        })
        .map_err(|e| Error::corrupt(file, 16, format!("table does not load: {e}")))?;
    check_statistics(h, sections, file, columns)?;
    let mut vcols = vector_arrays(sections, file, columns)?;
    {
        let mut inner = table.inner.write();
        let count = load_rows(&mut inner, h, sections, file, cp_ts, &mut vcols, &name)?;
        load_indexes(&mut inner, sections, file, count, indexes)?;
        inner.seal(cp_ts);
    }
    table.observe_row_id(h.next_row_id.saturating_sub(1));
    table.observe_auto_key(h.auto_max);
    let versions = load_row_versions(sections, file)?;
    if let Some(stats) = load_planner_stats(sections, file, columns)? {
        table.set_stats(Some(Arc::new(stats)), table.writes_so_far());
    }
    let vectors = load_graphs(sections, data, file, vectors)?;
    Ok(LoadedTable {
        name,
        vectors,
        versions,
    })
}

/// Checks a table file's statistics against its header and schema.
fn check_statistics(
    h: &SegHeader,
    sections: &[(u32, &[u8], u64)],
    file: &str,
    columns: usize,
) -> Result<()> {
    let (body, at) = section_of(sections, section::STATISTICS, file)?;
    let mut d = Dec::new(body, file, at);
    if d.u64()? != h.rows {
        return Err(d.err("statistics disagree with the header's row count"));
    }
    let n = d.count(10)?;
    if n != columns {
        return Err(d.err(format!(
            "statistics for {n} columns, the table has {columns}"
        )));
    }
    for _ in 0..n {
        if d.u64()? > h.rows {
            return Err(d.err("more NULLs than rows"));
        }
        d.value()?;
        d.value()?;
    }
    if !d.done() {
        return Err(d.err("bytes after the statistics"));
    }
    Ok(())
}

/// A vector column kept as an array, with a cursor: (column, dims, f16,
/// array, offset of the array, next element).
type VectorArray<'a> = (usize, usize, bool, &'a [u8], u64, usize);

/// A table file's vector column arrays, each checked against its shape.
fn vector_arrays<'a>(
    sections: &[(u32, &'a [u8], u64)],
    file: &str,
    columns: usize,
) -> Result<Vec<VectorArray<'a>>> {
    let (body, at) = section_of(sections, section::VECTOR_COLUMNS, file)?;
    let mut d = Dec::new(body, file, at);
    let n = d.count(17)?;
    let data: Vec<&(u32, &[u8], u64)> = sections
        .iter()
        .filter(|s| s.0 == section::VECTOR_DATA)
        .collect();
    if data.len() != n {
        return Err(d.err(format!("{n} vector columns, {} arrays", data.len())));
    }
    let mut vcols: Vec<VectorArray<'a>> = Vec::with_capacity(n);
    for arr in data {
        let col = d.u32()? as usize;
        let dims = d.u32()? as usize;
        let half = d.u8()? == 1;
        let present = d.u64()?;
        let elem = if half { 2 } else { 4 };
        let want = usize::try_from(present)
            .ok()
            .and_then(|p| p.checked_mul(dims)?.checked_mul(elem));
        if col >= columns
            || dims == 0
            || dims > cairn_core::vector::VECTOR_DIMS_MAX
            || want != Some(arr.1.len())
        {
            return Err(d.err(format!("vector column {col}: bad shape")));
        }
        vcols.push((col, dims, half, arr.1, arr.2, 0));
    }
    Ok(vcols)
}

/// Loads a table file's rows into `inner` (vectors kept in column arrays
/// read from `vcols`); returns how many.
fn load_rows(
    inner: &mut TableInner,
    h: &SegHeader,
    sections: &[(u32, &[u8], u64)],
    file: &str,
    cp_ts: Ts,
    vcols: &mut [VectorArray<'_>],
    name: &str,
) -> Result<u64> {
    let columns = inner.schema.columns.len();
    let (body, at) = section_of(sections, section::ROWS, file)?;
    let mut d = Dec::new(body, file, at);
    let count = d.u64()?;
    if count != h.rows {
        return Err(d.err(format!("{count} rows where the header says {}", h.rows)));
    }
    for _ in 0..count {
        let rid = d.u64()?;
        if rid == 0 || rid >= h.next_row_id {
            return Err(d.err(format!("row id {rid} out of range")));
        }
        let width = d.count(1)?;
        let mut values = Vec::with_capacity(width);
        for j in 0..width {
            if d.peek() != Some(TAG_IN_COLUMN) {
                values.push(d.value()?);
                continue;
            }
            d.u8()?;
            let Some(c) = vcols.iter_mut().find(|c| c.0 == j) else {
                return Err(d.err(format!("column {j} has no vector array")));
            };
            values.push(next_column_vector(c, file)?);
        }
        if values.len() > columns {
            return Err(d.err(format!("row {rid} has more values than {name} has columns")));
        }
        if inner.head(rid).is_some() {
            return Err(d.err(format!("row {rid} appears twice")));
        }
        inner.load_version(rid, values.into(), cp_ts);
    }
    if !d.done() {
        return Err(d.err("bytes after the last row"));
    }
    if let Some(c) = vcols.iter().find(|c| c.5 != c.3.len()) {
        return Err(Error::corrupt(
            file,
            c.4,
            "vector array holds unused vectors",
        ));
    }
    Ok(count)
}

/// The next vector of a column array (moving its cursor on).
fn next_column_vector(c: &mut VectorArray<'_>, file: &str) -> Result<Value> {
    let (_, dims, half, arr, arr_at, next) = c;
    let elem = if *half { 2 } else { 4 };
    let start = *next;
    let end = start + *dims * elem;
    let Some(bytes) = arr.get(start..end) else {
        return Err(Error::corrupt(
            file,
            *arr_at,
            "more rows use the vector array than it holds",
        ));
    };
    *next = end;
    if *half {
        let x: Vec<half::f16> = bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])))
            .collect();
        if x.iter().any(|f| !f.is_finite()) {
            return Err(Error::corrupt(file, *arr_at, "non-finite element"));
        }
        Ok(Value::HalfVec(x.into()))
    } else {
        let x: Vec<f32> = bytes.chunks_exact(4).map(rd_f32).collect();
        if x.iter().any(|f| !f.is_finite()) {
            return Err(Error::corrupt(file, *arr_at, "non-finite element"));
        }
        Ok(Value::Vector(x.into()))
    }
}

/// Fills a table's ordered indexes from its file: the primary key's (made
/// with the table) and the secondary ones (`secondary`), each listing
/// every one of the `count` rows loaded.
fn load_indexes(
    inner: &mut TableInner,
    sections: &[(u32, &[u8], u64)],
    file: &str,
    count: u64,
    secondary: Vec<IndexDef>,
) -> Result<()> {
    let (body, at) = section_of(sections, section::INDEXES, file)?;
    let mut d = Dec::new(body, file, at);
    let n = d.count(12)?;
    let mut loaded: std::collections::HashMap<String, Vec<(Vec<Value>, Vec<u64>)>> =
        std::collections::HashMap::new();
    for _ in 0..n {
        let index_name = d.str()?.to_string();
        let entries_n = d.u64()?;
        let mut entries = Vec::new();
        let mut listed = 0u64;
        for _ in 0..entries_n {
            let key = d.values()?;
            let ids_n = d.count(8)?;
            let mut ids = Vec::with_capacity(ids_n);
            for _ in 0..ids_n {
                let id = d.u64()?;
                if inner.head(id).is_none() {
                    return Err(d.err(format!(
                        "index {index_name} lists row {id}, which the file does not hold"
                    )));
                }
                ids.push(id);
            }
            listed += ids_n as u64;
            entries.push((key, ids));
        }
        if listed != count {
            return Err(d.err(format!(
                "index {index_name} lists {listed} rows, the table has {count}"
            )));
        }
        loaded.insert(index_name.to_ascii_lowercase(), entries);
    }
    let mut defs: Vec<IndexDef> = inner
        .indexes
        .btrees()
        .filter(|i| i.def.primary)
        .map(|i| i.def.clone())
        .collect();
    defs.extend(secondary);
    let mut built = Vec::with_capacity(defs.len());
    for def in defs {
        let entries = loaded
            .remove(&def.name.to_ascii_lowercase())
            .ok_or_else(|| d.err(format!("no entries for index {}", def.name)))?;
        let index_name = def.name.clone();
        let index = BTreeIndex::from_sorted(def, entries).map_err(|i| {
            d.err(format!(
                "index {index_name}: entry {i} is out of order or empty"
            ))
        })?;
        built.push(index);
    }
    if !loaded.is_empty() {
        return Err(d.err("entries for an index the table does not define"));
    }
    inner.set_indexes(built);
    Ok(())
}

/// Section [`section::ROW_VERSIONS`] of `versions` (key order).
fn row_versions_section(versions: &[(cairn_merkle::Hash, u64)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(4 + versions.len() * 40);
    body.extend_from_slice(&(versions.len() as u32).to_le_bytes());
    for (key, version) in versions {
        body.extend_from_slice(&key.0);
        body.extend_from_slice(&version.to_le_bytes());
    }
    body
}

/// Section [`section::PLANNER_STATS`] of `stats`.
pub(crate) fn encode_planner_stats(stats: &TableStats) -> Vec<u8> {
    let mut body = Vec::new();
    let mut e = Enc(&mut body);
    e.u64(stats.rows);
    e.u64(stats.sampled);
    e.len(stats.columns.len());
    for c in &stats.columns {
        e.u64(c.nulls);
        e.u64(c.distinct);
        e.len(c.mcv.len());
        for (v, k) in &c.mcv {
            e.value(v);
            e.u64(*k);
        }
        e.values(&c.histogram);
    }
    body
}

/// A table file's planner statistics (None: the section is absent), for a
/// table of `columns` columns.
pub(crate) fn load_planner_stats(
    sections: &[(u32, &[u8], u64)],
    file: &str,
    columns: usize,
) -> Result<Option<TableStats>> {
    let Some(&(_, body, at)) = sections.iter().find(|s| s.0 == section::PLANNER_STATS) else {
        return Ok(None);
    };
    let mut d = Dec::new(body, file, at);
    let rows = d.u64()?;
    let sampled = d.u64()?;
    if sampled > rows {
        return Err(d.err("statistics sampled more rows than the table had"));
    }
    let n = d.count(24)?;
    if n > columns {
        return Err(d.err(format!(
            "statistics for {n} columns, the table has {columns}"
        )));
    }
    let mut stats = TableStats {
        rows,
        sampled,
        columns: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let nulls = d.u64()?;
        let distinct = d.u64()?;
        let k = d.count(9)?;
        let mut mcv = Vec::with_capacity(k);
        for _ in 0..k {
            let v = d.value()?;
            mcv.push((v, d.u64()?));
        }
        let histogram = d.values()?;
        let sorted = histogram
            .windows(2)
            .all(|w| w[0].total_cmp(&w[1]) != std::cmp::Ordering::Greater);
        if nulls > rows || distinct > rows || mcv.iter().any(|(_, k)| *k > rows) || !sorted {
            return Err(d.err("statistics out of range or histogram out of order"));
        }
        stats.columns.push(ColumnStats {
            nulls,
            distinct,
            mcv,
            histogram,
        });
    }
    if !d.done() {
        return Err(d.err("bytes after the statistics"));
    }
    Ok(Some(stats))
}

/// A table file's row versions other than 1 (None: the section is absent).
fn load_row_versions(
    sections: &[(u32, &[u8], u64)],
    file: &str,
) -> Result<Option<std::collections::HashMap<cairn_merkle::Hash, u64>>> {
    let Some(&(_, body, at)) = sections.iter().find(|s| s.0 == section::ROW_VERSIONS) else {
        return Ok(None);
    };
    let mut d = Dec::new(body, file, at);
    let n = d.count(40)?;
    let mut map = std::collections::HashMap::with_capacity(n);
    for _ in 0..n {
        let key = d.hash()?;
        let version = d.u64()?;
        if version < 2 || map.insert(key, version).is_some() {
            return Err(d.err("row versions repeat a key or list version 0 or 1"));
        }
    }
    if !d.done() {
        return Err(d.err("bytes after the row versions"));
    }
    Ok(Some(map))
}

/// The GRAPHS section of a table file (each vector index's graph shapes)
/// and, graph by graph, its array sections (G_KEYS … G_ALIVE, then G_SQ8
/// for a quantized graph), as RFC 0001 §4.3 orders them.
fn graph_sections(inner: &TableInner, ts: Ts) -> (Vec<u8>, Vec<(u32, Vec<u8>)>) {
    let mut shapes = Vec::new();
    let mut e = Enc(&mut shapes);
    e.len(inner.indexes.hnsws().count());
    let mut arrays = Vec::new();
    for vi in inner.indexes.hnsws() {
        e.len(vi.graphs.len());
        let col = vi.def.column;
        for g in &vi.graphs {
            let p = g.graph.to_parts();
            e.u64(p.keys.len() as u64);
            e.u64(p.upper.len() as u64);
            e.u32(p.entry_point);
            e.u8(p.max_level);
            let alive: Vec<u8> = g
                .live_at(col, inner, ts)
                .into_iter()
                .map(u8::from)
                .collect();
            arrays.push((section::G_KEYS, u64s(&p.keys)));
            arrays.push((section::G_LEVELS, p.levels.clone()));
            arrays.push((section::G_UPPER_OFFSET, u32s(&p.upper_offset)));
            arrays.push((section::G_LEVEL0, u32s(&p.level0)));
            arrays.push((section::G_UPPER, u32s(&p.upper)));
            arrays.push((section::G_VECTORS, f32s(&p.vectors)));
            arrays.push((section::G_ALIVE, alive));
            if let Some(codes) = &p.codes {
                if let Some(id) = section::of_codes(codes.quantization()) {
                    let mut body = Vec::new();
                    crate::codec::put_codes(&mut body, codes);
                    arrays.push((id, body));
                }
            }
        }
    }
    (shapes, arrays)
}

/// `len` f32 at `body` (a section of `data`) read in place, if they can be
/// (see [`MappedF32::new`](crate::fs::MappedF32::new)); a body of the
/// wrong size is left to the copying path to report.
fn mapped_f32(
    data: &Arc<crate::fs::Mapped>,
    body: &[u8],
    len: usize,
) -> Option<crate::fs::MappedF32> {
    if len.checked_mul(4) != Some(body.len()) {
        return None;
    }
    // Where `body` starts inside `data` (it is a slice of it; `new`
    // checks the bounds).
    let start = (body.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
    crate::fs::MappedF32::new(data.clone(), start, len)
}

/// A table file's HNSW graphs, for each of its vector indexes `vectors`:
/// their shapes, then each graph's arrays in order.
fn load_graphs(
    sections: &[(u32, &[u8], u64)],
    data: &Arc<crate::fs::Mapped>,
    file: &str,
    vectors: Vec<VectorIndexDef>,
) -> Result<Vec<LoadedVectorIndex>> {
    let (body, at) = section_of(sections, section::GRAPHS, file)?;
    let mut d = Dec::new(body, file, at);
    let n = d.count(4)?;
    if n != vectors.len() {
        return Err(d.err(format!(
            "{n} graph lists for {} vector indexes",
            vectors.len()
        )));
    }
    let mut arrays = sections.iter().filter(|s| {
        (section::G_KEYS..=section::G_ALIVE).contains(&s.0)
            || [section::G_SQ8, section::G_RABITQ].contains(&s.0)
    });
    let mut out = Vec::with_capacity(vectors.len());
    for def in vectors {
        let graphs_n = d.count(21)?;
        let mut graphs = Vec::with_capacity(graphs_n);
        for _ in 0..graphs_n {
            let len = usize::try_from(d.u64()?).map_err(|_| d.err("graph too large"))?;
            let upper_len = usize::try_from(d.u64()?).map_err(|_| d.err("graph too large"))?;
            let entry_point = d.u32()?;
            let max_level = d.u8()?;
            let mut next = |kind: u32| match arrays.next() {
                Some(&(k, body, at)) if k == kind => Ok((body, at)),
                _ => Err(Error::corrupt(
                    file,
                    0,
                    format!("graph array section {kind} missing"),
                )),
            };
            let stride0 = 1 + 2 * def.params.m;
            let keys = array(next(section::G_KEYS)?, len, 8, file, rd_u64)?;
            let levels = array(next(section::G_LEVELS)?, len, 1, file, |c| c[0])?;
            let upper_offset = array(next(section::G_UPPER_OFFSET)?, len, 4, file, rd_u32)?;
            let level0 = array(
                next(section::G_LEVEL0)?,
                len.saturating_mul(stride0),
                4,
                file,
                rd_u32,
            )?;
            let upper = array(next(section::G_UPPER)?, upper_len, 4, file, rd_u32)?;
            let vectors_at = next(section::G_VECTORS)?;
            // A quantized graph walks on codes and reads its f32 vectors
            // only to re-rank: those stay in the file, read in place.
            let mapped = (def.quantization != Quantization::None)
                .then(|| mapped_f32(data, vectors_at.0, len.saturating_mul(def.dims)))
                .flatten();
            let vectors = match mapped {
                Some(_) => Vec::new(),
                None => array(vectors_at, len.saturating_mul(def.dims), 4, file, rd_f32)?,
            };
            let alive_at = next(section::G_ALIVE)?;
            let alive = array(alive_at, len, 1, file, |c| c[0] == 1)?;
            let codes = match section::of_codes(def.quantization) {
                None => None,
                Some(id) => {
                    let (body, at) = next(id)?;
                    let codes = crate::codec::get_codes(def.quantization, body, len, def.dims)
                        .map_err(|e| Error::corrupt(file, at, e))?;
                    Some(codes)
                }
            };
            let parts = cairn_vector::hnsw::GraphParts {
                params: def.params,
                dims: def.dims,
                vectors,
                keys,
                levels,
                level0,
                upper_offset,
                upper,
                entry_point,
                max_level,
                codes,
            };
            let graph = match mapped {
                Some(m) => cairn_vector::hnsw::Graph::from_parts_shared(
                    parts,
                    cairn_vector::hnsw::SharedVectors::new(Arc::new(m)),
                ),
                None => cairn_vector::hnsw::Graph::from_parts(parts),
            }
            .map_err(|e| {
                Error::corrupt(file, alive_at.1, format!("vector index {}: {e}", def.name))
            })?;
            graphs.push((graph, alive));
        }
        out.push((def, graphs));
    }
    Ok(out)
}

/// Removes WAL files before `wal_first` and segment files (and temp files)
/// the manifest does not list.
pub(crate) fn remove_unlisted(
    fs: &dyn Vfs,
    dir: &Path,
    wal_first: u64,
    files: &[String],
) -> Result<()> {
    let wal_dir = dir.join("wal");
    let mut removed = false;
    for name in fs.list(&wal_dir)? {
        if crate::wal::parse_file_name(&name).is_some_and(|s| s < wal_first) {
            fs.remove(&wal_dir.join(&name))?;
            removed = true;
        }
    }
    if removed {
        fs.sync_dir(&wal_dir)?;
    }
    let seg_dir = dir.join("segments");
    let mut removed = false;
    for name in fs.list(&seg_dir)? {
        if !files.contains(&name) {
            fs.remove(&seg_dir.join(&name))?;
            removed = true;
        }
    }
    if removed {
        fs.sync_dir(&seg_dir)?;
    }
    Ok(())
}

/// Checks every segment file a checkpoint lists (for `integrity_check`).
pub(crate) fn check_files(fs: &dyn Vfs, dir: &Path, cp: &CheckpointRef) -> Vec<String> {
    let mut problems = Vec::new();
    for name in &cp.files {
        let path = dir.join("segments").join(name);
        match fs.map(&path) {
            Err(e) => problems.push(e.to_string()),
            Ok(data) => {
                if let Err(e) = decode_file(&data, &path.display().to_string()) {
                    problems.push(e.to_string());
                }
            }
        }
    }
    problems
}
