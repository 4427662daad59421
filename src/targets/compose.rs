//! One host: `docker compose up --wait` on `generated/docker-compose.yml`, under the
//! stack's name as compose project. Compose recreates what changed and leaves the rest;
//! stackgen reads the state back afterwards rather than trusting compose's exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use crate::document::Document;
use crate::engine::docker::{self, CONFIG_HASH_LABEL, Container, Project};
use crate::error::Error;
use crate::pipeline::Evaluated;
use crate::plan::{self, Desired, Observed, PlanInputs, Previous};
use crate::render::HASH_LABEL;
use crate::stack::{Stack, TargetKind};
use crate::state::generations::Generation;
use crate::state::layout;
use crate::targets::generation;
use crate::targets::interface::{Deployed, StatusRow, Target, Words};

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

    fn words(&self) -> &'static Words {
        &WORDS
    }

    fn preflight(&self, _planned: &Evaluated) -> Result<()> {
        let ours = docker::published_host_ports(&self.stack.name)?;
        check_host_ports(self.stack, &ours)
    }

    fn deploy(&self, _planned: &Evaluated) -> Result<Deployed, Error> {
        let project = self.project(&self.stack.root.join(self.file()));
        let services: Vec<String> = self.stack.services.keys().cloned().collect();
        let running = self.deploy_and_wait(&project, &services)?;
        Ok(self.deployed(services.len(), &running))
    }

    fn activate_generation(&self, generation: &Generation) -> Result<Deployed, Error> {
        let file = generation.file(&self.stack.root, layout::file_name(self.file()));
        let services: Vec<String> = generation.images.keys().cloned().collect();
        let running = self.deploy_and_wait(&self.project(&file), &services)?;
        Ok(self.deployed(services.len(), &running))
    }

    fn observe(&self, evaluated: &Evaluated) -> Result<PlanInputs> {
        Ok(PlanInputs {
            desired: self.desired(evaluated)?,
            observed: docker::containers(&self.stack.name)?
                .iter()
                .map(observed)
                .collect(),
            previous: self.previous()?,
        })
    }

    fn status(&self) -> Result<Vec<StatusRow>> {
        let generated =
            std::fs::read_to_string(self.stack.root.join(self.file())).unwrap_or_default();
        let hashes = self.config_hashes(&generated)?;
        let doc = Document::parse_lenient(&generated);
        let running = docker::containers(&self.stack.name)?;
        let mut rows = Vec::new();
        for name in doc.services().keys() {
            let want_image = doc.image(name).unwrap_or("");
            let Some(have) = running.iter().find(|r| &r.service == name) else {
                rows.push(StatusRow::missing(
                    name,
                    want_image,
                    "no container; `stackgen up` creates it",
                ));
                continue;
            };
            let mut detail = Vec::new();
            if have.image != want_image {
                detail.push(format!(
                    "runs `{}`, the generated file says `{want_image}`",
                    have.image
                ));
            } else if hashes.get(name).map(String::as_str)
                != Some(have.label(CONFIG_HASH_LABEL).unwrap_or(""))
            {
                detail.push("its config differs from the generated file".to_string());
            }
            if have.state != "running" {
                detail.push(format!("the container is {}", have.state));
            }
            let url = self.url(have).unwrap_or_default();
            rows.push(StatusRow::observed(
                name,
                have.state.clone(),
                have.health.clone(),
                have.image.clone(),
                url,
                detail,
            ));
        }
        for orphan in running
            .iter()
            .filter(|r| !doc.services().contains_key(&r.service))
        {
            rows.push(StatusRow::orphan(
                &orphan.service,
                orphan.state.clone(),
                orphan.health.clone(),
                orphan.image.clone(),
                "not in the generated file; `stackgen up` removes it",
            ));
        }
        Ok(rows)
    }

    fn urls(&self) -> Result<Vec<(String, String)>> {
        Ok(self.urls_of(&docker::containers(&self.stack.name)?))
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
        if !self.project(&file).down(volumes)? {
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
}

impl Compose<'_> {
    /// The compose project for a compose file of this stack (generated, or a
    /// generation's copy): relative paths in it resolve against `generated/`.
    fn project(&self, file: &Path) -> Project {
        Project::new(
            &self.stack.name,
            file,
            &self.stack.root.join(layout::GENERATED_DIR),
        )
    }

    /// Compose's own config hash of each service of a compose text.
    fn config_hashes(&self, compose: &str) -> Result<BTreeMap<String, String>> {
        docker::config_hashes(
            &self.stack.name,
            &self.stack.root.join(layout::GENERATED_DIR),
            compose,
        )
    }

    fn desired(&self, evaluated: &Evaluated) -> Result<BTreeMap<String, Desired>> {
        let kind = TargetKind::Compose;
        let hashes = self.config_hashes(evaluated.rendered.target(kind).unwrap_or_default())?;
        Ok(plan::desired(
            self.stack.services.keys(),
            evaluated.documents.get(&kind),
            &evaluated.hashes,
            &hashes,
        ))
    }

    /// The current generation (the last successful `up` or `rollback`), when there is one.
    fn previous(&self) -> Result<BTreeMap<String, Previous>> {
        let Some(current) = generation::current(&self.stack.root, self.file())? else {
            return Ok(BTreeMap::new());
        };
        let hashes = self.config_hashes(&current.text)?;
        let doc = Document::parse_lenient(&current.text);
        Ok(plan::previous(&doc, current.lock.as_deref(), &hashes))
    }

    /// `up --wait` with `project`, then reads the state back; on failure shows each
    /// failing service with its last log lines and returns the error to report.
    fn deploy_and_wait(
        &self,
        project: &Project,
        services: &[String],
    ) -> Result<Vec<Container>, Error> {
        let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
        let ok = project.up(self.stack.wait_timeout).map_err(plumbing)?;
        // Compose's exit code is not the whole truth (interrupts, partial waits): read the
        // state back, in one `docker ps` and one `docker inspect`.
        let mut running = docker::containers(&self.stack.name).map_err(plumbing)?;
        remove_orphans(&mut running, services).map_err(plumbing)?;
        let failing: Vec<_> = services
            .iter()
            .map(|name| (name, running.iter().find(|s| &s.service == name)))
            .filter(|(_, state)| !state.is_some_and(Container::is_ready))
            .collect();
        if !ok || !failing.is_empty() {
            return Err(self
                .explain_failed_deploy(project, &failing)
                .map_err(plumbing)?);
        }
        Ok(running)
    }

    /// Shows each service that is not ready with its last log lines, and builds the error.
    /// A service still starting when another one failed is named but not blamed: compose
    /// stops waiting at the first failure.
    fn explain_failed_deploy(
        &self,
        project: &Project,
        not_ready: &[(&String, Option<&Container>)],
    ) -> Result<Error> {
        let starting = |s: &Option<&Container>| s.is_some_and(Container::is_starting);
        let failed: Vec<_> = not_ready.iter().filter(|(_, s)| !starting(s)).collect();
        let blamed: Vec<_> = if failed.is_empty() {
            not_ready.iter().collect()
        } else {
            failed
        };
        for (name, state) in not_ready {
            let what = state.map_or_else(|| "not created".to_string(), |s| s.describe());
            if !blamed.iter().any(|(n, _)| n == name) {
                eprintln!("\nservice `{name}` was still starting ({what})");
                continue;
            }
            eprintln!("\nservice `{name}` is not ready: {what}; its last log lines:");
            for line in project.logs(name, 20)?.lines() {
                eprintln!("  {line}");
            }
        }
        let names: Vec<&str> = blamed.iter().map(|(n, _)| n.as_str()).collect();
        let message = if names.is_empty() {
            "`docker compose up --wait` failed".to_string()
        } else if blamed.iter().all(|(_, s)| starting(s)) {
            format!(
                "deploy failed: not healthy within {}s: {}",
                self.stack.wait_timeout,
                names.join(", ")
            )
        } else {
            format!("deploy failed: not ready: {}", names.join(", "))
        };
        Ok(Error::runtime(
            message,
            Some(format!(
                "read the logs above; `docker compose -p {} logs <service>` shows more",
                self.stack.name
            )),
        ))
    }

    fn deployed(&self, services: usize, running: &[Container]) -> Deployed {
        Deployed {
            summary: format!("{services} services healthy"),
            urls: self.urls_of(running),
        }
    }

    /// The URL a running container of a published service answers on.
    fn url(&self, c: &Container) -> Option<String> {
        let svc = self.stack.services.get(&c.service)?;
        svc.publish?;
        if c.state != "running" {
            return None;
        }
        c.ports.get(&svc.port).map(|addr| format!("http://{addr}/"))
    }

    /// `(service, url)` for each published service that has a port bound, in stack order.
    fn urls_of(&self, running: &[Container]) -> Vec<(String, String)> {
        self.stack
            .services
            .keys()
            .filter_map(|name| {
                let c = running
                    .iter()
                    .find(|r| &r.service == name && r.state == "running")?;
                Some((name.clone(), self.url(c)?))
            })
            .collect()
    }
}

/// A container as the plan sees it.
fn observed(c: &Container) -> Observed {
    Observed {
        service: c.service.clone(),
        state: c.state.clone(),
        image: c.image.clone(),
        inputs_hash: c.label(HASH_LABEL).map(str::to_string),
        config_hash: c.label(CONFIG_HASH_LABEL).unwrap_or_default().to_string(),
    }
}

/// Removes containers that carry the stack's project label but no declared service.
/// `up --remove-orphans` covers those compose created; this also covers containers
/// started by hand under the project's label, which compose does not consider its own.
fn remove_orphans(running: &mut Vec<Container>, declared: &[String]) -> Result<()> {
    for c in running.iter().filter(|c| !declared.contains(&c.service)) {
        docker::remove_container(&c.id)?;
        eprintln!(
            "removed orphan container {} (service `{}`)",
            c.id, c.service
        );
    }
    running.retain(|c| declared.contains(&c.service));
    Ok(())
}

/// Fails when a fixed host port is taken by something other than this stack itself.
fn check_host_ports(stack: &Stack, ours: &BTreeSet<u16>) -> Result<()> {
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
            )
            .into());
        }
    }
    Ok(())
}
