//! What a swarm mounts from the project instead of a host path: every file of a
//! service's `mounts` becomes a swarm config, so a task finds it on whichever node it
//! runs (the database's `db/init` included). Swarm configs are immutable, so each one's
//! name carries the sha256 of its content: a changed file is a new config, and the
//! service is updated to it.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::stack::{Service, Stack};

/// One file of a mount as the swarm file declares and mounts it.
#[derive(Debug, Serialize)]
pub struct ConfigCtx {
    /// The key under the stack file's `configs:`.
    pub key: String,
    /// The config's name in the swarm: `<stack>_<key>_<content hash>`.
    pub name: String,
    /// The file, relative to `generated/`.
    pub file: String,
    /// Where the task sees it.
    pub target: String,
}

/// The configs of `svc`'s mounts, files in name order; an unreadable one is an error
/// that names it.
pub fn of(stack: &Stack, svc: &Service) -> Result<Vec<ConfigCtx>, Error> {
    let mut out = Vec::new();
    for (source, target) in &svc.mounts {
        let root = stack.root.join(source);
        let files: Vec<(String, std::path::PathBuf)> = if root.is_file() {
            vec![(String::new(), root.clone())]
        } else {
            walkdir::WalkDir::new(&root)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| {
                    let rel = e.path().strip_prefix(&root).unwrap_or(e.path());
                    (rel.to_string_lossy().into_owned(), e.path().to_path_buf())
                })
                .collect()
        };
        for (rel, path) in files {
            out.push(config(stack, svc, source, target, &rel, &path)?);
        }
    }
    Ok(out)
}

fn config(
    stack: &Stack,
    svc: &Service,
    source: &str,
    target: &str,
    rel: &str,
    path: &Path,
) -> Result<ConfigCtx, Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::runtime(
            format!(
                "cannot read `{}` (a mount of `{}`): {e}",
                path.display(),
                svc.name
            ),
            Some("swarm configs are made from the mounted files; check they are readable".into()),
        )
    })?;
    let digest = crate::hash::hex(&Sha256::digest(&bytes));
    let tail = if rel.is_empty() {
        source.rsplit('/').next().unwrap_or(source)
    } else {
        rel
    };
    let key = format!("{}_{}", svc.name, sanitize(tail));
    let join = |a: &str| {
        if rel.is_empty() {
            a.to_string()
        } else {
            format!("{a}/{rel}")
        }
    };
    Ok(ConfigCtx {
        name: format!("{}_{key}_{}", stack.name, &digest[..12]),
        key,
        file: join(&format!("../{source}")),
        target: join(target),
    })
}

/// A config key and name hold letters, digits, `-`, `_` and `.` only.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_name_keeps_only_what_swarm_accepts() {
        assert_eq!(sanitize("sub dir/01 schema.sql"), "sub-dir-01-schema.sql");
    }
}
