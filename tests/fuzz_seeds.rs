//! Replays the fuzz seeds (`fuzz/seeds/`) and every input the fuzzer ever found a bug
//! with (`fuzz/regressions/`) through the same pipeline the fuzz target drives, on the
//! stable toolchain, so `cargo test` guards what `cargo fuzz` found: each input ends in
//! `Ok` or a bad-input error (exit 2), never a panic or an untyped failure.

mod common;

use common::{TestProject, repo};
use stackgen::error::Error;

#[test]
fn fuzz_seeds_and_regressions_end_in_ok_or_bad_input() {
    let project = TestProject::shipped();
    let mut count = 0;
    for folder in ["fuzz/seeds", "fuzz/regressions"] {
        let mut inputs: Vec<_> = std::fs::read_dir(repo().join(folder))
            .expect("folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.file_name().is_some_and(|n| n != ".keep"))
            .collect();
        inputs.sort();
        for input in inputs {
            let bytes = std::fs::read(&input).expect("read");
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            count += 1;
            if let Err(err) = stackgen::pipeline::evaluate_text(project.path(), text) {
                let code = err.downcast_ref::<Error>().map(Error::exit_code);
                assert_eq!(code, Some(2), "{}: {err:#}", input.display());
            }
        }
    }
    assert!(count >= 40, "the seed corpus is in place ({count} inputs)");
    // And the shipped stack itself plans cleanly.
    let shipped = std::fs::read_to_string(repo().join("fuzz/seeds/shipped.toml")).expect("seed");
    assert!(stackgen::pipeline::evaluate_text(project.path(), &shipped).is_ok());
}
