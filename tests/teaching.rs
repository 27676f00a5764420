//! Every command in docs/TEACHING.md runs, exits 0 (the run ended as its scenario
//! expects), and prints the lines the page tells instructors to look for.

use std::path::Path;
use std::process::Command;

/// A `faultline ...` command from a ```sh block and the ```text block that follows it.
struct Demo {
    line: usize,
    args: Vec<String>,
    look_for: Vec<String>,
}

fn demos(doc: &str) -> Vec<Demo> {
    let mut out: Vec<Demo> = Vec::new();
    let mut block: Option<&str> = None;
    for (i, line) in doc.lines().enumerate() {
        match (block, line.trim()) {
            (None, fence) if fence.starts_with("```") => {
                block = Some(fence.trim_start_matches('`'))
            }
            (Some(_), "```") => block = None,
            (Some("sh"), cmd) if !cmd.is_empty() => {
                let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
                assert_eq!(
                    args[0],
                    "faultline",
                    "TEACHING.md line {}: a command runs faultline",
                    i + 1
                );
                out.push(Demo {
                    line: i + 1,
                    args: args[1..].to_vec(),
                    look_for: Vec::new(),
                });
            }
            (Some("text"), text) if !text.is_empty() => {
                let demo = out.last_mut().expect("a text block follows a command");
                demo.look_for.push(text.to_string());
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_teaching_command_runs_and_shows_what_the_page_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/TEACHING.md")).unwrap();
    let demos = demos(&doc);
    assert!(
        demos.len() >= 8,
        "the page has its demos ({} found)",
        demos.len()
    );
    for demo in &demos {
        let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(&demo.args)
            .current_dir(root)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let shown = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(0),
            "TEACHING.md line {}: `faultline {}` exits 0:\n{shown}",
            demo.line,
            demo.args.join(" ")
        );
        for text in &demo.look_for {
            assert!(
                stdout.contains(text.as_str()),
                "TEACHING.md line {}: the output of `faultline {}` shows {text:?}:\n{stdout}",
                demo.line,
                demo.args.join(" ")
            );
        }
    }
}

#[test]
fn every_split_brain_scenario_is_taught() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/TEACHING.md")).unwrap();
    for entry in std::fs::read_dir(root.join("scenarios/split-brain")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            doc.contains(&format!("scenarios/split-brain/{name}")),
            "{name} has a section in TEACHING.md"
        );
    }
}
