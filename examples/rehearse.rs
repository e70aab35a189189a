//! Rehearse a scenario from your own program: run it on the simulator, print the verdict, write
//! the HTML report, and exit non-zero if an expectation failed.
//!
//! ```sh
//! cargo run --example rehearse -- scenarios/coredns-outage.yaml --seed 3 --html coredns.html
//! ```

use std::process::ExitCode;

use sparkrig::Rehearsal;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_else(|| "scenarios/smoke.yaml".into());
    let (mut seed, mut html) = (None, None);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--seed", Some(n)) => match n.parse::<u64>() {
                Ok(n) => seed = Some(n),
                Err(_) => return usage(&format!("--seed: `{n}` is not a whole number")),
            },
            ("--html", Some(p)) => html = Some(p),
            _ => return usage(&format!("unexpected argument `{flag}`")),
        }
    }

    let mut rehearsal = Rehearsal::from_file(&file);
    if let Some(s) = seed {
        rehearsal = rehearsal.with_seed(s);
    }
    let report = match rehearsal.run() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.summary());
    if let Some(p) = html {
        if let Err(e) = std::fs::write(&p, report.html()) {
            eprintln!("cannot write {p}: {e}");
            return ExitCode::from(2);
        }
        println!("HTML report: {p}");
    }
    for failure in report.failures() {
        eprintln!("failed: {} ({} piece(s) of evidence)", failure.name, failure.evidence.len());
    }
    ExitCode::from(u8::from(!report.passed()))
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("error: {problem}\nusage: rehearse [SCENARIO] [--seed N] [--html FILE]");
    ExitCode::from(2)
}
