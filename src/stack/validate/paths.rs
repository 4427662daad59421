//! Project paths: every path `stack.toml` names on the host is inside the project and
//! exists; and the container paths a service mounts its folders and its data volume at.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use crate::error::Problem;

use super::location::ServiceAt;

/// Checks that `rel` is a relative path inside the project that exists (a folder when
/// `dir`), with no `..` and no symlink leading out; returns it with `/` separators.
pub(super) fn project_path(
    root: &Path,
    rel: &str,
    dir: bool,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let path = Path::new(rel);
    let escapes = path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes || rel.is_empty() {
        problems.push(
            Problem::new(
                location,
                format!("`{rel}` is not a path inside the project"),
            )
            .hint("use a relative path below the folder holding stack.toml, without `..`"),
        );
        return None;
    }
    let full = root.join(path);
    let exists = if dir { full.is_dir() } else { full.is_file() };
    if !exists {
        let what = if dir { "folder" } else { "file" };
        problems.push(Problem::new(
            location,
            format!("{what} `{rel}` does not exist"),
        ));
        return None;
    }
    // A symlink inside the project may still point out of it.
    match (full.canonicalize(), root.canonicalize()) {
        (Ok(real), Ok(real_root)) if real.starts_with(&real_root) => {}
        _ => {
            problems.push(
                Problem::new(location, format!("`{rel}` leads outside the project"))
                    .hint("a symlink on the way points out of the project; copy the files in"),
            );
            return None;
        }
    }
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    Some(parts.join("/"))
}

/// A file in a project-relative folder as `project_path` returns them.
pub(super) fn join_rel(dir: &str, file: &str) -> String {
    format!("{dir}/{file}")
}

/// The checked `mounts`: project folder (normalized) -> absolute container path. A mount
/// whose folder is not in the project is left out; one with a relative target is kept
/// (and reported), as the folder itself is fine.
pub(super) fn mounts(
    root: &Path,
    svc: ServiceAt<'_>,
    mounts: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (source, target) in mounts {
        if let Some(source) = project_path(root, source, true, &svc.key("mounts"), problems) {
            if !target.starts_with('/') {
                problems.push(Problem::new(
                    svc.key("mounts"),
                    format!("mount target `{target}` must be an absolute container path"),
                ));
            }
            out.insert(source, target.clone());
        }
    }
    out
}

/// The container path of the service's data volume, when it has one.
pub(super) fn data(svc: ServiceAt<'_>, data: Option<&str>, problems: &mut Vec<Problem>) {
    if let Some(data) = data
        && !data.starts_with('/')
    {
        problems.push(Problem::new(
            svc.key("data"),
            format!("`{data}` must be an absolute container path"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::stack::model::Stack;
    use crate::stack::test_support::{HEAD, minimal, project};

    #[cfg(unix)]
    #[test]
    fn symlink_out_of_the_project_is_rejected() {
        let dir = project(&minimal());
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("Dockerfile"), "FROM x\n").expect("write");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("apps/link")).expect("symlink");
        let text =
            format!("{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/link\"\nport = 1\n");
        let err = Stack::parse(dir.path(), &text).expect_err("must fail");
        assert!(
            err.to_string().contains("leads outside the project"),
            "{err}"
        );
    }
}
