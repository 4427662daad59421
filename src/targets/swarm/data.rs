//! A swarm's data: `backup` and `restore` run the kind's scripts in a one-shot container
//! of the service's image on the deploying engine, joined to the stack's (attachable)
//! overlay network, so they reach the database on whichever node it runs, as `docker
//! compose run` does on one host: the service's environment, user and secrets (the
//! project's secret files), `STACKGEN_SERVICE` set to its name.

use std::fs::File;
use std::io::Write;

use crate::document::Document;
use crate::engine::docker::one_shot::{self, OneShot};
use crate::engine::docker::{self, swarm_state};
use crate::error::Error;
use crate::stack::kind::Backup;
use crate::stack::{Service, Stack};
use crate::state::layout;

/// Whether a task of `svc` runs.
pub fn serves(stack: &Stack, svc: &Service) -> Result<bool, Error> {
    if let Some(state) = swarm_state::stack_state(&stack.name)? {
        return Ok(state.tasks.iter().any(|t| t.service == svc.name));
    }
    Ok(docker::stack_services(&stack.name)?
        .iter()
        .any(|s| s.service == svc.name && s.running > 0))
}

pub fn dump(
    stack: &Stack,
    svc: &Service,
    backup: &Backup,
    out: &mut dyn Write,
) -> Result<u64, Error> {
    one_shot::run_to(&one_shot(stack, svc, &backup.dump)?, out)
}

pub fn load(stack: &Stack, svc: &Service, backup: &Backup, input: File) -> Result<(), Error> {
    one_shot::run_with(&one_shot(stack, svc, &backup.restore)?, input)
}

/// The one-shot container for `script`, from the service as `generated/stack.yml` has it.
fn one_shot(stack: &Stack, svc: &Service, script: &str) -> Result<OneShot, Error> {
    let text = std::fs::read_to_string(stack.root.join(layout::SWARM_FILE)).unwrap_or_default();
    let doc = Document::parse_lenient(&text);
    let Some(config) = doc.services().get(&svc.name) else {
        return Err(Error::runtime(
            format!("`{}` is not in {}", svc.name, layout::SWARM_FILE),
            Some("run `stackgen up --target swarm` first".into()),
        ));
    };
    let network = config["networks"]
        .as_array()
        .and_then(|n| n.first())
        .and_then(|n| n.as_str())
        .unwrap_or("default");
    let mut env: Vec<(String, String)> = config["environment"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    env.push(("STACKGEN_SERVICE".into(), svc.name.clone()));
    Ok(OneShot {
        image: doc.image(&svc.name).unwrap_or_default().to_string(),
        network: format!("{}_{network}", stack.name),
        user: config["user"].as_str().map(str::to_string),
        env,
        secrets: svc
            .secrets
            .iter()
            .map(|name| (layout::secret_file(&stack.root, name), name.clone()))
            .collect(),
        script: script.to_string(),
    })
}
