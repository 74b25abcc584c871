//! State proofs end to end (RFC 0002 Part 2): a small database built by hand
//! with the public API (three tables as tries, the tables tree, the catalog
//! root, the state root, a history log of commit records), then
//!
//! - an adversarial suite: every valid row / query / history proof verifies
//!   and round-trips through the binary and JSON encodings; every tampered
//!   variant (bit flips, truncations, appended bytes, wrong version and kind
//!   bytes, wrong table index / count, swapped or removed trie steps, a
//!   neighbour's leaf, re-targeted keys, replay against other roots) is
//!   rejected — counted per category and asserted at 100 %;
//! - property tests of the trie (the root depends only on the leaf set;
//!   present keys prove Present, others Absent) and of the canonical value
//!   bytes (decoding never panics; values round-trip);
//! - golden vectors pinning format version 1.
//!
//! The verifier modelled here is a client that trusts a state root (or a
//! commit head) and asked one question: "what does table T hold under key
//! K?". It accepts a row proof iff the proof decodes, `verify` succeeds
//! against the trusted root, and the proof answers *that* question
//! (`proof.table == T && proof.key == K`) — `RowProof::verify` does not take
//! the question, so a client must compare it (see
//! `absence_proof_key_flips_only_ever_prove_true_absences`).

use std::collections::{BTreeMap, BTreeSet};

use cairn_merkle::{
    catalog_root, commit_record_hash, content_hash, decode_values, encode_values, inclusion_proof,
    key_hash, root, state_root, table_leaf_hash, CanonValue, CommitHead, DistanceOrder, Hash,
    HistoryProof, Membership, MerkleLog, Metric, QueryProof, RowFinding, RowProof, Trie, TrieLeaf,
    TrieProof, VerifyError, PROOF_FORMAT_VERSION, PROOF_KIND_HISTORY, PROOF_KIND_QUERY,
    PROOF_KIND_ROW,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// A database built by hand.
// ---------------------------------------------------------------------------

/// One table: its trie and, beside it, the canonical bytes it commits to.
#[derive(Clone)]
struct Table {
    name: String,
    trie: Trie,
    /// Canonical key bytes → (row version, canonical row bytes).
    rows: BTreeMap<Vec<u8>, (u64, Vec<u8>)>,
}

/// Tables in bytewise order of name, and the catalog root.
#[derive(Clone)]
struct Db {
    catalog: Hash,
    tables: Vec<Table>,
}

impl Db {
    fn new(catalog: &[u8], names: &[&str]) -> Db {
        let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        // `String` orders bytewise, as the tables tree requires.
        names.sort();
        Db {
            catalog: catalog_root(catalog),
            tables: names
                .into_iter()
                .map(|name| Table {
                    name,
                    trie: Trie::new(),
                    rows: BTreeMap::new(),
                })
                .collect(),
        }
    }

    fn index_of(&self, table: &str) -> usize {
        self.tables
            .iter()
            .position(|t| t.name == table)
            .expect("table exists")
    }

    /// Inserts or updates a row (the version counts writes of the key, from 1).
    fn put(&mut self, table: &str, pk: &[CanonValue], row: &[CanonValue]) {
        let i = self.index_of(table);
        let t = &mut self.tables[i];
        let (key, row) = (encode_values(pk), encode_values(row));
        let version = t.rows.get(&key).map_or(1, |(v, _)| v + 1);
        t.trie
            .insert(TrieLeaf {
                key: key_hash(&key),
                version,
                content: content_hash(&row),
            })
            .expect("trie has room");
        t.rows.insert(key, (version, row));
    }

    fn delete(&mut self, table: &str, pk: &[CanonValue]) {
        let i = self.index_of(table);
        let t = &mut self.tables[i];
        let key = encode_values(pk);
        t.trie.remove(&key_hash(&key)).expect("row was present");
        t.rows.remove(&key).expect("row was present");
    }

    fn table_leaves(&mut self) -> Vec<Hash> {
        self.tables
            .iter_mut()
            .map(|t| {
                assert_eq!(t.trie.len(), t.rows.len());
                let r = t.trie.root();
                table_leaf_hash(&t.name, t.trie.len() as u64, &r)
            })
            .collect()
    }

    fn state_root(&mut self) -> Hash {
        let leaves = self.table_leaves();
        state_root(&self.catalog, leaves.len() as u64, &root(&leaves))
    }

    /// The row proof for (table, key bytes): inclusion when present,
    /// absence otherwise.
    fn prove(&mut self, table: &str, key: &[u8]) -> RowProof {
        let leaves = self.table_leaves();
        let i = self.index_of(table);
        let table_path = inclusion_proof(&leaves, i as u64)
            .expect("table index in range")
            .path;
        let t = &mut self.tables[i];
        let trie = t.trie.prove(&key_hash(key));
        let row = match trie.leaf {
            Some(l) if l.key == key_hash(key) => Some(t.rows[key].1.clone()),
            _ => None,
        };
        RowProof {
            table: t.name.clone(),
            key: key.to_vec(),
            row,
            trie,
            table_rows: t.trie.len() as u64,
            table_index: i as u64,
            table_count: leaves.len() as u64,
            table_path,
            catalog_root: self.catalog,
            claimed_root: None,
            claimed_version: None,
        }
    }

    /// What the database really holds under (table, key bytes).
    fn truth(&self, table: &str, key: &[u8]) -> RowFinding {
        let t = &self.tables[self.index_of(table)];
        match t.rows.get(key) {
            None => RowFinding::Absent,
            Some((version, row)) => RowFinding::Present {
                version: *version,
                row: decode_values(row).expect("canonical row"),
            },
        }
    }

    fn present_keys(&self, table: &str) -> Vec<Vec<u8>> {
        self.tables[self.index_of(table)]
            .rows
            .keys()
            .cloned()
            .collect()
    }
}

/// The history log of commit records, and the head after each commit.
#[derive(Default)]
struct History {
    log: MerkleLog,
    heads: Vec<CommitHead>,
}

impl History {
    fn commit(&mut self, commit_ts: u64, state_root: Hash) -> CommitHead {
        let version = self.log.append(commit_record_hash(
            self.log.len() + 1,
            commit_ts,
            &state_root,
        ));
        let head = CommitHead {
            version,
            commit_ts,
            state_root,
            history_root: self.log.root(),
        };
        self.heads.push(head);
        head
    }

    fn head(&self, version: u64) -> CommitHead {
        self.heads[version as usize - 1]
    }

    /// Proof that version `old` is in the history of version `new`.
    fn prove(&self, old: u64, new: u64) -> HistoryProof {
        HistoryProof::assemble(
            self.head(old),
            self.head(new),
            self.log
                .consistency_proof(old, new)
                .expect("old <= new")
                .path,
            self.log
                .inclusion_proof(old - 1, new)
                .expect("old record in range")
                .path,
            self.log
                .inclusion_proof(new - 1, new)
                .expect("new record in range")
                .path,
        )
    }
}

fn int(i: i64) -> Vec<CanonValue> {
    vec![CanonValue::Integer(i)]
}

fn text(s: &str) -> Vec<CanonValue> {
    vec![CanonValue::Text(s.to_owned())]
}

fn account(id: i64, name: &str, balance: f64) -> Vec<CanonValue> {
    vec![
        CanonValue::Integer(id),
        CanonValue::Text(name.to_owned()),
        CanonValue::Real(balance),
        CanonValue::Boolean(id % 2 == 0),
    ]
}

/// Column 1 is the vector a distance query orders by.
fn doc(id: &str, v: [f32; 3]) -> Vec<CanonValue> {
    vec![
        CanonValue::Text(id.to_owned()),
        CanonValue::Vector(v.to_vec()),
        CanonValue::Json(format!("{{\"id\":\"{id}\"}}")),
        CanonValue::Timestamp(1_700_000_000_000_000),
    ]
}

const QUERY: [f32; 3] = [0.75, -1.5, 2.25];

/// The database after its seventh commit, the state root after every
/// commit, and the history.
struct Scenario {
    db: Db,
    roots: Vec<Hash>,
    history: History,
}

fn scenario() -> Scenario {
    let mut db = Db::new(
        b"accounts(id INTEGER PRIMARY KEY, name TEXT, balance REAL, vip BOOLEAN);\
          docs(id TEXT PRIMARY KEY, v VECTOR(3), meta JSON, at TIMESTAMP);\
          empty(id INTEGER PRIMARY KEY)",
        &["docs", "empty", "accounts"],
    );
    let mut roots = Vec::new();
    let mut history = History::default();
    let mut commit = |db: &mut Db, ts: u64| {
        let r = db.state_root();
        roots.push(r);
        history.commit(ts, r);
    };
    // 1: initial rows.
    for (id, name) in [
        (1, "ann"),
        (2, "bob"),
        (3, "cy"),
        (4, "di"),
        (5, "ed"),
        (6, "flo"),
    ] {
        db.put("accounts", &int(id), &account(id, name, 10.5 * id as f64));
    }
    db.put("docs", &text("a"), &doc("a", [3.0, 1.0, -2.0]));
    db.put("docs", &text("b"), &doc("b", [-4.0, 2.5, 0.5]));
    db.put("docs", &text("c"), &doc("c", [5.0, -3.0, 4.0]));
    db.put("docs", &text("d"), &doc("d", [0.25, 0.125, 9.0]));
    commit(&mut db, 1_000);
    // 2: an update.
    db.put("accounts", &int(2), &account(2, "bob", -3.25));
    commit(&mut db, 2_000);
    // 3: an insert.
    db.put("docs", &text("e"), &doc("e", [1.5, -2.5, 3.5]));
    commit(&mut db, 3_000);
    // 4: a delete.
    db.delete("accounts", &int(3));
    commit(&mut db, 4_000);
    // 5: an update and an insert in two tables.
    db.put("docs", &text("b"), &doc("b", [0.5, -1.0, 2.0]));
    db.put("accounts", &int(7), &account(7, "gus", 0.0));
    commit(&mut db, 5_000);
    // 6: a delete.
    db.delete("docs", &text("d"));
    commit(&mut db, 6_000);
    // 7: an update and an insert.
    db.put("accounts", &int(5), &account(5, "ed", 1e9));
    db.put("accounts", &int(8), &account(8, "hal", -0.5));
    commit(&mut db, 7_000);
    let distinct: BTreeSet<Hash> = roots.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        roots.len(),
        "every commit changes the state"
    );
    Scenario { db, roots, history }
}

