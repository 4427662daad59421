//! One host: `docker compose up --wait` on `generated/docker-compose.yml`, under the
//! stack's name as compose project. Compose recreates what changed and leaves the rest;
//! stackgen reads the state back afterwards rather than trusting compose's exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::document::Document;
use crate::engine::docker::{self, CONFIG_HASH_LABEL, Container, Project, Streamed};
use crate::engine::logs::LogOptions;
use crate::error::Error;
use crate::pipeline::Evaluated;
use crate::plan::{self, Desired, Observed, PlanInputs, Previous, Rollout};
use crate::progress;
use crate::render::{self, HASH_LABEL};
use crate::stack::kind::{Backup, Rotate};
use crate::stack::{Service, Stack, TargetKind};
use crate::state::generations::{self, Generation};
use crate::state::layout;
use crate::targets::data;
use crate::targets::edge::{self, EdgeProxy};
use crate::targets::generation;
use crate::targets::interface::{DeployFailure, Deployed, StatusRow, Target, Verdict, Words};
use crate::targets::noop;
use crate::targets::rollout::StartFirst;

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

    fn deploy(&self, evaluated: &Evaluated) -> Result<Deployed, DeployFailure> {
        let file = self.stack.root.join(self.file());
        let text = evaluated.rendered.target(self.kind()).unwrap_or_default();
        let done = self.converge(&file, text, evaluated.rendered.edge.as_deref())?;
        Ok(self.deployed(&done, text))
    }

    fn activate_generation(&self, generation: &Generation) -> Result<Deployed, DeployFailure> {
        let plumbing = |e: std::io::Error| Error::runtime(format!("{e:#}"), None);
        let file = generation.file(&self.stack.root, layout::file_name(self.file()));
        let text = std::fs::read_to_string(&file).map_err(plumbing)?;
        let edge = std::fs::read_to_string(
            generation.file(&self.stack.root, layout::file_name(layout::EDGE_FILE)),
        )
        .ok();
        let done = self.converge(&file, &text, edge.as_deref())?;
        Ok(self.deployed(&done, &text))
    }

    fn observe(&self, evaluated: &Evaluated) -> Result<PlanInputs> {
        let running = docker::containers(&self.stack.name)?;
        Ok(PlanInputs {
            desired: self.desired(evaluated)?,
            observed: running.iter().map(observed).collect(),
            previous: self.previous()?,
            reload: self.reloads(evaluated, &running)?,
        })
    }

    fn unchanged(&self, evaluated: &Evaluated) -> Result<Verdict> {
        let changed = |why: String| Ok(Verdict::Changed(why));
        let root = &self.stack.root;
        let Some(current) = generations::current(root)? else {
            return changed("nothing was deployed from this folder yet".into());
        };
        let Some(proof) = current.proof(root) else {
            let n = current.number;
            return changed(format!("generation {n} has no deploy record"));
        };
        let text = evaluated.rendered.target(self.kind()).unwrap_or_default();
        let doubt = noop::files_doubt(evaluated, &current)?
            .or_else(|| noop::hashes_doubt(self.stack, &proof, text));
        if let Some(doubt) = doubt {
            return changed(doubt);
        }
        let running = docker::containers(&self.stack.name)?;
        let images = if docker::containers_resolve_tags() {
            None
        } else {
            Some(docker::local_images()?)
        };
        let empty = Document::parse_lenient("");
        let doc = evaluated.documents.get(&self.kind()).unwrap_or(&empty);
        let doubt = noop::check_running(&proof, doc, &running, images.as_ref());
        if let Some(doubt) = doubt.or_else(|| self.edge_doubt(evaluated, &running)) {
            return changed(doubt);
        }
        Ok(Verdict::Unchanged {
            generation: current.number,
            services: doc.services().len(),
            urls: self.urls_of(&running),
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

    fn rollout(&self, service: &str) -> Option<Rollout> {
        let svc = self.stack.services.get(service)?;
        Some(if self.stack.start_first(svc) {
            Rollout::StartFirst
        } else {
            Rollout::StopFirst
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
            if self.stack.edge().is_some_and(|e| &e.name == name) && !self.routes_in_sync(&running)
            {
                detail.push(format!("its routes differ from {}", layout::EDGE_FILE));
            }
            let url = self.url(have, &running).unwrap_or_default();
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
        let project = self.project(&self.stack.root.join(self.file()));
        docker::stream(&[project.logs_args(options, service)])
    }
}

impl Compose<'_> {
    /// The edge, when `evaluated` renders one and its ready container runs other routes
    /// (or its admin API does not answer).
    fn reloads(&self, evaluated: &Evaluated, running: &[Container]) -> Result<Option<String>> {
        let (Some(want), Some(edge)) = (evaluated.rendered.edge.as_deref(), self.stack.edge())
        else {
            return Ok(None);
        };
        let Some(proxy) = EdgeProxy::find(self.stack, running) else {
            return Ok(None);
        };
        let same = proxy.loaded().is_ok_and(|have| same_json(&have, want));
        Ok((!same).then(|| edge.name.clone()))
    }

    /// Why the edge may not run what `evaluated` renders: no ready edge, or other
    /// routes loaded (or an admin API that does not answer).
    fn edge_doubt(&self, evaluated: &Evaluated, running: &[Container]) -> Option<String> {
        let want = evaluated.rendered.edge.as_deref()?;
        let same = EdgeProxy::find(self.stack, running)
            .is_some_and(|p| p.loaded().is_ok_and(|have| same_json(&have, want)));
        (!same).then(|| format!("the edge does not run {}", layout::EDGE_FILE))
    }

    /// Whether the running edge has generated/edge.json loaded.
    fn routes_in_sync(&self, running: &[Container]) -> bool {
        let file = std::fs::read_to_string(self.stack.root.join(layout::EDGE_FILE));
        let loaded = EdgeProxy::find(self.stack, running).map(|p| p.loaded());
        matches!((file, loaded), (Ok(want), Some(Ok(have))) if same_json(&have, &want))
    }

    /// The compose project for a compose file of this stack (generated, or a
    /// generation's copy): relative paths in it resolve against `generated/`.
    fn project(&self, file: &Path) -> Project {
        Project::new(
            &self.stack.name,
            file,
            &self.stack.root.join(layout::GENERATED_DIR),
        )
    }

    /// Compose's own config hash of each service of a compose text: the current
    /// generation's record when it is provably the same answer (the same text, folder,
    /// plugin, and no environment it depends on), else `docker compose config --hash`.
    fn config_hashes(&self, compose: &str) -> Result<BTreeMap<String, String>> {
        let root = &self.stack.root;
        if let Some(proof) = generations::current(root)?.and_then(|g| g.proof(root))
            && noop::hashes_doubt(self.stack, &proof, compose).is_none()
        {
            return Ok(proof.config_hashes);
        }
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

    /// Brings the project to the compose file `text` (at `file`) and the edge to
    /// `edge_config`: what can be replaced start-first is, the rest goes through `docker
    /// compose up --wait` (the edge last when it changes: it takes the host ports), then
    /// the steady edge config is loaded. Reads the state back rather than trusting
    /// compose's exit code.
    fn converge(
        &self,
        file: &Path,
        text: &str,
        edge_config: Option<&str>,
    ) -> Result<Converged, DeployFailure> {
        let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
        let project = self.project(file);
        let services: Vec<String> = Document::parse_lenient(text)
            .services()
            .keys()
            .cloned()
            .collect();
        let hashes = self.config_hashes(text).map_err(plumbing)?;
        let before = docker::containers(&self.stack.name).map_err(plumbing)?;
        data::back_up_before_recreate(self, self.stack, &hashes, &before).map_err(|error| {
            DeployFailure {
                error,
                switched: false,
            }
        })?;
        let replace = self.start_first(&services, &hashes, &before);
        // What the edge reads when it starts: the new config, written before compose may
        // recreate the edge. A deploy that fails with nothing switched over leaves the
        // old routes running, so the old file goes back (or the next no-op `up` could
        // not prove the edge runs the current generation).
        let runtime = self.stack.root.join(layout::EDGE_RUNTIME_CONFIG);
        let previous = edge_config.and_then(|_| std::fs::read_to_string(&runtime).ok());
        if let Some(config) = edge_config {
            edge::write_runtime(&self.stack.root, config).map_err(plumbing)?;
        }
        let rolled = self.roll_out(&project, &services, &hashes, &before, replace, edge_config);
        if let (Err(failure), Some(old)) = (&rolled, previous)
            && !failure.switched
            && let Err(e) = edge::write_runtime(&self.stack.root, &old)
        {
            progress::warn(format_args!(
                "warning: cannot put the running routes back into `{}`: {e:#}",
                layout::EDGE_RUNTIME_CONFIG
            ));
        }
        let replaced = rolled?;
        Ok(Converged {
            running: self.read_back(&project, &services, &services)?,
            replaced,
            hashes,
        })
    }

    /// The compose passes, then each start-first replacement behind the edge, then the
    /// steady edge config loaded. Returns how many services were replaced start-first.
    fn roll_out(
        &self,
        project: &Project,
        services: &[String],
        hashes: &BTreeMap<String, String>,
        before: &[Container],
        replace: Vec<(&Service, Vec<Container>)>,
        edge_config: Option<&str>,
    ) -> Result<usize, DeployFailure> {
        let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
        let mut attempted: Vec<String> = Vec::new();
        for pass in self.compose_passes(services, &replace, hashes, before) {
            attempted.extend(if pass.is_empty() {
                services.to_vec()
            } else {
                pass.clone()
            });
            if !project
                .up_services(self.stack.wait_timeout, &pass)
                .map_err(plumbing)?
            {
                let failure = self.read_back(project, services, &attempted).err();
                let failure = failure
                    .unwrap_or_else(|| Error::runtime("`docker compose up --wait` failed", None));
                return Err(failure.into());
            }
        }
        let after = docker::containers(&self.stack.name).map_err(plumbing)?;
        let mut switched = ids(before, &replace) != ids(&after, &replace);
        let edge = EdgeProxy::find(self.stack, &after);
        // The routes the edge runs now: kept until the first switch, put back if it fails.
        let mut running = match (&edge, replace.is_empty()) {
            (Some(edge), false) => edge.loaded().ok(),
            _ => None,
        };
        let rollout = StartFirst {
            stack: self.stack,
            project,
            edge: edge.as_ref(),
            steady: edge_config,
        };
        for (svc, old) in &replace {
            if let Err(error) = rollout.replace(svc, old, running.as_deref()) {
                return Err(DeployFailure { error, switched });
            }
            switched = true;
            running = edge_config.map(str::to_string);
        }
        if let (Some(edge), Some(config)) = (&edge, edge_config) {
            edge.load(config).map_err(plumbing)?;
        }
        Ok(replace.len())
    }

    /// The services to replace start-first, with their old containers: declared as
    /// such, running ready, publishing no host port of their own, and changed.
    fn start_first<'s>(
        &'s self,
        services: &[String],
        hashes: &BTreeMap<String, String>,
        running: &[Container],
    ) -> Vec<(&'s Service, Vec<Container>)> {
        services
            .iter()
            .filter_map(|name| {
                let svc = self.stack.services.get(name)?;
                let old: Vec<Container> = running
                    .iter()
                    .filter(|c| &c.service == name)
                    .cloned()
                    .collect();
                let ready =
                    !old.is_empty() && old.iter().all(|c| c.is_ready() && c.ports.is_empty());
                let changed = old
                    .iter()
                    .any(|c| hashes.get(name).map(String::as_str) != c.label(CONFIG_HASH_LABEL));
                (self.stack.start_first(svc) && ready && changed).then_some((svc, old))
            })
            .collect()
    }

    /// The `docker compose up` runs for what is not replaced start-first: one for all
    /// (empty: the whole file), or, when the edge is created or changed, the others
    /// first and the edge after them, so a port an old app held is free for it.
    fn compose_passes(
        &self,
        services: &[String],
        replace: &[(&Service, Vec<Container>)],
        hashes: &BTreeMap<String, String>,
        running: &[Container],
    ) -> Vec<Vec<String>> {
        let mut others: Vec<String> = services
            .iter()
            .filter(|s| replace.iter().all(|(r, _)| &r.name != *s))
            .cloned()
            .collect();
        let edge_changes = self.stack.edge().map(|e| e.name.clone()).filter(|name| {
            others.contains(name)
                && running.iter().find(|c| &c.service == name).is_none_or(|c| {
                    hashes.get(name).map(String::as_str) != c.label(CONFIG_HASH_LABEL)
                })
        });
        match edge_changes {
            Some(edge) => {
                others.retain(|s| *s != edge);
                [others, vec![edge]]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect()
            }
            None if replace.is_empty() => vec![Vec::new()],
            None if others.is_empty() => Vec::new(),
            None => vec![others],
        }
    }

    /// After a deploy: removes orphans (containers of no service in `services`) and
    /// checks every service in `check` is ready; on failure shows each failing service
    /// with its last log lines and returns the error.
    fn read_back(
        &self,
        project: &Project,
        services: &[String],
        check: &[String],
    ) -> Result<Vec<Container>, Error> {
        let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
        let mut running = docker::containers(&self.stack.name).map_err(plumbing)?;
        remove_orphans(&mut running, services).map_err(plumbing)?;
        let failing: Vec<_> = check
            .iter()
            .map(|name| (name, running.iter().find(|s| &s.service == name)))
            .filter(|(_, state)| !state.is_some_and(Container::is_ready))
            .collect();
        if !failing.is_empty() {
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
                progress::warn(format_args!(
                    "\nservice `{name}` was still starting ({what})"
                ));
                continue;
            }
            progress::warn(format_args!(
                "\nservice `{name}` is not ready: {what}; its last log lines:"
            ));
            for line in project.logs(name, 20)?.lines() {
                progress::warn(format_args!("  {line}"));
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
            Some("read the logs above; `stackgen logs <service>` shows more".to_string()),
        ))
    }

    /// What `up` reports, and records for the next no-op proof, after `converge` of the
    /// compose file `text`.
    fn deployed(&self, done: &Converged, text: &str) -> Deployed {
        let mut summary = format!("{} services healthy", done.running.len());
        if done.replaced > 0 {
            summary.push_str(&format!(" ({} replaced start-first)", done.replaced));
        }
        let proof = noop::record(
            docker::compose_identity(),
            noop::stack_key(self.stack, text),
            &done.hashes,
            &done.running,
        );
        Deployed {
            summary,
            urls: self.urls_of(&done.running),
            proof: Some(proof),
        }
    }

    /// The URL a running container of a published service answers on: its own port, or
    /// behind an edge the edge's port for its route (with its first host name).
    fn url(&self, c: &Container, running: &[Container]) -> Option<String> {
        let svc = self.stack.services.get(&c.service)?;
        svc.publish?;
        if c.state != "running" {
            return None;
        }
        if !self.stack.routed(svc) {
            return c.ports.get(&svc.port).map(|addr| format!("http://{addr}/"));
        }
        let edge = self.stack.edge()?;
        let edge_container = running
            .iter()
            .find(|r| r.service == edge.name && r.state == "running")?;
        let route = render::edge::routes(self.stack)
            .into_iter()
            .find(|r| r.service == svc.name)?;
        let addr = edge_container.ports.get(&route.listen)?;
        Some(match svc.hosts.first() {
            Some(host) => {
                let port = addr.rsplit(':').next().unwrap_or("");
                format!("http://{host}:{port}/")
            }
            None => format!("http://{addr}/"),
        })
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
                Some((name.clone(), self.url(c, running)?))
            })
            .collect()
    }
}

/// What a converge left running.
struct Converged {
    running: Vec<Container>,
    /// How many services were replaced start-first.
    replaced: usize,
    /// Compose's config hash of each service of the file converged to.
    hashes: BTreeMap<String, String>,
}

/// Whether two JSON texts hold the same value (key order and spacing aside).
fn same_json(a: &str, b: &str) -> bool {
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
    parse(a).is_some() && parse(a) == parse(b)
}

/// The container ids of the services not in `replace`, to tell whether compose changed any.
fn ids(containers: &[Container], replace: &[(&Service, Vec<Container>)]) -> BTreeSet<String> {
    containers
        .iter()
        .filter(|c| replace.iter().all(|(r, _)| r.name != c.service))
        .map(|c| format!("{}/{}/{}", c.service, c.id, c.state))
        .collect()
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
        progress::note(format_args!(
            "removed orphan container {} (service `{}`)",
            c.id, c.service
        ));
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
