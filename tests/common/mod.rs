//! What the tests of the `faultline` binary share: running it and reading what it printed.
//! Each test file uses some of it (`mod common;`), so the rest is dead code there.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the `faultline` binary with `args` (no colour).
pub fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

/// What a run printed.
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `faultline args` and asserts it exits with `code`; a wrong exit shows both streams.
pub fn expect(code: i32, args: &[&str]) -> Ran {
    let out = faultline(args);
    let ran = Ran {
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    };
    assert_eq!(
        out.status.code(),
        Some(code),
        "faultline {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        ran.stdout,
        ran.stderr
    );
    ran
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
