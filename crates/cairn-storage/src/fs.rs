//! The file-system seam: every byte the engine reads or writes goes through
//! [`Vfs`], so tests can swap the real file system ([`StdFs`]) for a
//! simulated disk ([`SimFs`]) that injects faults (EIO, ENOSPC, short
//! writes, failing fsync, bit flips) and produces the images a power cut can
//! leave: synced data kept, unsynced writes kept or lost sector by sector in
//! any order, directory changes kept only in order and only up to what was
//! synced.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_core::{Error, Result};
use parking_lot::Mutex;

/// A file opened for writing at explicit offsets.
pub trait VFile: Send {
    /// Writes all of `data` at `offset` (extending the file if needed).
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()>;
    /// Makes every write so far durable (fsync / fdatasync).
    fn sync(&mut self) -> Result<()>;
    /// Truncates or extends the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> Result<()>;
}

/// A file's bytes: memory-mapped (read-only) or read into memory.
pub enum Mapped {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Mapped::Map(m) => m,
            Mapped::Owned(v) => v,
        }
    }
}

/// `len` f32 values read in place from a file's bytes at `start` (a graph's
/// vectors in a segment file), keeping the file's mapping alive for as
/// long as any graph holds them.
pub(crate) struct MappedF32 {
    file: Arc<Mapped>,
    start: usize,
    len: usize,
}

impl MappedF32 {
    /// The view, if `start..start + 4·len` lies inside `file` and starts on
    /// a 4-byte boundary in memory (segment array sections start on 64-byte
    /// boundaries of the file, and a mapping starts on a page); `None`
    /// otherwise (and on big-endian targets: files hold little-endian f32),
    /// and the caller copies the values instead.
    pub(crate) fn new(file: Arc<Mapped>, start: usize, len: usize) -> Option<MappedF32> {
        if cfg!(target_endian = "big") {
            return None;
        }
        let end = len.checked_mul(4)?.checked_add(start)?;
        let bytes = file.get(start..end)?;
        if bytes.as_ptr().align_offset(std::mem::align_of::<f32>()) != 0 {
            return None;
        }
        Some(MappedF32 { file, start, len })
    }
}

impl AsRef<[f32]> for MappedF32 {
    #[allow(unsafe_code)]
    fn as_ref(&self) -> &[f32] {
        let bytes = &self.file[self.start..self.start + 4 * self.len];
        // SAFETY: `new` checked that these `4·len` bytes lie inside the
        // file's bytes and start 4-byte aligned; every bit pattern is a valid
        // f32 (the graph checks them finite when it is assembled); the bytes
        // never change while mapped (segment files are immutable, see
        // `map_file`) and `self.file` keeps them alive for the slice's
        // lifetime; `new` refuses big-endian targets (files hold
        // little-endian f32).
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), self.len) }
    }
}

/// Maps `file` read-only.
#[allow(unsafe_code)]
fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is undefined behaviour only if the file changes
    // while mapped. Cairn maps only segment files, which are written once
    // (as a temp file, renamed into place) and never modified; they are
    // deleted only when no checkpoint lists them, and the database
    // directory's exclusive LOCK keeps other Cairn processes out. A file
    // changed behind Cairn's back by another program is outside what any
    // mapping can defend against (as for SQLite's mmap mode).
    unsafe { memmap2::Mmap::map(file) }
}

/// A held lock on a database directory; released when dropped.
pub trait VLock: Send + Sync {}

/// The operations the engine needs from a file system.
pub trait Vfs: Send + Sync {
    fn create_dir_all(&self, dir: &Path) -> Result<()>;
    fn exists(&self, path: &Path) -> bool;
    /// Names of the files in `dir` (not recursive).
    fn list(&self, dir: &Path) -> Result<Vec<String>>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> Result<Vec<u8>>;
    /// The content of an immutable file, memory-mapped where the platform
    /// allows (segment files; never the WAL). The default reads it.
    fn map(&self, path: &Path) -> Result<Mapped> {
        Ok(Mapped::Owned(self.read(path)?))
    }
    /// Opens `path` for writing, creating it empty if it does not exist.
    fn open_write(&self, path: &Path) -> Result<Box<dyn VFile>>;
    /// Atomically replaces `to` with `from` (durable after [`Vfs::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    fn remove(&self, path: &Path) -> Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> Result<()>;
    /// Takes an exclusive lock on `path` (created if missing), failing with
    /// [`Error::Locked`] if someone else holds it.
    fn lock(&self, path: &Path) -> Result<Box<dyn VLock>>;
}

