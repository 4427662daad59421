//! The one trait every deploy target implements, and the types it answers in. Commands
//! hold a `dyn Target` and never ask which target it is: what differs between one host
//! (compose) and a swarm, or a later Kubernetes, lives behind these methods.

use anyhow::Result;
use serde::Serialize;

use crate::error::Error;
use crate::pipeline::Evaluated;
use crate::plan::{PlanInputs, Rollout};
use crate::stack::TargetKind;
use crate::state::generations::{Generation, Proof};

pub trait Target: Sync {
    /// Which target this is; its rendered file and templates are `kind().spec()`'s.
    fn kind(&self) -> TargetKind;

    /// The project-relative file this target deploys from.
    fn file(&self) -> &'static str {
        self.kind().spec().file
    }

    /// How this target's answers read to an operator.
    fn words(&self) -> &'static Words;

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

    /// One row per service of the generated file, and one per orphan.
    fn status(&self) -> Result<Vec<StatusRow>>;

    /// `(service, url)` for each published service that runs.
    fn urls(&self) -> Result<Vec<(String, String)>>;

    /// Stops and removes the stack; data volumes only with `volumes`. Returns what to
    /// tell the operator.
    fn down(&self, volumes: bool) -> Result<String>;
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

impl From<Error> for DeployFailure {
    fn from(error: Error) -> Self {
        DeployFailure {
            error,
            switched: true,
        }
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

/// One row of `stackgen status`.
#[derive(Debug, Serialize)]
pub struct StatusRow {
    pub service: String,
    /// `running`, `exited`, ..., `2/2 running`, or `missing`.
    pub state: String,
    pub health: String,
    pub image: String,
    pub url: String,
    /// `in sync`, `drifted`, `missing` or `orphan`.
    pub sync: String,
    /// Why it is not in sync; empty when it is.
    pub detail: String,
}

impl StatusRow {
    pub fn missing(service: &str, image: &str, detail: &str) -> StatusRow {
        StatusRow {
            service: service.to_string(),
            state: "missing".into(),
            health: String::new(),
            image: image.to_string(),
            url: String::new(),
            sync: "missing".into(),
            detail: detail.to_string(),
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
                "in sync"
            } else {
                "drifted"
            }
            .into(),
            detail: problems.join("; "),
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
            sync: "orphan".into(),
            detail: detail.to_string(),
        }
    }
}
