//! On-disk databases: opening a directory (lock, manifest, checkpoint,
//! WAL replay) into the parts of a store, and the settings and files of a
//! durable store ([`Durable`]: the directory, its lock, the WAL, what
//! opening found, the checkpointer). Layout:
//! `rfcs/0001-storage-format.md`.
//!
//! ```text
//! <db>/LOCK                  exclusive lock while open
//! <db>/MANIFEST              checksummed JSON (what the directory holds)
//! <db>/wal/<seq:020>.wal     write-ahead log files
//! <db>/segments/             checkpointed segment files (not written yet)
//! ```
//!
//! [`open`] builds the parts (the shared core, the verifiable state, the
//! build pool) and hands them to the store facade (`Store::open`); replay
//! applies each WAL record through the same paths a commit
//! (`apply.rs`) and a DDL statement (`catalog.rs`) take. A vector index
//! logged with its graph (WAL format 2) is installed, never rebuilt; one
//! logged without (an older log) is built and counted in
//! [`Recovery::vector_indexes_rebuilt`]; long steps are told to
//! [`OpenOptions::progress`]. Before anything new is logged, the
//! manifest's `wal_format_version` is raised to this build's.
//!
//! A read-only open ([`OpenOptions::read_only`]) runs the same loading
//! steps without the lock or any file change and has no [`Writer`]; a
//! writer's open waits for the lock up to [`OpenOptions::busy_timeout`].
//!
//! Closing: the store facade checkpoints at a clean close
//! ([`OpenOptions::checkpoint_on_close`]); then dropping [`Durable`]
//! flushes and syncs the WAL and records how far in the manifest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::{Error, Result, Value};

use crate::apply::{self, after_table_writes, apply_table_writes};
use crate::checkpoint::Checkpointer;
use crate::fs::{StdFs, VLock, Vfs};
use crate::index::IndexStats;
use crate::jobs::Jobs;
use crate::manifest::{Manifest, WalPosition};
use crate::merkle::{Merkle, Pending};
use crate::progress::{Progress, ProgressHook};
use crate::shared::{CommitState, Shared};
use crate::wal::{self, Record, RowWrite, Synchronous, Wal};
use crate::Ts;

/// How to open an on-disk database.
#[derive(Clone)]
pub struct OpenOptions {
    /// When a commit is acknowledged (default: `full`).
    pub synchronous: Synchronous,
    /// When the WAL is damaged somewhere other than its torn tail, open
    /// anyway with everything before the damage (and set aside the WAL
    /// files after it, renamed `*.wal.discarded`) instead of failing with
    /// [`Error::Corrupt`]. Commits after the damage are lost.
    pub salvage: bool,
    /// The file system (tests pass a [`crate::fs::SimFs`]).
    pub fs: Arc<dyn Vfs>,
    /// Keep a state root per commit and answer proofs (default: true).
    /// Off, commits skip the hashing; `head()` stays at the genesis
    /// version, and proofs and the SQL root functions are refused. Opened
    /// again with roots on, the database rebuilds them: from the WAL alone
    /// if no checkpoint was written while they were off (the same history
    /// as if they had been on), else from that checkpoint's rows, with the
    /// history starting there.
    pub state_roots: bool,
    /// Checkpoint at a clean close (`Store::close`, or dropping the last
    /// handle) when the log holds anything since the last checkpoint, so
    /// that the next open loads segment files instead of replaying the log
    /// and rebuilding indexes (default: true). Off, a close only syncs the
    /// log (tests of WAL recovery use this).
    pub checkpoint_on_close: bool,
    /// Called while opening, on the opening thread, with what takes long:
    /// replaying the log, and building a vector index's graph from its
    /// rows (a log written before builds were logged with their graph);
    /// after the open, with the progress of vector index builds (see
    /// [`Store::set_progress`](crate::Store::set_progress)). A shell
    /// prints it; see [`Progress`].
    pub progress: Option<ProgressHook>,
    /// Open without writing: no lock is taken (another process may have
    /// the database open for writing), no file is changed, and the
    /// database is read as its files held it at open — the newest
    /// checkpoint and the WAL's valid prefix (with a live writer, that may
    /// include commits whose fsync is still under way). Commits, DDL and
    /// checkpoints fail with [`Error::Unsupported`]. Reopen to see later
    /// commits. `salvage` is ignored; a directory without a database is
    /// [`Error::NoSuchObject`].
    pub read_only: bool,
    /// How long an open for writing waits while another process holds the
    /// database's lock before it fails with [`Error::Locked`] (default:
    /// [`BUSY_TIMEOUT_DEFAULT`]; zero: fail at once).
    pub busy_timeout: Duration,
}

