//! One host: `docker compose up --wait` on `generated/docker-compose.yml`, under the
//! stack's name as compose project, with the edge proxy in front of the apps. Compose
//! recreates what changed and leaves the rest; stackgen reads the state back afterwards
//! rather than trusting compose's exit code.
//!
//! This file is the [`Target`] implementation and the little every room of the folder
//! shares; the work is in the rooms:
//! - [`converge`]: a deploy: the compose passes, the start-first replacements, the
//!   failure report;
//! - [`rollout`]: one service replaced start-first behind the edge;
//! - [`heal`]: what a deploy heals first: the file's config running, not serving;
//! - [`interrupted`]: a deploy cut short, made visible and finished;
//! - [`observe`]: what runs against what is rendered: plan inputs, status rows, URLs;
//! - [`noop`]: the proof that nothing changed;
//! - [`edge`]: the edge proxy's admin API (readiness is asked with [`crate::targets::probe`]);
//! - [`serving`]: whether each service serves its users, asked the way they reach it;
//! - [`data`]: the kinds' data scripts run in the stack's own containers;
//! - [`project`]: the compose project of a file, and compose's config hashes of it.

mod certs;
mod converge;
mod data;
mod edge;
#[cfg(test)]
mod fixture;
mod heal;
mod interrupted;
mod noop;
mod observe;
mod project;
mod rollout;
mod serving;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;

use anyhow::Result;

use crate::engine::docker::{self, Streamed};
use crate::engine::logs::LogOptions;
use crate::error::Error;
use crate::pipeline::Evaluated;
use crate::plan::{PlanInputs, Rollout};
use crate::stack::kind::{Backup, Rotate};
use crate::stack::{Service, Stack, TargetKind};
use crate::state::generations::Generation;
use crate::state::layout;
use crate::targets::compose::project::project;
use crate::targets::interface::{
    DeployFailure, Deployed, EngineUse, StatusRow, Target, Verdict, Words,
};

pub struct Compose<'a> {
    pub stack: &'a Stack,
}

const WORDS: Words = Words {
    place: "",
    running: "containers",
};