/// Writes `bytes` to `dir/name` through a temp file: write `name.tmp`,
/// fsync it, rename it over `name`. Durable once the caller fsyncs `dir`.
pub(crate) fn replace_file(fs: &dyn Vfs, dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = fs.open_write(&tmp)?;
    f.set_len(0)?;
    f.write_at(0, bytes)?;
    f.sync()?;
    drop(f);
    fs.rename(&tmp, &dir.join(name))
}

// ---- the real file system ----------------------------------------------

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

struct StdFile {
    file: std::fs::File,
    path: PathBuf,
}

impl VFile for StdFile {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let at = |e: std::io::Error| Error::io("write", self.path.display(), &e);
        self.file.seek(SeekFrom::Start(offset)).map_err(at)?;
        self.file.write_all(data).map_err(at)
    }

    fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("fsync", self.path.display(), &e))
    }

    fn set_len(&mut self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .map_err(|e| Error::io("truncate", self.path.display(), &e))
    }
}

struct StdLock {
    _file: std::fs::File,
}

impl VLock for StdLock {}

/// Opens `path` for reading and writing, creating it empty if missing.
fn open_rw(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("open", path.display(), &e))
}

impl Vfs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("mkdir", dir.display(), &e))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let err = |e: std::io::Error| Error::io("list", dir.display(), &e);
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            if entry.file_type().map_err(err)?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        let err = |e: std::io::Error| Error::io("read", path.display(), &e);
        let mut f = std::fs::File::open(path).map_err(err)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(err)?;
        Ok(buf)
    }

    fn map(&self, path: &Path) -> Result<Mapped> {
        let file = std::fs::File::open(path).map_err(|e| Error::io("open", path.display(), &e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path.display(), &e))?
            .len();
        if len == 0 {
            // Empty files cannot be mapped everywhere.
            return Ok(Mapped::Owned(Vec::new()));
        }
        map_file(&file)
            .map(Mapped::Map)
            .map_err(|e| Error::io("mmap", path.display(), &e))
    }

    fn open_write(&self, path: &Path) -> Result<Box<dyn VFile>> {
        let file = open_rw(path)?;
        Ok(Box::new(StdFile {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to).map_err(|e| Error::io("rename", from.display(), &e))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        std::fs::remove_file(path).map_err(|e| Error::io("remove", path.display(), &e))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        // Directories can be opened and fsynced on Unix; elsewhere the
        // rename itself is the best the platform offers.
        #[cfg(unix)]
        {
            let d = std::fs::File::open(dir).map_err(|e| Error::io("open", dir.display(), &e))?;
            d.sync_all()
                .map_err(|e| Error::io("fsync", dir.display(), &e))?;
        }
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }

    fn lock(&self, path: &Path) -> Result<Box<dyn VLock>> {
        let file = open_rw(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(StdLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
                path: path.parent().unwrap_or(path).display().to_string(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", path.display(), &e)),
        }
    }
}

// ---- the simulated disk ------------------------------------------------

/// A fault [`SimFs`] injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails with EIO and changes nothing.
    Eio,
    /// The operation fails with ENOSPC and changes nothing; every later
    /// write fails the same way until [`SimFs::clear_faults`].
    Enospc,
    /// A write stores only its first half, then fails with EIO.
    ShortWrite,
    /// The process dies: this and every later operation fails and changes
    /// nothing (take [`SimFs::crash_image`] to see what the disk kept).
    Crash,
}

/// Bytes per sector: a power cut keeps or loses each unsynced sector whole.
const SECTOR: u64 = 512;

#[derive(Clone, Default)]
struct Inode {
    /// What reads see now.
    data: Vec<u8>,
    /// What survives a power cut for certain.
    durable: Vec<u8>,
    /// Unsynced changes since `durable`, in issue order.
    pending: Vec<PendingOp>,
}

#[derive(Clone)]
enum PendingOp {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Clone)]
enum DirOp {
    Link(PathBuf, u64),
    Unlink(PathBuf),
}

#[derive(Default)]
struct SimState {
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    /// Directory entries as the running process sees them.
    names: BTreeMap<PathBuf, u64>,
    dirs: BTreeSet<PathBuf>,
    /// Entries that survive a power cut for certain.
    durable_names: BTreeMap<PathBuf, u64>,
    /// Unsynced directory changes, in order.
    pending_dir: Vec<DirOp>,
    locks: BTreeSet<PathBuf>,
    /// Mutating operations issued so far.
    ops: u64,
    /// (operation number, fault) to inject.
    faults: Vec<(u64, Fault)>,
    /// Every later write fails with ENOSPC.
    full: bool,
    crashed: bool,
    /// Reads of (path, offset) get this byte XORed in.
    read_flips: Vec<(PathBuf, u64, u8)>,
}

/// An in-memory disk with fault injection and power-cut images. Clones share
/// the same disk.
#[derive(Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<SimState>>,
}

