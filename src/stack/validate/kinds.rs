//! The kinds the services name: each loaded once, however many services use it, so a
//! problem in a kind's own files is reported once, while a kind that is missing (or
//! lacks a target's partial) is reported at every service naming it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Problem;
use crate::stack::kind::{self, Kind, Role};
use crate::stack::target::TargetKind;

use super::location::ServiceAt;

/// Every kind loaded so far, by name.
pub(super) struct Kinds<'a> {
    root: &'a Path,
    /// The targets the stack renders: a kind needs a partial for each.
    targets: Vec<TargetKind>,
    loaded: BTreeMap<&'a str, kind::Loaded>,
}

impl<'a> Kinds<'a> {
    pub(super) fn new(root: &'a Path, targets: Vec<TargetKind>) -> Self {
        Kinds {
            root,
            targets,
            loaded: BTreeMap::new(),
        }
    }

    /// The service's `kind`: loaded on first use (its file problems reported then), and
    /// what it misses reported at the service's `kind` key.
    pub(super) fn check(&mut self, svc: ServiceAt<'_>, name: &'a str, problems: &mut Vec<Problem>) {
        let loaded = self.loaded.entry(name).or_insert_with(|| {
            let loaded = kind::load(self.root, name, &self.targets);
            problems.extend(loaded.file_problems.iter().cloned());
            loaded
        });
        for (message, hint) in &loaded.missing {
            problems.push(Problem::new(svc.key("kind"), message).hint(hint));
        }
    }

    /// The role of a kind loaded so far (`None`: unknown, or its files have problems).
    pub(super) fn role(&self, name: &str) -> Option<Role> {
        self.loaded.get(name)?.kind.as_ref().map(|k| k.role)
    }

    /// The kinds that loaded without a problem, by name.
    pub(super) fn into_checked(self) -> BTreeMap<String, Kind> {
        self.loaded
            .into_values()
            .filter_map(|l| l.kind)
            .map(|k| (k.name.clone(), k))
            .collect()
    }
}
