//! The MANIFEST: a small JSON document naming what a database directory
//! holds, in a checksummed, versioned envelope (`rfcs/0001-storage-format.md`,
//! "Manifest"). It is replaced atomically: write `MANIFEST.tmp`, fsync,
//! rename over `MANIFEST`, fsync the directory.

use std::path::Path;

use cairn_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::fs::Vfs;

/// Version of the manifest body this build writes.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;
/// Oldest manifest body version this build reads.
pub const MANIFEST_FORMAT_OLDEST: u32 = 1;

const MAGIC: &str = "cairn-manifest";

/// What the manifest records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version of this body.
    pub format_version: u32,
    /// WAL format version the log files are written in.
    pub wal_format_version: u32,
    /// Sequence number of the oldest WAL file recovery needs.
    pub wal_first: u64,
    /// The Cairn version that last wrote the manifest (informational).
    pub written_by: String,
    /// How far the WAL was synced when the manifest was written (at a
    /// clean close): open fails with [`Error::Corrupt`] if the valid log
    /// ends before this point — damage, not a torn tail.
    #[serde(default)]
    pub wal_synced_to: Option<WalPosition>,
    /// The newest checkpoint: its commit timestamp and segment files (in
    /// `segments/`). The WAL from `wal_first` holds what came after it.
    #[serde(default)]
    pub checkpoint: Option<CheckpointRef>,
}

/// A checkpoint as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRef {
    pub ts: u64,
    pub files: Vec<String>,
}

/// A byte position in the WAL: file sequence number and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WalPosition {
    pub file: u64,
    pub offset: u64,
}

impl Manifest {
    pub(crate) fn new() -> Manifest {
        Manifest {
            format_version: MANIFEST_FORMAT_VERSION,
            wal_format_version: crate::wal::WAL_FORMAT_VERSION,
            wal_first: 1,
            written_by: concat!("cairn ", env!("CARGO_PKG_VERSION")).to_string(),
            wal_synced_to: None,
            checkpoint: None,
        }
    }

    /// The envelope: `{"magic", "crc32c", "body"}`, where the checksum
    /// covers the body's canonical form (compact JSON, keys sorted).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_value(self)
            .map_err(|e| Error::internal(format!("manifest encode: {e}")))?;
        let canonical = serde_json::to_vec(&body)
            .map_err(|e| Error::internal(format!("manifest encode: {e}")))?;
        let envelope = serde_json::json!({
            "magic": MAGIC,
            "crc32c": format!("{:08x}", crc32c::crc32c(&canonical)),
            "body": body,
        });
        let mut out = serde_json::to_vec_pretty(&envelope)
            .map_err(|e| Error::internal(format!("manifest encode: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses and checks a manifest; every failure is [`Error::Corrupt`].
    pub fn decode(bytes: &[u8], file: &str) -> Result<Manifest> {
        let bad = |detail: String| Error::corrupt(file, 0, detail);
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        if v.get("magic").and_then(|m| m.as_str()) != Some(MAGIC) {
            return Err(bad("not a Cairn manifest (bad magic)".into()));
        }
        let want = v
            .get("crc32c")
            .and_then(|c| c.as_str())
            .ok_or_else(|| bad("no checksum".into()))?;
        let body = v.get("body").ok_or_else(|| bad("no body".into()))?;
        let canonical = serde_json::to_vec(body).map_err(|e| bad(e.to_string()))?;
        let got = format!("{:08x}", crc32c::crc32c(&canonical));
        if got != want {
            return Err(bad(format!(
                "checksum mismatch: stored {want}, computed {got}"
            )));
        }
        let version = body
            .get("format_version")
            .and_then(|x| x.as_u64())
            .ok_or_else(|| bad("no format_version".into()))?;
        if !(u64::from(MANIFEST_FORMAT_OLDEST)..=u64::from(MANIFEST_FORMAT_VERSION))
            .contains(&version)
        {
            return Err(bad(format!(
                "manifest format version {version}; this build reads \
                 {MANIFEST_FORMAT_OLDEST}..={MANIFEST_FORMAT_VERSION}"
            )));
        }
        let m: Manifest =
            serde_json::from_value(body.clone()).map_err(|e| bad(format!("bad body: {e}")))?;
        if m.wal_format_version > crate::wal::WAL_FORMAT_VERSION || m.wal_first == 0 {
            return Err(bad("manifest names an unreadable WAL".into()));
        }
        let safe = |f: &String| {
            !f.is_empty()
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !f.starts_with('.')
        };
        if m.checkpoint
            .as_ref()
            .is_some_and(|c| !c.files.iter().all(safe))
        {
            return Err(bad("manifest names a segment file outside segments/".into()));
        }
        Ok(m)
    }

    /// Reads `dir/MANIFEST`.
    pub(crate) fn read(fs: &dyn Vfs, dir: &Path) -> Result<Manifest> {
        let path = dir.join("MANIFEST");
        let bytes = fs.read(&path)?;
        Manifest::decode(&bytes, &path.display().to_string())
    }

    /// Replaces `dir/MANIFEST` atomically and durably.
    pub(crate) fn write(&self, fs: &dyn Vfs, dir: &Path) -> Result<()> {
        crate::fs::replace_file(fs, dir, "MANIFEST", &self.encode()?)?;
        fs.sync_dir(dir)
    }
}
