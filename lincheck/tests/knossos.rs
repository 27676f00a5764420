//! Knossos's own test histories (`tests/data/knossos/`, EPL, see the README there), with
//! the verdicts Knossos's tests assert: every `good/` file linearizable, every `bad/` one
//! not, against a cas-register starting at 0.

use std::path::Path;

use lincheck::{CheckOptions, ModelKind, Value, Verdict, check_history};

fn check_dir(dir: &str, want: Verdict) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/knossos")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("the Knossos test data")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|x| x == "edn"))
        .collect();
    files.sort();
    for path in &files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).expect("readable");
        let (mut h, _dropped) =
            lincheck::edn::parse_edn_history(&text, &name, None).expect("imports");
        assert!(matches!(
            h.model,
            ModelKind::Register | ModelKind::CasRegister
        ));
        // Knossos's test-examples checks against (cas-register 0).
        h.init = Some(Value::Int(0));
        let opts = CheckOptions {
            model: Some(ModelKind::CasRegister),
            ..CheckOptions::default()
        };
        let r = check_history(&h, &opts).expect("well-formed");
        assert_eq!(r.verdict, want, "{name}");
        if want == Verdict::NotLinearizable {
            let e = r.keys[0].explanation.as_ref().expect("explained");
            assert!(!e.stuck.is_empty(), "{name}");
        }
    }
    files.len()
}

#[test]
fn knossos_good_histories_are_linearizable() {
    assert_eq!(check_dir("good", Verdict::Linearizable), 10);
}

#[test]
fn knossos_bad_histories_are_not() {
    assert_eq!(check_dir("bad", Verdict::NotLinearizable), 6);
}

/// Knossos's immediate-failure history: a read of 3 that nobody wrote, concurrent with a
/// write of 3 that failed. Its test expects the read to be the op that cannot go.
#[test]
fn knossos_immediate_failure_names_the_read() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/knossos/bad/immediate-failure.edn");
    let text = std::fs::read_to_string(&path).expect("readable");
    let (mut h, _) =
        lincheck::edn::parse_edn_history(&text, "immediate-failure.edn", None).expect("imports");
    h.init = Some(Value::Int(0));
    let r = check_history(&h, &CheckOptions::default()).expect("well-formed");
    let e = r.keys[0].explanation.as_ref().expect("explained");
    assert!(e.prefix.is_empty());
    assert_eq!(e.stuck.len(), 1);
    assert_eq!(e.stuck[0].op.f, "read");
    assert_eq!(e.stuck[0].op.output, Some(Value::Int(3)));
}
