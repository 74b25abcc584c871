//! Property and corruption tests of the on-disk decoders, through
//! `cairn_storage::fuzzing` (the same entry points the cargo-fuzz targets in
//! `fuzz/` call):
//!
//! - values: every `Value` variant round-trips exactly (Real and vector
//!   elements compared by bits, NaN payloads included), and whatever
//!   decodes re-encodes to the same bytes (the encoding is canonical);
//! - arbitrary and mutated bytes never panic any decoder, and every failure
//!   is `ErrorKind::Corrupt`;
//! - WAL: every single-byte corruption and every truncation of a valid log
//!   image gives exactly what the torn-tail rule says (a cut log, never a
//!   longer one, or `Corrupt` where a later batch proves the damaged one
//!   had been synced), also for hand-built logs with several records per
//!   batch and lagging `synced_through` values;
//! - a vector index record with its built graph (kind 10, §3.9): round
//!   trip, every truncation is `Corrupt`, every byte flip is `Corrupt` or
//!   a record that re-encodes to itself;
//! - manifest: round trip, and every single-byte corruption is `Corrupt`
//!   unless it only swaps JSON whitespace between tokens;
//! - the fuzz seed corpora in `fuzz/corpus/` still decode.
//!
//! Each test names the rule of RFC 0001 it checks.

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use cairn_core::{ErrorKind, Result, Value};
use cairn_storage::fuzzing::{
    decode_manifest, decode_segment_file, decode_values, decode_wal_file, decode_wal_record,
    encode_values, load_segment_file, reencode_wal_record, transaction_record,
    vector_index_built_record, wal_file_with_commits,
};
use cairn_storage::{Manifest, Quantization};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

// Sizes of the WAL file header and of a batch header (RFC 0001 §3).
const FILE_HEADER: usize = 32;
const BATCH_HEADER: usize = 32;

fn is_corrupt<T: Debug>(r: &Result<T>) -> bool {
    matches!(r, Err(e) if e.kind() == ErrorKind::Corrupt)
}

/// Exact equality: Real and vector elements by bits.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Boolean(x), Value::Boolean(y)) => x == y,
        (Value::Integer(x), Value::Integer(y)) => x == y,
        (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
        (Value::Text(x), Value::Text(y)) => x == y,
        (Value::Blob(x), Value::Blob(y)) => x == y,
        (Value::Timestamp(x), Value::Timestamp(y)) => x == y,
        (Value::Json(x), Value::Json(y)) => x == y,
        (Value::Vector(x), Value::Vector(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| p.to_bits() == q.to_bits())
        }
        (Value::HalfVec(x), Value::HalfVec(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| p.to_bits() == q.to_bits())
        }
        _ => false,
    }
}

