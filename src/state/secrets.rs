//! Secrets: random values generated on first deploy into `.stackgen/secrets/`, a
//! git-ignored folder only the deploying user can enter (0700). They reach containers only
//! as compose file secrets, i.e. read-only bind mounts under `/run/secrets/`.
//!
//! Why the files themselves are 0644: compose file secrets keep the host file's owner and
//! mode (compose #9648), and the containers run as their own non-root users (postgres,
//! uid 10001), so a 0600 file owned by the deploying user would be unreadable inside. The
//! 0700 folder is what keeps other host users out.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::state::{atomic, layout};

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Creates every declared secret (name -> length) that does not exist yet; never changes
/// an existing one (the database keeps the password it was initialised with). Returns the
/// names created.
pub fn ensure(root: &Path, secrets: &BTreeMap<String, u32>) -> Result<Vec<String>> {
    private_dir(root)?;
    let mut created = Vec::new();
    for (name, length) in secrets {
        let path = layout::secret_file(root, name);
        if path.exists() {
            continue;
        }
        let value = random_alphanumeric(*length as usize)?;
        atomic::write_if_changed(&path, value.as_bytes(), 0o644)?;
        created.push(name.clone());
    }
    Ok(created)
}

/// The secrets folder, created 0700 (set, not asked for: the umask does not apply).
fn private_dir(root: &Path) -> Result<()> {
    let dir = root.join(layout::SECRETS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    std::fs::set_permissions(&dir, atomic::permissions(0o700))
        .with_context(|| format!("cannot restrict `{}` to its owner", dir.display()))
}

/// The value of secret `name`, when its file is there.
pub fn read(root: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(layout::secret_file(root, name)).ok()
}

/// Writes `value` as secret `name`, replacing the file atomically (0644, as `ensure`).
pub fn write(root: &Path, name: &str, value: &str) -> Result<()> {
    private_dir(root)?;
    atomic::write_if_changed(&layout::secret_file(root, name), value.as_bytes(), 0o644)?;
    Ok(())
}

/// Alphanumeric so the value needs no escaping anywhere (pgpass, URLs, shells). Rejection
/// sampling keeps every character equally likely: 62 symbols, about 5.95 bits each.
pub fn random_alphanumeric(length: usize) -> Result<String> {
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 64];
    while out.len() < length {
        getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
        for b in buf {
            // 248 = 4 * 62: bytes above it would bias the first symbols.
            if b < 248 && out.len() < length {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_are_alphanumeric_and_differ() {
        let a = random_alphanumeric(32).expect("random");
        let b = random_alphanumeric(32).expect("random");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn existing_secrets_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let declared = BTreeMap::from([("pw".to_string(), 20)]);
        assert_eq!(ensure(dir.path(), &declared).expect("ensure"), ["pw"]);
        let first = std::fs::read_to_string(layout::secret_file(dir.path(), "pw")).expect("read");
        assert_eq!(first.len(), 20);
        assert!(ensure(dir.path(), &declared).expect("ensure").is_empty());
        let again = std::fs::read_to_string(layout::secret_file(dir.path(), "pw")).expect("read");
        assert_eq!(first, again);
    }
}
