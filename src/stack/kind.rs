//! A kind of service is one folder, `templates/kinds/<kind>/`: one partial per deploy
//! target (`compose.yml.j2`, `swarm.yml.j2`), and optionally `kind.toml`, which says what
//! stackgen must know of the kind beyond its templates: its role, and for a kind that
//! holds data, how it is backed up, restored and re-keyed (`[backup]`, `[rotate]`), so
//! the next database kind plugs in without new code.
//!
//! Loading a kind checks that it has a partial for every target the stack renders, so a
//! kind that would fail `render` fails `load` instead, naming the missing file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Problem;
use crate::stack::syntax::is_dns_label;
use crate::stack::target::TargetKind;
use crate::state::layout;

/// A kind, as the stack uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub name: String,
    pub role: Role,
    pub backup: Option<Backup>,
    pub rotate: Option<Rotate>,
}

/// How a kind's data is dumped and loaded. Both scripts run under `/bin/sh` in a one-shot
/// container of the service (its image, networks, secrets and environment, plus
/// `STACKGEN_SERVICE`, the service's host name): `dump` writes a whole backup to stdout,
/// `restore` reads one on stdin and replaces the data with it, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// The dump's file extension, before `.gz`: `sql`.
    pub extension: String,
    /// A line among the last three of a complete dump: a cut-off one lacks it.
    pub complete: String,
    pub dump: String,
    pub restore: String,
}

/// How a kind sets a new password; each script runs under `/bin/sh` and reads the new
/// password as the first line of stdin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// In the service's running container.
    pub script: String,
    /// In a one-shot container of the service (its data volume mounted) while no
    /// container of it runs: how the password is reset when the server is down.
    pub offline: Option<String>,
}

/// What a kind is for, where the policy or a deploy must treat it differently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A service like any other.
    #[default]
    App,
    /// Holds the stack's data: never published, only on internal networks.
    Database,
    /// The edge proxy: publishes the apps' host ports and routes to them, so that an app
    /// can be replaced start-first. On a swarm it runs on every node.
    Edge,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    #[serde(default)]
    role: Role,
    backup: Option<Backup>,
    rotate: Option<Rotate>,
}

/// The outcome of loading one kind: the kind, or what is wrong with it. Problems about
/// the kind's own files carry their own location; `missing` are said at each service
/// that names the kind.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub kind: Option<Kind>,
    /// (message, hint) to report at the `kind` key of every service using it.
    pub missing: Vec<(String, String)>,
    /// Problems in the kind's folder itself (its `kind.toml`), reported once.
    pub file_problems: Vec<Problem>,
}