fn same_row(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A WAL image of one commit per row, with where each batch starts:
/// `bounds[k]` is the end of the first k batches (`bounds[0]` is the end of
/// the file header). Checks the headers say what the torn-tail rule
/// relies on: batch k has sequence k and says batch k-1 was synced.
fn image_with_bounds(rows: &[Vec<Value>]) -> (Vec<u8>, Vec<usize>) {
    let image = wal_file_with_commits(rows);
    let bounds: Vec<usize> = (0..=rows.len())
        .map(|k| wal_file_with_commits(&rows[..k]).len())
        .collect();
    assert_eq!(bounds[0], FILE_HEADER);
    assert_eq!(bounds[rows.len()], image.len());
    for k in 1..=rows.len() {
        let at = bounds[k - 1];
        assert_eq!(
            image[..bounds[k]],
            wal_file_with_commits(&rows[..k])[..],
            "images of a prefix of the rows are a prefix"
        );
        assert_eq!(&image[at..at + 4], b"BTCH", "batch {k} magic");
        assert_eq!(le64(&image, at + 8), k as u64, "batch {k} sequence");
        assert_eq!(
            le64(&image, at + 16),
            k as u64 - 1,
            "batch {k} synced_through"
        );
        assert_eq!(at % 8, 0, "batch {k} is 8-aligned");
    }
    (image, bounds)
}

/// The batch (1-based) holding byte `off`, or 0 for the file header.
fn batch_of(bounds: &[usize], off: usize) -> usize {
    bounds.iter().take_while(|&&b| b <= off).count()
}

/// What reading `image` with byte `off` damaged must give: damage to the
/// file header or to any batch but the last is proven durable by the next
/// batch (it says the damaged one was synced), so a strict read is
/// `Corrupt` and salvage keeps what precedes it; damage to the last batch
/// is indistinguishable from a torn write and is cut.
fn expected_after_damage(bounds: &[usize], off: usize, salvage: bool) -> Option<usize> {
    let n = bounds.len() - 1;
    let k = batch_of(bounds, off);
    if k == 0 {
        // The file header. With no batch at all nothing proves it was
        // synced: a file whose header never reached the disk.
        return (salvage || n == 0).then_some(0);
    }
    if k < n && !salvage {
        return None;
    }
    Some(k - 1)
}

/// What reading the first `len` bytes of `image` must give: the batches
/// that are whole (a cut tail is a torn write), in both modes.
fn expected_after_truncation(bounds: &[usize], len: usize) -> usize {
    bounds[1..].iter().take_while(|&&b| b <= len).count()
}

fn check_wal_damage(image: &[u8], bounds: &[usize], off: usize, xor: u8) {
    let mut bad = image.to_vec();
    bad[off] ^= xor;
    for salvage in [false, true] {
        let got = decode_wal_file(&bad, salvage);
        let want = expected_after_damage(bounds, off, salvage);
        let ok = match (want, &got) {
            (Some(n), Ok(m)) => n == *m,
            (None, r) => is_corrupt(r),
            _ => false,
        };
        assert!(
            ok,
            "byte {off} (batch {}) ^= {xor:#04x}, salvage={salvage}: want {}, got {got:?}",
            batch_of(bounds, off),
            want.map_or("Corrupt".to_string(), |n| format!("Ok({n})")),
        );
    }
}

fn sample_rows() -> Vec<Vec<Value>> {
    let half = decode_values(&[1, 0, 0, 0, 9, 2, 0, 0, 0, 0x00, 0x3c, 0x00, 0xc0])
        .expect("hand-encoded halfvec decodes");
    vec![
        vec![Value::Integer(1), Value::Text(Arc::from("one"))],
        vec![
            Value::Null,
            Value::Boolean(true),
            Value::Real(f64::from_bits(0x7ff0_0000_0000_0001)),
            Value::Blob(Arc::from(&[0u8, 0, 0, 0, 0, 0, 0, 0, 0xff][..])),
            Value::Timestamp(-1),
            Value::Json(Arc::from("[1,2,3]")),
            Value::Vector(Arc::from(&[0.5f32, -0.0, 1e-40][..])),
        ],
        half,
        vec![],
        vec![Value::Text(Arc::from(
            "a somewhat longer text value, to fill a batch",
        ))],
    ]
}

// ---------------------------------------------------------------------------
// strategies
// ---------------------------------------------------------------------------

fn real() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        any::<f64>(),
        prop::sample::select(vec![
            0x7ff8_0000_0000_0000u64, // quiet NaN
            0xfff8_0000_0000_0000,    // negative quiet NaN
            0x7ff0_0000_0000_0001,    // signalling NaN
            0x7fff_ffff_ffff_ffff,    // NaN, full payload
            0xfff0_0000_0000_0001,
            0x7ff0_0000_0000_0000, // +inf
            0xfff0_0000_0000_0000, // -inf
            0x8000_0000_0000_0000, // -0.0
            0x0000_0000_0000_0001, // smallest subnormal
        ])
        .prop_map(f64::from_bits),
    ]
}

/// Any finite f32, by bits (a non-finite pattern loses an exponent bit).
fn finite_f32() -> impl Strategy<Value = f32> {
    any::<u32>().prop_map(|b| {
        let f = f32::from_bits(b);
        if f.is_finite() {
            f
        } else {
            f32::from_bits(b & !0x4000_0000)
        }
    })
}

/// Any finite f16, by bits, as a one-element encoded HalfVec body.
fn finite_f16_bits() -> impl Strategy<Value = u16> {
    any::<u16>().prop_map(|b| if b & 0x7c00 == 0x7c00 { b & !0x4000 } else { b })
}

/// A HalfVec value, made through the decoder (the test does not name the
/// `half` crate).
fn halfvec() -> impl Strategy<Value = Value> {
    prop::collection::vec(finite_f16_bits(), 1..=64).prop_map(|bits| {
        let mut bytes = vec![1, 0, 0, 0, 9];
        bytes.extend_from_slice(&(bits.len() as u32).to_le_bytes());
        for b in &bits {
            bytes.extend_from_slice(&b.to_le_bytes());
        }
        let mut row = decode_values(&bytes).expect("finite halfvec decodes");
        row.pop().expect("one value")
    })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Integer),
        real().prop_map(Value::Real),
        any::<String>().prop_map(|s| Value::Text(Arc::from(s))),
        prop::collection::vec(any::<u8>(), 0..48).prop_map(|b| Value::Blob(Arc::from(b))),
        any::<i64>().prop_map(Value::Timestamp),
        prop_oneof![
            Just(r#"{"a":1}"#.to_string()),
            Just("[]".to_string()),
            any::<String>()
        ]
        .prop_map(|s| Value::Json(Arc::from(s))),
        prop::collection::vec(finite_f32(), 1..=64).prop_map(|v| Value::Vector(Arc::from(v))),
        halfvec(),
    ]
}

