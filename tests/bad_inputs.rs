//! The bad-input corpus: each folder under `tests/bad_inputs/` is one mistake an operator
//! can make. Its files are laid over a copy of the shipped project (`stack.toml`,
//! templates, ...; a `delete` file lists paths to remove), `stackgen` runs with the
//! arguments in `cmd` (default `render`), and the exit code and stderr must equal
//! `expected` exactly, with the project's path shown as `[PROJECT]`. Every case must also
//! leave the project's files exactly as they were.
//!
//! To add a case: add a folder, run `BLESS=1 cargo test --test bad_inputs`, read the new
//! `expected` file as a user would, and commit it.

mod common;

use std::path::Path;

use common::{TestProject, repo, stderr};

fn overlay(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).min_depth(1) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).expect("prefix");
        let name = rel.to_string_lossy();
        if name == "cmd" || name == "expected" || name == "delete" {
            continue;
        }
        let dest = to.join(rel);
        if entry.path_is_symlink() {
            let target = std::fs::read_link(entry.path()).expect("readlink");
            let _ = std::fs::remove_file(&dest);
            std::os::unix::fs::symlink(target, &dest).expect("symlink");
        } else if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

#[test]
fn every_bad_input_gets_one_clear_message_and_changes_nothing() {
    let corpus = repo().join("tests/bad_inputs");
    let mut cases: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "the corpus holds at least 40 cases");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();

    for case in &cases {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let project = TestProject::shipped();
        overlay(case, project.path());
        if let Ok(list) = std::fs::read_to_string(case.join("delete")) {
            for rel in list.lines().filter(|l| !l.is_empty()) {
                std::fs::remove_file(project.file(rel)).expect("delete");
            }
        }
        let cmd = std::fs::read_to_string(case.join("cmd"))
            .unwrap_or_else(|_| "render".into())
            .replace("[PROJECT]", &project.path().display().to_string());
        let args: Vec<&str> = cmd.split_whitespace().collect();
        let before = project.snapshot();
        let out = project.stackgen(&args);
        let actual = format!(
            "exit: {}\n{}",
            out.status.code().unwrap_or(-1),
            stderr(&out).replace(&project.path().display().to_string(), "[PROJECT]")
        );
        if project.snapshot() != before {
            failures.push(format!("{name}: the project's files changed"));
        }
        if !common::stdout(&out).is_empty() {
            failures.push(format!(
                "{name}: printed to stdout: {}",
                common::stdout(&out)
            ));
        }
        let expected_path = case.join("expected");
        if bless {
            std::fs::write(&expected_path, &actual).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}\n--- actual\n{actual}"
            ));
        }
        if !actual.starts_with("exit: 2\n") {
            failures.push(format!("{name}: bad input must exit 2"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
