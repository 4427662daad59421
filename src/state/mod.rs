//! Files stackgen writes on disk, written atomically: a temporary file in the same folder,
//! synced, then renamed over the target, so an interrupt at any point leaves the old file
//! or the new one, never a partial one. Also the generations (`.stackgen/generations/`):
//! every successful deploy's compose file and lock, which `rollback` brings back and
//! `diff` compares with; and the deploy lock.

pub mod layout;

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

/// Project-relative folder holding the generations (git-ignored).
pub const GENERATIONS_DIR: &str = ".stackgen/generations";
const CURRENT_FILE: &str = "current";
const DEPLOY_LOCK: &str = ".stackgen/deploy.lock";

/// One successful deploy, kept so it can be brought back: like a Nix profile generation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Generation {
    pub number: u32,
    /// UTC, RFC 3339.
    pub time: String,
    /// `git rev-parse HEAD` of the project when there is one, with `-dirty` when the
    /// working tree had changes.
    pub git_revision: Option<String>,
    /// Service -> image, for `history` and `gc`.
    pub images: std::collections::BTreeMap<String, String>,
    #[serde(skip)]
    pub current: bool,
}

impl Generation {
    pub fn dir(&self, root: &Path) -> std::path::PathBuf {
        root.join(GENERATIONS_DIR).join(self.number.to_string())
    }

    pub fn compose_file(&self, root: &Path) -> std::path::PathBuf {
        self.dir(root).join("docker-compose.yml")
    }

    pub fn rendered(&self, root: &Path) -> Result<crate::render::Rendered> {
        let dir = self.dir(root);
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .with_context(|| format!("cannot read `{}`", dir.join(name).display()))
        };
        Ok(crate::render::Rendered {
            compose: read("docker-compose.yml")?,
            lock: read("stack.lock")?,
            swarm: read("stack.yml").ok(),
        })
    }
}

/// Every recorded generation, oldest first, the current one marked.
pub fn generations(root: &Path) -> Result<Vec<Generation>> {
    let dir = root.join(GENERATIONS_DIR);
    let current = current_number(root);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        // Only complete generations: a folder named by its number (temp folders are not).
        let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let meta = entry.path().join("generation.json");
        let Ok(text) = std::fs::read_to_string(&meta) else {
            continue;
        };
        let mut g: Generation = serde_json::from_str(&text)
            .with_context(|| format!("cannot parse `{}`", meta.display()))?;
        g.number = number;
        g.current = Some(number) == current;
        out.push(g);
    }
    out.sort_by_key(|g| g.number);
    Ok(out)
}