fn sim_err(op: &'static str, path: &Path, kind: std::io::ErrorKind, what: &str) -> Error {
    Error::io(op, path.display(), &std::io::Error::new(kind, what))
}

impl SimState {
    /// Counts a mutating operation and says which fault (if any) hits it.
    fn tick(&mut self, is_write: bool) -> Option<Fault> {
        if self.crashed {
            return Some(Fault::Crash);
        }
        self.ops += 1;
        let n = self.ops;
        let hit = self.faults.iter().position(|f| f.0 == n);
        let fault = hit.map(|i| self.faults.remove(i).1);
        match fault {
            Some(Fault::Crash) => {
                self.crashed = true;
                Some(Fault::Crash)
            }
            Some(Fault::Enospc) => {
                self.full = true;
                Some(Fault::Enospc)
            }
            Some(f) => Some(f),
            None if self.full && is_write => Some(Fault::Enospc),
            None => None,
        }
    }

    fn inode_of(&self, path: &Path) -> Option<u64> {
        self.names.get(path).copied()
    }

    fn fail(fault: Fault, op: &'static str, path: &Path) -> Error {
        match fault {
            Fault::Enospc => sim_err(op, path, std::io::ErrorKind::StorageFull, "no space left"),
            Fault::Crash => sim_err(op, path, std::io::ErrorKind::Other, "simulated crash"),
            Fault::Eio | Fault::ShortWrite => {
                sim_err(op, path, std::io::ErrorKind::Other, "input/output error")
            }
        }
    }
}

fn apply_write(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let start = offset as usize;
    let end = start + bytes.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[start..end].copy_from_slice(bytes);
}

/// A small deterministic generator for crash images (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

impl SimFs {
    pub fn new() -> SimFs {
        SimFs::default()
    }

    /// Injects `fault` into the `n`-th mutating operation from now (1 = the
    /// next one). Mutating operations: write, fsync, truncate, create,
    /// rename, remove, directory fsync.
    pub fn inject(&self, n: u64, fault: Fault) {
        let mut s = self.state.lock();
        let at = s.ops + n;
        s.faults.push((at, fault));
    }

    /// Mutating operations issued so far.
    pub fn ops(&self) -> u64 {
        self.state.lock().ops
    }

    /// Removes pending faults and frees the disk (ENOSPC ends).
    pub fn clear_faults(&self) {
        let mut s = self.state.lock();
        s.faults.clear();
        s.full = false;
    }

    /// Whether a [`Fault::Crash`] has happened.
    pub fn crashed(&self) -> bool {
        self.state.lock().crashed
    }

    /// Flips bit `bit` of byte `offset` in `path`, on the disk itself.
    pub fn flip_bit(&self, path: &Path, offset: u64, bit: u8) -> bool {
        let mut s = self.state.lock();
        let Some(ino) = s.inode_of(path) else {
            return false;
        };
        let Some(node) = s.inodes.get_mut(&ino) else {
            return false;
        };
        let mut hit = false;
        for buf in [&mut node.data, &mut node.durable] {
            if let Some(b) = buf.get_mut(offset as usize) {
                *b ^= 1 << (bit % 8);
                hit = true;
            }
        }
        hit
    }

