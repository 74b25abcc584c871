//! `cairn root`, `cairn prove` and `cairn verify`: state roots and proofs
//! from the command line, so a verifier needs no SQL (RFC 0002).
//!
//! * `cairn root PATH [--json]` — the newest state root (hex), or the whole
//!   head (version, commit ts, state root, history root) as JSON.
//! * `cairn prove PATH TABLE KEY...` — a row (or absence) proof as JSON;
//!   key values are given as text and converted to the key columns' types.
//! * `cairn prove PATH --history OLD NEW` — a history proof as JSON.
//! * `cairn verify --root HEX FILE` — checks a row or query proof against a
//!   trusted state root; `cairn verify --head HEAD.json FILE` checks a row
//!   or query proof against a trusted head (its root, and the version if
//!   the proof names one), or a history proof, printing the new head. FILE
//!   `-` reads stdin. Exit 0 only for a valid proof; otherwise the reason
//!   and exit 1 (2 for bad usage).

use std::io::{Read, Write};

use cairn::{Database, Value};
use cairn_merkle::{CommitHead, Hash, HistoryProof, QueryProof, RowFinding, RowProof};

/// Exit status and what to print: (code, stdout, stderr).
pub struct Outcome {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

fn ok(stdout: String) -> Outcome {
    Outcome {
        code: 0,
        stdout,
        stderr: String::new(),
    }
}

fn fail(code: u8, stderr: String) -> Outcome {
    Outcome {
        code,
        stdout: String::new(),
        stderr,
    }
}

fn open(path: &str) -> Result<Database, Outcome> {
    if !std::path::Path::new(path).join("MANIFEST").exists() {
        return Err(fail(
            1,
            format!("Error: {path} is not a Cairn database (no MANIFEST)\n"),
        ));
    }
    // Read-only: a root or a proof can be made while another process has
    // the database open for writing.
    Database::open_read_only(path).map_err(|e| fail(1, format!("Error: {e}\n")))
}

/// `cairn root PATH [--json]`.
pub fn root(args: &[String]) -> Outcome {
    let (path, json) = match args {
        [p] => (p, false),
        [p, flag] if flag == "--json" => (p, true),
        _ => return fail(2, "usage: cairn root PATH [--json]\n".into()),
    };
    let db = match open(path) {
        Ok(db) => db,
        Err(o) => return o,
    };
    let head = db.head();
    if json {
        ok(format!("{}\n", head.to_json()))
    } else {
        ok(format!("{}\n", head.state_root))
    }
}

/// `cairn prove PATH TABLE KEY...` / `cairn prove PATH --history OLD NEW`.
pub fn prove(args: &[String]) -> Outcome {
    let usage = "usage: cairn prove PATH TABLE KEY... | cairn prove PATH --history OLD NEW\n";
    let [path, what, rest @ ..] = args else {
        return fail(2, usage.into());
    };
    let db = match open(path) {
        Ok(db) => db,
        Err(o) => return o,
    };
    if what == "--history" {
        let [old, new] = rest else {
            return fail(2, usage.into());
        };
        let (Ok(old), Ok(new)) = (old.parse::<u64>(), new.parse::<u64>()) else {
            return fail(2, "Error: versions are whole numbers\n".into());
        };
        return match db.prove_history(old, new).map(|p| p.to_json()) {
            Ok(Ok(json)) => ok(format!("{json}\n")),
            Ok(Err(e)) => fail(1, format!("Error: {e}\n")),
            Err(e) => fail(1, format!("Error: {e}\n")),
        };
    }
    if rest.is_empty() {
        return fail(2, usage.into());
    }
    let key: Vec<Value> = rest.iter().map(|k| Value::text(k)).collect();
    match db.prove_row(what, &key) {
        Ok((proof, head)) => match proof.to_json_at(&head) {
            Ok(json) => ok(format!("{json}\n")),
            Err(e) => fail(1, format!("Error: {e}\n")),
        },
        Err(e) => fail(1, format!("Error: {e}\n")),
    }
}

fn read_input(file: &str) -> Result<String, Outcome> {
    let mut text = String::new();
    let r = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    r.map_err(|e| fail(1, format!("Error: cannot read {file}: {e}\n")))?;
    Ok(text)
}

/// The `kind` field of a proof document, or why the document is not one.
fn kind_of(text: &str) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("malformed proof: not JSON ({e})"))?;
    match v.get("kind") {
        Some(serde_json::Value::String(k)) => Ok(k.clone()),
        Some(_) => Err("malformed proof: \"kind\" is not a string".into()),
        None if v.is_object() => Err("malformed proof: no \"kind\" field".into()),
        None => Err("malformed proof: not a JSON object".into()),
    }
}

