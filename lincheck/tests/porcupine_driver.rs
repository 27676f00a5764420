//! The Porcupine driver of `benches/porcupine-driver/` (the comparison in
//! docs/PERFORMANCE.md) gives Porcupine's own verdicts on Porcupine's histories and
//! lincheck's on generated ones, so the paired figures compare like with like.
//!
//! Skipped (with a note) when `go` is not on PATH or Porcupine's source has not been
//! fetched into `benches/porcupine-driver/porcupine` (see the README there).

use std::path::{Path, PathBuf};
use std::process::Command;

use lincheck::{CheckOptions, Verdict, check_history, generate as g};

fn driver_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/porcupine-driver")
}

/// Builds the driver into a temporary directory; `None` when Go or Porcupine is absent.
fn build() -> Option<PathBuf> {
    let dir = driver_dir();
    if !dir.join("porcupine/go.mod").exists() {
        eprintln!("skipped: no Porcupine source in {}", dir.display());
        return None;
    }
    let out =
        std::env::temp_dir().join(format!("lincheck-porcupine-driver-{}", std::process::id()));
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&dir)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .status();
    match built {
        Ok(s) if s.success() => Some(out),
        Ok(s) => panic!("go build of the driver failed: {s}"),
        Err(e) => {
            eprintln!("skipped: cannot run go: {e}");
            None
        }
    }
}

fn porcupine(driver: &Path, file: &Path) -> Verdict {
    let out = Command::new(driver)
        .args(["-timeout", "30s"])
        .arg(file)
        .output()
        .expect("the driver runs");
    match out.status.code() {
        Some(0) => Verdict::Linearizable,
        Some(1) => Verdict::NotLinearizable,
        Some(3) => Verdict::Unknown,
        other => panic!(
            "driver on {}: exit {other:?}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn the_driver_gives_porcupines_and_lincheck_s_verdicts() {
    let Some(driver) = build() else { return };
    // Porcupine's own histories, against the verdicts its tests assert.
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine");
    let tsv = std::fs::read_to_string(data.join("verdicts.tsv")).expect("tsv");
    let mut both = [0, 0];
    for row in tsv.lines().skip(1).take(12) {
        let cols: Vec<&str> = row.split('\t').collect();
        let want = match cols[7] {
            "linearizable" => Verdict::Linearizable,
            _ => Verdict::NotLinearizable,
        };
        let file = data.join(cols[1]);
        if !file.exists() {
            continue;
        }
        assert_eq!(porcupine(&driver, &file), want, "{}", cols[1]);
        both[usize::from(want == Verdict::Linearizable)] += 1;
    }
    assert!(both[0] > 0 && both[1] > 0, "both verdicts: {both:?}");
    // Generated histories of every model the driver reads, both verdicts, with info,
    // failed and unfinished ops: the driver agrees with lincheck.
    let tmp = std::env::temp_dir().join(format!("lincheck-driver-hist-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let histories = [
        ("kv", g::kv(5, 400, 3, 4, 0)),
        ("kv-stale", g::kv(5, 400, 1, 4, 2)),
        ("register-info", g::register(5, 400, 4, 100)),
        ("register-stale", g::register_stale(5, 300, 4, 1)),
        ("info-writes", g::info_writes(5, 6, 4, false)),
        ("info-writes-reread", g::info_writes(5, 6, 4, true)),
    ];
    for (name, h) in histories {
        let file = tmp.join(format!("{name}.jsonl"));
        std::fs::write(&file, h.to_jsonl()).expect("writable");
        let want = check_history(&h, &CheckOptions::default())
            .expect("valid")
            .verdict;
        assert_ne!(want, Verdict::Unknown, "{name}");
        assert_eq!(porcupine(&driver, &file), want, "{name}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_file(&driver);
}
