//! `faultline compare`: the same scenario under Raft and Multi-Paxos, as a table and as
//! JSON, and the errors for a check one protocol lacks or an unknown protocol.

mod common;

use common::{faultline, text};

#[test]
fn compare_prints_one_table_for_every_shipped_file() {
    let files = faultline::scenario::files_under(std::path::Path::new("scenarios/compare"))
        .expect("scenarios/compare");
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let path = f.display().to_string();
        let args = [
            "compare",
            &path,
            "--protocols",
            "raft,multipaxos",
            "--seeds",
            "0..3",
        ];
        let out = faultline(&args);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", text(&out.stderr));
        let table = text(&out.stdout);
        for row in [
            "protocol ",
            "seeds meeting expect ",
            "check linearizable ",
            "client ops ok / fail / info ",
            "latency of ok ops p50 / p99 ",
            "messages per ok op ",
            "leader changes ",
            "time without a leader ",
        ] {
            assert!(table.contains(row), "{path}: no row {row:?} in\n{table}");
        }
        let header = table.lines().nth(1).unwrap();
        assert!(
            header.contains("raft") && header.contains("multipaxos"),
            "{header}"
        );
        assert_eq!(
            text(&faultline(&args).stdout),
            table,
            "{path}: deterministic"
        );
    }
}

#[test]
fn compare_json_has_the_measures_per_protocol() {
    let out = faultline(&[
        "compare",
        "scenarios/compare/steady-state.ron",
        "--protocols",
        "multipaxos,raft",
        "--seeds",
        "0..4",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let ps = v["protocols"].as_array().expect("protocols");
    assert_eq!(ps.len(), 2);
    assert_eq!(ps[0]["protocol"], "multipaxos", "in the order asked");
    assert_eq!(ps[1]["protocol"], "raft");
    for p in ps {
        assert_eq!(p["seeds"], 4);
        assert_eq!(p["matched"], 4);
        assert!(p["ok"].as_u64().unwrap() > 100, "{p}");
        assert_eq!(p["failed"]["linearizable"], 0);
        let p50 = p["latency_p50_ms"].as_f64().unwrap();
        let p99 = p["latency_p99_ms"].as_f64().unwrap();
        assert!(2.0 < p50 && p50 <= p99, "{p}");
        assert!(p["messages_per_ok"].as_f64().unwrap() > 2.0, "{p}");
        // No faults: only the first election (150-300ms timeouts) has no leader.
        let per_seed = p["leaderless_ms"].as_f64().unwrap() / 4.0;
        assert!((100.0..400.0).contains(&per_seed), "{p}");
    }
}

#[test]
fn a_check_one_protocol_lacks_is_an_error_at_its_position() {
    let out = faultline(&[
        "compare",
        "scenarios/multipaxos/leader-crash.ron",
        "--protocols",
        "raft,multipaxos",
        "--seeds",
        "0..2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("raft has no check \"slot-agreement\""),
        "{err}"
    );
    assert!(
        err.contains("scenarios/multipaxos/leader-crash.ron:"),
        "{err}"
    );
    assert!(
        err.contains("list only checks that raft offers too"),
        "{err}"
    );
    let out = faultline(&[
        "compare",
        "scenarios/compare/steady-state.ron",
        "--protocols",
        "raft,zab",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("\"zab\", which is not a protocol"), "{err}");
}