fn describe(finding: &RowFinding, p: &RowProof) -> String {
    let show = |vs: &[cairn_merkle::CanonValue]| {
        vs.iter()
            .map(|v| v.display())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let key = cairn_merkle::decode_values(&p.key).map_or_else(|_| "?".into(), |k| show(&k));
    let table = &p.table;
    match finding {
        RowFinding::Present { version, row } => format!(
            "ok: {table} holds the row with key ({key}), version {version}: ({})\n",
            show(row)
        ),
        RowFinding::Absent => format!("ok: {table} holds no row with key ({key})\n"),
    }
}

/// `cairn verify --root HEX FILE` / `cairn verify --head HEAD.json FILE`.
pub fn verify(args: &[String]) -> Outcome {
    let usage = "usage: cairn verify --root STATE_ROOT_HEX PROOF.json | cairn verify --head HEAD.json PROOF.json\n";
    let [flag, trusted, file] = args else {
        return fail(2, usage.into());
    };
    let text = match read_input(file) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let invalid = |why: String| fail(1, format!("invalid: {why}\n"));
    let kind = kind_of(&text);
    match flag.as_str() {
        "--root" => {
            let root = match Hash::from_hex(trusted) {
                Ok(r) => r,
                Err(e) => return fail(2, format!("Error: --root: {e}\n")),
            };
            let kind = match kind {
                Ok(k) => k,
                Err(why) => return invalid(why),
            };
            match kind.as_str() {
                "row" => match RowProof::from_json(&text) {
                    Err(e) => invalid(format!("malformed proof: {e}")),
                    Ok(p) => match p.verify(&root) {
                        Ok(f) => ok(describe(&f, &p)),
                        Err(e) => invalid(e.to_string()),
                    },
                },
                "query" => match QueryProof::from_json(&text) {
                    Err(e) => invalid(format!("malformed proof: {e}")),
                    Ok(p) => match p.verify(&root) {
                        Ok(rows) => ok(format!(
                            "ok: {} row(s) exist in that state{}\n",
                            rows.len(),
                            if p.order.is_some() {
                                ", at the stated distances, in ascending order"
                            } else {
                                ""
                            }
                        )),
                        Err(e) => invalid(e.to_string()),
                    },
                },
                "history" => fail(
                    2,
                    "Error: a history proof is checked against a trusted head: --head HEAD.json\n"
                        .into(),
                ),
                other => invalid(format!("not a row or query proof (kind {other:?})")),
            }
        }
        "--head" => {
            let head = match read_input(trusted).map(|t| CommitHead::from_json(&t)) {
                Ok(Ok(h)) => h,
                Ok(Err(e)) => return fail(2, format!("Error: {trusted}: {e}\n")),
                Err(o) => return o,
            };
            let kind = match kind {
                Ok(k) => k,
                Err(why) => return invalid(why),
            };
            match kind.as_str() {
                "history" => match HistoryProof::from_json(&text) {
                    Err(e) => invalid(format!("malformed proof: {e}")),
                    Ok(p) => match p.verify(&head) {
                        Ok(new) => ok(format!("{}\n", new.to_json())),
                        Err(e) => invalid(e.to_string()),
                    },
                },
                "row" => match RowProof::from_json(&text) {
                    Err(e) => invalid(format!("malformed proof: {e}")),
                    Ok(p) => match p.verify_head(&head) {
                        Ok(f) => ok(describe(&f, &p)),
                        Err(e) => invalid(e.to_string()),
                    },
                },
                "query" => match QueryProof::from_json(&text) {
                    Err(e) => invalid(format!("malformed proof: {e}")),
                    Ok(p) => match p.verify_head(&head) {
                        Ok(rows) => ok(format!("ok: {} row(s) exist in that state\n", rows.len())),
                        Err(e) => invalid(e.to_string()),
                    },
                },
                other => invalid(format!(
                    "not a row, query or history proof (kind {other:?})"
                )),
            }
        }
        _ => fail(2, usage.into()),
    }
}

/// Prints an outcome and turns it into an exit status.
pub fn finish(o: Outcome) -> std::process::ExitCode {
    let _ = std::io::stdout().write_all(o.stdout.as_bytes());
    let _ = std::io::stderr().write_all(o.stderr.as_bytes());
    std::process::ExitCode::from(o.code)
}