/// Default [`OpenOptions::busy_timeout`] (as rusqlite's).
pub const BUSY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// Longest pause between two tries of a held lock.
const LOCK_POLL_MAX: Duration = Duration::from_millis(50);
/// Loads a read-only open starts over when a checkpoint moved the files.
pub const READ_ONLY_OPEN_ATTEMPTS: usize = 8;

/// How many replayed records apart [`Progress::ReplayingLog`] is told.
pub const REPLAY_PROGRESS_RECORDS: usize = 4096;

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            synchronous: Synchronous::Full,
            salvage: false,
            fs: Arc::new(StdFs),
            state_roots: true,
            checkpoint_on_close: true,
            progress: None,
            read_only: false,
            busy_timeout: BUSY_TIMEOUT_DEFAULT,
        }
    }
}

/// What opening a database found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The directory was created (no database was there).
    pub created: bool,
    /// WAL files read.
    pub wal_files: usize,
    /// WAL records replayed (commits and DDL).
    pub records: usize,
    /// Commit records among them.
    pub commits: usize,
    /// The newest commit timestamp recovered.
    pub last_commit: Ts,
    /// The commit timestamp of the checkpoint loaded, if any.
    pub checkpoint: Option<Ts>,
    /// Where the log was cut and why: a torn tail a crash left, or the
    /// damage `salvage` stopped at.
    pub cut: Option<String>,
    /// Vector indexes whose graph was built from the rows while opening
    /// (a log from before index builds were logged with their graph, or a
    /// graph too large to log whose checkpoint did not happen). 0 when
    /// every graph was loaded.
    pub vector_indexes_rebuilt: usize,
    /// Vectors not in any graph when the open finished (committed after
    /// the last graph build the files hold): searched exactly, and built
    /// into graphs in the background once a chunk is full.
    pub vectors_pending: usize,
}

/// The files of an on-disk database, a part of the store (`None` in
/// memory).
pub(crate) struct Durable {
    pub(crate) fs: Arc<dyn Vfs>,
    pub(crate) dir: PathBuf,
    pub(crate) recovery: Recovery,
    /// What writing takes; `None` when opened read-only.
    pub(crate) writer: Option<Writer>,
}

/// The writing side of an on-disk database: its lock, the WAL and the
/// checkpointer. Dropping it is the end of a clean close.
pub(crate) struct Writer {
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    pub(crate) wal: Arc<Wal>,
    /// Writes checkpoints; owns the manifest.
    pub(crate) checkpointer: Checkpointer,
    /// [`OpenOptions::checkpoint_on_close`].
    pub(crate) checkpoint_on_close: bool,
    _lock: Box<dyn VLock>,
}

/// A store's parts as opening a directory built them, for the facade.
pub(crate) struct Opened {
    pub(crate) shared: Shared,
    pub(crate) merkle: Merkle,
    pub(crate) jobs: Jobs,
    pub(crate) durable: Durable,
}

impl Durable {
    /// The file part of `integrity_check`: the manifest, every segment
    /// file it lists, and the WAL (which must hold at least what was
    /// replayed at open, unless a checkpoint has since replaced it). A
    /// checkpoint that replaces the files meanwhile (this process's, or a
    /// writer's under a read-only open) makes the check start over from
    /// the new manifest, up to [`READ_ONLY_OPEN_ATTEMPTS`] times.
    pub(crate) fn check_files(&self) -> Vec<String> {
        let mut attempt = 1;
        loop {
            let m = match Manifest::read(&*self.fs, &self.dir) {
                Ok(m) => m,
                Err(e) => return vec![e.to_string()],
            };
            let problems = self.check_files_of(&m);
            let moved = Manifest::read(&*self.fs, &self.dir).map_or(true, |now| now != m);
            if problems.is_empty() || !moved || attempt >= READ_ONLY_OPEN_ATTEMPTS {
                return problems;
            }
            attempt += 1;
        }
    }

