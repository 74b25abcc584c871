//! `cairn-difftest --seeds A..B --queries N [--exclude CLASS]... [--verbose]`:
//! runs the differential test on demand, prints the counts and one smallest
//! reproduction per distinct signature, and exits 1 on any disagreement
//! (2 on bad arguments).

use std::process::ExitCode;

use cairn_difftest::{run, Class, Config};

const USAGE: &str = "usage: cairn-difftest --sql STMT... | [--seeds A..B] [--queries N] [--exclude CLASS]... [--ci-exclusions] [--verbose]
classes: ";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sql") {
        return probe(args.get(1..).unwrap_or(&[]));
    }
    match parse(args) {
        Ok((seeds, cfg, verbose)) => {
            println!(
                "seeds {}..{}, {} statements per seed, excluded: [{}]",
                seeds.start,
                seeds.end,
                cfg.statements_per_seed,
                cfg.excluded
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let report = run(seeds, &cfg, verbose);
            print!("{}", report.summary());
            if report.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            let classes: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
            eprintln!("{message}\n{USAGE}{}", classes.join(", "));
            ExitCode::from(2)
        }
    }
}

type Args = (std::ops::Range<u64>, Config, bool);

fn parse(args: Vec<String>) -> Result<Args, String> {
    let mut seeds = 0..10;
    let mut cfg = Config::default();
    let mut verbose = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seeds" => {
                let v = it.next().ok_or("--seeds needs A..B")?;
                let (a, b) = v.split_once("..").ok_or("--seeds needs A..B")?;
                let a: u64 = a.parse().map_err(|_| format!("bad seed {a}"))?;
                let b: u64 = b.parse().map_err(|_| format!("bad seed {b}"))?;
                seeds = a..b;
            }
            "--queries" => {
                let v = it.next().ok_or("--queries needs N")?;
                cfg.statements_per_seed = v.parse().map_err(|_| format!("bad count {v}"))?;
            }
            "--exclude" => {
                let v = it.next().ok_or("--exclude needs a class")?;
                let class = Class::from_name(&v).ok_or(format!("unknown class {v}"))?;
                cfg = cfg.exclude(class);
            }
            "--ci-exclusions" => {
                for class in cairn_difftest::config::CI_EXCLUDED {
                    cfg = cfg.exclude(class);
                }
            }
            "--verbose" => verbose = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok((seeds, cfg, verbose))
}

/// `cairn-difftest --sql STMT...`: runs each statement on both engines and
/// prints both answers (to check a reproduction by hand).
fn probe(statements: &[String]) -> ExitCode {
    let pair = match cairn_difftest::engines::Pair::new(2_000) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    for sql in statements {
        let upper = sql.trim_start().to_ascii_uppercase();
        let (sqlite, cairn) = if upper.starts_with("SELECT") || upper.starts_with("WITH") {
            pair.query(sql)
        } else {
            pair.execute(sql)
        };
        println!(
            "{sql}\n  SQLite: {}\n  Cairn:  {}",
            sqlite.show(20),
            cairn.show(20)
        );
    }
    ExitCode::SUCCESS
}