/// Loads kind `name` from `root`'s templates, checking it has a partial for each target.
pub fn load(root: &Path, name: &str, targets: &[TargetKind]) -> Loaded {
    let dir = root.join(layout::kind_dir(name));
    if !is_dns_label(name) || !dir.is_dir() {
        return Loaded {
            kind: None,
            missing: vec![(
                format!("unknown kind `{name}`"),
                format!(
                    "a kind is a folder `{}/<kind>/` with one partial per target; known: {}",
                    layout::KINDS_DIR,
                    known_kinds(root).join(", ")
                ),
            )],
            file_problems: Vec::new(),
        };
    }
    let (raw, file_problems) = read_kind_file(root, name);
    let missing: Vec<(String, String)> = targets
        .iter()
        .filter(|t| !dir.join(t.spec().partial).is_file())
        .map(|t| {
            let what = match std::fs::metadata(dir.join(t.spec().partial)) {
                Ok(meta) => format!("is {}, not a regular file", super::file::describe(meta.file_type())),
                Err(_) => "is missing".to_string(),
            };
            (
                format!(
                    "kind `{name}` has no partial for the `{t}` target: `{}/{}` {what}",
                    layout::kind_dir(name),
                    t.spec().partial
                ),
                format!(
                    "a kind needs one partial per target the stack renders ({}); start from another kind's",
                    targets
                        .iter()
                        .map(|t| t.spec().partial)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
        .collect();
    Loaded {
        kind: (missing.is_empty() && file_problems.is_empty()).then(|| Kind {
            name: name.to_string(),
            role: raw.role,
            backup: raw.backup,
            rotate: raw.rotate,
        }),
        missing,
        file_problems,
    }
}

/// `kind.toml`, when the kind has one; a kind without it is an `app`.
fn read_kind_file(root: &Path, name: &str) -> (RawKind, Vec<Problem>) {
    let rel = format!("{}/{}", layout::kind_dir(name), layout::KIND_FILE);
    let path = root.join(&rel);
    if path.symlink_metadata().is_err() {
        return (RawKind::default(), vec![]);
    }
    let text = match super::file::read(&path, &rel) {
        Ok(text) => text,
        Err(problem) => return (RawKind::default(), vec![problem]),
    };
    match toml::from_str::<RawKind>(&text) {
        Ok(raw) => (raw, Vec::new()),
        Err(e) => {
            let location = match e.span() {
                Some(span) => {
                    let (line, col) = super::syntax::line_col(&text, span.start);
                    format!("{rel}:{line}:{col}")
                }
                None => rel.clone(),
            };
            let problem = Problem::new(location, e.message().trim_end().to_string()).hint(
                "`kind.toml` holds `role` (`app`, the default, `database` or `edge`), and optionally `[backup]` (extension, complete, dump, restore) and `[rotate]` (script, offline)",
            );
            (RawKind::default(), vec![problem])
        }
    }
}

/// The kinds in `templates/kinds/`, sorted, for "known: ..." hints.
pub fn known_kinds(root: &Path) -> Vec<String> {
    let mut kinds: Vec<String> = std::fs::read_dir(root.join(layout::KINDS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    kinds.sort();
    if kinds.is_empty() {
        kinds.push(format!(
            "(none: `{}` is empty or missing)",
            layout::KINDS_DIR
        ));
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::test_support::project as folder;

    #[test]
    fn a_kind_needs_a_partial_for_every_rendered_target() {
        let dir = folder(&[("templates/kinds/web/compose.yml.j2", "")]);
        let compose_only = load(dir.path(), "web", &[TargetKind::Compose]);
        assert_eq!(
            compose_only.kind,
            Some(Kind {
                name: "web".into(),
                role: Role::App,
                backup: None,
                rotate: None,
            })
        );
        let both = load(dir.path(), "web", &TargetKind::ALL);
        assert_eq!(both.kind, None);
        assert_eq!(
            both.missing[0].0,
            "kind `web` has no partial for the `swarm` target: `templates/kinds/web/swarm.yml.j2` is missing"
        );
    }

    #[test]
    fn the_role_comes_from_kind_toml_and_bad_keys_are_located() {
        let dir = folder(&[
            ("templates/kinds/db/compose.yml.j2", ""),
            ("templates/kinds/db/kind.toml", "role = \"database\"\n"),
            ("templates/kinds/bad/compose.yml.j2", ""),
            ("templates/kinds/bad/kind.toml", "\nrole = \"cache\"\n"),
        ]);
        let db = load(dir.path(), "db", &[TargetKind::Compose]);
        assert_eq!(db.kind.map(|k| k.role), Some(Role::Database));
        let bad = load(dir.path(), "bad", &[TargetKind::Compose]);
        assert_eq!(bad.kind, None);
        assert!(
            bad.file_problems[0]
                .to_string()
                .starts_with("templates/kinds/bad/kind.toml:2:8: unknown variant `cache`"),
            "{}",
            bad.file_problems[0]
        );
    }

    #[test]
    fn unknown_kinds_list_the_known_ones() {
        let dir = folder(&[("templates/kinds/web/compose.yml.j2", "")]);
        let got = load(dir.path(), "wbe", &[TargetKind::Compose]);
        assert_eq!(got.missing[0].0, "unknown kind `wbe`");
        assert!(
            got.missing[0].1.ends_with("known: web"),
            "{}",
            got.missing[0].1
        );
    }
}
