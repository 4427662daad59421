//! The checked model: what the rest of stackgen reads. Built only by validation, so every
//! value in it has been checked; every path in it is inside the project and exists.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::stack::kind::{Kind, Role};
use crate::stack::target::TargetKind;

/// A validated stack. Every path in it is inside the project and exists.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Absolute project root: the folder holding `stack.toml`.
    pub root: PathBuf,
    pub name: String,
    pub base_image: String,
    pub bind_address: String,
    pub wait_timeout: u32,
    pub target: TargetConfig,
    /// Secret name -> generated length.
    pub secrets: BTreeMap<String, u32>,
    /// Sorted by name, so everything derived from it is deterministic.
    pub services: BTreeMap<String, Service>,
    /// Every kind a service names, loaded once.
    pub kinds: BTreeMap<String, Kind>,
}

/// Which engine `up` deploys to by default, and the registry a swarm pulls from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    pub default: TargetKind,
    /// `host[:port]` of the registry every swarm node pulls from; `None`: no swarm file.
    pub registry: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub kind: String,
    pub source: ImageSource,
    pub port: u16,
    /// Host port; `Some(0)` asks the engine for an ephemeral one.
    pub publish: Option<u16>,
    /// Host names the edge routes to this service on its `publish` port; empty: every
    /// request on that port the other routes do not take.
    pub hosts: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub depends_on: Vec<String>,
    pub secrets: Vec<String>,
    /// Project-relative folder -> container path, mounted read-only.
    pub mounts: BTreeMap<String, String>,
    /// Container path of the service's named data volume.
    pub data: Option<String>,
    pub healthcheck: Healthcheck,
    pub security: Security,
    /// HTTPS at the edge for this app's route.
    pub tls: Option<Tls>,
    /// How long an old container keeps its connections after a start-first switch.
    pub drain_timeout: std::time::Duration,
    /// Swarm: tasks to run (compose runs one).
    pub replicas: u32,
    /// Swarm: placement constraints, e.g. `node.labels.stackgen.db == true`.
    pub placement: Vec<String>,
    /// Whether another service depends on this one.
    pub depended_on: bool,
}

/// HTTPS at the edge for one app: its host port and where its certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub publish: u16,
    /// Project-relative PEM files (certificate, key); `None`: stackgen's local CA.
    pub files: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum ImageSource {
    /// Built locally; paths are project-relative with `/` separators.
    Build {
        context: String,
        dockerfile: String,
        args: BTreeMap<String, String>,
    },
    /// Used as is.
    Image(String),
}

/// The hardened defaults and what `stack.toml` explicitly relaxes of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Security {
    /// Read-only root filesystem (default true).
    pub read_only: bool,
    /// Capabilities added back after dropping all, without the `CAP_` prefix.
    pub cap_add: Vec<String>,
    /// User to run as, replacing the kind's non-root default.
    pub user: Option<String>,
}

impl Security {
    /// Each relaxation as `key=value`, for the compose label and `check`.
    pub fn relaxations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.read_only {
            out.push("read_only=false".to_string());
        }
        for cap in &self.cap_add {
            out.push(format!("cap_add={cap}"));
        }
        if let Some(user) = &self.user {
            out.push(format!("user={user}"));
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Healthcheck {
    /// HTTP path a kind's default check probes (e.g. `python-web`).
    pub path: String,
    /// Explicit command, replacing the kind's default.
    pub command: Option<Vec<String>>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

impl Stack {
    /// The edge proxy, when the stack has one: it publishes every app's host port.
    pub fn edge(&self) -> Option<&Service> {
        self.services.values().find(|s| self.role(s) == Role::Edge)
    }

    pub fn role(&self, svc: &Service) -> Role {
        self.kinds
            .get(&svc.kind)
            .map(|k| k.role)
            .unwrap_or_default()
    }

    /// Whether the edge routes to `svc`: the stack has an edge and `svc` publishes a port.
    pub fn routed(&self, svc: &Service) -> bool {
        svc.publish.is_some() && self.role(svc) != Role::Edge && self.edge().is_some()
    }

    /// Whether `up` may replace `svc` start-first on one host: a new container beside the
    /// old one, then the old one drained. Not for data (two postgres on one volume), the
    /// edge (it holds the host ports), or a service publishing a host port itself.
    pub fn start_first(&self, svc: &Service) -> bool {
        svc.data.is_none()
            && self.role(svc) == Role::App
            && (svc.publish.is_none() || self.routed(svc))
    }

    /// The targets this stack renders a file for, in a fixed order.
    pub fn targets(&self) -> Vec<TargetKind> {
        self.target.rendered()
    }

    /// The target a command acts on: `--target`, else stack.toml's `[target] default`.
    pub fn target_for(&self, flag: Option<TargetKind>) -> TargetKind {
        flag.unwrap_or(self.target.default)
    }
}

impl TargetConfig {
    /// The targets rendered with this config, in a fixed order. Validation needs them
    /// before there is a `Stack`: a kind must have a partial for each.
    pub(super) fn rendered(&self) -> Vec<TargetKind> {
        TargetKind::ALL
            .into_iter()
            .filter(|t| t.rendered_with(self.registry.as_deref()))
            .collect()
    }
}