/// (table, primary key) of the valid row proofs, against the last state.
fn row_questions() -> Vec<(&'static str, Vec<CanonValue>, bool)> {
    vec![
        ("accounts", int(1), true),
        ("accounts", int(2), true),  // updated: version 2
        ("accounts", int(5), true),  // updated in the last commit
        ("accounts", int(8), true),  // inserted in the last commit
        ("docs", text("b"), true),   // a vector row, updated
        ("docs", text("e"), true),   // a vector row
        ("accounts", int(3), false), // deleted
        ("accounts", int(99), false),
        ("docs", text("d"), false), // deleted
        ("docs", text("zzz"), false),
        ("empty", int(1), false), // the empty table: no leaf at all
        ("empty", text("x"), false),
    ]
}

/// The query proof: the 3 docs nearest to [`QUERY`] under L2, ascending.
fn query_proof(db: &mut Db) -> QueryProof {
    let mut scored: Vec<(f64, Vec<u8>)> = db
        .present_keys("docs")
        .into_iter()
        .map(|k| {
            let row = decode_values(&db.tables[db.index_of("docs")].rows[&k].1).expect("row");
            let CanonValue::Vector(v) = &row[1] else {
                panic!("column 1 is a vector");
            };
            let d = Metric::L2.distance(v, &QUERY).expect("same dims");
            (d, k)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.truncate(3);
    QueryProof {
        rows: scored.iter().map(|(_, k)| db.prove("docs", k)).collect(),
        order: Some(DistanceOrder {
            column: 1,
            metric: Metric::L2,
            query: QUERY.to_vec(),
            distances: scored.iter().map(|(d, _)| *d).collect(),
        }),
    }
}

/// The history proofs: (old version, new version).
const HISTORY_PAIRS: [(u64, u64); 8] = [
    (1, 1),
    (1, 2),
    (1, 7),
    (3, 5),
    (4, 4),
    (4, 7),
    (6, 7),
    (7, 7),
];

// ---------------------------------------------------------------------------
// Tallies.
// ---------------------------------------------------------------------------

/// Attempts and rejections per category.
#[derive(Default)]
struct Tallies(BTreeMap<String, (u64, u64)>);

impl Tallies {
    fn expect_rejected(&mut self, category: &str, accepted: bool) {
        let t = self.0.entry(category.to_owned()).or_default();
        t.0 += 1;
        if !accepted {
            t.1 += 1;
        }
    }

    /// Prints every category, then asserts each was attempted and fully
    /// rejected; returns the number of tampered proofs.
    fn assert_all_rejected(&self, what: &str) -> u64 {
        let mut total = 0;
        let mut failed = Vec::new();
        for (name, (attempts, rejected)) in &self.0 {
            println!("{what} {name}: {rejected} / {attempts} rejected");
            if *attempts == 0 || rejected != attempts {
                failed.push(format!("{name}: {rejected} / {attempts} rejected"));
            }
            total += attempts;
        }
        assert!(
            failed.is_empty(),
            "{what}: tampered proofs accepted: {failed:?}"
        );
        println!("{what}: {total} tampered proofs, all rejected");
        total
    }
}

/// Truncations, appended bytes, wrong version and kind bytes: each must
/// fail to decode.
fn framing_tamperings(bytes: &[u8], decodes: &dyn Fn(&[u8]) -> bool, t: &mut Tallies) {
    for len in 0..bytes.len() {
        t.expect_rejected("truncation", decodes(&bytes[..len]));
    }
    for extra in 0..=u8::MAX {
        let mut b = bytes.to_vec();
        b.push(extra);
        t.expect_rejected("appended byte", decodes(&b));
    }
    for version in (0..=u8::MAX).filter(|&v| v != PROOF_FORMAT_VERSION) {
        let mut b = bytes.to_vec();
        b[0] = version;
        t.expect_rejected("wrong version byte", decodes(&b));
    }
    for kind in (0..=u8::MAX).filter(|&k| k != bytes[1]) {
        let mut b = bytes.to_vec();
        b[1] = kind;
        t.expect_rejected("wrong kind byte", decodes(&b));
    }
}

fn flip(bytes: &[u8], i: usize, bit: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[i] ^= 1 << bit;
    b
}

// ---------------------------------------------------------------------------
// Row proofs.
// ---------------------------------------------------------------------------

/// The client of the module doc: decodes, verifies, and answers the question.
fn accepts_row(bytes: &[u8], table: &str, key: &[u8], trusted: &Hash) -> bool {
    RowProof::from_bytes(bytes)
        .is_ok_and(|p| p.table == table && p.key == key && p.verify(trusted).is_ok())
}

fn accepts(p: &RowProof, table: &str, key: &[u8], trusted: &Hash) -> bool {
    p.table == table && p.key == key && p.verify(trusted).is_ok()
}

/// Structured tamperings of a row proof, by category.
fn row_tamperings(p: &RowProof, db: &Db) -> Vec<(&'static str, RowProof)> {
    let mut out = Vec::new();
    for i in (0..p.table_count + 3).chain([u64::MAX]) {
        if i != p.table_index {
            let q = RowProof {
                table_index: i,
                ..p.clone()
            };
            out.push(("wrong table index", q));
        }
    }
    for c in (0..p.table_count + 4).chain([u64::MAX]) {
        if c != p.table_count {
            let q = RowProof {
                table_count: c,
                ..p.clone()
            };
            out.push(("wrong table count", q));
        }
    }
    for r in [
        0,
        1,
        p.table_rows.wrapping_sub(1),
        p.table_rows + 1,
        u64::MAX,
    ] {
        if r != p.table_rows {
            let q = RowProof {
                table_rows: r,
                ..p.clone()
            };
            out.push(("wrong table row count", q));
        }
    }
    let steps = p.trie.path.len();
    for i in 0..steps.saturating_sub(1) {
        let mut q = p.clone();
        q.trie.path.swap(i, i + 1);
        out.push(("swapped trie steps", q));
        let mut q = p.clone();
        let (a, b) = (q.trie.path[i].sibling, q.trie.path[i + 1].sibling);
        q.trie.path[i].sibling = b;
        q.trie.path[i + 1].sibling = a;
        out.push(("swapped trie siblings (depths kept)", q));
    }
    for i in 0..steps {
        let mut q = p.clone();
        q.trie.path.remove(i);
        out.push(("trie step removed", q));
        let mut q = p.clone();
        let s = q.trie.path[i];
        q.trie.path.insert(i, s);
        out.push(("trie step duplicated", q));
        for d in [0, s.depth.wrapping_sub(1), s.depth.wrapping_add(1), u8::MAX] {
            if d != s.depth {
                let mut q = p.clone();
                q.trie.path[i].depth = d;
                out.push(("trie step depth changed", q));
            }
        }
    }
    if let Some(leaf) = p.trie.leaf {
        for v in [
            0,
            leaf.version.saturating_sub(1),
            leaf.version + 1,
            u64::MAX,
        ] {
            if v != leaf.version {
                let mut q = p.clone();
                q.trie.leaf = Some(TrieLeaf { version: v, ..leaf });
                out.push(("wrong row version in leaf", q));
            }
        }
        let mut q = p.clone();
        q.trie.leaf = None;
        q.trie.path.clear();
        out.push(("leaf dropped (claims empty table)", q));
    }
    for i in 0..p.table_path.len() {
        let mut q = p.clone();
        q.table_path.remove(i);
        out.push(("table path hash removed", q));
        if i + 1 < p.table_path.len() {
            let mut q = p.clone();
            q.table_path.swap(i, i + 1);
            out.push(("table path hashes swapped", q));
        }
    }
    for t in &db.tables {
        if t.name != p.table {
            let q = RowProof {
                table: t.name.clone(),
                ..p.clone()
            };
            out.push(("another table's name", q));
        }
    }
    let q = RowProof {
        catalog_root: catalog_root(b"another catalog"),
        ..p.clone()
    };
    out.push(("wrong catalog root", q));
    // Rows: dropped, added, or another row's bytes.
    match &p.row {
        Some(row) => {
            let q = RowProof {
                row: None,
                ..p.clone()
            };
            out.push(("row dropped", q));
            let mut other = decode_values(row).expect("canonical row");
            other.push(CanonValue::Null);
            let q = RowProof {
                row: Some(encode_values(&other)),
                ..p.clone()
            };
            out.push(("row changed", q));
        }
        None => {
            let q = RowProof {
                row: Some(encode_values(&account(99, "forged", 1.0))),
                ..p.clone()
            };
            out.push(("row added to an absence proof", q));
        }
    }
    out
}

#[test]
fn valid_proofs_verify_and_round_trip() {
    let mut s = scenario();
    let trusted = *s.roots.last().expect("seven states");
    for (table, pk, present) in row_questions() {
        let key = encode_values(&pk);
        let p = s.db.prove(table, &key);
        let finding = p.verify(&trusted).expect("valid row proof verifies");
        assert_eq!(finding, s.db.truth(table, &key), "{table} {pk:?}");
        assert_eq!(matches!(finding, RowFinding::Present { .. }), present);
        if table == "empty" {
            assert_eq!(p.trie.leaf, None, "the empty table has no leaf");
        }
        let bytes = p.to_bytes().expect("encodable");
        assert_eq!(bytes[..2], [PROOF_FORMAT_VERSION, PROOF_KIND_ROW]);
        assert_eq!(RowProof::from_bytes(&bytes).expect("decodes"), p);
        let json = p.to_json().expect("encodable");
        assert_eq!(RowProof::from_json(&json).expect("parses"), p);
        assert!(accepts_row(&bytes, table, &key, &trusted));
    }

    let q = query_proof(&mut s.db);
    let rows = q.verify(&trusted).expect("valid query proof verifies");
    let ids: Vec<&CanonValue> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        ids,
        [
            &CanonValue::Text("b".into()),
            &CanonValue::Text("e".into()),
            &CanonValue::Text("c".into())
        ]
    );
    let bytes = q.to_bytes().expect("encodable");
    assert_eq!(bytes[..2], [PROOF_FORMAT_VERSION, PROOF_KIND_QUERY]);
    assert_eq!(QueryProof::from_bytes(&bytes).expect("decodes"), q);
    let json = q.to_json().expect("encodable");
    assert_eq!(QueryProof::from_json(&json).expect("parses"), q);

    for (old, new) in HISTORY_PAIRS {
        let p = s.history.prove(old, new);
        let trusted = s.history.head(old);
        assert_eq!(p.verify(&trusted), Ok(s.history.head(new)), "{old}->{new}");
        let bytes = p.to_bytes().expect("encodable");
        assert_eq!(bytes[..2], [PROOF_FORMAT_VERSION, PROOF_KIND_HISTORY]);
        assert_eq!(HistoryProof::from_bytes(&bytes).expect("decodes"), p);
        let json = p.to_json().expect("encodable");
        assert_eq!(HistoryProof::from_json(&json).expect("parses"), p);
        // The new head's state root is the state the row proofs are checked
        // against once the history proof is accepted.
        assert_eq!(
            p.verify(&trusted).map(|h| h.state_root),
            Ok(s.roots[new as usize - 1])
        );
    }
}

#[test]
fn tampered_row_proofs_are_all_rejected() {
    let mut s = scenario();
    let trusted = *s.roots.last().expect("seven states");
    let mut other_db = s.db.clone();
    other_db.put("empty", &int(1), &int(1));
    let mut foreign_roots: Vec<Hash> = s.roots[..s.roots.len() - 1].to_vec();
    foreign_roots.push(other_db.state_root());
    let mut recatalogued = s.db.clone();
    recatalogued.catalog = catalog_root(b"another catalog");
    foreign_roots.push(recatalogued.state_root());

    let mut t = Tallies::default();
    let mut valid = 0;
    for (table, pk, present) in row_questions() {
        let key = encode_values(&pk);
        let p = s.db.prove(table, &key);
        let bytes = p.to_bytes().expect("encodable");
        assert!(accepts_row(&bytes, table, &key, &trusted));
        valid += 1;

        // Every single-bit flip. Whatever verifies at all must tell the
        // truth about the (table, key) it names; nothing may answer the
        // question asked.
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let b = flip(&bytes, i, bit);
                if let Ok(q) = RowProof::from_bytes(&b) {
                    if let Ok(f) = q.verify(&trusted) {
                        assert_eq!(f, s.db.truth(&q.table, &q.key), "flip {i}.{bit} lies");
                    }
                }
                t.expect_rejected("bit flip", accepts_row(&b, table, &key, &trusted));
            }
        }
        framing_tamperings(&bytes, &|b| RowProof::from_bytes(b).is_ok(), &mut t);

        // Structured tamperings: none may verify at all (stricter than the
        // client, which would also reject another table's name outright).
        for (category, q) in row_tamperings(&p, &s.db) {
            t.expect_rejected(category, q.verify(&trusted).is_ok());
            // Through the wire too, where it encodes at all.
            if let Ok(b) = q.to_bytes() {
                let verifies = RowProof::from_bytes(&b).is_ok_and(|d| d.verify(&trusted).is_ok());
                t.expect_rejected(category, verifies);
            }
        }
        for other in &foreign_roots {
            t.expect_rejected("replay against another state root", p.verify(other).is_ok());
        }

        let ti = s.db.index_of(table);
        if present {
            // The leaf replaced by a neighbour's leaf (every other leaf of
            // the table), with the asked row, no row, or the neighbour's row.
            let asked = key_hash(&key);
            let neighbours: Vec<Vec<u8>> = s.db.tables[ti]
                .rows
                .keys()
                .filter(|k| **k != key)
                .cloned()
                .collect();
            for nk in neighbours {
                let nleaf = *s.db.tables[ti].trie.get(&key_hash(&nk)).expect("present");
                let nrow = s.db.tables[ti].rows[&nk].1.clone();
                for row in [p.row.clone(), None, Some(nrow.clone())] {
                    let mut q = p.clone();
                    q.trie.leaf = Some(nleaf);
                    q.row = row.clone();
                    let shows_present = matches!(
                        q.trie.implied_root(&asked),
                        Ok((_, Membership::Present(l))) if l.key == asked
                    );
                    assert!(!shows_present, "a neighbour's leaf shows the asked key");
                    t.expect_rejected("neighbour's leaf", accepts(&q, table, &key, &trusted));
                    // The neighbour's whole valid proof (leaf and path),
                    // re-targeted at the asked key.
                    let mut q = s.db.prove(table, &nk);
                    q.key = key.clone();
                    q.row = row;
                    t.expect_rejected(
                        "neighbour's whole proof re-targeted",
                        accepts(&q, table, &key, &trusted),
                    );
                }
            }
        } else {
            // Absence proofs re-targeted at a key that IS present in the
            // table named: keys of the same table, and keys of the other
            // tables with the table name moved too. (A key of another table
            // left under this proof's table name may truthfully be absent
            // here, so that is no forgery.)
            for target in &s.db.tables {
                for present_key in target.rows.keys() {
                    let mut q = p.clone();
                    q.key = present_key.clone();
                    q.table = target.name.clone();
                    t.expect_rejected(
                        "absence re-targeted at a present key",
                        accepts(&q, &target.name, present_key, &trusted),
                    );
                }
            }
        }
    }
    // For every present key, an absence claim built from every valid proof
    // of the table: each other leaf with its real path, and the empty trie.
    for ti in 0..s.db.tables.len() {
        let name = s.db.tables[ti].name.clone();
        let keys = s.db.present_keys(&name);
        for k in &keys {
            let mut claims = vec![TrieProof {
                leaf: None,
                path: Vec::new(),
            }];
            for other in keys.iter().filter(|o| *o != k) {
                claims.push(s.db.tables[ti].trie.prove(&key_hash(other)));
            }
            for trie in claims {
                let mut q = s.db.prove(&name, k);
                q.row = None;
                q.trie = trie;
                t.expect_rejected(
                    "absence forged for a present key",
                    q.verify(&trusted).is_ok(),
                );
            }
        }
    }
    assert_eq!(valid, 12);
    let total = t.assert_all_rejected("row proof");
    assert!(total > 40_000, "{total}");
}

