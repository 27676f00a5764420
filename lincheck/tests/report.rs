//! Reports: determinism, explanations, budgets, custom models, in-memory validation.

use std::time::Duration;

use lincheck::{
    Blocked, CheckOptions, Event, EventKind, Exhausted, History, ModelKind, Register, Value,
    Verdict, check_history, check_with_model, parse_history,
};

fn load(name: &str) -> History {
    let path = format!(
        "{}/tests/data/porcupine/jsonl/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    parse_history(&std::fs::read_to_string(path).expect("data"), name).expect("valid")
}

const STALE_READ: &str = r#"{"format":"faultline-history","version":1,"model":"register","init":0}
{"process":0,"type":"invoke","f":"write","value":1,"time":10}
{"process":1,"type":"invoke","f":"read","value":null,"time":11}
{"process":1,"type":"ok","f":"read","value":1,"time":12}
{"process":0,"type":"ok","f":"write","value":1,"time":13}
{"process":2,"type":"invoke","f":"read","value":null,"time":20}
{"process":2,"type":"ok","f":"read","value":0,"time":21}
"#;

#[test]
fn explains_a_stale_read() {
    let h = parse_history(STALE_READ, "stale.jsonl").expect("valid");
    let r = check_history(&h, &CheckOptions::default()).expect("well-formed");
    assert_eq!(r.verdict, Verdict::NotLinearizable);
    let ex = r.keys[0].explanation.as_ref().expect("explained");
    // The write is placed; then the read of 0 can never happen (nothing writes 0 again).
    assert_eq!(ex.prefix.len(), 1);
    assert_eq!(ex.prefix[0].state_after, Value::Int(1));
    assert_eq!(ex.state, Value::Int(1));
    assert_eq!(ex.stuck.len(), 2);
    assert_eq!(ex.stuck[0].reason, Blocked::DeadEnd);
    assert_eq!(ex.stuck[1].reason, Blocked::Unreachable);
    assert_eq!(ex.stuck[1].op.invoke_event, 4);
    let text = r.render_text();
    assert_eq!(
        text,
        "history: not-linearizable (1 key, model register)
key (default): not-linearizable (3 ops, 3 steps)
  longest linearizable prefix: 1 op
    p0    e0..e3         t=10..13       write 1 -> 1   => 1
  then in state 1, stuck (X = cannot be placed next):
  X p1    e1..e2         t=11..12       read -> 1   fits, but nothing linearizable follows
  X p2    e4..e5         t=20..21       read -> 0   result can no longer be produced by the pending ops
"
    );
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    assert_eq!(json["verdict"], "not-linearizable");
    assert_eq!(
        json["keys"][0]["explanation"]["stuck"][1]["reason"],
        "unreachable"
    );
    assert_eq!(
        json["keys"][0]["explanation"]["prefix"][0]["op"]["f"],
        "write"
    );
}

#[test]
fn same_history_same_report_bytes() {
    for name in [
        "etcd_000.jsonl",
        "etcd_002.jsonl",
        "kv-c10-bad.jsonl",
        "kv-c50-bad.jsonl",
    ] {
        let h = load(name);
        let a = check_history(&h, &CheckOptions::default()).expect("ok");
        let b = check_history(&h.clone(), &CheckOptions::default()).expect("ok");
        assert_eq!(a.render_text(), b.render_text(), "{name}");
        assert_eq!(a.to_json(), b.to_json(), "{name}");
        assert!(!a.render_text().is_empty());
    }
}

#[test]
fn budgets_give_unknown() {
    let h = load("etcd_002.jsonl");
    let tiny = CheckOptions {
        max_steps: Some(10),
        ..CheckOptions::default()
    };
    let r = check_history(&h, &tiny).expect("ok");
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.keys[0].exhausted, Some(Exhausted::Steps));
    assert_eq!(r.keys[0].steps, 10);
    // The same budget gives the same answer every time.
    assert_eq!(check_history(&h, &tiny).expect("ok"), r);
    let no_time = CheckOptions {
        max_steps: None,
        timeout: Some(Duration::ZERO),
        ..CheckOptions::default()
    };
    let r = check_history(&h, &no_time).expect("ok");
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.keys[0].exhausted, Some(Exhausted::Deadline));
}

