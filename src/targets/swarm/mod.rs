//! Docker Swarm: `docker stack deploy` of `generated/stack.yml`, with the images pushed to
//! the stack's registry first, since every node pulls them from there. Swarm rolls a
//! failed update back by itself (`failure_action: rollback`); stackgen reads each
//! service's replicas and update state afterwards to tell success from that.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;

use anyhow::Result;
use sha2::Digest;

use crate::document::Document;
use crate::engine::docker::swarm_state::StackState;
use crate::engine::docker::{self, Streamed, SwarmService};
use crate::engine::logs::LogOptions;
use crate::error::{Error, Problem};
use crate::pipeline::Evaluated;
use crate::plan::{self, Desired, Observed, PlanInputs, Previous};
use crate::progress;
use crate::render;
use crate::stack::kind::Backup;
use crate::stack::{Service, Stack, TargetKind};
use crate::state::generations::Generation;
use crate::state::layout;
use crate::targets::interface::{
    DeployFailure, Deployed, EngineUse, StatusRow, Target, Verdict, Words,
};
use crate::targets::{deployed, images};

mod data;
mod noop;
mod status;

pub struct Swarm<'a> {
    pub stack: &'a Stack,
}

const WORDS: Words = Words {
    place: " on the swarm",
    running: "swarm services",
};

impl Target for Swarm<'_> {
    fn kind(&self) -> TargetKind {
        TargetKind::Swarm
    }

    fn words(&self) -> &'static Words {
        &WORDS
    }

    /// The engine only: a swarm deploys and removes with the docker CLI itself.
    fn check_engine(&self, _uses: EngineUse) -> Result<(), Error> {
        docker::check_daemon()
    }

    fn preflight(&self, evaluated: &Evaluated) -> Result<()> {
        if self.stack.target.registry.is_none()
            || !evaluated.documents.contains_key(&TargetKind::Swarm)
        {
            return Err(Error::input(
                Problem::new(
                    "stack.toml: target.registry",
                    "a swarm deploy needs a registry",
                )
                .hint("add `[target] registry = \"host:port\"`; every node pulls from it"),
            )
            .into());
        }
        if !docker::swarm_active()? {
            return Err(Error::runtime(
                "this Docker engine is not part of an active swarm",
                Some("run `docker swarm init` (one node) or join a swarm, or deploy with `--target compose`".into()),
            )
            .into());
        }
        Ok(())
    }

    fn deploy(&self, evaluated: &Evaluated) -> Result<Deployed, DeployFailure> {
        if let Some(registry) = &self.stack.target.registry {
            images::push(evaluated, registry)?;
        }
        let text = evaluated
            .rendered
            .target(TargetKind::Swarm)
            .unwrap_or_default();
        let before = self.ready_nodes()?;
        let mut ok = self.stack_deploy(text)?;
        let mut services = docker::stack_services(&self.stack.name)?;
        if services
            .iter()
            .any(|s| s.update_state.starts_with("rollback"))
        {
            let lost = self.nodes_lost_since(before.as_deref())?;
            if !lost.is_empty() {
                // Swarm counts a new task its node stopped (a drain, a node down) as
                // a failed update and rolls it back: the release is not to blame.
                progress::warn(format_args!(
                    "Swarm rolled back while {} left the swarm's ready nodes (drained or down); deploying again on the others",
                    lost.join(", ")
                ));
                ok = self.stack_deploy(text)?;
                services = docker::stack_services(&self.stack.name)?;
            }
        }
        for s in &services {
            let update = if s.update_state.is_empty() {
                String::new()
            } else {
                format!("  (update: {})", s.update_state)
            };
            progress::note(format_args!(
                "{:<12} {}/{} running  {}{update}",
                s.service, s.running, s.desired, s.image
            ));
        }
        self.check_converged(ok, &services)?;
        Ok(self.record(text, services.len())?)
    }

    fn activate_generation(&self, generation: &Generation) -> Result<Deployed, DeployFailure> {
        let file = generation.file(&self.stack.root, layout::file_name(self.file()));
        let Ok(text) = std::fs::read_to_string(&file) else {
            return Err(Error::runtime(
                format!("generation {} has no swarm stack file", generation.number),
                Some("it was deployed before the stack had a `[target] registry`".into()),
            )
            .into());
        };
        if !self.stack_deploy(&text)? {
            return Err(Error::runtime("`docker stack deploy` failed", None).into());
        }
        let count = self
            .services()
            .filter(|n| generation.images.contains_key(*n))
            .count();
        Ok(self.record(&text, count)?)
    }

    fn observe(&self, evaluated: &Evaluated) -> Result<PlanInputs> {
        let doc = evaluated.documents.get(&TargetKind::Swarm).ok_or_else(|| {
            Error::input(
                Problem::new(
                    "stack.toml: target.registry",
                    "the stack has no swarm stack file",
                )
                .hint("add `[target] registry = \"host:port\"` to render generated/stack.yml"),
            )
        })?;
        let desired = self.desired(evaluated, doc);
        let previous = self.previous()?;
        let observed = docker::stack_services(&self.stack.name)?
            .iter()
            .map(|s| observed(s, desired.get(&s.service), previous.get(&s.service)))
            .collect();
        Ok(PlanInputs {
            desired,
            observed,
            previous,
            reload: None,
        })
    }

    fn serves(&self, svc: &Service) -> Result<bool, Error> {
        data::serves(self.stack, svc)
    }

    fn dump(&self, svc: &Service, backup: &Backup, out: &mut dyn Write) -> Result<u64, Error> {
        data::dump(self.stack, svc, backup, out)
    }

    fn load(&self, svc: &Service, backup: &Backup, input: File) -> Result<(), Error> {
        data::load(self.stack, svc, backup, input)
    }

    fn unchanged(&self, evaluated: &Evaluated) -> Result<Verdict> {
        noop::verdict(evaluated, &|state| self.urls_in(state))
    }

    fn status(&self) -> Result<Vec<StatusRow>> {
        self.status_rows()
    }

    fn urls(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for name in self.services() {
            for url in self.service_urls(name)? {
                out.push((name.clone(), url));
            }
        }
        Ok(out)
    }

    fn down(&self, volumes: bool) -> Result<String> {
        if !docker::stack_rm(&self.stack.name)? {
            return Err(Error::runtime("`docker stack rm` failed", None).into());
        }
        let name = &self.stack.name;
        if volumes {
            progress::warn(format_args!(
                "note: Swarm keeps volumes on each node; remove them there with `docker volume rm {name}_<volume>`"
            ));
        }
        Ok(format!(
            "stack `{name}` is removed from the swarm; its volumes are kept"
        ))
    }

    /// `docker service logs` of each swarm service asked for. It takes one service at a
    /// time, so without SERVICE: one after another in name order, or with `--follow` all
    /// at once, their lines interleaved as they come; docker prefixes every line with
    /// its task either way.
    fn logs(&self, service: Option<&str>, options: &LogOptions) -> Result<Streamed> {
        let name = &self.stack.name;
        let running: Vec<String> = docker::stack_service_names(name)?
            .into_iter()
            .filter(|s| service.is_none_or(|want| s == want))
            .collect();
        if running.is_empty() {
            let what = match service {
                Some(s) => format!("no swarm service `{name}_{s}` runs"),
                None => format!("no service of stack `{name}` runs on the swarm"),
            };
            let hint = "deploy it with `stackgen up --target swarm`".to_string();
            return Err(Error::runtime(what, Some(hint)).into());
        }
        let commands: Vec<Vec<String>> = running
            .iter()
            .map(|s| docker::service_logs_args(&format!("{name}_{s}"), options))
            .collect();
        if options.follow {
            return docker::stream(&commands);
        }
        let mut end = Streamed::default();
        for command in commands {
            let one = docker::stream(&[command])?;
            end.code = if end.code == 0 { one.code } else { end.code };
            end.interrupted |= one.interrupted;
            if one.interrupted {
                break;
            }
        }
        Ok(end)
    }
}