    /// [`Durable::check_files`] against the manifest `m`.
    fn check_files_of(&self, m: &Manifest) -> Vec<String> {
        let mut problems = match &m.checkpoint {
            Some(cp) => crate::checkpoint::check_files(&*self.fs, &self.dir, cp),
            None => Vec::new(),
        };
        match wal::scan(&*self.fs, &self.dir.join("wal"), m.wal_first, false) {
            Err(e) => problems.push(e.to_string()),
            Ok(scan) => {
                let same_checkpoint =
                    m.checkpoint.as_ref().map(|c| c.ts) == self.recovery.checkpoint;
                if same_checkpoint && scan.records.len() < self.recovery.records {
                    problems.push(format!(
                        "the WAL holds {} records, {} were replayed at open",
                        scan.records.len(),
                        self.recovery.records
                    ));
                }
            }
        }
        problems
    }
}

impl Drop for Writer {
    /// A clean close: the WAL is flushed and synced, and the manifest
    /// records how far, so damage to the log's last batch is told apart
    /// from a torn write at the next open. Errors are ignored: the log
    /// itself holds every acknowledged commit either way.
    fn drop(&mut self) {
        if self.wal.close().is_err() {
            return;
        }
        let (file, offset) = self.wal.synced_position();
        let mut m = self.checkpointer.manifest.lock().clone();
        m.wal_synced_to = Some(WalPosition { file, offset });
        let _ = m.write(&*self.fs, &self.dir);
    }
}

/// Opens the database in directory `path`, creating it if needed: takes
/// its lock ([`Error::Locked`] if another process holds it), reads the
/// manifest, loads the checkpoint it names and replays the WAL into new
/// parts. A torn record at the log's tail (a crash mid-write) is cut off;
/// damage anywhere else is [`Error::Corrupt`] naming the file and offset,
/// unless [`OpenOptions::salvage`].
pub(crate) fn open(path: &Path, opts: &OpenOptions) -> Result<Opened> {
    if opts.read_only {
        return open_read_only(path, opts);
    }
    let fs = opts.fs.clone();
    fs.create_dir_all(path)?;
    let lock = lock_waiting(&*fs, &path.join("LOCK"), opts.busy_timeout)?;
    let wal_dir = path.join("wal");
    let mut recovery = Recovery::default();
    let manifest = read_or_create_manifest(&*fs, path, &mut recovery)?;
    let (mut shared, merkle, jobs, scan) = load(&*fs, path, &manifest, opts, &mut recovery)?;
    // Leftovers of a checkpoint a crash interrupted, or of one whose
    // old files were not all deleted yet.
    let listed = manifest
        .checkpoint
        .as_ref()
        .map_or(Vec::new(), |c| c.files.clone());
    crate::checkpoint::remove_unlisted(&*fs, path, manifest.wal_first, &listed)?;
    tidy_wal_tail(&*fs, &wal_dir, &scan, manifest.wal_first, opts.salvage)?;
    let wal = Arc::new(Wal::start(fs.clone(), wal_dir, &scan, opts.synchronous)?);
    let salvaged = opts.salvage && scan.cut.is_some();
    let manifest = update_manifest(&*fs, path, manifest, salvaged)?;
    recovery.vectors_pending = pending_vectors(&shared);
    shared.log = wal.clone();
    let checkpointer = Checkpointer::new(fs.clone(), path.to_path_buf(), wal.clone(), manifest);
    let writer = Writer {
        fs: fs.clone(),
        dir: path.to_path_buf(),
        wal,
        checkpointer,
        checkpoint_on_close: opts.checkpoint_on_close,
        _lock: lock,
    };
    let durable = Durable {
        fs,
        dir: path.to_path_buf(),
        recovery,
        writer: Some(writer),
    };
    Ok(Opened {
        shared,
        merkle,
        jobs,
        durable,
    })
}

