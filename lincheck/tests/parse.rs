//! Bad input: exact messages and positions; random input never panics; the writer
//! round-trips.

use lincheck::{
    EventKind, ModelKind, ParseErrorKind, ParseOptions, Value, parse_history, parse_history_with,
};
use proptest::prelude::*;

const H: &str = r#"{"format":"faultline-history","version":1,"model":"cas-register"}"#;

fn err(text: &str) -> String {
    parse_history(text, "hist.jsonl").unwrap_err().to_string()
}

fn with_header(lines: &[&str]) -> String {
    let mut s = format!("{H}\n");
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

#[test]
fn header_errors() {
    assert_eq!(
        err(""),
        r#"hist.jsonl:1:1: expected a header line {"format":"faultline-history","version":1,"model":...}, found no lines"#
    );
    assert_eq!(
        err(r#"{"format":"faultline-history","version":2,"model":"kv"}"#),
        r#"hist.jsonl:1:41: expected "version" to be 1, found 2"#
    );
    assert_eq!(
        err(r#"{"format":"faultline-history","model":"kv"}"#),
        r#"hist.jsonl:1:1: expected field "version" (the integer 1), found none"#
    );
    assert_eq!(
        err(r#"{"format":"other","version":1,"model":"kv"}"#),
        r#"hist.jsonl:1:11: expected "format" to be "faultline-history", found "other""#
    );
    assert_eq!(
        err(r#"{"format":"faultline-history","version":1,"model":"queue"}"#),
        r#"hist.jsonl:1:51: expected "model" to be one of register, cas-register, kv, found "queue""#
    );
    assert_eq!(
        err(r#"{"format":"faultline-history","version":1,"model":"kv","init":0.5}"#),
        r#"hist.jsonl:1:63: expected "init" to hold integers, strings, null, booleans or arrays (floats are not allowed), found 0.5"#
    );
    assert_eq!(
        err("[1]\n"),
        "hist.jsonl:1:1: expected a JSON object, found an array"
    );
}

#[test]
fn event_field_errors() {
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"okay","f":"read","value":null}"#
        ])),
        r#"hist.jsonl:2:21: expected "type" to be one of invoke, ok, fail, info, found "okay""#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"process":-1,"type":"invoke","f":"read","value":null}"#
        ])),
        r#"hist.jsonl:2:12: expected "process" to be an integer between 0 and 2^64-1, found -1"#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"type":"invoke","f":"read","value":null}"#
        ])),
        r#"hist.jsonl:2:1: expected field "process" (an integer >= 0), found none"#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"write","value":1.0}"#
        ])),
        r#"hist.jsonl:2:50: expected "value" to hold integers, strings, null, booleans or arrays (floats are not allowed), found 1.0"#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"write","value":{"a":1}}"#
        ])),
        r#"hist.jsonl:2:50: expected "value" to be an integer, string, null, boolean or array (objects are not allowed), found an object"#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"read","key":[1],"value":null}"#
        ])),
        r#"hist.jsonl:2:47: expected "key" to be a string, an integer or null, found an array"#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"get","value":null}"#
        ])),
        r#"hist.jsonl:2:34: expected "f" to be one of read, write, cas (model cas-register), found "get""#
    );
}

