//! On-disk databases: opening a directory (lock, manifest, WAL replay) and
//! the settings of a durable store. Layout: `rfcs/0001-storage-format.md`.
//!
//! ```text
//! <db>/LOCK                  exclusive lock while open
//! <db>/MANIFEST              checksummed JSON (what the directory holds)
//! <db>/wal/<seq:020>.wal     write-ahead log files
//! <db>/segments/             checkpointed segment files (not written yet)
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cairn_core::{Error, Result, Value};

use crate::apply::{self, after_table_writes, apply_table_writes};
use crate::fs::{StdFs, VLock, Vfs};
use crate::manifest::{Manifest, WalPosition};
use crate::store::{CommitState, Store};
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
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            synchronous: Synchronous::Full,
            salvage: false,
            fs: Arc::new(StdFs),
            state_roots: true,
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
}

pub(crate) struct Durable {
    pub(crate) fs: Arc<dyn Vfs>,
    pub(crate) dir: PathBuf,
    pub(crate) wal: Arc<Wal>,
    pub(crate) recovery: Recovery,
    pub(crate) manifest: parking_lot::Mutex<Manifest>,
    /// A checkpoint is running (automatic ones skip then).
    pub(crate) checkpointing: std::sync::atomic::AtomicBool,
    /// When the last checkpoint ended (or the database was opened).
    pub(crate) last_checkpoint: parking_lot::Mutex<std::time::Instant>,
    _lock: Box<dyn VLock>,
}