/// The parts of a store as the files named by `manifest` hold them: the
/// WAL scanned (checked against the manifest's synced mark), the
/// checkpoint loaded, the log replayed (told to `opts.progress`). Changes
/// no file. Returns the scan too, for the writer to resume the log.
fn load(
    fs: &dyn Vfs,
    path: &Path,
    manifest: &Manifest,
    opts: &OpenOptions,
    recovery: &mut Recovery,
) -> Result<(Shared, Merkle, Jobs, wal::WalScan)> {
    let wal_dir = path.join("wal");
    let salvage = opts.salvage && !opts.read_only;
    let scan = wal::scan(fs, &wal_dir, manifest.wal_first, salvage)?;
    if let (Some(mark), Some(&(file, offset))) = (manifest.wal_synced_to, scan.files.last()) {
        if !salvage && (WalPosition { file, offset }) < mark {
            return Err(Error::corrupt(
                wal_dir.join(wal::file_name(file)).display(),
                offset,
                format!(
                    "the log ends here but was synced to file {} offset {} ({})",
                    mark.file,
                    mark.offset,
                    scan.cut.as_deref().unwrap_or("no more batches")
                ),
            ));
        }
    }
    let shared = Shared::new();
    let merkle = Merkle::new(opts.state_roots);
    let jobs = Jobs::default();
    jobs.set_progress(opts.progress.clone());
    if let Some(cp) = &manifest.checkpoint {
        crate::checkpoint::load(&shared, &merkle, &jobs, fs, path, cp)?;
        recovery.checkpoint = Some(cp.ts);
    }
    replay(
        &shared,
        &merkle,
        &jobs,
        &scan,
        recovery,
        opts.progress.as_ref(),
    )?;
    recovery.wal_files = scan.files.len();
    recovery.cut = scan.cut.clone();
    Ok((shared, merkle, jobs, scan))
}

/// Opens the database in `path` read-only (see [`OpenOptions::read_only`]):
/// no lock, no file changed, nothing logged. A writer may be running: if
/// loading fails while its manifest moved on (a checkpoint deleted the
/// files this open was reading), it starts again from the new manifest,
/// up to [`READ_ONLY_OPEN_ATTEMPTS`] times.
fn open_read_only(path: &Path, opts: &OpenOptions) -> Result<Opened> {
    let fs = &*opts.fs;
    if !fs.exists(&path.join("MANIFEST")) {
        return Err(Error::no_such("database", path.display().to_string()));
    }
    let mut attempt = 1;
    loop {
        let manifest = Manifest::read(fs, path)?;
        let mut recovery = Recovery::default();
        let loaded = load(fs, path, &manifest, opts, &mut recovery).and_then(|parts| {
            // The log must start where the manifest says: a later start is
            // a checkpoint that deleted its first files meanwhile.
            match parts.3.files.first() {
                Some(&(first, _)) if first == manifest.wal_first => Ok(parts),
                _ => Err(Error::corrupt(
                    path.join("wal")
                        .join(wal::file_name(manifest.wal_first))
                        .display(),
                    0,
                    "the first WAL file the manifest names is missing",
                )),
            }
        });
        match loaded {
            Ok((shared, merkle, jobs, _)) => {
                recovery.vectors_pending = pending_vectors(&shared);
                let durable = Durable {
                    fs: opts.fs.clone(),
                    dir: path.to_path_buf(),
                    recovery,
                    writer: None,
                };
                return Ok(Opened {
                    shared,
                    merkle,
                    jobs,
                    durable,
                });
            }
            Err(e) => {
                let moved = Manifest::read(fs, path).map_or(true, |m| m != manifest);
                if !moved || attempt >= READ_ONLY_OPEN_ATTEMPTS {
                    return Err(e);
                }
                attempt += 1;
            }
        }
    }
}

/// Takes the directory's lock, waiting up to `timeout` while another
/// process (or handle) holds it; then [`Error::Locked`].
fn lock_waiting(fs: &dyn Vfs, path: &Path, timeout: Duration) -> Result<Box<dyn VLock>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match fs.lock(path) {
            Err(Error::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(LOCK_POLL_MAX);
            }
            other => return other,
        }
    }
}

