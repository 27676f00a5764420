//! docs/OWN-PROTOCOL.md shows this crate's code: every Rust, TOML and RON block in it must
//! be found verbatim in the crate's files (which `cargo test` builds and runs), so the
//! guide cannot drift from code that compiles. A `// ...` or `# ...` line in a block
//! stands for lines left out: the pieces around it must appear in one file, in order.

use std::path::Path;

const GUIDE: &str = "../../docs/OWN-PROTOCOL.md";

const FILES: &[&str] = &[
    "Cargo.toml",
    "src/lib.rs",
    "src/node.rs",
    "src/checks.rs",
    "src/main.rs",
    "tests/harness.rs",
    "scenarios/faults.ron",
    "scenarios/ack-at-head.ron",
];

/// The fenced blocks of `text` as `(language, first line number, body)`.
fn blocks(text: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => open = Some((lang.trim().to_string(), i + 1, String::new())),
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{GUIDE}: a code block is never closed");
    out
}

/// Does `file` hold the pieces of `block` (split at elision lines), in order?
fn holds(file: &str, block: &str) -> bool {
    let mut pieces = vec![String::new()];
    for line in block.lines() {
        if matches!(line.trim(), "// ..." | "# ...") {
            pieces.push(String::new());
        } else {
            let last = pieces.last_mut().expect("a piece");
            last.push_str(line);
            last.push('\n');
        }
    }
    let mut rest = file;
    for piece in pieces.iter().filter(|p| !p.is_empty()) {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

fn check(guide: &str, files: &[(&str, String)]) -> Result<usize, String> {
    let mut checked = 0;
    for (lang, line, body) in blocks(guide) {
        if !matches!(lang.as_str(), "rust" | "toml" | "ron") {
            continue; // shell commands and output
        }
        if !files.iter().any(|(_, text)| holds(text, &body)) {
            return Err(format!(
                "{GUIDE}:{line}: this {lang} block is not in any of {FILES:?}; copy it from the crate's files again:\n{body}"
            ));
        }
        checked += 1;
    }
    Ok(checked)
}

fn read(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

#[test]
fn every_code_block_of_the_guide_is_in_the_crate() {
    let files: Vec<(&str, String)> = FILES.iter().map(|f| (*f, read(f))).collect();
    let checked = check(&read(GUIDE), &files).unwrap_or_else(|e| panic!("{e}"));
    assert!(checked >= 15, "only {checked} code blocks checked");
}

#[test]
fn a_block_that_drifted_from_the_code_is_found() {
    let files: Vec<(&str, String)> = FILES.iter().map(|f| (*f, read(f))).collect();
    let guide = read(GUIDE).replace(
        "const MAX_NODES: usize = 64;",
        "const MAX_NODES: usize = 65;",
    );
    let e = check(&guide, &files).expect_err("65 is not in the code");
    assert!(e.contains("this rust block is not in any of"), "{e}");
    // The pieces around an elision must come in the file's order.
    assert!(holds("a\nb\nc\n", "a\n// ...\nc\n"));
    assert!(!holds("a\nb\nc\n", "c\n// ...\na\n"));
}

#[test]
fn the_readme_links_the_guide() {
    assert!(read("../../README.md").contains("(docs/OWN-PROTOCOL.md)"));
}
