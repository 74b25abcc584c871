//! `cairn verify` says what is wrong with a document that is not a proof
//! (issue #13: malformed JSON was reported as a proof of the wrong kind).

use std::io::Write;
use std::process::{Command, Stdio};

const ROOT: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Runs `cairn verify --root ROOT -` with `input` on stdin: (exit code, stdout + stderr).
fn verify(input: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["verify", "--root", ROOT, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn malformed_documents_are_named_as_such() {
    let cases = [
        (
            "{\"kind\": \"row\", \"table\": ",
            "malformed proof: not JSON",
        ),
        ("not json", "malformed proof: not JSON"),
        ("{\"foo\": 1}", "malformed proof: no \"kind\" field"),
        ("[1, 2]", "malformed proof: not a JSON object"),
        ("{\"kind\": 7}", "malformed proof: \"kind\" is not a string"),
        (
            "{\"kind\": \"blob\"}",
            "not a row or query proof (kind \"blob\")",
        ),
    ];
    for (input, want) in cases {
        let (code, text) = verify(input);
        assert_eq!(code, 1, "{input}: {text}");
        assert!(
            text.contains(want),
            "{input}: expected {want:?}, got {text:?}"
        );
    }
}