/// A flipped key in an absence proof may name another key whose absence the
/// same path also proves: a true statement about another question, which is
/// why the client compares `proof.key` with its own. Checked: each such
/// proof is for a key the table really lacks.
#[test]
fn absence_proof_key_flips_only_ever_prove_true_absences() {
    let mut s = scenario();
    let trusted = *s.roots.last().expect("seven states");
    let (mut verified, mut attempts) = (0, 0);
    for (table, pk, present) in row_questions() {
        if present {
            continue;
        }
        let key = encode_values(&pk);
        let p = s.db.prove(table, &key);
        for i in 0..key.len() {
            for bit in 0..8 {
                let q = RowProof {
                    key: flip(&key, i, bit),
                    ..p.clone()
                };
                attempts += 1;
                if let Ok(f) = q.verify(&trusted) {
                    verified += 1;
                    assert_eq!(f, RowFinding::Absent);
                    assert_eq!(s.db.truth(table, &q.key), RowFinding::Absent);
                }
            }
        }
    }
    println!("absence key flips: {verified} / {attempts} prove another key's (true) absence");
    assert!(verified > 0, "the empty table's proof holds for any key");
}

// ---------------------------------------------------------------------------
// Query proofs.
// ---------------------------------------------------------------------------

fn accepts_query(bytes: &[u8], trusted: &Hash) -> bool {
    QueryProof::from_bytes(bytes).is_ok_and(|q| q.verify(trusted).is_ok())
}