/// The directory's manifest; in a directory without one (and without a
/// log), a new database's, written (`recovery.created`).
fn read_or_create_manifest(fs: &dyn Vfs, path: &Path, recovery: &mut Recovery) -> Result<Manifest> {
    let wal_dir = path.join("wal");
    let manifest_path = path.join("MANIFEST");
    if fs.exists(&manifest_path) {
        return Manifest::read(fs, path);
    }
    let has_wal = fs.exists(&wal_dir)
        && fs
            .list(&wal_dir)?
            .iter()
            .any(|n| wal::parse_file_name(n).is_some());
    if has_wal {
        return Err(Error::corrupt(
            manifest_path.display(),
            0,
            "MANIFEST is missing but the WAL has files",
        ));
    }
    fs.create_dir_all(&wal_dir)?;
    fs.create_dir_all(&path.join("segments"))?;
    let m = Manifest::new();
    m.write(fs, path)?;
    recovery.created = true;
    Ok(m)
}

/// The manifest brought up to date before anything is logged: a log cut
/// short by salvage forgets how far it reached, and the WAL format
/// version becomes this build's (records of this version may follow; a
/// build that cannot read them must refuse the directory rather than
/// misread the log). Written only if it changed.
fn update_manifest(
    fs: &dyn Vfs,
    path: &Path,
    mut manifest: Manifest,
    salvaged: bool,
) -> Result<Manifest> {
    let mut rewrite = false;
    if salvaged && manifest.wal_synced_to.is_some() {
        manifest.wal_synced_to = None;
        rewrite = true;
    }
    if manifest.wal_format_version < wal::WAL_FORMAT_VERSION {
        manifest.wal_format_version = wal::WAL_FORMAT_VERSION;
        rewrite = true;
    }
    if rewrite {
        manifest.write(fs, path)?;
    }
    Ok(manifest)
}

/// Vectors of every vector index not in a graph yet.
fn pending_vectors(shared: &Shared) -> usize {
    let tables = shared.catalog.tables();
    tables
        .iter()
        .flat_map(|t| t.index_stats())
        .map(|(_, s)| match s {
            IndexStats::Vector(v) => v.pending,
            IndexStats::Ordered { .. } => 0,
        })
        .sum()
}

/// Applies the scanned records in log order, telling `progress`.
fn replay(
    shared: &Shared,
    merkle: &Merkle,
    jobs: &Jobs,
    scan: &wal::WalScan,
    recovery: &mut Recovery,
    progress: Option<&ProgressHook>,
) -> Result<()> {
    let tell = |p: Progress| {
        if let Some(f) = progress {
            f(&p);
        }
    };
    let total = scan.records.len();
    let mut cs = shared.commit_lock.lock();
    for (done, (record, file, offset)) in scan.records.iter().enumerate() {
        if done % REPLAY_PROGRESS_RECORDS == 0 && done > 0 {
            tell(Progress::ReplayingLog { done, total });
        }
        let result = match record {
            Record::Commit { ts, tables } => {
                recovery.commits += 1;
                replay_commit(shared, merkle, jobs, &mut cs, *ts, tables)
            }
            Record::Transaction { ddl, commit } => replay_transaction(
                shared,
                merkle,
                jobs,
                &mut cs,
                ddl,
                commit.as_deref(),
                &tell,
                recovery,
            ),
            ddl => replay_ddl(shared, jobs, cs.last_assigned, ddl, &tell, recovery)
                .and_then(|()| merkle.after_ddl(shared, cs.last_assigned)),
        };
        result.map_err(|e| {
            Error::corrupt(&**file, *offset, format!("WAL record does not replay: {e}"))
        })?;
        recovery.records += 1;
    }
    if total > 0 {
        tell(Progress::ReplayingLog { done: total, total });
    }
    recovery.last_commit = cs.last_assigned;
    Ok(())
}

/// Replays a transaction that ran DDL as its commit did: every DDL record,
/// the state tries reconciled once, then its rows.
#[allow(clippy::too_many_arguments)]
fn replay_transaction(
    shared: &Shared,
    merkle: &Merkle,
    jobs: &Jobs,
    cs: &mut CommitState,
    ddl: &[Record],
    commit: Option<&Record>,
    tell: &dyn Fn(Progress),
    recovery: &mut Recovery,
) -> Result<()> {
    let ts = cs.last_assigned;
    for record in ddl {
        replay_ddl(shared, jobs, ts, record, tell, recovery)?;
    }
    merkle.after_ddl(shared, ts)?;
    match commit {
        Some(Record::Commit { ts, tables }) => {
            recovery.commits += 1;
            replay_commit(shared, merkle, jobs, cs, *ts, tables)
        }
        Some(_) => Err(Error::internal(
            "a transaction's commit is not a commit record",
        )),
        None => Ok(()),
    }
}

