//! The one trait every deploy target implements, and the types it answers in. Commands
//! hold a `dyn Target` and never ask which target it is: what differs between one host
//! (compose) and a swarm, or a later Kubernetes, lives behind these methods.

use std::fs::File;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::engine::docker::Streamed;
use crate::engine::logs::LogOptions;
use crate::error::Error;
use crate::pipeline::Evaluated;
use crate::plan::{PlanInputs, Rollout};
use crate::stack::kind::{Backup, Rotate};
use crate::stack::{Service, TargetKind};
use crate::state::generations::{Generation, Proof};

pub trait Target: Sync {
    /// Which target this is; its rendered file and templates are `kind().spec()`'s.
    fn kind(&self) -> TargetKind;

    /// The project-relative file this target deploys from.
    fn file(&self) -> &'static str {
        self.kind().spec().file
    }

    /// The rendered files this target deploys from, project-relative, with their text as
    /// rendered now: what `diff` compares with the committed ones.
    fn files<'e>(&self, evaluated: &'e Evaluated) -> Vec<(&'static str, &'e str)> {
        let text = evaluated.rendered.target(self.kind()).unwrap_or_default();
        vec![(self.file(), text)]
    }

    /// How this target's answers read to an operator.
    fn words(&self) -> &'static Words;

    /// Checks the engine answers, and with [`EngineUse::DeployTool`] that the tool this
    /// target deploys and removes with is there too, each with a fix when it is not.
    fn check_engine(&self, uses: EngineUse) -> Result<(), Error>;

    /// Checks that can refuse a deploy before anything is written or built (the engine
    /// itself is checked by the caller): host ports free, swarm active, and so on.
    fn preflight(&self, evaluated: &Evaluated) -> Result<()>;

    /// Deploys the rendered files (already written, images built) and waits until every
    /// service is ready. On failure the error names the failing services with their logs;
    /// what was switched over stays as it is (the caller may roll back), and the failure
    /// says whether anything was.
    fn deploy(&self, evaluated: &Evaluated) -> Result<Deployed, DeployFailure>;

    /// Deploys a recorded generation again, without building.
    fn activate_generation(&self, generation: &Generation) -> Result<Deployed, DeployFailure>;

    /// What a plan compares: each service as rendered now, as it runs, and as the current
    /// generation deployed it; and the service whose config the target reloads in place
    /// (the edge's routes), when what runs differs from what `evaluated` renders.
    fn observe(&self, evaluated: &Evaluated) -> Result<PlanInputs>;

    /// Whether what runs is provably `evaluated` as the current generation deployed it,
    /// so `up` has nothing to do; else the first reason to doubt it. Reads only.
    fn unchanged(&self, _evaluated: &Evaluated) -> Result<Verdict> {
        Ok(Verdict::Changed(
            "this target always converges through its own tool".into(),
        ))
    }

    /// How `up` replaces `service` when it changed, when this target decides it (a
    /// swarm's own update order is its stack file's business).
    fn rollout(&self, _service: &str) -> Option<Rollout> {
        None
    }

    /// Refuses (before anything is written) to generate a secret that a service with
    /// data reads when its data exists already: that data keeps the old password.
    fn check_secrets(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Whether `svc` runs ready here, so its data can be dumped now.
    fn serves(&self, _svc: &Service) -> Result<bool, Error> {
        Ok(false)
    }

    /// Streams a dump of `svc`'s data (its kind's `[backup] dump`) into `out`; returns
    /// the bytes written. For a `svc` the caller has seen run ready ([`Target::serves`]).
    fn dump(&self, svc: &Service, _backup: &Backup, _out: &mut dyn Write) -> Result<u64, Error> {
        Err(self.unsupported(&format!("backing up `{}`", svc.name)))
    }

    /// Replaces `svc`'s data with the dump in `input` (its kind's `[backup] restore`),
    /// for a `svc` the caller has seen run ready.
    fn load(&self, svc: &Service, _backup: &Backup, _input: File) -> Result<(), Error> {
        Err(self.unsupported(&format!("restoring `{}`", svc.name)))
    }

    /// Sets `password` in the running `svc` (its kind's `[rotate] script`).
    fn set_password(&self, svc: &Service, _rotate: &Rotate, _password: &str) -> Result<(), Error> {
        Err(self.unsupported(&format!("setting a password in `{}`", svc.name)))
    }

    /// New containers for `services`, same config, so they read their secrets again.
    /// `before_switch` runs once, as late as it can before the first new container is
    /// switched in (it answers, but is not gated yet): what the new containers need and
    /// the old ones lose, such as a new password, is set there.
    fn restart(
        &self,
        _services: &[&Service],
        _before_switch: &dyn Fn() -> Result<(), Error>,
    ) -> Result<(), Error> {
        Err(self.unsupported("restarting services"))
    }

    /// The error of an operation this target does not do.
    fn unsupported(&self, what: &str) -> Error {
        Error::runtime(
            format!("{what} is not supported on the `{}` target", self.kind()),
            Some(
                "use the compose target (`--target compose`) on the host that holds the data"
                    .into(),
            ),
        )
    }

    /// One row per service of the generated file, and one per orphan.
    fn status(&self) -> Result<Vec<StatusRow>>;

    /// `(service, url)` for each published service that runs.
    fn urls(&self) -> Result<Vec<(String, String)>>;

    /// Stops and removes the stack; data volumes only with `volumes`. Returns what to
    /// tell the operator.
    fn down(&self, volumes: bool) -> Result<String>;

    /// Streams the logs of `service` (of every service when `None`) straight to stdout
    /// and stderr, as the target's own tool prints them, and says how that ended. Fails
    /// before starting any process, after one engine query, when nothing of it exists.
    fn logs(&self, service: Option<&str>, options: &LogOptions) -> Result<Streamed>;
}