#[test]
fn tampered_query_proofs_are_all_rejected() {
    let mut s = scenario();
    let trusted = *s.roots.last().expect("seven states");
    let q = query_proof(&mut s.db);
    let o = q.order.clone().expect("ordered");
    assert!(
        o.distances.iter().all(|d| *d >= 0.5),
        "distances >= 0.5 keep the tolerance inside the excluded bytes"
    );
    let bytes = q.to_bytes().expect("encodable");
    assert!(accepts_query(&bytes, &trusted));

    // The order section ends the encoding: ... query (dims × f32 LE), then
    // distances (rows × f64 LE).
    let n = bytes.len();
    let dist_start = n - 8 * o.distances.len();
    let query_start = dist_start - 4 * o.query.len();
    // Distances are checked with a relative tolerance of 1e-4 (at least
    // 1e-4 absolute), so flipping a low mantissa bit of a stated distance,
    // or of a query element (which moves every recomputed distance a
    // little), may legitimately still verify. Exactly these bytes are left
    // out of the 100 % count: bytes 0..=4 of each f64 distance (mantissa
    // bits 0..=39, a change of at most 2^-13 relative) and bytes 0..=1 of
    // each f32 query element (mantissa bits 0..=15). Every other byte —
    // including the top mantissa, exponent and sign bytes of the same
    // fields — must be rejected.
    let tolerated = |i: usize| {
        (i >= dist_start && (i - dist_start) % 8 <= 4)
            || (query_start..dist_start).contains(&i) && (i - query_start) % 4 <= 1
    };
    let mut t = Tallies::default();
    let (mut tolerated_accepted, mut tolerated_attempts) = (0, 0);
    for i in 0..n {
        for bit in 0..8 {
            let b = flip(&bytes, i, bit);
            let accepted = accepts_query(&b, &trusted);
            if tolerated(i) {
                tolerated_attempts += 1;
                if accepted {
                    tolerated_accepted += 1;
                    // Still the same rows; only a number moved a little.
                    let p = QueryProof::from_bytes(&b).expect("decoded");
                    assert_eq!(p.rows, q.rows);
                }
            } else {
                t.expect_rejected("bit flip", accepted);
            }
        }
    }
    println!(
        "query bit flips in tolerated low mantissa bytes: \
         {tolerated_accepted} / {tolerated_attempts} still verify (excluded)"
    );
    framing_tamperings(&bytes, &|b| QueryProof::from_bytes(b).is_ok(), &mut t);

    let with_order = |f: &dyn Fn(&mut DistanceOrder)| {
        let mut p = q.clone();
        if let Some(o) = p.order.as_mut() {
            f(o);
        }
        p
    };
    let mut variants: Vec<(&str, QueryProof)> = vec![
        ("metric changed", with_order(&|o| o.metric = Metric::Cosine)),
        (
            "metric changed",
            with_order(&|o| o.metric = Metric::NegativeDot),
        ),
        ("column changed", with_order(&|o| o.column = 0)),
        ("column changed", with_order(&|o| o.column = 2)),
        ("column changed", with_order(&|o| o.column = 4)),
        ("query changed", with_order(&|o| o.query[0] += 0.5)),
        ("query changed", with_order(&|o| o.query.push(1.0))),
        ("query changed", with_order(&|o| o.query.clear())),
        ("distances swapped", with_order(&|o| o.distances.swap(0, 2))),
        ("distance dropped", with_order(&|o| o.distances.truncate(2))),
        ("distance scaled", with_order(&|o| o.distances[1] *= 1.01)),
        (
            "distance negated",
            with_order(&|o| o.distances[0] = -o.distances[0]),
        ),
        ("distance zeroed", with_order(&|o| o.distances[2] = 0.0)),
        ("distance NaN", with_order(&|o| o.distances[1] = f64::NAN)),
    ];
    // Rows reordered (distances moved with them): out of order.
    let mut p = q.clone();
    p.rows.swap(0, 1);
    if let Some(o) = p.order.as_mut() {
        o.distances.swap(0, 1);
    }
    variants.push(("rows out of order", p));
    let mut p = q.clone();
    p.rows.pop();
    variants.push(("row proof removed", p));
    let mut p = q.clone();
    let absent = s.db.prove("docs", &encode_values(&text("zzz")));
    p.rows[1] = absent;
    variants.push(("row replaced by an absence proof", p));
    for i in 0..q.rows.len() {
        for (category, r) in row_tamperings(&q.rows[i], &s.db) {
            let mut p = q.clone();
            p.rows[i] = r;
            variants.push((category, p));
        }
    }
    for (category, p) in &variants {
        t.expect_rejected(category, p.verify(&trusted).is_ok());
        if let Ok(b) = p.to_bytes() {
            t.expect_rejected(category, accepts_query(&b, &trusted));
        }
    }
    for other in &s.roots[..s.roots.len() - 1] {
        t.expect_rejected("replay against another state root", q.verify(other).is_ok());
    }
    let total = t.assert_all_rejected("query proof");
    assert!(total > 10_000, "{total}");
}