fn current_number(root: &Path) -> Option<u32> {
    std::fs::read_to_string(root.join(GENERATIONS_DIR).join(CURRENT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The generation running now, according to the last `up` or `rollback` that succeeded.
pub fn current(root: &Path) -> Result<Option<Generation>> {
    Ok(generations(root)?.into_iter().find(|g| g.current))
}

/// Makes generation `number` the current one.
pub fn set_current(root: &Path, number: u32) -> Result<()> {
    let path = root.join(GENERATIONS_DIR).join(CURRENT_FILE);
    write_if_changed(&path, format!("{number}\n").as_bytes(), 0o644)?;
    Ok(())
}

/// Records a successful deploy as the next generation and makes it current. The folder
/// is filled under a temporary name and renamed into place, so a generation is either
/// complete or absent.
pub fn record_generation(
    root: &Path,
    rendered: &crate::render::Rendered,
    images: std::collections::BTreeMap<String, String>,
) -> Result<Generation> {
    let dir = root.join(GENERATIONS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let number = generations(root)?.last().map_or(1, |g| g.number + 1);
    let generation = Generation {
        number,
        time: now_rfc3339(),
        git_revision: git_revision(root),
        images,
        current: true,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".new-")
        .tempdir_in(&dir)
        .with_context(|| format!("cannot create a folder in `{}`", dir.display()))?;
    let meta = serde_json::to_string_pretty(&generation)? + "\n";
    let mut files = vec![
        ("docker-compose.yml", rendered.compose.as_str()),
        ("stack.lock", rendered.lock.as_str()),
        ("generation.json", meta.as_str()),
    ];
    if let Some(swarm) = &rendered.swarm {
        files.push(("stack.yml", swarm.as_str()));
    }
    for (name, text) in files {
        write_if_changed(&tmp.path().join(name), text.as_bytes(), 0o644)?;
    }
    let target = dir.join(number.to_string());
    std::fs::rename(tmp.path(), &target)
        .with_context(|| format!("cannot create `{}`", target.display()))?;
    // The temp dir is now the generation; make sure its guard does not delete it.
    std::mem::forget(tmp);
    set_current(root, number)?;
    Ok(generation)
}

/// Deletes a generation's record (its images are `gc`'s business).
pub fn remove_generation(root: &Path, g: &Generation) -> Result<()> {
    let dir = g.dir(root);
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove `{}`", dir.display()))
}

fn git_revision(root: &Path) -> Option<String> {
    let out = duct::cmd!("git", "-C", root, "rev-parse", "HEAD")
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let rev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = duct::cmd!(
        "git",
        "-C",
        root,
        "status",
        "--porcelain",
        "--untracked-files=no"
    )
    .stdout_capture()
    .stderr_null()
    .unchecked()
    .run()
    .ok()
    .is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}

/// UTC now as RFC 3339, from the Unix clock (civil-from-days, no time crate needed).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The per-project deploy lock: an `flock` on `.stackgen/deploy.lock`, released by the
/// kernel when the holder exits, however it exits, so a killed stackgen never wedges
/// the next one. The holder writes its pid into the file for the waiter's message.
pub struct DeployLock {
    _file: std::fs::File,
}

impl DeployLock {
    /// Takes the lock, waiting up to `wait` for another holder; `on_wait` is told the
    /// holder's pid once if it has to wait.
    pub fn acquire(
        root: &Path,
        wait: std::time::Duration,
        mut on_wait: impl FnMut(Option<u32>),
    ) -> Result<DeployLock, crate::error::Error> {
        let path = root.join(DEPLOY_LOCK);
        let io = |e: std::io::Error| {
            crate::error::Error::runtime(format!("cannot open `{}`: {e}", path.display()), None)
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let deadline = std::time::Instant::now() + wait;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    if std::time::Instant::now() >= deadline {
                        let who = holder.map_or("another stackgen".to_string(), |p| {
                            format!("another stackgen (pid {p})")
                        });
                        return Err(crate::error::Error::runtime(
                            format!("{who} is deploying this stack; gave up waiting after {}s", wait.as_secs()),
                            Some("wait for it to finish, or raise `--lock-timeout`; a killed holder releases the lock by itself".into()),
                        ));
                    }
                    if !told {
                        on_wait(holder);
                        told = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        use std::io::{Seek, Write};
        let _ = file.set_len(0);
        let _ = file.seek(std::io::SeekFrom::Start(0));
        let _ = writeln!(file, "{}", std::process::id());
        let _ = file.sync_all();
        Ok(DeployLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_are_numbered_and_the_current_one_marked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = |c: &str| crate::render::Rendered {
            compose: c.into(),
            lock: "{}".into(),
            swarm: None,
        };
        let g1 = record_generation(dir.path(), &r("one"), Default::default()).expect("g1");
        let g2 = record_generation(dir.path(), &r("two"), Default::default()).expect("g2");
        assert_eq!((g1.number, g2.number), (1, 2));
        let all = generations(dir.path()).expect("list");
        assert_eq!(
            all.iter()
                .map(|g| (g.number, g.current))
                .collect::<Vec<_>>(),
            [(1, false), (2, true)]
        );
        set_current(dir.path(), 1).expect("set");
        let cur = current(dir.path()).expect("current").expect("some");
        assert_eq!(cur.number, 1);
        assert_eq!(cur.rendered(dir.path()).expect("read").compose, "one");
        // A half-written generation (a temp folder) is ignored.
        std::fs::create_dir_all(dir.path().join(GENERATIONS_DIR).join(".new-x")).expect("mkdir");
        assert_eq!(generations(dir.path()).expect("list").len(), 2);
        assert!(now_rfc3339().ends_with('Z') && now_rfc3339().len() == 20);
    }

    #[test]
    fn the_deploy_lock_excludes_and_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held =
            DeployLock::acquire(dir.path(), std::time::Duration::ZERO, |_| {}).expect("first");
        let mut waited_for = None;
        let err = DeployLock::acquire(dir.path(), std::time::Duration::from_millis(300), |pid| {
            waited_for = pid
        })
        .err()
        .expect("second must fail");
        assert_eq!(waited_for, Some(std::process::id()));
        assert!(
            err.to_string().starts_with(&format!(
                "another stackgen (pid {}) is deploying",
                std::process::id()
            )),
            "{err}"
        );
        drop(held);
        assert!(DeployLock::acquire(dir.path(), std::time::Duration::ZERO, |_| {}).is_ok());
    }

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