impl Swarm<'_> {
    /// `docker stack deploy` of a stack file's text (the generated one or a generation's
    /// copy); its relative paths point from `generated/`, where the file is rendered for.
    fn stack_deploy(&self, text: &str) -> Result<bool> {
        docker::stack_deploy(
            &self.stack.name,
            text,
            &self.stack.root.join(layout::GENERATED_DIR),
            self.stack.wait_timeout,
        )
    }

    /// A deploy converged when `docker stack deploy` finished, every service runs all its
    /// replicas, and Swarm rolled no update back.
    fn check_converged(&self, ok: bool, services: &[SwarmService]) -> Result<(), Error> {
        let rolled_back: Vec<&SwarmService> = services
            .iter()
            .filter(|s| s.update_state.starts_with("rollback"))
            .collect();
        let short: Vec<&SwarmService> = services.iter().filter(|s| s.running < s.desired).collect();
        if ok && rolled_back.is_empty() && short.is_empty() {
            return Ok(());
        }
        let mut what = Vec::new();
        for s in &rolled_back {
            what.push(format!(
                "Swarm rolled `{}` back: {}",
                s.service, s.update_message
            ));
        }
        for s in &short {
            what.push(format!(
                "`{}` runs {}/{} replicas",
                s.service, s.running, s.desired
            ));
        }
        if what.is_empty() {
            what.push("`docker stack deploy` failed".into());
        }
        Err(Error::runtime(
            format!("swarm deploy failed: {}", what.join("; ")),
            Some(format!(
                "`docker service ps {}_<service> --no-trunc` shows each task's error",
                self.stack.name
            )),
        ))
    }

    /// The swarm's ready and active nodes, when the manager's API is on a local socket.
    fn ready_nodes(&self) -> Result<Option<Vec<String>>> {
        Ok(docker::swarm_state::stack_state(&self.stack.name)?.map(|s| s.ready_names))
    }

    /// The nodes of `before` that are no longer ready and active.
    fn nodes_lost_since(&self, before: Option<&[String]>) -> Result<Vec<String>> {
        let (Some(before), Some(now)) = (before, self.ready_nodes()?) else {
            return Ok(Vec::new());
        };
        Ok(before
            .iter()
            .filter(|n| !now.contains(n))
            .cloned()
            .collect())
    }

    fn deployed(&self, services: usize) -> Result<Deployed> {
        Ok(Deployed {
            summary: format!("{services} services converged"),
            urls: self.urls()?,
            proof: None,
        })
    }

    /// The URLs a published service answers on: through every node's edge for a routed
    /// app, else at each of its own running tasks.
    fn service_urls(&self, name: &str) -> Result<Vec<String>> {
        let Some((service, port)) = self.answers_at(name) else {
            return Ok(Vec::new());
        };
        Ok(docker::task_addresses(&self.stack.name, service, port)?
            .into_iter()
            .map(|addr| format!("http://{addr}/"))
            .collect())
    }

    /// The service whose tasks answer for `name`, and the port they publish for it: the
    /// edge's listen port of its route, or its own port; `None` when it publishes nothing.
    fn answers_at<'s>(&'s self, name: &'s str) -> Option<(&'s str, u16)> {
        let stack = self.stack;
        let svc = stack.services.get(name).filter(|s| s.publish.is_some())?;
        let route = render::edge::routes(stack)
            .into_iter()
            .find(|r| r.service == name);
        Some(match (stack.edge(), route) {
            (Some(edge), Some(route)) => (edge.name.as_str(), route.listen),
            _ => (name, svc.port),
        })
    }

    /// Every service's URLs as a [`StackState`] read through the API tells them.
    fn urls_in(&self, state: &StackState) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for name in self.services() {
            if let Some((service, port)) = self.answers_at(name) {
                for addr in state.addresses(service, port) {
                    out.push((name.clone(), format!("http://{addr}/")));
                }
            }
        }
        out
    }

    /// The record of what a converged deploy of `text` left running.
    fn record(&self, text: &str, services: usize) -> Result<Deployed> {
        let mut deployed = self.deployed(services)?;
        deployed.proof = noop::proof(self.stack, text)?;
        Ok(deployed)
    }

    fn desired(&self, evaluated: &Evaluated, doc: &Document) -> BTreeMap<String, Desired> {
        let hashes = config_digests(doc);
        plan::desired(self.services(), Some(doc), &evaluated.inputs, &hashes)
    }

    /// The services a swarm runs: every one, the edge on every node.
    fn services(&self) -> impl Iterator<Item = &String> {
        self.stack.services.keys()
    }

    /// The current generation's `stack.yml` (the last swarm deploy), when there is one.
    fn previous(&self) -> Result<BTreeMap<String, Previous>> {
        let Some(current) = deployed::current_file(&self.stack.root, self.file())? else {
            return Ok(BTreeMap::new());
        };
        let doc = Document::parse_lenient(&current.text);
        Ok(plan::previous(
            &doc,
            current.lock.as_deref(),
            &config_digests(&doc),
        ))
    }
}