/// A stated distance of ±infinity is not "the distance the verifier
/// recomputes", whatever the tolerance. Here the nearest row lies at
/// exactly 1.0, whose bits (0x3ff0…) become +infinity with one flip of the
/// top exponent bit.
#[test]
fn query_proof_with_infinite_distance_is_rejected() {
    let mut db = Db::new(b"t(id INTEGER PRIMARY KEY, v VECTOR(3))", &["t"]);
    db.put(
        "t",
        &int(1),
        &[
            CanonValue::Integer(1),
            CanonValue::Vector(vec![1.0, 2.0, 4.0]),
        ],
    );
    db.put(
        "t",
        &int(2),
        &[
            CanonValue::Integer(2),
            CanonValue::Vector(vec![1.0, 5.0, 7.0]),
        ],
    );
    let trusted = db.state_root();
    let query = vec![1.0f32, 2.0, 3.0];
    let distances: Vec<f64> = [[1.0f32, 2.0, 4.0], [1.0, 5.0, 7.0]]
        .iter()
        .map(|v| Metric::L2.distance(v, &query).expect("same dims"))
        .collect();
    assert_eq!(distances[0], 1.0);
    let q = QueryProof {
        rows: vec![
            db.prove("t", &encode_values(&int(1))),
            db.prove("t", &encode_values(&int(2))),
        ],
        order: Some(DistanceOrder {
            column: 1,
            metric: Metric::L2,
            query,
            distances,
        }),
    };
    q.verify(&trusted).expect("valid");
    let bytes = q.to_bytes().expect("encodable");
    // The first distance's last byte holds the sign and top exponent bits.
    let top = bytes.len() - 16 + 7;
    let flipped = QueryProof::from_bytes(&flip(&bytes, top, 6)).expect("decodes");
    let stated = flipped.order.as_ref().map(|o| o.distances[0]);
    assert_eq!(stated, Some(f64::INFINITY));
    assert!(
        matches!(
            flipped.verify(&trusted),
            Err(VerifyError::DistanceMismatch { row: 0 })
        ),
        "a one-bit flip stating distance +inf verifies: {:?}",
        flipped.verify(&trusted)
    );
    for forged in [f64::INFINITY, f64::NEG_INFINITY] {
        let mut p = q.clone();
        if let Some(o) = p.order.as_mut() {
            o.distances = vec![forged, forged];
        }
        assert!(
            p.verify(&trusted).is_err(),
            "stated distances {forged} verify"
        );
    }
}

// ---------------------------------------------------------------------------
// History proofs.
// ---------------------------------------------------------------------------

fn accepts_history(bytes: &[u8], trusted: &CommitHead) -> bool {
    HistoryProof::from_bytes(bytes).is_ok_and(|p| p.verify(trusted).is_ok())
}

