//! Atomic writes: a temporary file in the same folder, synced, then renamed over the
//! target, so an interrupt at any point leaves the old file or the new one, never a
//! partial one. The mode is set on the file itself, so the umask never changes it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `contents` to `path` atomically with the given Unix mode. Leaves the file (and
/// its mtime) alone when it already holds exactly these bytes; returns whether it wrote.
pub fn write_if_changed(path: &Path, contents: &[u8], mode: u32) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    let dir = path
        .parent()
        .with_context(|| format!("`{}` has no parent folder", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".stackgen-")
        .permissions(permissions(mode & 0o600))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    // Created owner-only, then set with fchmod, which (unlike the mode asked for at
    // creation) the umask does not touch: a secret must stay readable by the container
    // users under `umask 077` too.
    tmp.as_file()
        .set_permissions(permissions(mode))
        .and_then(|()| tmp.write_all(contents))
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace `{}`", path.display()))?;
    Ok(true)
}

/// Writes each project-relative file below `root` that changed (mode 0644); returns the
/// paths it wrote, in the order given.
pub fn write_changed<'a>(root: &Path, files: &[(&'a str, &str)]) -> Result<Vec<&'a str>> {
    let mut written = Vec::new();
    for (rel, text) in files {
        if write_if_changed(&root.join(rel), text.as_bytes(), 0o644)? {
            written.push(*rel);
        }
    }
    Ok(written)
}

/// Project-relative files below `root` whose bytes differ from `files` (or are missing).
pub fn stale<'a>(root: &Path, files: &[(&'a str, &str)]) -> Vec<&'a str> {
    files
        .iter()
        .filter(|(rel, text)| {
            std::fs::read(root.join(rel)).ok().as_deref() != Some(text.as_bytes())
        })
        .map(|(rel, _)| *rel)
        .collect()
}

pub fn permissions(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_and_keeps_identical_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sub/f.txt");
        assert!(write_if_changed(&p, b"a", 0o644).expect("write"));
        assert!(!write_if_changed(&p, b"a", 0o644).expect("write"));
        assert!(write_if_changed(&p, b"b", 0o644).expect("write"));
        assert_eq!(std::fs::read(&p).expect("read"), b"b");
        let leftovers = std::fs::read_dir(p.parent().expect("parent"))
            .expect("ls")
            .count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
    }

    #[test]
    fn only_changed_files_are_written_and_stale_ones_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = [("a.txt", "1"), ("b/c.txt", "2")];
        assert_eq!(stale(dir.path(), &files), ["a.txt", "b/c.txt"]);
        assert_eq!(
            write_changed(dir.path(), &files).expect("write"),
            ["a.txt", "b/c.txt"]
        );
        assert!(stale(dir.path(), &files).is_empty());
        let changed = [("a.txt", "1"), ("b/c.txt", "3")];
        assert_eq!(
            write_changed(dir.path(), &changed).expect("write"),
            ["b/c.txt"]
        );
    }
}
