//! Checks one history file and prints the report:
//! `cargo run -p lincheck --release --example check -- FILE [--json] [--key KEY]`.
//!
//! With `--key`, only that key's events are kept (keys are checked independently anyway).

use std::process::ExitCode;

use lincheck::{CheckOptions, Value, Verdict, check_history, parse_history};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: check FILE [--json] [--key KEY]");
        return ExitCode::from(2);
    };
    let key = args
        .iter()
        .position(|a| a == "--key")
        .and_then(|i| args.get(i + 1));
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut history = match parse_history(&text, file) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(k) = key {
        history
            .events
            .retain(|e| e.key == Some(Value::Str(k.clone())));
    }
    let report = match check_history(&history, &CheckOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    if args.iter().any(|a| a == "--json") {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    ExitCode::from(match report.verdict {
        Verdict::Linearizable => 0,
        Verdict::NotLinearizable => 1,
        Verdict::Unknown => 3,
    })
}