/// What a command asks of the engine, so the target checks just that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineUse {
    /// Questions, builds and pushes: the daemon must answer.
    Engine,
    /// The target's own deploy tool as well (Compose v2 on one host; a swarm needs
    /// nothing beyond the engine).
    DeployTool,
}

/// The phrases that differ between targets, so the commands print without branching.
#[derive(Debug)]
pub struct Words {
    /// Appended to "stack `x` is up": `""`, `" on the swarm"`.
    pub place: &'static str,
    /// What a plan compares against: `"containers"`, `"swarm services"`.
    pub running: &'static str,
}

/// A failed deploy, and whether it switched anything over before it failed. A start-first
/// replacement that never became ready is removed before the old container was touched:
/// then the running version kept serving and there is nothing to roll back.
#[derive(Debug)]
pub struct DeployFailure {
    pub error: Error,
    pub switched: bool,
}

/// A failure that does not say otherwise may have switched something over: the caller
/// rolls back, which is what a deploy must do when it cannot tell.
impl From<Error> for DeployFailure {
    fn from(error: Error) -> Self {
        DeployFailure {
            error,
            switched: true,
        }
    }
}

impl From<anyhow::Error> for DeployFailure {
    fn from(error: anyhow::Error) -> Self {
        DeployFailure::from(Error::from(error))
    }
}

/// A deploy (or an activated generation) that reached its ready state.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// `3 services healthy`, `3 services converged`.
    pub summary: String,
    /// `(service, url)` of each published service.
    pub urls: Vec<(String, String)>,
    /// What it left running, for the next `up`'s no-op proof; `None` where the target
    /// proves nothing.
    pub proof: Option<Proof>,
}

/// The answer of [`Target::unchanged`].
#[derive(Debug)]
pub enum Verdict {
    /// What runs is the current generation, exactly: nothing to do.
    Unchanged {
        generation: u32,
        services: usize,
        urls: Vec<(String, String)>,
    },
    /// The first reason to doubt it: `up` takes the full path.
    Changed(String),
}

