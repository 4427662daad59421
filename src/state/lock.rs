//! The deploy lock: one `flock` per compose project, in a host-wide folder
//! (`/tmp/stackgen-locks/<project>.lock`, or `$STACKGEN_LOCK_DIR`). It belongs to the
//! project, not the checkout, because what it protects is the project's containers in the
//! engine: two checkouts of one stack on one host must not deploy at once.
//!
//! The kernel releases an `flock` when its holder exits, however it exits, so a killed
//! stackgen never wedges the next one. The holder writes its pid into the file for the
//! waiter's message.

use std::io::{Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::state::{atomic, layout};

pub struct DeployLock {
    _file: std::fs::File,
}

impl DeployLock {
    /// Takes the lock of compose project `project`, waiting up to `wait_secs` seconds
    /// for another holder; `on_wait` is handed the notice to show, once, if it has to
    /// wait.
    pub fn acquire(
        project: &str,
        wait_secs: u64,
        on_wait: impl FnMut(&str),
    ) -> Result<DeployLock, Error> {
        DeployLock::acquire_at(&layout::lock_file(project), wait_secs, on_wait)
    }

    /// The same, for a lock file at `path`.
    pub fn acquire_at(
        path: &Path,
        wait_secs: u64,
        mut on_wait: impl FnMut(&str),
    ) -> Result<DeployLock, Error> {
        let wait = Duration::from_secs(wait_secs);
        let io = |e: std::io::Error| {
            Error::runtime(format!("cannot open `{}`: {e}", path.display()), None)
        };
        let mut file = open(path).map_err(io)?;
        let started = Instant::now();
        let deadline = started + wait;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    if Instant::now() >= deadline {
                        let who = holder.map_or("another stackgen".to_string(), |p| {
                            format!("another stackgen (pid {p})")
                        });
                        return Err(Error::runtime(
                            format!("{who} is deploying this stack; gave up waiting after {}s", wait.as_secs()),
                            Some("wait for it to finish, or raise `--lock-timeout`; a killed holder releases the lock by itself".into()),
                        ));
                    }
                    // The holder writes its pid just after it takes the lock: an empty
                    // file is a holder a moment old, so wait a little to name it.
                    if !told && (holder.is_some() || started.elapsed() >= NAME_HOLDER_WITHIN) {
                        on_wait(&match holder {
                            Some(pid) => format!(
                                "waiting up to {wait_secs}s for the deploy lock, held by stackgen pid {pid}"
                            ),
                            None => format!("waiting up to {wait_secs}s for the deploy lock"),
                        });
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        // A lock file another user created may be read-only for us: the lock still holds,
        // only the waiter's message lacks our pid.
        let _ = file.set_len(0);
        let _ = file.seek(std::io::SeekFrom::Start(0));
        let _ = writeln!(file, "{}", std::process::id());
        let _ = file.sync_all();
        Ok(DeployLock { _file: file })
    }
}

/// How long a waiter waits for the holder's pid before it says it waits without one.
const NAME_HOLDER_WITHIN: Duration = Duration::from_secs(1);

/// Opens (creating) the lock file. The folder is shared by every user on the host, like
/// `/tmp` (sticky, world-writable); the file is never followed through a symlink, so a
/// planted link cannot make us truncate someone else's file.
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if std::fs::symlink_metadata(&dir).is_err() {
        std::fs::create_dir_all(&dir)?;
        // Explicit, so the umask cannot make it private to the first user who deploys.
        let _ = std::fs::set_permissions(&dir, atomic::permissions(0o1777));
    }
    if !std::fs::symlink_metadata(&dir)?.is_dir() {
        return Err(std::io::Error::other(format!(
            "`{}` is not a folder",
            dir.display()
        )));
    }
    let mut options = std::fs::OpenOptions::new();
    options
        .read(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644);
    match options.clone().write(true).open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            options.create(false).open(path)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deploy_lock_excludes_and_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("locks/demo.lock");
        let held = DeployLock::acquire_at(&path, 0, |_| {}).expect("first");
        let mut notice = String::new();
        let err = DeployLock::acquire_at(&path, 1, |n| notice = n.to_string())
            .err()
            .expect("second must fail");
        assert_eq!(
            notice,
            format!(
                "waiting up to 1s for the deploy lock, held by stackgen pid {}",
                std::process::id()
            )
        );
        assert!(
            err.to_string().starts_with(&format!(
                "another stackgen (pid {}) is deploying",
                std::process::id()
            )),
            "{err}"
        );
        drop(held);
        assert!(DeployLock::acquire_at(&path, 0, |_| {}).is_ok());
    }

    #[test]
    fn a_symlink_in_place_of_the_lock_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").expect("write");
        let path = dir.path().join("demo.lock");
        std::os::unix::fs::symlink(&victim, &path).expect("symlink");
        assert!(DeployLock::acquire_at(&path, 0, |_| {}).is_err());
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep me");
    }
}