fn row() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(value(), 0..10)
}

// ---------------------------------------------------------------------------
// (a) values round-trip
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn values_round_trip(row in row()) {
        let bytes = encode_values(&row);
        let back = decode_values(&bytes).expect("encoded values decode");
        prop_assert!(same_row(&row, &back), "{row:?} came back as {back:?}");
        prop_assert_eq!(encode_values(&back), bytes);
    }

    /// Rows also survive the WAL: one commit per row, all read back.
    #[test]
    fn wal_image_holds_every_commit(rows in prop::collection::vec(row(), 0..5)) {
        let image = wal_file_with_commits(&rows);
        prop_assert_eq!(decode_wal_file(&image, false).expect("valid log"), rows.len());
        prop_assert_eq!(decode_wal_file(&image, true).expect("valid log"), rows.len());
    }
}

#[test]
fn special_reals_keep_their_bits() {
    for bits in [
        0x7ff8_0000_0000_0000u64,
        0x7ff4_0000_0000_0000,
        0xfff8_dead_beef_0001,
        0x7ff0_0000_0000_0000,
        0xfff0_0000_0000_0000,
        0x8000_0000_0000_0000,
    ] {
        let row = vec![Value::Real(f64::from_bits(bits))];
        let back = decode_values(&encode_values(&row)).expect("decodes");
        assert!(
            matches!(back[..], [Value::Real(f)] if f.to_bits() == bits),
            "{bits:#x} came back as {back:?}"
        );
    }
}

#[test]
fn non_finite_vector_elements_are_corrupt() {
    // tag 8, 1 dim, +inf / NaN; tag 9, 1 dim, f16 +inf / NaN.
    for bytes in [
        vec![1, 0, 0, 0, 8, 1, 0, 0, 0, 0x00, 0x00, 0x80, 0x7f],
        vec![1, 0, 0, 0, 8, 1, 0, 0, 0, 0x00, 0x00, 0xc0, 0x7f],
        vec![1, 0, 0, 0, 9, 1, 0, 0, 0, 0x00, 0x7c],
        vec![1, 0, 0, 0, 9, 1, 0, 0, 0, 0x00, 0x7e],
        // zero dimensions
        vec![1, 0, 0, 0, 8, 0, 0, 0, 0],
        // boolean byte 2
        vec![1, 0, 0, 0, 1, 2],
    ] {
        let r = decode_values(&bytes);
        assert!(is_corrupt(&r), "{bytes:?}: {r:?}");
    }
}

// ---------------------------------------------------------------------------
// (b) arbitrary bytes never panic; failures are Corrupt
// ---------------------------------------------------------------------------

/// Random edits (offset, new byte) applied to a valid input.
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    if !bytes.is_empty() {
        for &(at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
    }
    if let Some(c) = cut {
        bytes.truncate(c % (bytes.len() + 1));
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>()), 0..6)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for salvage in [false, true] {
            let r = decode_wal_file(&bytes, salvage);
            prop_assert!(r.is_ok() || is_corrupt(&r), "{r:?}");
        }
        let r = decode_wal_record(&bytes);
        prop_assert!(r.is_ok() || is_corrupt(&r), "{r:?}");
        let r = decode_manifest(&bytes);
        prop_assert!(r.is_ok() || is_corrupt(&r), "{r:?}");
        match decode_values(&bytes) {
            Ok(v) => prop_assert_eq!(encode_values(&v), bytes),
            r => prop_assert!(is_corrupt(&r), "{r:?}"),
        }
    }

    /// Bytes that get past the first checks: a valid file header, a record
    /// kind and version, a small value count.
    #[test]
    fn plausible_bytes_never_panic(
        kind in 0u8..=14,
        n in 0u8..4,
        tail in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut wal = wal_file_with_commits(&[]);
        wal.extend_from_slice(b"BTCH");
        wal.extend_from_slice(&tail);
        for salvage in [false, true] {
            let r = decode_wal_file(&wal, salvage);
            prop_assert!(r.is_ok() || is_corrupt(&r), "{r:?}");
        }
        let mut rec = vec![kind, 1];
        rec.extend_from_slice(&tail);
        let r = decode_wal_record(&rec);
        prop_assert!(r.is_ok() || is_corrupt(&r), "{r:?}");
        let mut vals = vec![n, 0, 0, 0];
        vals.extend_from_slice(&tail);
        match decode_values(&vals) {
            Ok(v) => prop_assert_eq!(encode_values(&v), vals),
            r => prop_assert!(is_corrupt(&r), "{r:?}"),
        }
    }

    /// Valid inputs with a few random byte edits and maybe a cut.
    #[test]
    fn mutated_valid_inputs_never_panic(
        rows in prop::collection::vec(row(), 1..4),
        edits in edits(),
        cut in prop::option::of(any::<usize>()),
    ) {
        let image = wal_file_with_commits(&rows);
        let bad = mutate(image, &edits, cut);
        let strict = decode_wal_file(&bad, false);
        let salvage = decode_wal_file(&bad, true);
        for r in [&strict, &salvage] {
            match r {
                Ok(n) => prop_assert!(*n <= rows.len(), "{n} records from {} commits", rows.len()),
                r => prop_assert!(is_corrupt(r), "{r:?}"),
            }
        }
        if let Ok(n) = strict {
            // Salvage only turns errors into cuts.
            prop_assert_eq!(salvage.expect("salvage reads what strict reads"), n);
        }

        let vals = mutate(encode_values(&rows[0]), &edits, cut);
        match decode_values(&vals) {
            Ok(v) => prop_assert_eq!(encode_values(&v), vals),
            r => prop_assert!(is_corrupt(&r), "{r:?}"),
        }

        let manifest = mutate(sample_manifest(7, Some((7, 96))).encode().expect("encodes"), &edits, cut);
        let r = decode_manifest(&manifest);
        prop_assert!(r.is_ok() || is_corrupt(&r), "{r:?}");
    }
}

