//! Deploy targets behind one trait ([`Target`], in [`interface`]): [`compose`] (one host)
//! and [`swarm`]. A new target is one file here implementing the trait, a variant of
//! `stack::TargetKind` naming its template and file, one arm in [`open`], and its
//! templates. [`images`] is what every target needs first: the stack's images built.

pub mod compose;
pub mod data;
mod edge;
mod generation;
pub mod images;
pub mod interface;
mod noop;
mod probe;
mod rollout;
pub mod swarm;

pub use interface::{Deployed, StatusRow, Target, Verdict, Words};

use anyhow::Result;

use crate::pipeline::Evaluated;
use crate::plan::{self, Action, ServicePlan};
use crate::stack::{Stack, TargetKind};

/// The target of `kind` for `stack`.
pub fn open(stack: &Stack, kind: TargetKind) -> Box<dyn Target + '_> {
    match kind {
        TargetKind::Compose => Box::new(compose::Compose { stack }),
        TargetKind::Swarm => Box::new(swarm::Swarm { stack }),
    }
}

/// What `up` would do to each service on `target`, and why.
pub fn plan(target: &dyn Target, evaluated: &Evaluated) -> Result<Vec<ServicePlan>> {
    let inputs = target.observe(evaluated)?;
    let mut plans = plan::plan(&inputs.desired, &inputs.observed, &inputs.previous);
    let reloads = inputs.reload;
    for p in &mut plans {
        if matches!(p.action, Action::Rebuild | Action::Recreate) {
            p.rollout = target.rollout(&p.service);
        }
        if p.action == Action::Unchanged && reloads.as_ref() == Some(&p.service) {
            p.action = Action::Reload;
            p.reasons = vec!["its routes differ from generated/edge.json: a graceful reload, no connection dropped".into()];
        }
    }
    Ok(plans)
}