#[test]
fn model_override_and_in_memory_validation() {
    let mut h = parse_history(STALE_READ, "s").expect("valid");
    // As a cas-register the same ops mean the same thing.
    let opts = CheckOptions {
        model: Some(ModelKind::CasRegister),
        ..CheckOptions::default()
    };
    assert_eq!(
        check_history(&h, &opts).expect("ok").verdict,
        Verdict::NotLinearizable
    );
    // As kv, "read" is not an op.
    let kv = CheckOptions {
        model: Some(ModelKind::Kv),
        ..CheckOptions::default()
    };
    let e = check_history(&h, &kv).unwrap_err();
    assert_eq!(e.event, 0);
    // Rule 1 broken in memory.
    h.events.insert(
        1,
        Event {
            process: 0,
            kind: EventKind::Invoke,
            f: "read".into(),
            key: None,
            value: Value::Null,
            time: Some(10),
            error: None,
        },
    );
    let e = check_history(&h, &CheckOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "event 1 (line 3): expected a completion for process 0 (its op invoked at line 2 is still open), found another invoke"
    );
}

#[test]
fn custom_models_plug_in() {
    let h = parse_history(STALE_READ, "s").expect("valid");
    let r = check_with_model(
        &h,
        &Register {
            init: Value::Int(0),
        },
        &CheckOptions::default(),
    )
    .expect("ok");
    assert_eq!(r.verdict, Verdict::NotLinearizable);
    assert_eq!(r.model, "register");
    // A register that starts at 1 would explain the read of 1, but not the read of 0.
    let fixed = STALE_READ.replace(r#""value":0,"time":21"#, r#""value":1,"time":21"#);
    let h = parse_history(&fixed, "s").expect("valid");
    let r = check_with_model(
        &h,
        &Register {
            init: Value::Int(1),
        },
        &CheckOptions::default(),
    )
    .expect("ok");
    assert_eq!(r.verdict, Verdict::Linearizable);
}

#[test]
fn keys_are_checked_separately_in_sorted_order() {
    let h = load("kv-c10-bad.jsonl");
    let r = check_history(&h, &CheckOptions::default()).expect("ok");
    let keys: Vec<_> = r.keys.iter().map(|k| k.key.clone()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 10);
    // Failing keys carry an explanation, passing keys none.
    for k in &r.keys {
        assert_eq!(
            k.explanation.is_some(),
            k.verdict == Verdict::NotLinearizable
        );
    }
}

#[test]
fn explanations_name_processes_by_the_systems_names() {
    let mut h = parse_history(STALE_READ, "stale.jsonl").unwrap();
    let plain = check_history(&h, &CheckOptions::default())
        .unwrap()
        .render_text();
    assert!(plain.contains("\n  X p1 "), "{plain}");
    h.process_names.insert(0, "c1".into());
    h.process_names.insert(1, "c2".into());
    // The names travel in the header, so `check-history` names them too.
    let text = h.to_jsonl();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(r#","processes":{"0":"c1","1":"c2"}}"#),
        "{text}"
    );
    let back = parse_history(&text, "named.jsonl").unwrap();
    assert_eq!(back, h);
    let named = check_history(&back, &CheckOptions::default())
        .unwrap()
        .render_text();
    assert!(
        named.contains("\n  X c2 ") && !named.contains(" p1 "),
        "{named}"
    );
}

#[test]
fn the_brief_text_keeps_the_last_fitting_and_first_stuck_operations() {
    let h = load("etcd_000.jsonl");
    let full = check_history(&h, &CheckOptions::default())
        .unwrap()
        .render_text();
    let brief = lincheck::brief_text(&full, 2, 1, "see all");
    assert!(brief.len() < full.len(), "{brief}");
    let prefix_ops = |t: &str| t.lines().filter(|l| l.starts_with("    p")).count();
    let keys = full
        .lines()
        .filter(|l| l.contains("longest linearizable prefix"))
        .count();
    assert!(keys >= 1);
    assert!(prefix_ops(&brief) <= 2 * keys, "{brief}");
    assert!(brief.lines().filter(|l| l.starts_with("  X ")).count() <= keys);
    assert!(brief.contains("earlier ops (see all)") || prefix_ops(&full) <= 2 * keys);
    for l in brief.lines().filter(|l| !l.contains("(see all)")) {
        assert!(
            full.lines().any(|f| f == l),
            "only lines of the full text: {l}"
        );
    }
    // Text that is no explanation is kept whole.
    assert_eq!(lincheck::brief_text("a\n    b\n", 0, 0, "x"), "a\n    b\n");
}