// ---------------------------------------------------------------------------
// (c) WAL corruption: single-byte damage and truncation
// ---------------------------------------------------------------------------

#[test]
fn wal_every_byte_flip_is_cut_at_the_tail_or_corrupt() {
    let rows = sample_rows();
    let (image, bounds) = image_with_bounds(&rows);
    assert_eq!(decode_wal_file(&image, false).expect("valid"), rows.len());
    for off in 0..image.len() {
        for xor in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
            check_wal_damage(&image, &bounds, off, xor);
        }
    }
}

#[test]
fn wal_single_batch_and_header_only_images() {
    for rows in [vec![], vec![vec![Value::Integer(7)]]] {
        let (image, bounds) = image_with_bounds(&rows);
        for off in 0..image.len() {
            for xor in [0x01, 0x10, 0x80] {
                check_wal_damage(&image, &bounds, off, xor);
            }
        }
        for len in 0..=image.len() {
            for salvage in [false, true] {
                let got = decode_wal_file(&image[..len], salvage).expect("a cut log reads");
                assert_eq!(got, expected_after_truncation(&bounds, len), "len {len}");
            }
        }
    }
}

#[test]
fn wal_every_truncation_is_a_prefix() {
    let rows = sample_rows();
    let (image, bounds) = image_with_bounds(&rows);
    for len in 0..=image.len() {
        for salvage in [false, true] {
            let got = decode_wal_file(&image[..len], salvage);
            let want = expected_after_truncation(&bounds, len);
            assert!(
                matches!(got, Ok(n) if n == want),
                "cut to {len} bytes, salvage={salvage}: want Ok({want}), got {got:?}"
            );
        }
    }
}

/// Zeroed or garbage tails after a valid log (a file preallocated, or a
/// torn write of junk) are cut; a zeroed middle batch is Corrupt.
#[test]
fn wal_zeroed_regions() {
    let rows = sample_rows();
    let (image, bounds) = image_with_bounds(&rows);
    let n = rows.len();
    for extra in [1, 7, 8, 32, 100] {
        let mut tail = image.clone();
        tail.resize(image.len() + extra, 0);
        assert_eq!(decode_wal_file(&tail, false).expect("zero tail is cut"), n);
    }
    for k in 1..=n {
        let mut bad = image.clone();
        bad[bounds[k - 1]..bounds[k]].fill(0);
        let strict = decode_wal_file(&bad, false);
        if k < n {
            assert!(is_corrupt(&strict), "batch {k} zeroed: {strict:?}");
        } else {
            assert_eq!(strict.expect("last batch zeroed is cut"), n - 1);
        }
        assert_eq!(decode_wal_file(&bad, true).expect("salvage"), k - 1);
    }
}

proptest! {
    /// The same rules over random rows, one random flip and one random cut.
    #[test]
    fn wal_random_rows_flip_and_cut(
        rows in prop::collection::vec(row(), 1..5),
        at in any::<usize>(),
        bit in 0u32..8,
    ) {
        let (image, bounds) = image_with_bounds(&rows);
        check_wal_damage(&image, &bounds, at % image.len(), 1 << bit);
        let len = at % (image.len() + 1);
        let got = decode_wal_file(&image[..len], false).expect("a cut log reads");
        prop_assert_eq!(got, expected_after_truncation(&bounds, len));
    }
}

