//! Test helpers shared by the unit tests of `stack/`: a throwaway project folder and the
//! start of a stack file. Imports nothing, so any file's tests can use it.

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