/// Replays one DDL record at the newest commit `ts` (the one catalog
/// path); a vector index logged without its graph is built here, told to
/// `tell` and counted in `recovery`. The caller reconciles the state tries.
fn replay_ddl(
    shared: &Shared,
    jobs: &Jobs,
    ts: Ts,
    ddl: &Record,
    tell: &dyn Fn(Progress),
    recovery: &mut Recovery,
) -> Result<()> {
    let rebuild = match ddl {
        Record::CreateVectorIndex {
            table,
            def,
            built: None,
        } => shared
            .catalog
            .table(table)
            .map(|t| Progress::RebuildingIndex {
                table: t.name(),
                index: def.name.clone(),
                done: 0,
                total: t.row_count(),
            }),
        _ => None,
    };
    if let Some(p) = &rebuild {
        tell(p.clone());
    }
    shared.catalog.apply(ddl, ts, jobs.pool().as_deref())?;
    if let Some(Progress::RebuildingIndex {
        table,
        index,
        total,
        ..
    }) = rebuild
    {
        recovery.vector_indexes_rebuilt += 1;
        tell(Progress::RebuildingIndex {
            table,
            index,
            done: total,
            total,
        });
    }
    Ok(())
}

fn replay_commit(
    shared: &Shared,
    merkle: &Merkle,
    jobs: &Jobs,
    cs: &mut CommitState,
    ts: Ts,
    tables: &[(u64, Vec<RowWrite>)],
) -> Result<()> {
    if ts <= cs.last_assigned {
        return Err(Error::internal(format!(
            "commit timestamp {ts} does not follow {}",
            cs.last_assigned
        )));
    }
    let mut index_jobs = Vec::new();
    let mut changes = Vec::with_capacity(tables.len());
    for (id, rows) in tables {
        let table = shared
            .catalog
            .table_by_id(*id)
            .ok_or_else(|| Error::internal(format!("no table has id {id}")))?;
        let values: Vec<Option<Arc<[Value]>>> = rows
            .iter()
            .map(|(_, row)| row.as_ref().map(|v| Arc::from(v.as_slice())))
            .collect();
        let writes = rows
            .iter()
            .zip(&values)
            .map(|((rid, _), new)| apply::CommitRow {
                row: *rid,
                new: new.as_ref(),
                existed: None,
            });
        let mut inner = table.inner.write();
        let table_changes =
            apply_table_writes(&table, &mut inner, ts, writes, merkle.enabled(), None)?;
        index_jobs.extend(after_table_writes(&table, &mut inner, || {
            shared.oldest_snapshot()
        }));
        changes.push((*id, table_changes));
    }
    merkle.queue(Pending {
        lsn: 0,
        ts,
        tables: changes,
    });
    merkle.drain(shared, &mut merkle.lock());
    cs.last_assigned = ts;
    shared.set_published(ts);
    jobs.spawn_index_jobs(index_jobs);
    Ok(())
}

/// Files past the end of the scanned log: an empty one a crash left while
/// rotating is removed; those after damage `salvage` stopped at are set
/// aside; any other is corruption.
fn tidy_wal_tail(
    fs: &dyn Vfs,
    wal_dir: &Path,
    scan: &wal::WalScan,
    wal_first: u64,
    salvage: bool,
) -> Result<()> {
    let last = scan.files.last().map_or(0, |f| f.0);
    for name in fs.list(wal_dir)? {
        let Some(seq) = wal::parse_file_name(&name) else {
            continue;
        };
        if seq <= last || seq < wal_first {
            continue;
        }
        let p = wal_dir.join(&name);
        if Some(seq) == scan.orphan {
            fs.remove(&p)?;
        } else if salvage {
            fs.rename(&p, &wal_dir.join(format!("{name}.discarded")))?;
        } else {
            return Err(Error::corrupt(
                p.display(),
                0,
                "WAL file after the end of the log",
            ));
        }
    }
    Ok(())
}
