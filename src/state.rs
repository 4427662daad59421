//! Files stackgen writes on disk, written atomically: a temporary file in the same folder,
//! synced, then renamed over the target, so an interrupt at any point leaves the old file
//! or the new one, never a partial one. Also the snapshot of the last successful deploy
//! (`.stackgen/deployed/`), which lets `diff` name what changed since.

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
        .permissions(permissions(mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace `{}`", path.display()))?;
    Ok(true)
}

fn permissions(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

/// Project-relative folder holding the compose file and lock of the last successful `up`.
pub const DEPLOYED_DIR: &str = ".stackgen/deployed";

/// Records what was just deployed.
pub fn save_deployed(root: &Path, rendered: &crate::render::Rendered) -> Result<()> {
    let dir = root.join(DEPLOYED_DIR);
    write_if_changed(
        &dir.join("docker-compose.yml"),
        rendered.compose.as_bytes(),
        0o644,
    )?;
    write_if_changed(&dir.join("stack.lock"), rendered.lock.as_bytes(), 0o644)?;
    Ok(())
}

/// The last successful deploy's files, when both are there.
pub fn load_deployed(root: &Path) -> Option<crate::render::Rendered> {
    let dir = root.join(DEPLOYED_DIR);
    Some(crate::render::Rendered {
        compose: std::fs::read_to_string(dir.join("docker-compose.yml")).ok()?,
        lock: std::fs::read_to_string(dir.join("stack.lock")).ok()?,
    })
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
}