#[test]
fn tampered_history_proofs_are_all_rejected() {
    let s = scenario();
    // Another history of the same length (other timestamps).
    let mut other = History::default();
    for (i, r) in s.roots.iter().enumerate() {
        other.commit(i as u64 + 1, *r);
    }
    let mut t = Tallies::default();
    for (old, new) in HISTORY_PAIRS {
        let p = s.history.prove(old, new);
        let trusted = s.history.head(old);
        let bytes = p.to_bytes().expect("encodable");
        assert!(accepts_history(&bytes, &trusted));

        for i in 0..bytes.len() {
            for bit in 0..8 {
                t.expect_rejected("bit flip", accepts_history(&flip(&bytes, i, bit), &trusted));
            }
        }
        framing_tamperings(&bytes, &|b| HistoryProof::from_bytes(b).is_ok(), &mut t);

        let mut variants: Vec<(&str, HistoryProof)> = Vec::new();
        let paths = |p: &HistoryProof| {
            (
                p.consistency.path.clone(),
                p.old_record.path.clone(),
                p.new_record.path.clone(),
            )
        };
        let (c, or, nr) = paths(&p);
        let rebuild = |old: CommitHead, new: CommitHead, c, or, nr| {
            HistoryProof::assemble(old, new, c, or, nr)
        };
        for (which, path) in [(0, &c), (1, &or), (2, &nr)] {
            let mut ps = [c.clone(), or.clone(), nr.clone()];
            for i in 0..path.len() {
                let mut removed = path.clone();
                removed.remove(i);
                ps[which] = removed;
                variants.push((
                    "path hash removed",
                    rebuild(p.old, p.new, ps[0].clone(), ps[1].clone(), ps[2].clone()),
                ));
                if i + 1 < path.len() && path[i] != path[i + 1] {
                    let mut swapped = path.clone();
                    swapped.swap(i, i + 1);
                    ps[which] = swapped;
                    variants.push((
                        "path hashes swapped",
                        rebuild(p.old, p.new, ps[0].clone(), ps[1].clone(), ps[2].clone()),
                    ));
                }
            }
            let mut added = path.clone();
            added.push(Hash::default());
            ps[which] = added;
            variants.push((
                "path hash added",
                rebuild(p.old, p.new, ps[0].clone(), ps[1].clone(), ps[2].clone()),
            ));
        }
        if or != nr {
            variants.push((
                "record paths swapped",
                rebuild(p.old, p.new, c.clone(), nr.clone(), or.clone()),
            ));
        }
        // The new head altered field by field.
        let forged_root = catalog_root(b"forged state");
        for new in [
            CommitHead {
                commit_ts: p.new.commit_ts + 1,
                ..p.new
            },
            CommitHead {
                state_root: forged_root,
                ..p.new
            },
            CommitHead {
                history_root: forged_root,
                ..p.new
            },
            CommitHead {
                version: p.new.version + 1,
                ..p.new
            },
        ] {
            variants.push((
                "new head altered",
                rebuild(p.old, new, c.clone(), or.clone(), nr.clone()),
            ));
        }
        // Another head of the same history claimed as the new one (its own
        // paths, so only the binding to `old` can catch it).
        for v in (old..=7).filter(|&v| v != new) {
            let q = s.history.prove(old, v);
            variants.push((
                "another version's head with the proof's paths",
                rebuild(p.old, q.new, c.clone(), or.clone(), nr.clone()),
            ));
        }
        // Indexes and sizes inside the assembled proof.
        if new > 1 {
            let mut q = p.clone();
            q.old_record.leaf_index = (q.old_record.leaf_index + 1) % new;
            variants.push(("wrong record index", q));
        }
        let mut q = p.clone();
        q.new_record.leaf_index = q.new_record.leaf_index.wrapping_sub(1);
        variants.push(("wrong record index", q));
        let mut q = p.clone();
        q.new_record.tree_size += 1;
        variants.push(("wrong tree size", q));
        let mut q = p.clone();
        q.consistency.new_size += 1;
        variants.push(("wrong tree size", q));
        let mut q = p.clone();
        q.consistency.old_size = q.consistency.old_size.wrapping_sub(1);
        variants.push(("wrong tree size", q));
        // The same versions from another history.
        variants.push(("another history's proof", other.prove(old, new)));
        for (category, q) in &variants {
            t.expect_rejected(category, q.verify(&trusted).is_ok());
            // Through the wire too, where the tampering survives encoding
            // (record indexes and tree sizes are not on the wire: they
            // follow from the heads).
            if let Ok(b) = q.to_bytes() {
                if HistoryProof::from_bytes(&b).as_ref() == Ok(q) {
                    t.expect_rejected(category, accepts_history(&b, &trusted));
                }
            }
        }
        // Replay: the valid proof against every other trusted head.
        for h in s.history.heads.iter().chain(&other.heads) {
            if *h != trusted {
                t.expect_rejected("replay against another trusted head", p.verify(h).is_ok());
            }
        }
        // Backwards: new → old.
        if old != new {
            let back = rebuild(p.new, p.old, c.clone(), nr.clone(), or.clone());
            t.expect_rejected("backwards", back.verify(&p.new).is_ok());
        }
    }
    let total = t.assert_all_rejected("history proof");
    assert!(total > 25_000, "{total}");
}

