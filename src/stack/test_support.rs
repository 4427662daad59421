//! Test helpers shared by the unit tests of `stack/`: a throwaway project folder and a
//! stack file run through `Stack::parse` with its problems as text.

use crate::error::Error;
use crate::stack::model::Stack;

/// A throwaway project folder with the given files.
pub(super) fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }
    dir
}

/// One kind and two build folders, enough for the tests' stacks.
pub(super) fn minimal() -> Vec<(&'static str, &'static str)> {
    vec![
        ("templates/kinds/python-web/compose.yml.j2", ""),
        ("apps/a/Dockerfile", "FROM x\n"),
        ("apps/b/Dockerfile", "FROM x\n"),
    ]
}

/// A valid `[stack]` table; the tests add services after it.
pub(super) const HEAD: &str = "[stack]\nname = \"demo\"\nbase_image = \"debian:bookworm-slim\"\n";

/// Every problem `Stack::parse` finds in `stack` (in a `minimal` project), as printed.
pub(super) fn problems(stack: &str) -> Vec<String> {
    let dir = project(&minimal());
    match Stack::parse(dir.path(), stack) {
        Ok(_) => vec![],
        Err(Error::Input(ps)) => ps.iter().map(|p| p.to_string()).collect(),
        Err(e) => vec![format!("unexpected: {e}")],
    }
}