    /// Makes reads of byte `offset` of `path` return it with `mask` XORed
    /// in (the disk keeps the right byte).
    pub fn flip_on_read(&self, path: &Path, offset: u64, mask: u8) {
        self.state
            .lock()
            .read_flips
            .push((path.to_path_buf(), offset, mask));
    }

    /// Size of a file as the process sees it.
    pub fn len(&self, path: &Path) -> Option<u64> {
        let s = self.state.lock();
        let ino = s.inode_of(path)?;
        s.inodes.get(&ino).map(|n| n.data.len() as u64)
    }

    /// Every file and its size, as the process sees them.
    pub fn files(&self) -> Vec<(PathBuf, u64)> {
        let s = self.state.lock();
        s.names
            .iter()
            .map(|(p, ino)| {
                (
                    p.clone(),
                    s.inodes.get(ino).map_or(0, |n| n.data.len() as u64),
                )
            })
            .collect()
    }

    /// What a power cut now would leave, as a fresh disk: synced file data
    /// and directory entries for certain; of the unsynced file writes, each
    /// sector kept or lost at random (`seed`), so later writes can survive
    /// where earlier ones did not; of the unsynced directory changes, a
    /// random prefix. Locks are released.
    pub fn crash_image(&self, seed: u64) -> SimFs {
        let s = self.state.lock();
        let mut rng = Rng(seed);
        let mut names = s.durable_names.clone();
        let keep = (rng.next() % (s.pending_dir.len() as u64 + 1)) as usize;
        for op in &s.pending_dir[..keep] {
            match op {
                DirOp::Link(p, ino) => {
                    names.insert(p.clone(), *ino);
                }
                DirOp::Unlink(p) => {
                    names.remove(p);
                }
            }
        }
        let mut inodes = BTreeMap::new();
        for ino in names.values() {
            let Some(node) = s.inodes.get(ino) else {
                continue;
            };
            let mut data = node.durable.clone();
            for op in &node.pending {
                match op {
                    PendingOp::SetLen(len) => {
                        if rng.coin() {
                            data.resize(*len as usize, 0);
                        }
                    }
                    PendingOp::Write {
                        offset,
                        data: bytes,
                    } => {
                        let mut at = 0u64;
                        while at < bytes.len() as u64 {
                            let sector_end = ((offset + at) / SECTOR + 1) * SECTOR;
                            let n = (sector_end - (offset + at)).min(bytes.len() as u64 - at);
                            if rng.coin() {
                                let piece = &bytes[at as usize..(at + n) as usize];
                                apply_write(&mut data, offset + at, piece);
                            }
                            at += n;
                        }
                    }
                }
            }
            inodes.insert(
                *ino,
                Inode {
                    data: data.clone(),
                    durable: data,
                    pending: Vec::new(),
                },
            );
        }
        let state = SimState {
            inodes,
            next_inode: s.next_inode,
            durable_names: names.clone(),
            names,
            dirs: s.dirs.clone(),
            ..SimState::default()
        };
        SimFs {
            state: Arc::new(Mutex::new(state)),
        }
    }
}

struct SimFile {
    fs: SimFs,
    path: PathBuf,
    ino: u64,
}

impl VFile for SimFile {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let mut s = self.fs.state.lock();
        let fault = s.tick(true);
        let data = match fault {
            None => data,
            Some(Fault::ShortWrite) => &data[..data.len() / 2],
            Some(f) => return Err(SimState::fail(f, "write", &self.path)),
        };
        let node = s.inodes.entry(self.ino).or_default();
        apply_write(&mut node.data, offset, data);
        node.pending.push(PendingOp::Write {
            offset,
            data: data.to_vec(),
        });
        match fault {
            Some(f) => Err(SimState::fail(f, "write", &self.path)),
            None => Ok(()),
        }
    }

    fn sync(&mut self) -> Result<()> {
        let mut s = self.fs.state.lock();
        if let Some(f) = s.tick(false) {
            return Err(SimState::fail(f, "fsync", &self.path));
        }
        let node = s.inodes.entry(self.ino).or_default();
        node.durable = node.data.clone();
        node.pending.clear();
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> Result<()> {
        let mut s = self.fs.state.lock();
        if let Some(f) = s.tick(false) {
            return Err(SimState::fail(f, "truncate", &self.path));
        }
        let node = s.inodes.entry(self.ino).or_default();
        node.data.resize(len as usize, 0);
        node.pending.push(PendingOp::SetLen(len));
        Ok(())
    }
}