/// Swarm has no config hash like compose's; a service's config is compared by the digest
/// of its rendered config instead.
fn config_digests(doc: &Document) -> BTreeMap<String, String> {
    doc.services()
        .iter()
        .map(|(name, config)| {
            let digest = crate::hash::hex(&sha2::Sha256::digest(config.to_string().as_bytes()));
            (name.clone(), digest)
        })
        .collect()
}

/// A swarm service as the plan sees it. Swarm labels no service with the inputs or config
/// it was deployed from: they are known when it runs the image of the last deploy or of
/// now.
fn observed(s: &SwarmService, want: Option<&Desired>, prev: Option<&Previous>) -> Observed {
    let from_prev = prev.filter(|p| p.config["image"].as_str() == Some(s.image.as_str()));
    let from_now = want.filter(|w| w.image == s.image);
    let inputs_hash = from_now
        .and_then(|w| w.inputs.as_ref().map(|i| i.hash.clone()))
        .or_else(|| from_prev.and_then(|p| p.inputs.as_ref().map(|i| i.hash.clone())))
        .or_else(|| Some(s.image.clone()));
    Observed {
        service: s.service.clone(),
        not_running: (s.running < s.desired || s.desired == 0)
            .then(|| format!("running {}/{} replicas", s.running, s.desired)),
        image: s.image.clone(),
        inputs_hash,
        config_hash: from_prev.map(|p| p.config_hash.clone()).unwrap_or_default(),
    }
}