/// The framed record (length, checksum, payload) of a commit of `row`, cut
/// out of a one-batch image.
fn framed_commit(row: &[Value]) -> Vec<u8> {
    let image = wal_file_with_commits(&[row.to_vec()]);
    let at = FILE_HEADER + BATCH_HEADER;
    let len = u32::from_le_bytes(image[at..at + 4].try_into().expect("4 bytes")) as usize;
    image[at..at + 8 + len].to_vec()
}

/// Appends a batch as RFC 0001 §3.2 lays it out (for images
/// `wal_file_with_commits` cannot make: several records per batch, any
/// `synced_through`).
fn push_batch(out: &mut Vec<u8>, seq: u64, synced_through: u64, records: &[Vec<u8>]) {
    let mut body: Vec<u8> = records.concat();
    body.resize(body.len().div_ceil(8) * 8, 0);
    let mut h = Vec::with_capacity(BATCH_HEADER);
    h.extend_from_slice(b"BTCH");
    h.extend_from_slice(&(records.len() as u32).to_le_bytes());
    h.extend_from_slice(&seq.to_le_bytes());
    h.extend_from_slice(&synced_through.to_le_bytes());
    h.extend_from_slice(&(body.len() as u32).to_le_bytes());
    let crc = crc32c::crc32c(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&body);
}

/// A batch of a hand-built log: how many records, and its `synced_through`
/// (any value below its sequence number, as under `synchronous = normal`
/// or `off`, where batches go unsynced).
fn batches() -> impl Strategy<Value = Vec<(usize, u64)>> {
    prop::collection::vec((1usize..4, any::<u64>()), 1..6).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (records, st))| (records, st % (i as u64 + 1)))
            .collect()
    })
}

proptest! {
    /// The torn-tail rule with lagging `synced_through` values and several
    /// records per batch: damage to batch k is `Corrupt` exactly when a
    /// later batch says batch k (or later) was synced; otherwise the log is
    /// cut before batch k.
    #[test]
    fn wal_damage_follows_synced_through(
        spec in batches(),
        rows in prop::collection::vec(row(), 1..4),
        at in any::<usize>(),
        bit in 0u32..8,
    ) {
        let mut image = wal_file_with_commits(&[]);
        let mut bounds = vec![image.len()];
        let mut before = vec![0usize];
        for (i, &(records, synced_through)) in spec.iter().enumerate() {
            let recs: Vec<Vec<u8>> =
                (0..records).map(|r| framed_commit(&rows[(i + r) % rows.len()])).collect();
            push_batch(&mut image, i as u64 + 1, synced_through, &recs);
            bounds.push(image.len());
            before.push(before[i] + records);
        }
        let total = before[spec.len()];
        prop_assert_eq!(decode_wal_file(&image, false).expect("valid log"), total);

        let off = at % image.len();
        let k = batch_of(&bounds, off);
        let mut bad = image.clone();
        bad[off] ^= 1 << bit;
        let proven = if k == 0 {
            true // any valid batch proves the file header was synced
        } else {
            spec[k..].iter().any(|&(_, st)| st >= k as u64)
        };
        let strict = decode_wal_file(&bad, false);
        if proven {
            prop_assert!(is_corrupt(&strict), "byte {off} (batch {k}) ^= {}: {strict:?}", 1 << bit);
        } else {
            prop_assert_eq!(strict.expect("a torn tail is cut"), before[k.saturating_sub(1)]);
        }
        let salvage = decode_wal_file(&bad, true).expect("salvage cuts");
        prop_assert_eq!(salvage, before[k.saturating_sub(1)]);

        let len = at % (image.len() + 1);
        let whole = bounds[1..].iter().take_while(|&&b| b <= len).count();
        prop_assert_eq!(decode_wal_file(&image[..len], false).expect("cut log"), before[whole]);
    }
}

/// A torn last batch must be cut (RFC 0001 §3.7). But the search for a
/// later batch claiming it synced starts inside the torn batch itself, so
/// a commit whose data happens to contain a valid batch image (a blob
/// holding another WAL file, say) turns an ordinary torn write into
/// `Corrupt`: after a power cut during that commit the database opens
/// only with salvage.
#[test]
fn wal_torn_batch_with_a_wal_image_in_its_data_is_cut() {
    // A blob holding a WAL image whose batch 3 says batch 2 was synced,
    // placed so the inner batches sit on 8-byte boundaries of the outer
    // file: the blob starts 84 bytes into the outer batch (32 batch header,
    // 8 record header, 44 bytes of commit payload before the blob bytes).
    let inner = wal_file_with_commits(&[vec![], vec![], vec![]]);
    let torn_log = |skew: usize| {
        let mut blob = vec![0u8; skew];
        blob.extend_from_slice(&inner);
        blob.extend_from_slice(&[0u8; 16]);
        let rows = vec![vec![Value::Integer(1)], vec![Value::Blob(Arc::from(blob))]];
        let (mut image, bounds) = image_with_bounds(&rows);
        assert_eq!(decode_wal_file(&image, false).expect("valid"), 2);
        // A torn write of batch 2: its last 8 bytes never reached the disk
        // (the inner image is still whole before them).
        image.truncate(image.len() - 8);
        assert!(image.len() > bounds[1] + 84 + skew + inner.len());
        image
    };
    // Off the 8-byte grid the inner image is not seen: the tail is cut.
    let control = decode_wal_file(&torn_log(5), false);
    assert!(matches!(control, Ok(1)), "{control:?}");
    let got = decode_wal_file(&torn_log(4), false);
    assert!(
        matches!(got, Ok(1)),
        "a torn last batch must be cut to 1 record, got {got:?}"
    );
}

