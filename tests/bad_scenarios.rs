//! The corpus of broken scenario files under tests/bad-scenarios/: each one must be
//! rejected (never a panic, never a silent default) with exactly the message in the
//! `.expected` file beside it: what is wrong, file:line:col, the line with the offending
//! token underlined, and how to fix it.
//!
//! To write the `.expected` file of a new case: `FAULTLINE_BLESS=1 cargo test --test
//! bad_scenarios`, then read it.

use faultline::{Scenario, runner};
use std::path::Path;

fn error_of(path: &str) -> Option<String> {
    let result = Scenario::load(path).and_then(|s| runner::check(&s));
    result.err().map(|e| e.render(false))
}

#[test]
fn every_bad_scenario_gets_its_exact_message() {
    let bless = std::env::var_os("FAULTLINE_BLESS").is_some();
    let files = faultline::scenario::files_under(Path::new("tests/bad-scenarios")).expect("corpus");
    assert!(files.len() >= 20, "the corpus is there: {files:?}");
    let mut failures = Vec::new();
    for file in files {
        let path = file.display().to_string();
        let got = std::panic::catch_unwind(|| error_of(&path))
            .unwrap_or_else(|_| panic!("{path}: parsing panicked"))
            .unwrap_or_else(|| panic!("{path}: accepted, but it is broken"));
        assert!(
            !got.contains("[0:0]"),
            "{path}: the error has no position:\n{got}"
        );
        let expected_path = file.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &got).expect("write .expected");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{path}: no {} (FAULTLINE_BLESS=1 writes it)",
                expected_path.display()
            )
        });
        if got != expected {
            failures.push(format!("{path}:\n--- expected\n{expected}\n--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let text = std::fs::read_to_string("scenarios/pingstorm/smoke.ron").expect("scenario");
    let s = Scenario::parse("bom.ron", &format!("\u{feff}{text}"))
        .unwrap_or_else(|e| panic!("a BOM is accepted:\n{}", e.render(false)));
    assert_eq!(
        s.name(),
        Scenario::parse("smoke.ron", &text).unwrap().name()
    );
    // Positions are those the user sees: the mark takes no column.
    let bad = "\u{feff}(nme: \"x\")";
    let e = Scenario::parse("bom.ron", bad).unwrap_err();
    assert_eq!(e.line_col(), Some((1, 2)), "{}", e.render(false));
}

#[test]
fn a_long_line_is_cut_around_the_error_and_keeps_its_column() {
    // One line of 200 KB with a misspelt field at its end.
    let text = format!(
        "(\n    name: \"x\", description: \"{}\", nodez: 3,\n    protocol: (name: \"pingstorm\"),\n    cluster: (nodes: 3), seed: 1, duration: \"1s\", expect: Pass,\n)\n",
        "y".repeat(200_000)
    );
    let e = Scenario::parse("long.ron", &text).unwrap_err();
    let rendered = std::panic::catch_unwind(|| e.render(false)).expect("rendering never panics");
    assert!(rendered.len() < 2_000, "cut: {} bytes", rendered.len());
    let col = text.lines().nth(1).unwrap().find("nodez").unwrap() + 1;
    assert!(
        rendered.contains(&format!("[long.ron:2:{col}]")),
        "{rendered}"
    );
    assert!(
        rendered.contains("…yyyy") && rendered.contains("\", nodez: 3,"),
        "{rendered}"
    );
}

#[test]
fn the_bound_of_an_integer_is_found_for_hex_and_negative_integers_too() {
    let file = |field: &str| {
        format!(
            "(name: \"x\", protocol: (name: \"pingstorm\", config: (fanout: 1)), cluster: (nodes: 3), seed: 1, duration: \"1s\", expect: Pass, {field})"
        )
    };
    let message = |text: &str| {
        Scenario::parse("x.ron", text)
            .and_then(|s| runner::check(&s))
            .unwrap_err()
            .message()
            .to_string()
    };
    assert_eq!(
        message(&file("max_events: 0x1FFFFFFFFFFFFFFFFF")),
        "integer is out of bounds: the largest allowed here is 18446744073709551615"
    );
    assert_eq!(
        message(&file("max_events: -0x10")),
        "integer is out of bounds: the smallest allowed here is 0"
    );
    assert_eq!(
        message(&file("workload: (clients: 99999999999)")),
        "integer is out of bounds: the largest allowed here is 4294967295"
    );
}

#[test]
fn an_error_beside_a_long_line_renders_without_it() {
    // The error's own line is short; the next one is 50 KB.
    let text = format!(
        "(\n    nme: \"x\",\n    description: \"{}\",\n    protocol: (name: \"pingstorm\"), cluster: (nodes: 3), seed: 1, duration: \"1s\", expect: Pass,\n)\n",
        "y".repeat(50_000)
    );
    let e = Scenario::parse("beside.ron", &text).unwrap_err();
    let rendered = e.render(false);
    assert!(rendered.len() < 2_000, "{rendered}");
    assert!(
        rendered.contains("[beside.ron:2:5]") && rendered.contains("nme"),
        "{rendered}"
    );
}