/// The history tree's root does not commit to its size, and RFC 9162 paths
/// of the last leaf have the same shape for some neighbouring sizes (index
/// 6 of 7 and index 5 of 6: two left siblings each; likewise the
/// consistency paths 1→7 and 1→6). So a history proof whose new head
/// states another version — everything else unchanged — must still be
/// rejected: the verifier would hand back, as trusted, a head pairing
/// version 6 with the 7th record's state root and the 7-record tree's root
/// (or, the other way, version 7 with the 6th record's). One bit flip of
/// the encoded version (byte 82, 7 → 6) does it.
#[test]
fn history_proof_rejects_a_new_head_with_another_version() {
    let s = scenario();
    let mut accepted = Vec::new();
    for (old, real) in [(1, 7), (1, 6), (4, 7), (4, 6), (1, 3), (2, 3)] {
        let p = s.history.prove(old, real);
        for claimed in (old..=8).filter(|&v| v != real) {
            let forged = HistoryProof::assemble(
                p.old,
                CommitHead {
                    version: claimed,
                    ..p.new
                },
                p.consistency.path.clone(),
                p.old_record.path.clone(),
                p.new_record.path.clone(),
            );
            if let Ok(head) = forged.verify(&s.history.head(old)) {
                accepted.push(format!(
                    "{old}->{real} restated as version {claimed}: trusted {head:?}"
                ));
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "history proofs with another new version verify:\n{}",
        accepted.join("\n")
    );
    // The same through the wire: one bit of the new head's version.
    let bytes = s.history.prove(1, 7).to_bytes().expect("encodable");
    let offset = 2 + 80; // version, kind, old head (8 + 8 + 32 + 32)
    assert_eq!(bytes[offset], 7);
    let flipped = HistoryProof::from_bytes(&flip(&bytes, offset, 0)).expect("decodes");
    assert_eq!(flipped.new.version, 6);
    assert!(
        flipped.verify(&s.history.head(1)).is_err(),
        "one flipped bit makes version 6 carry state root {} of version 7",
        flipped.new.state_root
    );
}

/// statejson's invariant `from_json(to_json(p)) == p`, "distances and query
/// elements round-trip exactly": a distance whose shortest round-trip
/// decimal form serde_json (without its `float_roundtrip` feature) parses
/// back one ulp off. (The proof still verifies: the tolerance hides it.)
#[test]
fn query_proof_json_round_trips_distances_exactly() {
    let mut db = Db::new(b"t(id INTEGER PRIMARY KEY)", &["t"]);
    db.put("t", &int(1), &int(1));
    let p = QueryProof {
        rows: vec![db.prove("t", &encode_values(&int(1)))],
        order: Some(DistanceOrder {
            column: 0,
            metric: Metric::L2,
            query: vec![],
            distances: vec![262_057.429_739_264_65],
        }),
    };
    let json = p.to_json().expect("encodable");
    assert!(json.contains("262057.42973926465"), "{json}");
    let back = QueryProof::from_json(&json).expect("parses");
    let (sent, got) = (
        p.order.as_ref().map(|o| o.distances[0].to_bits()),
        back.order.as_ref().map(|o| o.distances[0].to_bits()),
    );
    assert_eq!(got, sent, "distance changed by a JSON round trip");
}

/// statejson: "byte strings (keys, rows) are lowercase hex". A `+` is not
/// a hex digit, yet `u8::from_str_radix("+1", 16)` is `Ok(1)`: two JSON
/// texts would decode to the same proof.
#[test]
fn row_proof_json_rejects_a_plus_sign_in_hex() {
    let mut db = Db::new(b"t(id INTEGER PRIMARY KEY)", &["t"]);
    db.put("t", &int(1), &int(1));
    let p = db.prove("t", &encode_values(&int(1)));
    let json = p.to_json().expect("encodable");
    // The key's hex starts with its u32 LE value count, "01000000".
    let good = "\"key\":\"01000000";
    assert!(json.contains(good), "{json}");
    let odd = json.replace(good, "\"key\":\"+1000000");
    let got = RowProof::from_json(&odd);
    assert!(got.is_err(), "\"+1\" read as a hex byte: {got:?}");
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

fn trie_leaf(k: u32, version: u64) -> TrieLeaf {
    let key = encode_values(&int(i64::from(k)));
    TrieLeaf {
        key: key_hash(&key),
        version,
        content: content_hash(&encode_values(&account(i64::from(k), "p", 1.5))),
    }
}

fn canon_value() -> impl Strategy<Value = CanonValue> {
    let finite_f32 = any::<f32>().prop_filter("not NaN", |x| !x.is_nan());
    prop_oneof![
        Just(CanonValue::Null),
        any::<i64>().prop_map(CanonValue::Integer),
        any::<f64>()
            .prop_filter("not NaN", |x| !x.is_nan())
            .prop_map(|x| CanonValue::Real(if x == 0.0 { 0.0 } else { x })),
        "\\PC{0,12}".prop_map(CanonValue::Text),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(CanonValue::Blob),
        any::<bool>().prop_map(CanonValue::Boolean),
        any::<i64>().prop_map(CanonValue::Timestamp),
        "\\PC{0,12}".prop_map(CanonValue::Json),
        proptest::collection::vec(finite_f32, 0..8).prop_map(CanonValue::Vector),
        proptest::collection::vec(any::<u16>(), 0..8).prop_map(CanonValue::HalfVec),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Two insertion orders (one with extra keys inserted then removed along
    /// the way) and `from_leaves` give the same root and leaves; every key
    /// proves Present, others Absent, and no absence proof re-targets onto a
    /// present key.
    #[test]
    fn trie_root_depends_only_on_the_key_set(
        (keys, order_a, order_b) in proptest::collection::btree_set(any::<u32>(), 0..48)
            .prop_flat_map(|s| {
                let v: Vec<u32> = s.into_iter().collect();
                (Just(v.clone()), Just(v.clone()).prop_shuffle(), Just(v).prop_shuffle())
            }),
        versions in proptest::collection::vec(1u64..5, 48),
        transient in proptest::collection::btree_set(any::<u32>(), 0..16),
        others in proptest::collection::vec(any::<u32>(), 1..16),
    ) {
        let set: BTreeSet<u32> = keys.iter().copied().collect();
        let version = |k: u32| versions[keys.iter().position(|x| *x == k).unwrap_or(0)];
        let mut a = Trie::new();
        for k in &order_a {
            prop_assert_eq!(a.insert(trie_leaf(*k, version(*k))), Ok(None));
        }
        // b: transient keys interleaved, a stale version of each key first,
        // then everything transient removed.
        let mut b = Trie::new();
        let transient: Vec<u32> = transient.into_iter().filter(|k| !set.contains(k)).collect();
        for (i, k) in order_b.iter().enumerate() {
            if let Some(x) = transient.get(i) {
                b.insert(trie_leaf(*x, 1)).expect("room");
            }
            b.insert(trie_leaf(*k, version(*k) + 7)).expect("room");
            b.insert(trie_leaf(*k, version(*k))).expect("room");
        }
        for x in transient.iter().skip(order_b.len()) {
            b.insert(trie_leaf(*x, 1)).expect("room");
        }
        for x in &transient {
            prop_assert_eq!(b.remove(&trie_leaf(*x, 1).key), Some(trie_leaf(*x, 1)));
        }
        let mut c = Trie::from_leaves(keys.iter().rev().map(|k| trie_leaf(*k, version(*k))).collect());
        let ra = a.root();
        prop_assert_eq!(ra, b.root());
        prop_assert_eq!(ra, c.root());
        prop_assert_eq!(a.len(), keys.len());
        prop_assert_eq!(b.len(), keys.len());
        let mut sorted: Vec<TrieLeaf> = keys.iter().map(|k| trie_leaf(*k, version(*k))).collect();
        sorted.sort_by_key(|l| l.key);
        prop_assert_eq!(a.leaves(), sorted.clone());
        prop_assert_eq!(b.leaves(), sorted.clone());
        prop_assert_eq!(c.leaves(), sorted);

        for k in &keys {
            let l = trie_leaf(*k, version(*k));
            prop_assert_eq!(b.prove(&l.key).verify(&l.key, &ra), Ok(Membership::Present(l)));
            prop_assert_eq!(b.get(&l.key), Some(&l));
        }
        for o in others.iter().filter(|o| !set.contains(o)) {
            let ok = trie_leaf(*o, 1).key;
            let p = a.prove(&ok);
            prop_assert_eq!(p.verify(&ok, &ra), Ok(Membership::Absent));
            prop_assert_eq!(a.get(&ok), None);
            for k in &keys {
                let pk = trie_leaf(*k, 1).key;
                prop_assert!(
                    !matches!(p.verify(&pk, &ra), Ok(Membership::Absent)),
                    "absence of {o} re-targeted onto present {k}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn values_round_trip(values in proptest::collection::vec(canon_value(), 0..8)) {
        let bytes = encode_values(&values);
        prop_assert_eq!(decode_values(&bytes), Ok(values));
    }

    /// Arbitrary bytes never panic; whatever decodes is canonical (encodes
    /// back to the same bytes).
    #[test]
    fn decode_values_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = decode_values(&bytes) {
            prop_assert_eq!(encode_values(&v), bytes);
        }
    }

    /// The same, from a valid encoding with a few bytes changed or cut, so
    /// the deeper paths of the decoder run.
    #[test]
    fn decode_values_never_panics_near_valid(
        values in proptest::collection::vec(canon_value(), 1..6),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = encode_values(&values);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if let Ok(v) = decode_values(&bytes) {
            prop_assert_eq!(encode_values(&v), bytes);
        }
    }

    /// The state proof decoders never panic; whatever decodes re-encodes to
    /// the same bytes.
    #[test]
    fn state_proof_decoders_never_panic(
        kind in 3u8..6,
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = vec![PROOF_FORMAT_VERSION, kind];
        bytes.extend_from_slice(&tail);
        if let Ok(p) = RowProof::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes().expect("decoded proofs encode"), bytes.clone());
        }
        if let Ok(p) = HistoryProof::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes().expect("decoded proofs encode"), bytes.clone());
        }
        if let Ok(p) = QueryProof::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes().expect("decoded proofs encode"), bytes.clone());
        }
    }
}

proptest! {
    // No regressions file: `query_proof_json_round_trips_distances_exactly`
    // pins the case this found.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(2048)
    })]

    /// statejson's invariant: distances and query elements round-trip
    /// exactly through JSON.
    #[test]
    fn query_json_round_trips_floats(
        distances in proptest::collection::vec(0.0f64..1e6, 1..4),
        query in proptest::collection::vec(-1e6f32..1e6, 0..4),
    ) {
        let p = RowProof {
            table: "t".into(),
            key: encode_values(&int(1)),
            row: None,
            trie: TrieProof { leaf: None, path: Vec::new() },
            table_rows: 0,
            table_index: 0,
            table_count: 1,
            table_path: Vec::new(),
            catalog_root: catalog_root(b""),
            claimed_root: None,
            claimed_version: None,
        };
        let q = QueryProof {
            rows: vec![p; distances.len()],
            order: Some(DistanceOrder { column: 0, metric: Metric::L2, query, distances }),
        };
        let json = q.to_json().expect("encodable");
        prop_assert_eq!(QueryProof::from_json(&json).expect("parses"), q);
    }
}