// ---------------------------------------------------------------------------
// (d) manifest
// ---------------------------------------------------------------------------

/// A manifest through serde (fields this test does not name default).
fn sample_manifest(wal_first: u64, synced: Option<(u64, u64)>) -> Manifest {
    manifest_from(1, 1, wal_first, "cairn 0.1.0", synced, None)
}

fn manifest_from(
    format_version: u32,
    wal_format_version: u32,
    wal_first: u64,
    written_by: &str,
    synced: Option<(u64, u64)>,
    checkpoint: Option<(u64, Vec<String>)>,
) -> Manifest {
    let mut body = serde_json::json!({
        "format_version": format_version,
        "wal_format_version": wal_format_version,
        "wal_first": wal_first,
        "written_by": written_by,
    });
    if let Some((file, offset)) = synced {
        body["wal_synced_to"] = serde_json::json!({"file": file, "offset": offset});
    }
    if let Some((ts, files)) = checkpoint {
        body["checkpoint"] = serde_json::json!({"ts": ts, "files": files});
    }
    serde_json::from_value(body).expect("manifest body deserializes")
}

/// For each byte of a JSON text, whether it lies inside a string literal
/// (quotes included).
fn in_string(json: &[u8]) -> Vec<bool> {
    let mut out = Vec::with_capacity(json.len());
    let (mut inside, mut escaped) = (false, false);
    for &b in json {
        if inside {
            out.push(true);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                inside = false;
            }
        } else {
            inside = b == b'"';
            out.push(inside);
        }
    }
    out
}

fn json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

proptest! {
    #[test]
    fn manifest_round_trip(
        wal_first in 1u64..,
        written_by in any::<String>(),
        synced in prop::option::of((any::<u64>(), any::<u64>())),
        checkpoint in prop::option::of((
            any::<u64>(),
            prop::collection::vec("[a-z0-9][a-z0-9.-]{0,24}", 0..3),
        )),
    ) {
        let m = manifest_from(1, 1, wal_first, &written_by, synced, checkpoint);
        let bytes = m.encode().expect("encodes");
        prop_assert_eq!(decode_manifest(&bytes).expect("decodes"), m);
    }

    /// Well-formed envelopes whose body this build must refuse.
    #[test]
    fn manifest_unreadable_versions_are_corrupt(
        format_version in prop_oneof![Just(0u32), 2u32..],
        wal_format_version in 4u32..,
    ) {
        for m in [
            manifest_from(format_version, 1, 1, "x", None, None),
            manifest_from(1, wal_format_version, 1, "x", None, None),
            manifest_from(1, 1, 0, "x", None, None),
        ] {
            let r = decode_manifest(&m.encode().expect("encodes"));
            prop_assert!(is_corrupt(&r), "{m:?}: {r:?}");
        }
    }
}

/// A checkpoint may only name plain files inside `segments/`.
#[test]
fn manifest_checkpoint_file_names_stay_in_segments() {
    for name in [
        "",
        ".",
        "..",
        "../MANIFEST",
        "a/b",
        "/etc/passwd",
        ".hidden",
        "a b",
    ] {
        let m = manifest_from(1, 1, 1, "x", None, Some((1, vec![name.to_string()])));
        let r = decode_manifest(&m.encode().expect("encodes"));
        assert!(is_corrupt(&r), "{name:?}: {r:?}");
    }
}

