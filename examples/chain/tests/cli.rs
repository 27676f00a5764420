//! The example's own command line (`src/main.rs`: `faultline::cli::main` with the chain
//! added) knows the chain in every subcommand, and still knows the built-in protocols.

use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chain-replication"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the example's binary runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn list_shows_the_chain_after_the_built_in_protocols() {
    let o = cli(&["list", "--dir", "scenarios"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let raft = t.find("\n  raft: ").expect("raft is listed");
    let chain = t
        .find("\n  chain: chain replication")
        .expect("chain is listed");
    assert!(raft < chain, "{t}");
    assert!(t.contains("knob ack_at_head: the head answers an update before the tail has applied it (caught by linearizable)"), "{t}");
    assert!(
        t.contains("scenarios/faults.ron: Chain replication under loss"),
        "{t}"
    );
}

#[test]
fn run_sweep_shrink_and_check_determinism_work_for_the_chain() {
    let o = cli(&[
        "run",
        "scenarios/faults.ron",
        "--seed",
        "3",
        "--trace",
        "off",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: ok: Pass, as expected"),
        "{}",
        text(&o)
    );

    let o = cli(&["run", "scenarios/ack-at-head.ron", "--trace", "off"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("got Violation(\"linearizable\")"),
        "{}",
        text(&o)
    );
    // The replay hint names this program, not `faultline`, which does not know the chain.
    assert!(
        text(&o).contains("replay: chain-replication run scenarios/ack-at-head.ron --seed "),
        "{}",
        text(&o)
    );

    let o = cli(&[
        "sweep",
        "scenarios/ack-at-head.ron",
        "--seeds",
        "0..4",
        "--jobs",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        5,
        "a header and four seeds"
    );

    let o = cli(&["shrink", "scenarios/ack-at-head.ron", "--seed", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("expect: Violation(\"linearizable\")"));

    let o = cli(&[
        "check-determinism",
        "scenarios/faults.ron",
        "--seeds",
        "0..3",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("deterministic: 3 seeds"), "{}", text(&o));
}

#[test]
fn a_page_and_an_export_are_drawn_for_the_chain() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chain-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let (html, mermaid) = (dir.join("run.html"), dir.join("run.mmd"));
    let export = format!("mermaid={}", mermaid.display());
    let o = cli(&[
        "run",
        "scenarios/faults.ron",
        "--trace",
        "off",
        "--to",
        "300ms",
        "--html",
        html.to_str().unwrap(),
        "--export",
        &export,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read_to_string(&html).unwrap().contains("<html"));
    assert!(
        std::fs::read_to_string(&mermaid)
            .unwrap()
            .contains("sequenceDiagram")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_protocol_names_the_chain_among_those_expected() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chain-cli-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.ron");
    let text_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/faults.ron"))
            .unwrap()
            .replace("name: \"chain\"", "name: \"chian\"");
    std::fs::write(&file, text_in).unwrap();
    let o = cli(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("unknown protocol \"chian\""),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("\"chain\""), "{}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}