// ---------------------------------------------------------------------------
// Golden vectors.
// ---------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("golden is hex"))
        .collect()
}

/// The fixed tiny database: table "t" (two rows, versions 1 and 3, one a
/// vector) and table "u" (empty); and the history of its three commits
/// (no rows, row 1, both rows).
fn golden() -> (Db, History) {
    let mut db = Db::new(b"golden catalog", &["u", "t"]);
    let mut history = History::default();
    history.commit(10, db.state_root());
    db.put(
        "t",
        &int(1),
        &[CanonValue::Integer(1), CanonValue::Text("one".into())],
    );
    history.commit(20, db.state_root());
    for v in [[0.0f32, 0.0], [0.25, 0.5], [0.5, -1.0]] {
        db.put(
            "t",
            &int(2),
            &[CanonValue::Integer(2), CanonValue::Vector(v.to_vec())],
        );
    }
    history.commit(30, db.state_root());
    (db, history)
}

/// Prints the golden constants below (after a deliberate format change):
/// `cargo test -p cairn-merkle --test state print_golden -- --ignored --nocapture`.
#[test]
#[ignore = "prints the golden constants; run with --ignored"]
fn print_golden() {
    let (mut db, history) = golden();
    println!("state {}", db.state_root());
    let row = db
        .prove("t", &encode_values(&int(2)))
        .to_bytes()
        .expect("encodable");
    for chunk in hex(&row).as_bytes().chunks(64) {
        println!("    \"{}\",", String::from_utf8_lossy(chunk));
    }
    println!("{}", history.prove(1, 3).to_json().expect("encodable"));
}

// These constants pin format version 1 (hashing rules, state root layout,
// kind-3 binary layout, history JSON shape): changing any of them is a
// format change and needs a new format version. (The JSON's key order is
// serde_json's sorted map order: its `preserve_order` feature, enabled by
// any crate built alongside, would reorder the text, not the format.) Regenerate with
// `cargo test -p cairn-merkle --test state print_golden -- --ignored --nocapture`.

const GOLDEN_STATE_ROOT: &str = "5ca3be8c39bd5357aa85484ab391549d0e4779e6b7a1bf673c724956ce2dd945";

/// Row proof of key 2 in table "t" of the golden state (binary, kind 3).
const GOLDEN_ROW_PROOF: &str = concat!(
    "010301000000740d00000001000000010200000000000000011a000000020000",
    "0001020000000000000008020000000000003f000080bf015b2c6dba23501553",
    "71722927d66079ff58f8f59e16e868bd87beabb349e2189f0300000000000000",
    "a2c09b4e2dec981b0c9c5ee4feb59db79f0170cf76f9f99832f91e1f3cb4d8ea",
    "0100016a017a269569ace193a1bd6aae3b7e537eed7d65586f9f3c0f3551bbe6",
    "de96d202000000000000000000000000000000020000000000000001febeaf94",
    "268f285cfda7ea9c3c119ed6257f88cc35696c5bea3f040a0acb9fd1335b040b",
    "0913f961963d82b70d8c9bf08f46857e89fbe0fe0461ec1e5351c7cd",
);

/// History proof from version 1 to version 3 of the golden history (JSON).
const GOLDEN_HISTORY_JSON: &str = concat!(
    r#"{"consistency":["a7221f2bc7864e4493dab5be64f121ecf47bae5cacad5650abe509ca6580c62b","f8039ca63f6dbf76e0e0768356978c000ae1f957ab19e645c76091191d1582ca"],"#,
    r#""kind":"history","#,
    r#""new":{"commit_ts":30,"history_root":"f81473ec051780b206d80aa493f582f9372856613806220d367fbe51fe5fd888","state_root":"5ca3be8c39bd5357aa85484ab391549d0e4779e6b7a1bf673c724956ce2dd945","version":3},"#,
    r#""new_record":["9c7861e82b7faa4a96c4f11a6df11181517c9ee9d0148ffc7b229ef10202e6bf"],"#,
    r#""old":{"commit_ts":10,"history_root":"9f2af003b1076f1e8390b966abf2058cfdd6304cf218d3af9537e6de93dbf85c","state_root":"462b588063f938c427c80d831c949da94963239ee3cd95bc112ac246bf1fb3b9","version":1},"#,
    r#""old_record":["a7221f2bc7864e4493dab5be64f121ecf47bae5cacad5650abe509ca6580c62b","f8039ca63f6dbf76e0e0768356978c000ae1f957ab19e645c76091191d1582ca"],"#,
    r#""version":1}"#,
);

#[test]
fn golden_vectors_are_pinned_and_verify() {
    let (mut db, history) = golden();
    let state = db.state_root();
    assert_eq!(state.to_hex(), GOLDEN_STATE_ROOT);
    assert_eq!(history.head(3).state_root, state);

    let key = encode_values(&int(2));
    let p = db.prove("t", &key);
    assert_eq!(hex(&p.to_bytes().expect("encodable")), GOLDEN_ROW_PROOF);
    let decoded = RowProof::from_bytes(&unhex(GOLDEN_ROW_PROOF)).expect("golden decodes");
    assert_eq!(
        decoded.verify(&state),
        Ok(RowFinding::Present {
            version: 3,
            row: vec![CanonValue::Integer(2), CanonValue::Vector(vec![0.5, -1.0])],
        })
    );

    let h = history.prove(1, 3);
    assert_eq!(h.to_json().expect("encodable"), GOLDEN_HISTORY_JSON);
    let decoded = HistoryProof::from_json(GOLDEN_HISTORY_JSON).expect("golden parses");
    assert_eq!(decoded.verify(&history.head(1)), Ok(history.head(3)));
}