/// Every single-byte change of a manifest is `Corrupt`, except replacing
/// whitespace between JSON tokens with other whitespace, which reads the
/// identical manifest (whitespace is outside the checksummed canonical
/// form, and changes nothing). Single-bit flips of a space or newline are
/// never whitespace, so every bit flip is `Corrupt`.
#[test]
fn manifest_every_byte_change_is_corrupt_or_whitespace() {
    for m in [
        sample_manifest(1, None),
        sample_manifest(7, Some((7, 4096))),
        manifest_from(
            1,
            1,
            3,
            "cairn 0.1.0",
            None,
            Some((42, vec!["a.seg".into()])),
        ),
    ] {
        let bytes = m.encode().expect("encodes");
        let strings = in_string(&bytes);
        let mut harmless = 0;
        for off in 0..bytes.len() {
            let xors = [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80];
            let replacements = xors
                .iter()
                .map(|x| bytes[off] ^ x)
                .chain([b' ', b'\t', b'\n', b'\r', 0, 0xff, b'"', b'0', b'}', b'\\'])
                .filter(|&b| b != bytes[off]);
            for b in replacements {
                let mut bad = bytes.clone();
                bad[off] = b;
                let got = decode_manifest(&bad);
                let whitespace_swap = json_ws(bytes[off]) && json_ws(b) && !strings[off];
                if whitespace_swap {
                    harmless += 1;
                    assert_eq!(
                        got.as_ref().ok(),
                        Some(&m),
                        "byte {off} {:#04x} -> {b:#04x}",
                        bytes[off]
                    );
                } else {
                    assert!(
                        is_corrupt(&got),
                        "byte {off} {:#04x} -> {b:#04x}: {got:?}",
                        bytes[off]
                    );
                }
            }
        }
        assert!(harmless > 0, "the pretty-printed manifest has whitespace");
    }
}