impl Durable {
    /// The file part of `integrity_check`: the manifest, every segment
    /// file it lists, and the WAL (which must hold at least what was
    /// replayed at open, unless a checkpoint has since replaced it).
    fn check_files(&self) -> Vec<String> {
        let m = match Manifest::read(&*self.fs, &self.dir) {
            Ok(m) => m,
            Err(e) => return vec![e.to_string()],
        };
        let mut problems = match &m.checkpoint {
            Some(cp) => crate::checkpoint::check_files(&*self.fs, &self.dir, cp),
            None => Vec::new(),
        };
        match wal::scan(&*self.fs, &self.dir.join("wal"), m.wal_first, false) {
            Err(e) => problems.push(e.to_string()),
            Ok(scan) => {
                let same_checkpoint = m.checkpoint.map(|c| c.ts) == self.recovery.checkpoint;
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

    /// Whether an automatic checkpoint is due: the WAL since the last one
    /// passed [`crate::CHECKPOINT_WAL_BYTES`], or it holds commits and
    /// [`crate::CHECKPOINT_INTERVAL`] has passed (checked at commits).
    pub(crate) fn checkpoint_due(&self) -> bool {
        let bytes = self.wal.log_bytes();
        bytes > crate::checkpoint::CHECKPOINT_WAL_BYTES
            || (bytes > crate::checkpoint::CHECKPOINT_WAL_BYTES_MIN
                && self.last_checkpoint.lock().elapsed() >= crate::checkpoint::CHECKPOINT_INTERVAL)
    }
}

impl Drop for Durable {
    /// A clean close: the WAL is flushed and synced, and the manifest
    /// records how far, so damage to the log's last batch is told apart
    /// from a torn write at the next open. Errors are ignored: the log
    /// itself holds every acknowledged commit either way.
    fn drop(&mut self) {
        if self.wal.close().is_err() {
            return;
        }
        let (file, offset) = self.wal.synced_position();
        let mut m = self.manifest.lock().clone();
        m.wal_synced_to = Some(WalPosition { file, offset });
        let _ = m.write(&*self.fs, &self.dir);
    }
}

impl Store {
    /// Opens the database in directory `path`, creating it if needed:
    /// takes its lock ([`Error::Locked`] if another process holds it),
    /// reads the manifest and replays the WAL. A torn record at the log's
    /// tail (a crash mid-write) is cut off; damage anywhere else is
    /// [`Error::Corrupt`] naming the file and offset, unless
    /// [`OpenOptions::salvage`].
    pub fn open(path: &Path, opts: OpenOptions) -> Result<Arc<Store>> {
        let fs = opts.fs.clone();
        fs.create_dir_all(path)?;
        let lock = fs.lock(&path.join("LOCK"))?;
        let wal_dir = path.join("wal");
        let manifest_path = path.join("MANIFEST");
        let mut recovery = Recovery::default();
        let manifest = if fs.exists(&manifest_path) {
            Manifest::read(&*fs, path)?
        } else {
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
            m.write(&*fs, path)?;
            recovery.created = true;
            m
        };
        let scan = wal::scan(&*fs, &wal_dir, manifest.wal_first, opts.salvage)?;
        if let (Some(mark), Some(&(file, offset))) = (manifest.wal_synced_to, scan.files.last()) {
            if !opts.salvage && (WalPosition { file, offset }) < mark {
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
        let mut store = Store::empty();
        store.state_roots = opts.state_roots;
        if let Some(cp) = &manifest.checkpoint {
            store.load_checkpoint(&*fs, path, cp)?;
            recovery.checkpoint = Some(cp.ts);
        }
        store.replay(&scan, &mut recovery)?;
        // Leftovers of a checkpoint a crash interrupted, or of one whose
        // old files were not all deleted yet.
        let listed = manifest
            .checkpoint
            .as_ref()
            .map_or(Vec::new(), |c| c.files.clone());
        crate::checkpoint::remove_unlisted(&*fs, path, manifest.wal_first, &listed)?;
        recovery.wal_files = scan.files.len();
        recovery.cut = scan.cut.clone();
        tidy_wal_tail(&*fs, &wal_dir, &scan, manifest.wal_first, opts.salvage)?;
        let wal = Arc::new(Wal::start(fs.clone(), wal_dir, &scan, opts.synchronous)?);
        let mut manifest = manifest;
        if opts.salvage && scan.cut.is_some() && manifest.wal_synced_to.is_some() {
            // The log was cut short on purpose: forget how far it reached.
            manifest.wal_synced_to = None;
            manifest.write(&*fs, path)?;
        }
        store.log = wal.clone();
        store.durable = Some(Durable {
            fs,
            dir: path.to_path_buf(),
            wal,
            recovery,
            manifest: parking_lot::Mutex::new(manifest),
            checkpointing: std::sync::atomic::AtomicBool::new(false),
            last_checkpoint: parking_lot::Mutex::new(std::time::Instant::now()),
            _lock: lock,
        });
        let store = Arc::new(store);
        store.start_merkle_worker();
        Ok(store)
    }

    /// After a commit: runs an automatic checkpoint when one is due and
    /// none is running (this committer pays for it; its commit is done
    /// either way). Nothing in memory.
    pub(crate) fn checkpoint_if_due(&self) {
        let Some(d) = &self.durable else {
            return;
        };
        if d.checkpoint_due() && !d.checkpointing.swap(true, Ordering::AcqRel) {
            let _ = self.checkpoint();
            d.checkpointing.store(false, Ordering::Release);
        }
    }

    /// The directory of an on-disk database (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.durable.as_ref().map(|d| d.dir.as_path())
    }

    /// What opening found (`None` in memory).
    pub fn recovery(&self) -> Option<&Recovery> {
        self.durable.as_ref().map(|d| &d.recovery)
    }

    /// The `synchronous` setting (`None` in memory).
    pub fn synchronous(&self) -> Option<Synchronous> {
        self.durable.as_ref().map(|d| d.wal.mode())
    }

    /// Changes when commits are acknowledged (no effect in memory).
    pub fn set_synchronous(&self, mode: Synchronous) {
        if let Some(d) = &self.durable {
            d.wal.set_mode(mode);
        }
    }

    /// Makes every acknowledged commit durable now, whatever `synchronous`
    /// says (a no-op in memory).
    pub fn sync(&self) -> Result<()> {
        match &self.durable {
            Some(d) => d.wal.sync_now(),
            None => Ok(()),
        }
    }

    /// Verifies every checksum of the database's files and cross-checks
    /// them: the manifest, every WAL batch and record (the log must hold at
    /// least what was replayed at open), and every table's indexes against
    /// its rows. Returns the problems found (empty when all is well).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut problems = match &self.durable {
            Some(d) => d.check_files(),
            None => Vec::new(),
        };
        let ts = self.last_committed();
        let tables = self.catalog.tables();
        for t in tables {
            problems.extend(t.check_indexes(ts));
        }
        problems.extend(self.check_state_root());
        problems.extend(self.check_invariants());
        Ok(problems)
    }

    /// Applies the scanned records in log order.
    fn replay(&self, scan: &wal::WalScan, recovery: &mut Recovery) -> Result<()> {
        let mut cs = self.commit_lock.lock();
        for (record, file, offset) in &scan.records {
            let result = match record {
                Record::Commit { ts, tables } => {
                    recovery.commits += 1;
                    self.replay_commit(&mut cs, *ts, tables)
                }
                ddl => self
                    .catalog
                    .apply(ddl, self.pool().as_deref())
                    .and_then(|()| self.merkle_after_ddl(cs.last_assigned)),
            };
            result.map_err(|e| {
                Error::corrupt(&**file, *offset, format!("WAL record does not replay: {e}"))
            })?;
            recovery.records += 1;
        }
        recovery.last_commit = cs.last_assigned;
        Ok(())
    }

    fn replay_commit(
        &self,
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
        let mut jobs = Vec::new();
        let mut changes = Vec::with_capacity(tables.len());
        for (id, rows) in tables {
            let table = self
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
                apply_table_writes(&table, &mut inner, ts, writes, self.state_roots, None)?;
            jobs.extend(after_table_writes(&table, &mut inner, || {
                self.oldest_snapshot()
            }));
            changes.push((*id, table_changes));
        }
        self.queue_merkle(crate::merkle::Pending {
            lsn: 0,
            ts,
            tables: changes,
        });
        self.drain_merkle(&mut self.lock_merkle());
        cs.last_assigned = ts;
        self.last_committed.store(ts, Ordering::Release);
        self.spawn_vector_jobs(jobs);
        Ok(())
    }
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
