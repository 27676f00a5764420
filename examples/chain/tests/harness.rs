//! The chain tested with `faultline::testing`: one sweep that must pass under heavy
//! faults, one that must catch the bug knob, and single runs with their assertions.

use chain_replication::ChainProtocol;
use faultline::lincheck::Verdict;
use faultline::testing::Check;

#[test]
fn survives_heavy_faults() {
    Check::<ChainProtocol>::scenario("scenarios/faults.ron")
        .seeds(0..200)
        .run();
}

#[test]
fn the_harness_catches_ack_at_head() {
    let failure = Check::<ChainProtocol>::scenario("scenarios/ack-at-head.ron")
        .seeds(0..100)
        .try_run()
        .expect_err("the knob makes reads at the tail miss answered writes");
    let seed = failure.seed.expect("a failing seed");
    assert_eq!(failure.check.as_deref(), Some("linearizable"));
    let message = failure.to_string();
    // The panic message names the check, the seed, the file and both replay commands.
    assert!(
        message.contains(&format!("seed {seed}: violation of \"linearizable\"")),
        "{message}"
    );
    let replay = format!(
        "FAULTLINE_SEED={seed} cargo test -p chain-replication --test harness -- the_harness_catches_ack_at_head --exact"
    );
    assert!(message.contains(&replay), "{message}");
    let file = failure.file.expect("the shrunk scenario is written");
    assert!(
        file.ends_with(format!("faultline/ack-at-head-seed{seed}.ron")),
        "{}",
        file.display()
    );
    let cli = format!(
        "cargo run -q -p chain-replication -- run {}",
        file.display()
    );
    assert!(message.contains(&cli), "{message}");
    assert!(failure.shrunk.is_some(), "{message}");
    // The written file fails the same way when run again.
    let path = file.to_str().expect("a UTF-8 path");
    Check::<ChainProtocol>::scenario(path)
        .run_seed(seed)
        .assert_violation("linearizable");
}

#[test]
fn run_panics_with_the_replay_command() {
    let panic = std::panic::catch_unwind(|| {
        Check::<ChainProtocol>::scenario("scenarios/ack-at-head.ron")
            .seeds(0..20)
            .no_shrink()
            .run()
    })
    .expect_err("run panics on the first failing seed");
    let message = panic.downcast_ref::<String>().expect("a formatted panic");
    assert!(
        message.contains("check linearizable: the clients' history is not linearizable"),
        "{message}"
    );
    assert!(
        message.contains("replay this seed:  FAULTLINE_SEED="),
        "{message}"
    );
    assert!(
        message.contains("replay with the CLI:  cargo run -q -p chain-replication -- run "),
        "{message}"
    );
}

#[test]
fn one_run_with_a_crash_passes_and_rebuilds_from_the_log() {
    // Seed 3 crashes n3 (the tail) at 394.9ms and restarts it at 833.4ms.
    let run = Check::<ChainProtocol>::scenario("scenarios/faults.ron").run_seed(3);
    run.assert_pass().assert_history(Verdict::Linearizable);
    assert!(run.assert_trace_line("!! crash n3").contains("394.900ms"));
    run.assert_trace_line("n3 note rebuilt");
    run.assert_no_trace_line("VIOLATION");
}

#[test]
fn one_run_with_the_knob_is_not_linearizable() {
    let run = Check::<ChainProtocol>::scenario("scenarios/ack-at-head.ron").run_seed(1);
    let v = run.assert_violation("linearizable");
    assert!(
        v.message.contains("not linearizable (kv model)"),
        "{}",
        v.message
    );
    run.assert_history(Verdict::NotLinearizable);
}

/// The child of `faultline_seed_replays_just_that_seed`; ignored unless run by it.
#[test]
#[ignore = "run by faultline_seed_replays_just_that_seed with FAULTLINE_SEED set"]
fn replayed_by_seed() {
    let passed = Check::<ChainProtocol>::scenario("scenarios/ack-at-head.ron")
        .seeds(0..1000)
        .no_shrink()
        .run();
    println!("ran seeds {:?}", passed.seeds);
}

#[test]
fn faultline_seed_replays_just_that_seed() {
    let child = |seed: &str| {
        std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args(["replayed_by_seed", "--exact", "--ignored", "--nocapture"])
            .env("FAULTLINE_SEED", seed)
            .output()
            .expect("the test binary runs")
    };
    let out = child("17");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("ack-at-head.ron seed 17: violation"),
        "{text}"
    );
    let bad = child("seventeen");
    let text =
        String::from_utf8_lossy(&bad.stderr).into_owned() + &String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success(), "{text}");
    assert!(
        text.contains("FAULTLINE_SEED=\"seventeen\" is not a seed"),
        "{text}"
    );
}

#[test]
fn an_undecided_history_check_is_a_failure_never_a_pass() {
    // One search step per key cannot decide linearizability: the run is undecided.
    let text = std::fs::read_to_string("scenarios/faults.ron")
        .expect("the scenario")
        .replace("    seed: 1,", "    check_steps: 1,\n    seed: 1,");
    let failure = Check::<ChainProtocol>::scenario_str("undecided.ron", text)
        .seeds(0..3)
        .no_shrink()
        .try_run()
        .expect_err("undecided does not pass");
    assert_eq!(failure.seed, Some(0));
    assert!(
        failure
            .what
            .starts_with("undecided: \"linearizable\" could not decide"),
        "{failure}"
    );
    assert!(failure.message.contains("budget of 1 steps"), "{failure}");
}
