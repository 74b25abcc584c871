//! Writes the seed corpora under `fuzz/corpus/<target>/seed-*`: a few small
//! valid inputs per decoder (each checked to decode before it is written).
//! Run from `fuzz/` after a format change: `cargo run --example gen_seeds`.

use std::path::Path;
use std::sync::Arc;

use cairn_core::Value;
use cairn_storage::fuzzing::{
    decode_manifest, decode_values, decode_wal_file, decode_wal_record, encode_values,
    wal_file_with_commits,
};
use cairn_storage::Manifest;

/// Little-endian field writer mirroring the record codec (for the DDL
/// record kinds, which have no public encoder).
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(self, s: &str) -> Self {
        let mut e = self.u32(s.len() as u32);
        e.0.extend_from_slice(s.as_bytes());
        e
    }
    /// Record kind and version 1.
    fn record(kind: u8) -> Self {
        Enc::default().u8(kind).u8(1)
    }
    /// A column: name, type (tag, n), declared type, nullable, no default,
    /// NULL added default.
    fn column(self, name: &str, tag: u8, n: u32, declared: &str) -> Self {
        self.str(name)
            .u8(tag)
            .u32(n)
            .str(declared)
            .u8(1)
            .u8(0)
            .u8(0)
    }
}

fn sample_rows() -> Vec<Vec<Value>> {
    // A HalfVec is built through the decoder (tag 9, 2 dims, f16 1.0, -2.0).
    let half_row = decode_values(&[1, 0, 0, 0, 9, 2, 0, 0, 0, 0x00, 0x3c, 0x00, 0xc0])
        .expect("hand-encoded halfvec decodes");
    let mut all = vec![
        Value::Null,
        Value::Boolean(true),
        Value::Integer(-42),
        Value::Real(f64::from_bits(0x7ff8_0000_0000_0001)),
        Value::Text(Arc::from("héllo")),
        Value::Blob(Arc::from(&[0u8, 1, 2, 0xff][..])),
        Value::Timestamp(1_700_000_000_000_000),
        Value::Json(Arc::from(r#"{"a":[1,2]}"#)),
        Value::Vector(Arc::from(&[0.5f32, -1.0, 3.25][..])),
    ];
    all.extend(half_row);
    vec![
        vec![Value::Integer(1), Value::Text(Arc::from("one"))],
        all,
        vec![],
        vec![Value::Real(f64::INFINITY), Value::Boolean(false)],
    ]
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("create corpus dir");
    std::fs::write(d.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let rows = sample_rows();

    // state_proof: binary twins of the JSON seeds (those come from
    // `cairn prove`, see README.md).
    for name in ["row", "absent"] {
        let path = dir.join("state_proof").join(format!("seed-{name}.json"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            let p = cairn_merkle::RowProof::from_json(&text).expect("seed proof parses");
            write(
                &dir,
                "state_proof",
                &format!("{name}.bin"),
                &p.to_bytes().expect("encodes"),
            );
        }
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("state_proof/seed-history.json")) {
        let p = cairn_merkle::HistoryProof::from_json(&text).expect("seed proof parses");
        write(
            &dir,
            "state_proof",
            "history.bin",
            &p.to_bytes().expect("encodes"),
        );
    }

    // text_part: a small part (short lists) and one with a long list
    // (skip table, packed blocks, bound points), both with positions.
    for (name, n_docs) in [("small", 5u32), ("long", 300)] {
        let mut w = cairn_text::bm25::PartWriter::new();
        for d in 0..n_docs {
            let words = ["a", "b", "a", "c", "ab"];
            let doc: Vec<(&str, u32)> = words
                .iter()
                .cycle()
                .skip(d as usize % 5)
                .take(1 + d as usize % 7)
                .enumerate()
                .map(|(p, w)| (*w, p as u32))
                .collect();
            w.add_document(doc).expect("small part");
        }
        let bytes = w.finish().expect("small part");
        cairn_text::bm25::Part::open(bytes.as_slice()).expect("seed part opens");
        write(&dir, "text_part", name, &bytes);
    }

    // values: each sample row.
    for (i, row) in rows.iter().enumerate() {
        let bytes = encode_values(row);
        decode_values(&bytes).expect("seed row decodes");
        write(&dir, "values", &format!("row{i}"), &bytes);
    }

    // wal_file: header only, one commit, all commits, and a torn tail.
    let full = wal_file_with_commits(&rows);
    let images = [
        ("empty", wal_file_with_commits(&[])),
        ("one", wal_file_with_commits(&rows[..1])),
        ("four", full.clone()),
        ("torn", full[..full.len() - 5].to_vec()),
    ];
    for (name, image) in &images {
        decode_wal_file(image, false).expect("seed WAL file decodes");
        write(&dir, "wal_file", name, image);
    }

    // wal_record: the commit payloads out of one-batch images (file header
    // 32 bytes, batch header 32, record header 8 = length, checksum) ...
    for (i, row) in rows.iter().enumerate() {
        let image = wal_file_with_commits(std::slice::from_ref(row));
        let len = u32::from_le_bytes(image[64..68].try_into().expect("4 bytes")) as usize;
        let payload = &image[72..72 + len];
        decode_wal_record(payload).expect("commit payload decodes");
        write(&dir, "wal_record", &format!("commit{i}"), payload);
    }
    // ... and one of each DDL kind, hand-encoded.
    let sql = "CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(3))";
    let ddl = [
        (
            "create_table",
            Enc::record(2)
                .u64(1)
                .str("t")
                .u32(2)
                .column("id", 0, 0, "INTEGER")
                .column("v", 7, 3, "VECTOR(3)")
                .u8(1)
                .u32(1)
                .u32(0)
                .u32(0)
                .u8(1)
                .u32(0)
                .str(sql),
        ),
        ("drop_table", Enc::record(3).str("t")),
        (
            "create_view",
            Enc::record(4)
                .str("v")
                .u32(1)
                .str("id")
                .str("SELECT id FROM t")
                .str("CREATE VIEW v AS SELECT id FROM t"),
        ),
        ("drop_view", Enc::record(5).str("v")),
        (
            "create_index",
            Enc::record(6)
                .str("t")
                .str("i")
                .u32(1)
                .u32(0)
                .u8(1)
                .u8(0)
                .u8(1)
                .str("CREATE UNIQUE INDEX i ON t (id)"),
        ),
        (
            "create_vector_index",
            Enc::record(7)
                .str("t")
                .str("vi")
                .u32(1)
                .u32(3)
                .u32(16)
                .u32(64)
                .u8(1)
                .u64(0.5f64.to_bits())
                .str("CREATE INDEX vi ON t USING hnsw (v)"),
        ),
        ("drop_index", Enc::record(8).str("i")),
        (
            "add_column",
            Enc::record(9)
                .str("t")
                .column("c", 2, 0, "TEXT")
                .str("ALTER TABLE t ADD COLUMN c TEXT"),
        ),
    ];
    for (name, e) in &ddl {
        if let Err(err) = decode_wal_record(&e.0) {
            panic!("{name} seed does not decode: {err}");
        }
        write(&dir, "wal_record", name, &e.0);
    }

    // manifest: a fresh one, one written at a clean close (its WAL starts
    // later and it records the synced end of the log), one naming a
    // checkpoint. Built through serde: fields added later default.
    let bodies = [
        (
            "fresh",
            serde_json::json!({
                "format_version": 1,
                "wal_format_version": 1,
                "wal_first": 1,
                "written_by": "cairn 0.1.0",
            }),
        ),
        (
            "closed",
            serde_json::json!({
                "format_version": 1,
                "wal_format_version": 1,
                "wal_first": 7,
                "written_by": "cairn 0.1.0",
                "wal_synced_to": {"file": 7, "offset": 4096},
            }),
        ),
        (
            "checkpoint",
            serde_json::json!({
                "format_version": 1,
                "wal_format_version": 1,
                "wal_first": 3,
                "written_by": "cairn 0.1.0",
                "checkpoint": {"ts": 42, "files": ["00000000000000000001.seg"]},
            }),
        ),
    ];
    for (name, body) in bodies {
        let m: Manifest = serde_json::from_value(body).expect("manifest body deserializes");
        let bytes = m.encode().expect("manifest encodes");
        assert_eq!(decode_manifest(&bytes).expect("manifest decodes"), m);
        write(&dir, "manifest", name, &bytes);
    }
    println!("seeds written under {}", dir.display());
}
