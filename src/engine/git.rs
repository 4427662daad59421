//! The git revision of the project, recorded with each generation.

use std::path::Path;

/// `git rev-parse HEAD` of the project, with `-dirty` when tracked files have changes;
/// `None` outside a git work tree or without git.
pub fn revision(root: &Path) -> Option<String> {
    let out = super::traced(duct::cmd!("git", "-C", root, "rev-parse", "HEAD"))
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let rev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = super::traced(duct::cmd!(
        "git",
        "-C",
        root,
        "status",
        "--porcelain",
        "--untracked-files=no"
    ))
    .stdout_capture()
    .stderr_null()
    .unchecked()
    .run()
    .ok()
    .is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_revision_outside_a_work_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(revision(dir.path()), None);
    }
}