/// A cut manifest is `Corrupt` unless only trailing whitespace is gone.
#[test]
fn manifest_every_truncation() {
    let m = sample_manifest(7, Some((7, 4096)));
    let bytes = m.encode().expect("encodes");
    let end = bytes
        .iter()
        .rposition(|&b| b == b'}')
        .expect("a closing brace")
        + 1;
    for len in 0..bytes.len() {
        let got = decode_manifest(&bytes[..len]);
        if len >= end {
            assert_eq!(got.expect("only whitespace cut"), m);
        } else {
            assert!(is_corrupt(&got), "cut to {len}: {got:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// the fuzz seed corpora stay valid
// ---------------------------------------------------------------------------

/// The checked-in seeds under `fuzz/corpus/<target>/seed-*` still decode
/// (after a format change: `cd fuzz && cargo run --example gen_seeds`).
#[test]
fn fuzz_seeds_decode() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut seen = 0;
    for target in ["wal_file", "wal_record", "manifest", "values", "segment"] {
        let dir = corpus.join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("seed-"))
            });
        for path in entries {
            let bytes = std::fs::read(&path).expect("read seed");
            let ok = match target {
                "wal_file" => decode_wal_file(&bytes, false).map(|_| ()),
                "wal_record" => decode_wal_record(&bytes),
                "manifest" => decode_manifest(&bytes).map(|_| ()),
                "segment" => {
                    let ts = bytes
                        .get(24..32)
                        .and_then(|b| b.try_into().ok())
                        .map_or(1, u64::from_le_bytes);
                    // A table's file loads as a checkpoint's only file; the
                    // catalog's (whose history needs its tables) decodes.
                    let table = path.to_string_lossy().contains("seed-table");
                    decode_segment_file(&bytes).and_then(|_| {
                        if table {
                            load_segment_file(&bytes, ts)
                        } else {
                            Ok(())
                        }
                    })
                }
                _ => decode_values(&bytes).map(|_| ()),
            };
            assert!(
                ok.is_ok(),
                "stale seed {} ({ok:?}): regenerate with `cargo run --example gen_seeds` in fuzz/",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "seed corpora missing under {}", corpus.display());
}

/// RFC 0001 §3.3 kind 10 and §3.9: a built graph's record round-trips
/// byte for byte; cut anywhere it is `Corrupt` (the decoder must consume
/// the payload exactly); any single damaged byte is `Corrupt` (sizes,
/// offsets, neighbour ids, entry point, flags and finite vectors are
/// checked) or still a well-formed record, and never a panic.
#[test]
fn built_graph_record_round_trips_and_damage_is_corrupt() {
    for (n, dims) in [(0, 3), (1, 2), (40, 3)] {
        let payload = vector_index_built_record(n, dims, 7, Quantization::None).expect("record");
        record_round_trips_and_damage_is_corrupt(&payload, &format!("{n} nodes"));
    }
    // Quantized (WAL format 5): options in the definition, SQ8 parameters
    // and codes after the live flags.
    for (n, dims) in [(0, 3), (1, 2), (40, 3)] {
        let payload = vector_index_built_record(n, dims, 7, Quantization::Sq8).expect("record");
        record_round_trips_and_damage_is_corrupt(&payload, &format!("sq8, {n} nodes"));
    }
    // RaBitQ (WAL format 6): the codec byte, its bits, then the seed,
    // centroid and records after the live flags.
    for bits in [1, 3] {
        for (n, dims) in [(0, 3), (1, 2), (40, 3), (12, 70)] {
            let q = Quantization::RaBitQ { bits };
            let payload = vector_index_built_record(n, dims, 7, q).expect("record");
            record_round_trips_and_damage_is_corrupt(
                &payload,
                &format!("rabitq {bits}, {n} nodes"),
            );
        }
    }
}

/// `payload` (a WAL record) encodes again to itself; every cut of it is
/// `Corrupt`; every single damaged byte is `Corrupt` or still a
/// well-formed record that encodes to the damaged bytes — never a panic.
fn record_round_trips_and_damage_is_corrupt(payload: &[u8], what: &str) {
    assert_eq!(reencode_wal_record(payload).expect("decodes"), payload);
    for len in 0..payload.len() {
        let r = decode_wal_record(&payload[..len]);
        assert!(is_corrupt(&r), "{what}: cut at {len}: {r:?}");
    }
    for at in 0..payload.len() {
        for xor in [0x01u8, 0x80, 0xff] {
            let mut p = payload.to_vec();
            p[at] ^= xor;
            let r = reencode_wal_record(&p);
            assert!(
                is_corrupt(&r) || r.as_deref().ok() == Some(&p[..]),
                "{what}: byte {at} ^ {xor:#x}: {r:?}"
            );
        }
    }
}

/// RFC 0001 §3.3 kind 13: a transaction record (DDL records, then its
/// commit) round-trips byte for byte; cut anywhere it is `Corrupt`; any
/// damaged byte is `Corrupt` or still a well-formed record that encodes
/// to the same bytes (the inner records have no checksum of their own: the
/// outer one covers them);
/// nested transactions and commits among the DDL are refused without
/// recursing.
#[test]
fn transaction_record_round_trips_and_damage_is_corrupt() {
    let rows = [
        vec![Value::Integer(1), Value::Text("a".into())],
        vec![Value::Integer(2), Value::Null],
    ];
    for rows in [&rows[..], &[]] {
        let payload = transaction_record(rows);
        record_round_trips_and_damage_is_corrupt(&payload, &format!("{} rows", rows.len()));
    }
    // A transaction inside a transaction, a thousand levels deep: refused
    // at the first level.
    let mut p = transaction_record(&[]);
    for _ in 0..1000 {
        let mut outer = vec![13u8, 1];
        outer.extend_from_slice(&1u32.to_le_bytes());
        outer.extend_from_slice(&(p.len() as u32).to_le_bytes());
        outer.extend_from_slice(&p);
        outer.push(0);
        p = outer;
    }
    assert!(is_corrupt(&decode_wal_record(&p)));
}

// ---------------------------------------------------------------------------
// Planner statistics (PLANNER_STATS section, RFC 0001 §4.7)
// ---------------------------------------------------------------------------

/// Statistics sampled from `rows` (integers, text and NULLs in 3 columns).
fn sampled_stats(rows: &[(i64, u8, bool)]) -> cairn_storage::stats::TableStats {
    let mut s = cairn_storage::stats::Sampler::new(3, vec![false, false, false]);
    for &(i, t, null) in rows {
        s.offer(&[
            Value::Integer(i),
            Value::text(&format!("t{}", t % 7)),
            if null {
                Value::Null
            } else {
                Value::Real(i as f64 / 2.0)
            },
        ]);
    }
    s.finish(3)
}

proptest! {
    /// Statistics round-trip through their section, and every truncation
    /// of a valid section is `Corrupt` (§4.7).
    #[test]
    fn planner_stats_round_trip(rows in prop::collection::vec((any::<i64>(), any::<u8>(), any::<bool>()), 0..200)) {
        use cairn_storage::fuzzing::{decode_planner_stats, encode_planner_stats};
        let stats = sampled_stats(&rows);
        let bytes = encode_planner_stats(&stats);
        prop_assert_eq!(decode_planner_stats(&bytes, 3).expect("decodes"), stats);
        for cut in 0..bytes.len() {
            let e = decode_planner_stats(&bytes[..cut], 3).expect_err("a cut section is refused");
            prop_assert_eq!(e.kind(), ErrorKind::Corrupt);
        }
        // Fewer columns in the table than in the statistics: refused.
        if !bytes.is_empty() {
            prop_assert!(decode_planner_stats(&bytes, 2).is_err());
        }
    }

    /// Arbitrary bytes never panic the statistics decoder; a failure is
    /// `Corrupt`, and what decodes is within the rows it claims (§4.7).
    #[test]
    fn planner_stats_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        use cairn_storage::fuzzing::decode_planner_stats;
        match decode_planner_stats(&bytes, 4) {
            Ok(s) => {
                prop_assert!(s.sampled <= s.rows && s.columns.len() <= 4);
                prop_assert!(s.columns.iter().all(|c| c.nulls <= s.rows && c.distinct <= s.rows));
            }
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::Corrupt),
        }
    }
}