/// Whether a service runs as the generated file says; in `status --json` as the words
/// the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyncState {
    #[serde(rename = "in sync")]
    InSync,
    #[serde(rename = "drifted")]
    Drifted,
    /// Declared, but nothing of it runs.
    #[serde(rename = "missing")]
    Missing,
    /// It runs, but is no longer declared.
    #[serde(rename = "orphan")]
    Orphan,
    /// It runs as the file says, but users do not reach it (refused, timeout, a wrong
    /// answer, a name not resolved, a container stopped, paused or off its network).
    #[serde(rename = "unreachable")]
    Unreachable,
    /// Its health check fails.
    #[serde(rename = "unhealthy")]
    Unhealthy,
    /// The engine keeps restarting its container.
    #[serde(rename = "restarting")]
    Restarting,
}

impl SyncState {
    /// Whether users are served: not missing, unreachable, unhealthy or restarting.
    pub fn serves(self) -> bool {
        !matches!(
            self,
            SyncState::Missing
                | SyncState::Unreachable
                | SyncState::Unhealthy
                | SyncState::Restarting
        )
    }
}

impl std::fmt::Display for SyncState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncState::InSync => "in sync",
            SyncState::Drifted => "drifted",
            SyncState::Missing => "missing",
            SyncState::Orphan => "orphan",
            SyncState::Unreachable => "unreachable",
            SyncState::Unhealthy => "unhealthy",
            SyncState::Restarting => "restarting",
        })
    }
}

/// One row of `stackgen status`.
#[derive(Debug, Serialize)]
pub struct StatusRow {
    pub service: String,
    /// `running`, `exited`, ..., `2/2 running`, or `missing`.
    pub state: String,
    pub health: String,
    pub image: String,
    pub url: String,
    pub sync: SyncState,
    /// Why it is not in sync; empty when it is.
    pub detail: String,
    /// What `status` asked to tell whether users reach it, with what each answered.
    pub probes: Vec<Probe>,
}

/// One probe `status` made: the URL through the edge, or a container the way the edge
/// reaches it; what it answered and how long that took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    /// `the URL` or `container <id>`.
    pub what: String,
    /// `ip:port` it connected to.
    pub address: String,
    /// The Host header it sent, when not the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub path: String,
    pub ok: bool,
    /// The status code, or why there was none (`refused`, `timeout`, `wrong answer (503)`).
    pub answer: String,
    pub ms: f64,
}

impl StatusRow {
    /// Marks it `state` (it does not serve), `reason` first in its detail.
    pub fn fault(&mut self, state: SyncState, reason: String) {
        self.sync = state;
        self.detail = [reason, std::mem::take(&mut self.detail)]
            .into_iter()
            .filter(|d| !d.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
    }

    pub fn missing(service: &str, image: &str, detail: &str) -> StatusRow {
        StatusRow {
            service: service.to_string(),
            state: "missing".into(),
            health: String::new(),
            image: image.to_string(),
            url: String::new(),
            sync: SyncState::Missing,
            detail: detail.to_string(),
            probes: Vec::new(),
        }
    }

    /// A row for what runs; in sync when nothing is wrong with it.
    pub fn observed(
        service: &str,
        state: String,
        health: String,
        image: String,
        url: String,
        problems: Vec<String>,
    ) -> StatusRow {
        StatusRow {
            service: service.to_string(),
            state,
            health,
            image,
            url,
            sync: if problems.is_empty() {
                SyncState::InSync
            } else {
                SyncState::Drifted
            },
            detail: problems.join("; "),
            probes: Vec::new(),
        }
    }

    pub fn orphan(
        service: &str,
        state: String,
        health: String,
        image: String,
        detail: &str,
    ) -> StatusRow {
        StatusRow {
            service: service.to_string(),
            state,
            health,
            image,
            url: String::new(),
            sync: SyncState::Orphan,
            detail: detail.to_string(),
            probes: Vec::new(),
        }
    }
}