#[test]
fn syntax_errors_point_at_the_token() {
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke" "f":"read"}"#
        ])),
        r#"hist.jsonl:2:30: invalid JSON: expected ',' or '}', found '"'"#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"read","value":nul}"#
        ])),
        "hist.jsonl:2:49: invalid JSON: expected a JSON value, found 'n'"
    );
    assert_eq!(
        err(&with_header(&[r#"{"process":0,"process":1}"#])),
        r#"hist.jsonl:2:14: invalid JSON: expected each member name at most once, found a second "process""#
    );
    // Columns count characters, not bytes.
    assert_eq!(
        err(&with_header(&[r#"{"f":"réad","process":0,"type":"nope"}"#])),
        r#"hist.jsonl:2:32: expected "type" to be one of invoke, ok, fail, info, found "nope""#
    );
}

#[test]
fn well_formedness_rules() {
    let inv = |p: u64| format!(r#"{{"process":{p},"type":"invoke","f":"read","value":null}}"#);
    // Rule 1
    assert_eq!(
        err(&with_header(&[&inv(0), &inv(0)])),
        "hist.jsonl:3:21: expected a completion for process 0 (its op invoked at line 2 is still open), found another invoke"
    );
    // Rule 2: no open op, and a mismatched f
    assert_eq!(
        err(&with_header(&[
            r#"{"process":4,"type":"ok","f":"read","value":1}"#
        ])),
        r#"hist.jsonl:2:21: expected an open op for process 4 before this "ok" completion, found none"#
    );
    assert_eq!(
        err(&with_header(&[
            &inv(0),
            r#"{"process":0,"type":"ok","f":"write","value":1}"#
        ])),
        r#"hist.jsonl:3:30: expected "f" to match the invoke at line 2 ("read"), found "write""#
    );
    assert_eq!(
        err(&with_header(&[
            &inv(0),
            r#"{"process":0,"type":"ok","f":"read","key":"k","value":1}"#
        ])),
        r#"hist.jsonl:3:43: expected "key" to match the invoke at line 2 (no key), found "k""#
    );
    // Rule 3
    assert_eq!(
        err(&with_header(&[
            &inv(0),
            r#"{"process":0,"type":"info","f":"read"}"#,
            &inv(0)
        ])),
        r#"hist.jsonl:4:21: expected no further invoke from process 0 after its "info" at line 3, found an invoke"#
    );
    // Rule 4
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"cas","value":[1]}"#
        ])),
        r#"hist.jsonl:2:48: expected "value" of "cas" invoke to be [from, to], found [1]"#
    );
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"cas","value":[1,2]}"#,
            r#"{"process":0,"type":"ok","f":"cas","value":3}"#
        ])),
        r#"hist.jsonl:3:44: expected "value" of "cas" ok to be true, false or the invoked [from, to], found 3"#
    );
}

