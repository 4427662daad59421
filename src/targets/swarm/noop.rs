//! The no-op proof on a swarm: what the manager runs is provably the current generation,
//! read in three API requests and no `docker stack deploy`. The generation's record
//! (written when its deploy converged) holds each service's spec digest, image and
//! running tasks; `up` has nothing to do when the files rendered now are that
//! generation's, and every service of the stack still has that spec, no update under
//! way or rolled back, and all its tasks running.

use std::collections::BTreeMap;

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::engine::docker::swarm_state::{self, StackState};
use crate::pipeline::Evaluated;
use crate::stack::{Stack, TargetKind};
use crate::state::generations::{self, Proof};
use crate::targets::interface::Verdict;

/// What [`Proof::compose`] says for a swarm deploy's record.
const SWARM: &str = "swarm";

/// The record of a converged deploy of `text` (the stack file), when the manager's API
/// can be read.
pub fn proof(stack: &Stack, text: &str) -> Result<Option<Proof>> {
    let Some(state) = swarm_state::stack_state(&stack.name)? else {
        return Ok(None);
    };
    let mut running: BTreeMap<String, usize> = BTreeMap::new();
    for t in &state.tasks {
        *running.entry(t.service.clone()).or_default() += 1;
    }
    Ok(Some(Proof {
        compose: SWARM.into(),
        key: key(&stack.name, text),
        config_hashes: state
            .services
            .iter()
            .map(|s| (s.service.clone(), s.spec_digest.clone()))
            .collect(),
        image_ids: state
            .services
            .iter()
            .map(|s| (s.service.clone(), s.image.clone()))
            .collect(),
        containers: state
            .services
            .iter()
            .map(|s| {
                (
                    s.service.clone(),
                    running.get(&s.service).copied().unwrap_or(0),
                )
            })
            .collect(),
    }))
}

fn key(stack: &str, text: &str) -> String {
    crate::hash::hex(&Sha256::digest(format!("{stack}\n{text}").as_bytes()))
}

/// [`Verdict::Unchanged`] with the URLs `urls` finds in the state, or the first doubt.
pub fn verdict(
    evaluated: &Evaluated,
    urls: &dyn Fn(&StackState) -> Vec<(String, String)>,
) -> Result<Verdict> {
    let stack = &evaluated.stack;
    let changed = |why: String| Ok(Verdict::Changed(why));
    let root = &stack.root;
    let Some(current) = generations::current(root)? else {
        return changed("nothing was deployed from this folder yet".into());
    };
    let n = current.number;
    let Some(proof) = current.proof(root).filter(|p| p.compose == SWARM) else {
        return changed(format!("generation {n} has no record of a swarm deploy"));
    };
    let text = evaluated
        .rendered
        .target(TargetKind::Swarm)
        .unwrap_or_default();
    if !current.holds(root, &evaluated.rendered.by_file_name())?
        || proof.key != key(&stack.name, text)
    {
        return changed(format!(
            "the files rendered now differ from generation {n}'s"
        ));
    }
    for (rel, text) in evaluated.rendered.files() {
        if std::fs::read_to_string(root.join(rel)).ok().as_deref() != Some(text) {
            return changed(format!("`{rel}` differs from what stack.toml renders"));
        }
    }
    let Some(state) = swarm_state::stack_state(&stack.name)? else {
        return changed("the manager's API is not on a local socket, so nothing is proven".into());
    };
    if let Some(doubt) = doubt(&proof, &state) {
        return changed(doubt);
    }
    Ok(Verdict::Unchanged {
        generation: n,
        services: state.services.len(),
        urls: urls(&state),
    })
}

/// The first way the swarm's state differs from the record, if any.
fn doubt(proof: &Proof, state: &StackState) -> Option<String> {
    let names: Vec<&String> = state.services.iter().map(|s| &s.service).collect();
    if !names.iter().copied().eq(proof.config_hashes.keys()) {
        return Some("the stack's services on the swarm are not the recorded ones".into());
    }
    for s in &state.services {
        if proof.config_hashes.get(&s.service) != Some(&s.spec_digest) {
            return Some(format!("`{}`'s spec changed since the deploy", s.service));
        }
        if !matches!(s.update_state.as_str(), "" | "completed") {
            return Some(format!(
                "`{}`'s last update is {}",
                s.service, s.update_state
            ));
        }
        let running = state
            .tasks
            .iter()
            .filter(|t| t.service == s.service)
            .count();
        let want = s.replicas.map_or(state.ready_nodes, |r| r as usize);
        if running != want || proof.containers.get(&s.service) != Some(&running) {
            return Some(format!("`{}` runs {running}/{want} tasks", s.service));
        }
    }
    None
}