impl Target for Compose<'_> {
    fn kind(&self) -> TargetKind {
        TargetKind::Compose
    }

    /// The compose file, and the edge's routes when the stack has an edge.
    fn files<'e>(&self, evaluated: &'e Evaluated) -> Vec<(&'static str, &'e str)> {
        let text = evaluated.rendered.target(self.kind()).unwrap_or_default();
        let edge = evaluated.rendered.edge.as_deref();
        std::iter::once((self.file(), text))
            .chain(edge.map(|e| (layout::EDGE_FILE, e)))
            .collect()
    }

    fn words(&self) -> &'static Words {
        &WORDS
    }

    fn check_engine(&self, uses: EngineUse) -> Result<(), Error> {
        docker::check_daemon()?;
        if uses == EngineUse::DeployTool {
            docker::check_compose()?;
        }
        Ok(())
    }

    /// Compose itself (a process start, so only here, where compose will run), then the
    /// host ports.
    fn preflight(&self, _planned: &Evaluated) -> Result<()> {
        docker::check_compose()?;
        let ours = docker::published_host_ports(&self.stack.name)?;
        Ok(check_host_ports(self.stack, &ours)?)
    }

    fn deploy(&self, evaluated: &Evaluated) -> Result<Deployed, DeployFailure> {
        let file = self.stack.root.join(self.file());
        let text = evaluated.rendered.target(self.kind()).unwrap_or_default();
        let edge = evaluated.rendered.edge.as_deref();
        let done = converge::converge(self.stack, &file, text, edge)?;
        Ok(converge::deployed(self.stack, &done, text))
    }

    fn activate_generation(&self, generation: &Generation) -> Result<Deployed, DeployFailure> {
        let file = generation.file(&self.stack.root, layout::file_name(self.file()));
        let text = std::fs::read_to_string(&file).map_err(Error::from)?;
        let edge = std::fs::read_to_string(
            generation.file(&self.stack.root, layout::file_name(layout::EDGE_FILE)),
        )
        .ok();
        let done = converge::converge(self.stack, &file, &text, edge.as_deref())?;
        Ok(converge::deployed(self.stack, &done, &text))
    }

    fn observe(&self, evaluated: &Evaluated) -> Result<PlanInputs> {
        observe::plan_inputs(self.stack, evaluated)
    }

    fn unchanged(&self, evaluated: &Evaluated) -> Result<Verdict> {
        observe::verdict(self.stack, evaluated)
    }

    fn rollout(&self, service: &str) -> Option<Rollout> {
        let svc = self.stack.services.get(service)?;
        Some(if self.stack.start_first(svc) {
            Rollout::StartFirst
        } else {
            Rollout::StopFirst
        })
    }

    fn check_secrets(&self) -> Result<(), Error> {
        data::check_secrets(self.stack)
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

    fn set_password(&self, svc: &Service, rotate: &Rotate, password: &str) -> Result<(), Error> {
        data::set_password(self.stack, svc, rotate, password)
    }

    fn restart(
        &self,
        services: &[&Service],
        before_switch: &dyn Fn() -> Result<(), Error>,
    ) -> Result<(), Error> {
        data::restart(self.stack, services, before_switch)
    }

    fn status(&self) -> Result<Vec<StatusRow>> {
        observe::status(self.stack)
    }

    fn urls(&self) -> Result<Vec<(String, String)>> {
        Ok(observe::urls(
            self.stack,
            &docker::containers(&self.stack.name)?,
        ))
    }

    fn down(&self, volumes: bool) -> Result<String> {
        let file = self.stack.root.join(self.file());
        if !file.is_file() {
            return Err(Error::runtime(
                format!("`{}` does not exist", self.file()),
                Some("nothing was deployed from this folder; run `stackgen up` first".into()),
            )
            .into());
        }
        if !project(self.stack, &file).down(volumes)? {
            return Err(Error::runtime("`docker compose down` failed", None).into());
        }
        let name = &self.stack.name;
        Ok(if volumes {
            format!("stack `{name}` is down; its volumes are deleted")
        } else {
            format!(
                "stack `{name}` is down; its volumes are kept (`stackgen down --volumes` deletes them)"
            )
        })
    }

    /// `docker compose logs` of the generated file: the containers of the project, also
    /// those that exited (their last words are often the point). Asked first whether
    /// there is any, since compose prints nothing and succeeds when there is none.
    fn logs(&self, service: Option<&str>, options: &LogOptions) -> Result<Streamed> {
        let containers = docker::containers(&self.stack.name)?;
        if !containers
            .iter()
            .any(|c| service.is_none_or(|s| c.service == s))
        {
            let name = &self.stack.name;
            let what = match service {
                Some(s) => format!("no container of `{s}` (stack `{name}`) runs"),
                None => format!("no container of stack `{name}` runs"),
            };
            return Err(Error::runtime(what, Some("deploy it with `stackgen up`".into())).into());
        }
        let project = project(self.stack, &self.stack.root.join(self.file()));
        docker::stream(&[project.logs_args(options, service)])
    }
}

/// Fails when a fixed host port is taken by something other than this stack itself.
fn check_host_ports(stack: &Stack, ours: &BTreeSet<u16>) -> Result<(), Error> {
    for svc in stack.services.values() {
        let Some(port) = svc.publish.filter(|p| *p != 0 && !ours.contains(p)) else {
            continue;
        };
        let addr = (stack.bind_address.as_str(), port);
        if let Err(e) = std::net::TcpListener::bind(addr) {
            return Err(Error::runtime(
                format!(
                    "host port {port} on {} for `{}` is not available: {e}",
                    stack.bind_address, svc.name
                ),
                Some(format!(
                    "stop what listens there (`ss -ltnp 'sport = :{port}'` shows it) or change `publish` of `{}` in stack.toml",
                    svc.name
                )),
            ));
        }
    }
    Ok(())
}