#[test]
fn time_rules() {
    let ev = |kind: &str, t: &str| {
        format!(r#"{{"process":0,"type":"{kind}","f":"read","value":null{t}}}"#)
    };
    assert_eq!(
        err(&with_header(&[
            &ev("invoke", r#","time":5"#),
            &ev("ok", "")
        ])),
        r#"hist.jsonl:3:1: expected "time" (the event at line 2 has one, so all must), found none"#
    );
    assert_eq!(
        err(&with_header(&[
            &ev("invoke", r#","time":5"#),
            &ev("ok", r#","time":4"#)
        ])),
        r#"hist.jsonl:3:57: expected "time" >= 5 (the time at line 2), found 4"#
    );
}

#[test]
fn lenient_where_the_spec_allows() {
    let text = format!(
        "\n{H}\r\n   \r\n{}\r\n\n{}\n",
        r#"{"process":0,"type":"invoke","f":"read","value":null}"#,
        r#"{"process":0,"type":"ok","f":"read","value":null,"error":null}"#
    );
    let h = parse_history(&text, "ok.jsonl").expect("valid");
    assert_eq!(h.model, ModelKind::CasRegister);
    assert_eq!(h.events.len(), 2);
    assert_eq!(h.events[1].kind, EventKind::Ok);
    // Errors count physical lines, blank ones included.
    let e = parse_history(&format!("\n\n{H}\n\n{{}}"), "f").unwrap_err();
    assert_eq!((e.line, e.column), (5, 1));
    assert!(matches!(
        e.kind,
        ParseErrorKind::MissingField {
            field: "process",
            ..
        }
    ));
}

#[test]
fn model_override_changes_the_rules() {
    let text = with_header(&[r#"{"process":0,"type":"invoke","f":"get","key":"a","value":null}"#]);
    assert!(parse_history(&text, "h").is_err());
    let opts = ParseOptions {
        model: Some(ModelKind::Kv),
    };
    let h = parse_history_with(&text, "h", &opts).expect("valid as kv");
    assert_eq!(h.model, ModelKind::Kv);
    assert_eq!(h.events[0].key, Some(Value::Str("a".into())));
}

#[test]
fn writer_round_trips_every_porcupine_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/porcupine/jsonl");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("data")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 108);
    for path in names {
        let text = std::fs::read_to_string(&path).expect("read");
        let h = parse_history(&text, "x").expect("valid");
        let written = h.to_jsonl();
        assert_eq!(parse_history(&written, "y").expect("reparse"), h);
        assert_eq!(
            parse_history(&written, "y").expect("reparse").to_jsonl(),
            written
        );
    }
}

fn line_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        // Arbitrary text
        ".{0,60}",
        // Mostly-valid event lines with random fields
        (
            0u8..4,
            prop::sample::select(vec!["invoke", "ok", "fail", "info", "x"]),
            prop::sample::select(vec!["read", "write", "cas", "get", "put", "append"]),
            prop::sample::select(vec![
                "null",
                "1",
                "\"a\"",
                "[1,2]",
                "[1]",
                "1.5",
                "true",
                "{}",
                "-3",
                "99999999999999999999"
            ]),
            prop::sample::select(vec![
                "",
                ",\"time\":3",
                ",\"time\":1",
                ",\"key\":\"k\"",
                ",\"key\":null",
                ",\"error\":5"
            ])
        )
            .prop_map(|(p, t, f, v, extra)| format!(
                r#"{{"process":{p},"type":"{t}","f":"{f}","value":{v}{extra}}}"#
            )),
        // Deep nesting
        (0usize..200).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n / 2))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_history(&text, "fuzz");
        let _ = parse_history(&format!("{H}\n{text}"), "fuzz");
    }

    #[test]
    fn random_lines_never_panic_and_errors_have_positions(
        header in prop::sample::select(vec![H, r#"{"format":"faultline-history","version":1,"model":"kv"}"#, "{}"]),
        lines in prop::collection::vec(line_strategy(), 0..12),
    ) {
        let text = format!("{header}\n{}", lines.join("\n"));
        match parse_history(&text, "fuzz") {
            Ok(h) => {
                // Whatever parses can be checked without panicking and round-trips.
                let _ = lincheck::check_history(&h, &lincheck::CheckOptions::default());
                prop_assert_eq!(parse_history(&h.to_jsonl(), "w").unwrap(), h);
            }
            Err(e) => {
                prop_assert!(e.line >= 1 && e.line <= lines.len() + 1);
                prop_assert!(e.column >= 1);
                let prefix = format!("fuzz:{}:{}: ", e.line, e.column);
                let msg = e.to_string();
                let well_formed = msg.starts_with(&prefix) && msg.contains("expected");
                prop_assert!(well_formed, "{}", msg);
            }
        }
    }
}

#[test]
fn unknown_fields_are_rejected_at_their_name() {
    assert_eq!(
        err(&with_header(&[
            r#"{"process":0,"type":"invoke","f":"read","valu":null}"#
        ])),
        r#"hist.jsonl:2:41: unknown field "valu", expected one of process, type, f, key, value, time, error"#
    );
    assert_eq!(
        err(r#"{"format":"faultline-history","version":1,"modl":"kv","model":"kv"}"#),
        r#"hist.jsonl:1:43: unknown field "modl", expected one of format, version, model, init, processes, scenario, seed, source, expected"#
    );
    // Provenance fields in the header are the format's own.
    let h = r#"{"format":"faultline-history","version":1,"model":"kv","scenario":"x.ron","seed":3,"source":"s","expected":"linearizable"}"#;
    assert!(parse_history(h, "hist.jsonl").is_ok());
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let text = with_header(&[r#"{"process":0,"type":"invoke","f":"read","value":null}"#]);
    let plain = parse_history(&text, "hist.jsonl").unwrap();
    assert_eq!(
        parse_history(&format!("\u{feff}{text}"), "hist.jsonl").unwrap(),
        plain
    );
}
