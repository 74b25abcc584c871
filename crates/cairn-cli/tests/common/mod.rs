//! Helpers shared by the CLI tests: run the binary with arguments and
//! stdin, or drive it at a pseudo-terminal (through util-linux `script`)
//! and wait for what it prints.
//!
//! `CAIRN_TEST_BIN` overrides the binary under test, so a test can be
//! checked against an older build (it should fail there).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The binary under test.
pub fn bin() -> String {
    std::env::var("CAIRN_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cairn").to_string())
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `args`, feeding `stdin` (a pipe, so never a terminal).
pub fn cairn(args: &[&str], stdin: &str) -> Res<Run> {
    cairn_in(args, stdin, None)
}

/// [`cairn`] in the working directory `dir`.
pub fn cairn_in(args: &[&str], stdin: &str, dir: Option<&std::path::Path>) -> Res<Run> {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout)?,
        stderr: String::from_utf8(out.stderr)?,
    })
}

/// Text read so far from a child's stream, filled by a thread.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<String>>);

impl Captured {
    pub fn follow(mut stream: impl Read + Send + 'static) -> Captured {
        let text = Captured::default();
        let sink = text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = sink.0.lock() {
                    t.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        text
    }

    pub fn text(&self) -> String {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Waits until the text after byte `from` contains `what`; returns the
    /// byte offset just past it.
    pub fn wait_for(&self, what: &str, from: usize, timeout: Duration) -> Res<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text();
            if let Some(i) = text.get(from..).and_then(|t| t.find(what)) {
                return Ok(from + i + what.len());
            }
            if Instant::now() > deadline {
                return Err(
                    format!("timed out waiting for {what:?}; got:\n{}", clean(&text)).into(),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Terminal output without escape sequences and carriage returns.
pub fn clean(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&n) = chars.peek() {
                    chars.next();
                    if n.is_ascii_alphabetic() || n == '~' {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// The shell at a pseudo-terminal: `script` gives it one, and relays what
/// is written to its stdin as typed keys.
pub struct Pty {
    child: Child,
    keys: ChildStdin,
    pub output: Captured,
    /// Output before this offset was already matched.
    pub seen: usize,
}

pub const WAIT: Duration = Duration::from_secs(30);

impl Pty {
    pub fn spawn(args: &[&str], home: &std::path::Path) -> Res<Pty> {
        // `script` runs the line with `$SHELL -c`; `exec` makes the shell
        // itself the foreground process, so a Ctrl-C reaches only `cairn`
        // (dash, unlike bash, does not exec a lone command and would die of
        // the SIGINT, which `script -e` then reports as the exit status).
        let mut line = format!("exec {}", shell_quote(&bin()));
        for a in args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        let mut child = Command::new("script")
            .args(["-qefc", &line, "/dev/null"])
            .env("HOME", home)
            .env("SHELL", "/bin/sh")
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run util-linux `script` for a pty: {e}"))?;
        let keys = child.stdin.take().ok_or("no stdin")?;
        let out = child.stdout.take().ok_or("no stdout")?;
        Ok(Pty {
            child,
            keys,
            output: Captured::follow(out),
            seen: 0,
        })
    }

    /// Waits for `what` after what was already matched.
    pub fn expect(&mut self, what: &str) -> Res<()> {
        self.seen = self.output.wait_for(what, self.seen, WAIT)?;
        Ok(())
    }

    pub fn send(&mut self, keys: &str) -> Res<()> {
        self.keys.write_all(keys.as_bytes())?;
        self.keys.flush()?;
        Ok(())
    }

    /// Types a line after waiting for `prompt`.
    pub fn line_after(&mut self, prompt: &str, line: &str) -> Res<()> {
        self.expect(prompt)?;
        self.send(line)?;
        self.send("\n")
    }

    /// What the terminal showed, escape sequences removed.
    pub fn screen(&self) -> String {
        clean(&self.output.text())
    }

    /// Waits for the shell to end (after `.quit` or Ctrl-D).
    pub fn wait(mut self) -> Res<Option<i32>> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.code());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err(format!("the shell did not exit; screen:\n{}", self.screen()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// SQL that fills table `t` with `n` rows (x = 1..n).
pub fn fill_sql(n: usize) -> String {
    format!(
        "CREATE TABLE t (x INTEGER); INSERT INTO t WITH RECURSIVE c(x) AS \
         (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT x FROM c;"
    )
}

/// A statement that runs until interrupted: a three-way cross join of
/// 2,000 rows (8e9 combinations).
pub const ENDLESS: &str = "SELECT count(*) FROM t a, t b, t c WHERE a.x + b.x + c.x < 0;";
