//! Deploy targets behind one trait ([`Target`], in [`interface`]), each in a folder of
//! its own: [`compose`] (one host, with the edge in front of the apps) and [`swarm`].
//! The files beside them serve every target and know none: [`images`] (the stack's
//! images built, pushed, collected), [`backup`] (which services hold data, and backups
//! of it), [`deployed`] (what the current generation deployed), [`probe`] (one HTTP
//! GET, as a user or a readiness check asks). A new target is a
//! folder here implementing the trait, a variant of `stack::TargetKind` naming its
//! template and file, one arm in [`open`], and its templates; only [`open`] names the
//! folders (`tests/structure.rs` checks it).

pub mod backup;
pub mod compose;
pub mod deployed;
pub mod images;
pub mod interface;
pub mod probe;
pub mod swarm;

pub use interface::{Deployed, EngineUse, StatusRow, SyncState, Target, Verdict, Words};

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
            p.reasons = vec!["its routes differ from generated/edge.cfg: a seamless reload; open connections stay on the old worker".into()];
        }
    }
    Ok(plans)
}