struct SimLock {
    fs: SimFs,
    path: PathBuf,
}

impl VLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.fs.state.lock().locks.remove(&self.path);
    }
}

impl Vfs for SimFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let mut s = self.state.lock();
        if s.crashed {
            return Err(SimState::fail(Fault::Crash, "mkdir", dir));
        }
        // Directories themselves are modelled as always durable.
        for d in dir.ancestors() {
            s.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let s = self.state.lock();
        s.names.contains_key(path) || s.dirs.contains(path)
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let s = self.state.lock();
        if !s.dirs.contains(dir) {
            return Err(sim_err(
                "list",
                dir,
                std::io::ErrorKind::NotFound,
                "no such directory",
            ));
        }
        Ok(s.names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        let s = self.state.lock();
        let Some(node) = s.inode_of(path).and_then(|i| s.inodes.get(&i)) else {
            return Err(sim_err(
                "read",
                path,
                std::io::ErrorKind::NotFound,
                "no such file",
            ));
        };
        let mut data = node.data.clone();
        for (p, off, mask) in &s.read_flips {
            if p == path {
                if let Some(b) = data.get_mut(*off as usize) {
                    *b ^= mask;
                }
            }
        }
        Ok(data)
    }

    fn open_write(&self, path: &Path) -> Result<Box<dyn VFile>> {
        let mut s = self.state.lock();
        let ino = match s.inode_of(path) {
            Some(ino) => ino,
            None => {
                if let Some(f) = s.tick(true) {
                    return Err(SimState::fail(f, "create", path));
                }
                s.next_inode += 1;
                let ino = s.next_inode;
                s.inodes.insert(ino, Inode::default());
                s.names.insert(path.to_path_buf(), ino);
                s.pending_dir.push(DirOp::Link(path.to_path_buf(), ino));
                ino
            }
        };
        Ok(Box::new(SimFile {
            fs: self.clone(),
            path: path.to_path_buf(),
            ino,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut s = self.state.lock();
        if let Some(f) = s.tick(false) {
            return Err(SimState::fail(f, "rename", from));
        }
        let Some(ino) = s.names.remove(from) else {
            return Err(sim_err(
                "rename",
                from,
                std::io::ErrorKind::NotFound,
                "no such file",
            ));
        };
        s.names.insert(to.to_path_buf(), ino);
        s.pending_dir.push(DirOp::Unlink(from.to_path_buf()));
        s.pending_dir.push(DirOp::Link(to.to_path_buf(), ino));
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        if let Some(f) = s.tick(false) {
            return Err(SimState::fail(f, "remove", path));
        }
        if s.names.remove(path).is_none() {
            return Err(sim_err(
                "remove",
                path,
                std::io::ErrorKind::NotFound,
                "no such file",
            ));
        }
        s.pending_dir.push(DirOp::Unlink(path.to_path_buf()));
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut s = self.state.lock();
        if let Some(f) = s.tick(false) {
            return Err(SimState::fail(f, "fsync", dir));
        }
        // Entries of this directory become durable; others stay pending.
        let pending = std::mem::take(&mut s.pending_dir);
        for op in pending {
            let in_dir = match &op {
                DirOp::Link(p, _) | DirOp::Unlink(p) => p.parent() == Some(dir),
            };
            if !in_dir {
                s.pending_dir.push(op);
                continue;
            }
            match op {
                DirOp::Link(p, ino) => {
                    s.durable_names.insert(p, ino);
                }
                DirOp::Unlink(p) => {
                    s.durable_names.remove(&p);
                }
            }
        }
        Ok(())
    }

    fn lock(&self, path: &Path) -> Result<Box<dyn VLock>> {
        let mut s = self.state.lock();
        if !s.locks.insert(path.to_path_buf()) {
            return Err(Error::Locked {
                path: path.parent().unwrap_or(path).display().to_string(),
            });
        }
        Ok(Box::new(SimLock {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }
}
