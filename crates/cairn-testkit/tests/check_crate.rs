//! `check_crate` on a small crate written to disk: targets found (lib and
//! `src/bin`), a cycle between files, the 100-line limit at its edge, the
//! `// long:` marker, and code outside `src/` (here `tests/`) not counted.

use std::fs;
use std::path::{Path, PathBuf};

use cairn_testkit::report::{check_crate, FN_BODY_LINES_MAX};

/// A fn named `name` whose body spans exactly `body_lines` lines.
fn fn_with_body(name: &str, body_lines: usize) -> String {
    let filler = "    let _x = 1;\n".repeat(body_lines - 2);
    format!("pub fn {name}() {{\n{filler}}}\n")
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("create test crate dir");
    }
    fs::write(path, text).expect("write test crate file");
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn checks_a_crate_on_disk() {
    let dir = fresh_dir("check-crate-fixture");
    let limit = FN_BODY_LINES_MAX;
    write(&dir, "Cargo.toml", "[package]\nname = \"fixture\"\n");
    write(&dir, "src/lib.rs", "//! Fixture.\nmod a;\nmod b;\n");
    let a = format!(
        "use crate::b::B;\npub struct A;\n{}{}// long: one match mirrors a format\n{}",
        fn_with_body("at_limit", limit),
        fn_with_body("over_limit", limit + 1),
        fn_with_body("justified", limit + 50),
    );
    write(&dir, "src/a.rs", &a);
    let test_mod = format!(
        "#[cfg(test)]\nmod tests {{\n{}}}\n",
        fn_with_body("in_test", 300)
    );
    write(
        &dir,
        "src/b.rs",
        &format!("use crate::a::A;\npub struct B;\n{test_mod}"),
    );
    write(
        &dir,
        "src/bin/tool.rs",
        &format!("mod x;\nmod y;\n{}", fn_with_body("main", limit + 9)),
    );
    write(&dir, "src/bin/x.rs", "pub fn f() { super::y::g() }\n");
    write(&dir, "src/bin/y.rs", "pub fn g() { super::x::f() }\n");
    write(&dir, "tests/t.rs", &fn_with_body("in_tests_dir", 400));

    let report = check_crate(&dir, "crates/fixture");

    let cycles: Vec<(String, Vec<String>)> = report
        .targets
        .iter()
        .flat_map(|t| {
            t.groups
                .iter()
                .map(|g| (t.target.clone(), g.members.clone()))
        })
        .collect();
    let expect = |target: &str, members: &[&str]| {
        (
            target.to_string(),
            members.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        cycles,
        [
            expect("check-crate-fixture", &["a", "b"]),
            expect("check-crate-fixture[bin/tool]", &["x", "y"]),
        ]
    );

    let longs: Vec<(&str, &str, usize, usize)> = report
        .long_fns
        .iter()
        .map(|f| (f.file.as_str(), f.name.as_str(), f.line, f.body_lines))
        .collect();
    let over_line = 3 + limit; // after `use`, `struct` and `at_limit`
    assert_eq!(
        longs,
        [
            (
                "crates/fixture/src/a.rs",
                "over_limit",
                over_line,
                limit + 1
            ),
            ("crates/fixture/src/bin/tool.rs", "main", 3, limit + 9),
        ]
    );
    assert_eq!(report.justified.len(), 1);
    assert_eq!(report.justified[0].name, "justified");
    assert_eq!(
        report.justified[0].reason.as_deref(),
        Some("one match mirrors a format")
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}
