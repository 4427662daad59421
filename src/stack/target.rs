//! The deploy targets a stack can render for, as data: each one's name in `stack.toml` and
//! on the command line, its main template, the file it renders, and the file name of its
//! partial in every kind's folder. What a target *does* lives in `crate::targets`.

use crate::state::layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKind {
    /// One host: `docker compose up --wait` on `generated/docker-compose.yml`.
    Compose,
    /// Docker Swarm: `docker stack deploy` of `generated/stack.yml`.
    Swarm,
}

/// What stackgen needs to know of a target to render and validate for it.
#[derive(Debug)]
pub struct TargetSpec {
    pub name: &'static str,
    /// The main template, relative to `templates/`.
    pub template: &'static str,
    /// The rendered file, project-relative.
    pub file: &'static str,
    /// The file name of a kind's partial for this target, in `templates/kinds/<kind>/`.
    pub partial: &'static str,
    /// Rendered only when `[target] registry` is set: every node pulls from it.
    pub needs_registry: bool,
}

const COMPOSE: TargetSpec = TargetSpec {
    name: "compose",
    template: "docker-compose.yml.j2",
    file: layout::COMPOSE_FILE,
    partial: "compose.yml.j2",
    needs_registry: false,
};

const SWARM: TargetSpec = TargetSpec {
    name: "swarm",
    template: "swarm/stack.yml.j2",
    file: layout::SWARM_FILE,
    partial: "swarm.yml.j2",
    needs_registry: true,
};

impl TargetKind {
    pub const ALL: [TargetKind; 2] = [TargetKind::Compose, TargetKind::Swarm];
    /// The names `--target` and `[target] default` accept.
    pub const NAMES: [&'static str; 2] = [COMPOSE.name, SWARM.name];

    pub fn spec(self) -> &'static TargetSpec {
        match self {
            TargetKind::Compose => &COMPOSE,
            TargetKind::Swarm => &SWARM,
        }
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn from_name(name: &str) -> Option<TargetKind> {
        TargetKind::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether a stack with (or without) a registry renders this target's file.
    pub fn rendered_with(self, registry: Option<&str>) -> bool {
        !self.spec().needs_registry || registry.is_some()
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_files_differ() {
        for t in TargetKind::ALL {
            assert_eq!(TargetKind::from_name(t.name()), Some(t));
        }
        assert_eq!(TargetKind::from_name("kubernetes"), None);
        assert_ne!(
            TargetKind::Compose.spec().file,
            TargetKind::Swarm.spec().file
        );
        assert!(TargetKind::Compose.rendered_with(None));
        assert!(!TargetKind::Swarm.rendered_with(None));
        assert!(TargetKind::Swarm.rendered_with(Some("127.0.0.1:5000")));
    }
}
