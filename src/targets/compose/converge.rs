//! A deploy on one host: the project brought to a compose file and the edge to its
//! routes. What can be replaced start-first is, behind the edge ([`super::rollout`]);
//! the rest goes through `docker compose up --wait` (the edge last when it changes: it
//! takes the host ports); then the steady edge config is loaded, and the state is read
//! back rather than compose's exit code trusted. A failure names the services that are
//! not ready, with their last log lines.
//!
//! The decisions (which service goes start-first, which in compose's passes, which one
//! a failure blames) are pure functions of the stack and the containers, tested below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use crate::document::Document;
use crate::engine::docker::{self, Container, Project};
use crate::error::Error;
use crate::progress;
use crate::stack::kind::Backup;
use crate::stack::{Service, Stack};
use crate::state::layout;
use crate::targets::backup;
use crate::targets::compose::certs;
use crate::targets::compose::edge::{self, EdgeProxy};
use crate::targets::compose::project::{config_hashes, project};
use crate::targets::compose::rollout::StartFirst;
use crate::targets::compose::serving::Fault;
use crate::targets::compose::{data, heal, interrupted, noop, observe};
use crate::targets::interface::{DeployFailure, Deployed};

/// What a converge left running.
pub(super) struct Converged {
    running: Vec<Container>,
    /// How many services were replaced start-first.
    replaced: usize,
    /// Compose's config hash of each service of the file converged to.
    config_hashes: BTreeMap<String, String>,
}

/// A service to replace start-first, with its old containers.
type Replacement<'s> = (&'s Service, Vec<Container>);

/// Brings the project to the compose file `text` (at `file`) and the edge to
/// `edge_config`.
pub(super) fn converge(
    stack: &Stack,
    file: &Path,
    text: &str,
    edge_config: Option<&str>,
) -> Result<Converged, DeployFailure> {
    let project = project(stack, file);
    let services: Vec<String> = Document::parse_lenient(text)
        .services()
        .keys()
        .cloned()
        .collect();
    let hashes = config_hashes(stack, text)?;
    let _running = interrupted::mark(stack)?;
    finish_interrupted(stack, &project, &hashes)?;
    let (before, broken) = heal::unpaused(stack, text, &hashes)?;
    back_up_before_recreate(stack, &hashes, &before).map_err(|error| DeployFailure {
        error,
        switched: false,
    })?;
    let replace = start_first(stack, &services, &hashes, &before, &broken);
    let heal_first: Vec<&str> = replace.iter().map(|(s, _)| s.name.as_str()).collect();
    heal::recreate(stack, &project, &broken, &heal_first, &before)?;
    // What the edge reads when it starts: the new config, written before compose may
    // recreate the edge. A deploy that fails with nothing switched over leaves the
    // old routes running, so the old file goes back (or the next no-op `up` could
    // not prove the edge runs the current generation).
    let runtime = stack.root.join(layout::EDGE_RUNTIME_CONFIG);
    let previous = edge_config.and_then(|_| std::fs::read_to_string(&runtime).ok());
    if let Some(config) = edge_config {
        edge::write_runtime(&stack.root, config)?;
    }
    let certs = certs::write(stack)?;
    if certs.new_ca {
        let pem = std::fs::read_to_string(stack.root.join(layout::CA_ROOT)).unwrap_or_default();
        progress::note(format_args!(
            "made a local CA for HTTPS: clients trust `{}` (e.g. `curl --cacert {0} https://...`):\n{}",
            layout::CA_ROOT,
            pem.trim_end()
        ));
    }
    let plan = Passes {
        stack,
        project: &project,
        services: &services,
        hashes: &hashes,
        before: &before,
    };
    let rolled = plan.roll_out(replace, edge_config, certs.changed);
    if let (Err(failure), Some(old)) = (&rolled, previous)
        && !failure.switched
        && let Err(e) = edge::write_runtime(&stack.root, &old)
    {
        progress::warn(format_args!(
            "warning: cannot put the running routes back into `{}`: {e}",
            layout::EDGE_RUNTIME_CONFIG
        ));
    }
    let replaced = rolled?;
    Ok(Converged {
        running: read_back(stack, &project, &services, &services)?,
        replaced,
        config_hashes: hashes,
    })
}

/// First of all, what an interrupted deploy left: two containers of an app, the edge's
/// requests half way between them ([`interrupted`]).
fn finish_interrupted(
    stack: &Stack,
    project: &Project,
    hashes: &BTreeMap<String, String>,
) -> Result<(), Error> {
    let running = docker::containers(&stack.name)?;
    if interrupted::doubled(stack, &running).is_empty() {
        return Ok(());
    }
    let edge = EdgeProxy::find(stack, &running);
    let rollout = StartFirst {
        stack,
        project,
        edge: edge.as_ref(),
    };
    interrupted::finish(stack, &rollout, hashes, &running)?;
    Ok(())
}

/// What one converge works from: the file's services, their config hashes, and the
/// containers that ran before it.
struct Passes<'a> {
    stack: &'a Stack,
    project: &'a Project,
    services: &'a [String],
    hashes: &'a BTreeMap<String, String>,
    before: &'a [Container],
}

impl Passes<'_> {
    /// The compose passes, then each start-first replacement behind the edge, then the
    /// steady edge config loaded. Returns how many services were replaced start-first.
    fn roll_out(
        &self,
        replace: Vec<Replacement>,
        edge_config: Option<&str>,
        new_certs: bool,
    ) -> Result<usize, DeployFailure> {
        let stack = self.stack;
        let mut attempted: Vec<String> = Vec::new();
        for pass in compose_passes(stack, self.services, &replace, self.hashes, self.before) {
            attempted.extend(if pass.is_empty() {
                self.services.to_vec()
            } else {
                pass.clone()
            });
            if !self.project.up_services(stack.wait_timeout, &pass)? {
                let failure = read_back(stack, self.project, self.services, &attempted).err();
                let failure = failure
                    .unwrap_or_else(|| Error::runtime("`docker compose up --wait` failed", None));
                return Err(failure.into());
            }
        }
        let after = docker::containers(&stack.name)?;
        let mut switched = ids(self.before, &replace) != ids(&after, &replace);
        let edge = EdgeProxy::find(stack, &after);
        let rollout = StartFirst {
            stack,
            project: self.project,
            edge: edge.as_ref(),
        };
        for (svc, old) in &replace {
            if let Err(error) = rollout.replace(svc, old) {
                return Err(DeployFailure { error, switched });
            }
            switched = true;
        }
        // New routes last, once every old container is gone: a seamless reload, whose
        // new worker finds each app by its service name. Also when the routes are the
        // same but a server points where no ready container is (set by hand, or left
        // by an interrupted switch): the reload puts back what the file says.
        if let (Some(edge), Some(config)) = (&edge, edge_config) {
            let why = if !edge.runs(config) {
                Some("the edge's routes changed".to_string())
            } else if new_certs {
                Some("a certificate changed".to_string())
            } else {
                let now = docker::containers(&stack.name)?;
                edge.misrouted(stack, &now)
            };
            if let Some(why) = why {
                progress::note(format_args!("{why}: reloading the edge (seamless)"));
                edge.reload(config)?;
            }
        }
        Ok(replace.len())
    }
}

/// Whether a container was created from another config than `hashes` names for it.
fn changed(c: &Container, hashes: &BTreeMap<String, String>) -> bool {
    !c.has_config(hashes.get(&c.service).map(String::as_str))
}

/// The services to replace start-first, with their old containers: declared as
/// such, publishing no host port of their own, and either changed while running ready
/// or `broken` (the file's config, not serving: the new container is the cure).
fn start_first<'s>(
    stack: &'s Stack,
    services: &[String],
    hashes: &BTreeMap<String, String>,
    running: &[Container],
    broken: &BTreeMap<String, Fault>,
) -> Vec<Replacement<'s>> {
    services
        .iter()
        .filter_map(|name| {
            let svc = stack.services.get(name)?;
            let old: Vec<Container> = running
                .iter()
                .filter(|c| &c.service == name)
                .cloned()
                .collect();
            let own_ports = old.iter().any(|c| !c.ports.is_empty());
            let ready = !old.is_empty() && old.iter().all(Container::is_ready);
            let changed = ready && old.iter().any(|c| changed(c, hashes));
            let heals = !old.is_empty() && broken.contains_key(name);
            (stack.start_first(svc) && !own_ports && (changed || heals)).then_some((svc, old))
        })
        .collect()
}

/// The `docker compose up` runs for what is not replaced start-first: one for all
/// (empty: the whole file), or, when the edge is created or changed, the others
/// first and the edge after them, so a port an old app held is free for it.
fn compose_passes(
    stack: &Stack,
    services: &[String],
    replace: &[Replacement],
    hashes: &BTreeMap<String, String>,
    running: &[Container],
) -> Vec<Vec<String>> {
    let mut others: Vec<String> = services
        .iter()
        .filter(|s| replace.iter().all(|(r, _)| &r.name != *s))
        .cloned()
        .collect();
    let edge_changes = stack.edge().map(|e| e.name.clone()).filter(|name| {
        others.contains(name)
            && running
                .iter()
                .find(|c| &c.service == name)
                .is_none_or(|c| changed(c, hashes))
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
    stack: &Stack,
    project: &Project,
    services: &[String],
    check: &[String],
) -> Result<Vec<Container>, Error> {
    let mut running = docker::containers(&stack.name)?;
    remove_orphans(&mut running, services)?;
    let failing: Vec<_> = check
        .iter()
        .map(|name| (name.as_str(), running.iter().find(|s| &s.service == name)))
        .filter(|(_, state)| !state.is_some_and(Container::is_ready))
        .collect();
    if !failing.is_empty() {
        return Err(explain_failed_deploy(stack, project, &failing)?);
    }
    Ok(running)
}

/// Of the services that are not ready, the ones a failed deploy blames: those that
/// failed; only when none did, those still starting (they ran out of time). A service
/// still starting when another failed is named but not blamed: compose stops waiting
/// at the first failure.
fn blamed<'a>(not_ready: &[(&'a str, Option<&Container>)]) -> Vec<&'a str> {
    let starting = |s: &Option<&Container>| s.is_some_and(Container::is_starting);
    let failed: Vec<&str> = not_ready
        .iter()
        .filter(|(_, s)| !starting(s))
        .map(|(n, _)| *n)
        .collect();
    if failed.is_empty() {
        not_ready.iter().map(|(n, _)| *n).collect()
    } else {
        failed
    }
}

/// Shows each service that is not ready with its last log lines, and builds the error.
fn explain_failed_deploy(
    stack: &Stack,
    project: &Project,
    not_ready: &[(&str, Option<&Container>)],
) -> Result<Error> {
    let blamed = blamed(not_ready);
    for (name, state) in not_ready {
        let what = state.map_or_else(|| "not created".to_string(), |s| s.describe());
        if !blamed.contains(name) {
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
    let all_starting = not_ready
        .iter()
        .all(|(_, s)| s.is_some_and(Container::is_starting));
    let message = if blamed.is_empty() {
        "`docker compose up --wait` failed".to_string()
    } else if all_starting {
        format!(
            "deploy failed: not healthy within {}s: {}",
            stack.wait_timeout,
            blamed.join(", ")
        )
    } else {
        format!("deploy failed: not ready: {}", blamed.join(", "))
    };
    Ok(Error::runtime(
        message,
        Some("read the logs above; `stackgen logs <service>` shows more".to_string()),
    ))
}

/// What `up` reports, and records for the next no-op proof, after [`converge`] of the
/// compose file `text`.
pub(super) fn deployed(stack: &Stack, done: &Converged, text: &str) -> Deployed {
    let mut summary = format!("{} services healthy", done.running.len());
    if done.replaced > 0 {
        summary.push_str(&format!(" ({} replaced start-first)", done.replaced));
    }
    let proof = noop::record(
        docker::compose_identity(),
        noop::stack_key(stack, text),
        &done.config_hashes,
        &done.running,
    );
    Deployed {
        summary,
        urls: observe::urls(stack, &done.running),
        proof: Some(proof),
    }
}

/// The container ids of the services not in `replace`, to tell whether compose changed any.
fn ids(containers: &[Container], replace: &[Replacement]) -> BTreeSet<String> {
    containers
        .iter()
        .filter(|c| replace.iter().all(|(r, _)| r.name != c.service))
        .map(|c| format!("{}/{}/{}", c.service, c.id, c.state))
        .collect()
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

/// The stores this deploy recreates that run ready now (their config hash differs from
/// what will run), from the containers the deploy already listed. A store that is not
/// running is not dumped: there is no server to ask, and nothing a recreate could lose
/// that a dump would hold.
fn recreated_stores<'s>(
    stack: &'s Stack,
    hashes: &BTreeMap<String, String>,
    running: &[Container],
) -> Vec<(&'s Service, &'s Backup)> {
    backup::stores(stack)
        .into_iter()
        .filter(|(svc, _)| {
            running
                .iter()
                .any(|c| c.service == svc.name && c.is_ready() && changed(c, hashes))
        })
        .collect()
}

/// Before a deploy: a backup of each store it recreates, dumped by this target's own
/// way of running the kind's script.
fn back_up_before_recreate(
    stack: &Stack,
    hashes: &BTreeMap<String, String>,
    running: &[Container],
) -> Result<(), Error> {
    let chosen = recreated_stores(stack, hashes, running);
    backup::write(
        stack,
        &chosen,
        "before the deploy recreates it",
        &|svc, kind, out| data::dump(stack, svc, kind, out),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::docker::{Health, State};
    use crate::targets::compose::fixture::{container, hashes, stack};

    fn names(replace: &[Replacement]) -> Vec<String> {
        replace.iter().map(|(s, _)| s.name.clone()).collect()
    }

    fn all() -> Vec<String> {
        ["db", "edge", "greeter", "hello"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn only_changed_ready_apps_behind_the_edge_go_start_first() {
        let stack = stack();
        let none = BTreeMap::new();
        let now = hashes(&[
            ("db", "d2"),
            ("edge", "e1"),
            ("greeter", "g1"),
            ("hello", "h2"),
        ]);
        let running = [
            container("db", "d1"),
            container("edge", "e1"),
            container("greeter", "g1"),
            container("hello", "h1"),
        ];
        // db changed too, but holds data: stop-first, through compose.
        assert_eq!(
            names(&start_first(&stack, &all(), &now, &running, &none)),
            ["hello"]
        );
        // A container that is not ready, or publishes a host port itself, is replaced
        // by compose, stop-first.
        let mut starting = running.clone();
        starting[3].health = Health::Starting;
        assert!(start_first(&stack, &all(), &now, &starting, &none).is_empty());
        let mut published = running.clone();
        published[3].ports.insert(8000, "127.0.0.1:8081".into());
        assert!(start_first(&stack, &all(), &now, &published, &none).is_empty());
        // Not running at all: created by compose.
        assert!(start_first(&stack, &all(), &now, &running[..3], &none).is_empty());
        // Broken with the file's config (unhealthy): an app is healed start-first; the
        // database is not (heal.rs recreates it).
        let same = hashes(&[
            ("db", "d1"),
            ("edge", "e1"),
            ("greeter", "g1"),
            ("hello", "h1"),
        ]);
        let mut sick = running.clone();
        sick[3].health = Health::Unhealthy;
        let fault = Fault {
            state: crate::targets::interface::SyncState::Unhealthy,
            reason: "its health check fails".into(),
        };
        let broken: BTreeMap<String, Fault> = [
            ("hello".to_string(), fault.clone()),
            ("db".to_string(), fault),
        ]
        .into();
        assert_eq!(
            names(&start_first(&stack, &all(), &same, &sick, &broken)),
            ["hello"]
        );
        assert!(start_first(&stack, &all(), &same, &sick, &none).is_empty());
    }

    #[test]
    fn compose_runs_once_for_all_unless_the_edge_changes_then_it_goes_last() {
        let stack = stack();
        let same = hashes(&[
            ("db", "d1"),
            ("edge", "e1"),
            ("greeter", "g1"),
            ("hello", "h1"),
        ]);
        let running = [
            container("db", "d1"),
            container("edge", "e1"),
            container("greeter", "g1"),
            container("hello", "h1"),
        ];
        let none: Vec<Replacement> = Vec::new();
        assert_eq!(
            compose_passes(&stack, &all(), &none, &same, &running),
            [Vec::<String>::new()],
            "one `up` of the whole file"
        );
        let mut edge_changed = same.clone();
        edge_changed.insert("edge".into(), "e2".into());
        assert_eq!(
            compose_passes(&stack, &all(), &none, &edge_changed, &running),
            [vec!["db", "greeter", "hello"], vec!["edge"]]
        );
        // The edge not yet created counts as changed.
        assert_eq!(
            compose_passes(&stack, &all(), &none, &same, &running[2..]),
            [vec!["db", "greeter", "hello"], vec!["edge"]]
        );
        // hello goes start-first: compose runs for the others only, by name.
        let svc = &stack.services["hello"];
        let hello = vec![(svc, vec![running[3].clone()])];
        assert_eq!(
            compose_passes(&stack, &all(), &hello, &same, &running),
            [vec!["db", "edge", "greeter"]]
        );
        let only = vec!["hello".to_string()];
        assert!(compose_passes(&stack, &only, &hello, &same, &running).is_empty());
    }

    #[test]
    fn a_failure_blames_what_failed_not_what_was_still_starting() {
        let mut exited = container("greeter", "g1");
        exited.state = State::Exited;
        exited.exit_code = 3;
        let mut starting = container("hello", "h1");
        starting.health = Health::Starting;
        let both = [("greeter", Some(&exited)), ("hello", Some(&starting))];
        assert_eq!(blamed(&both), ["greeter"]);
        // Only starting ones: they ran out of time, and are blamed.
        assert_eq!(blamed(&both[1..]), ["hello"]);
        // Never created is a failure too.
        assert_eq!(blamed(&[("db", None), ("hello", Some(&starting))]), ["db"]);
    }

    #[test]
    fn a_store_is_backed_up_before_a_deploy_only_when_it_is_recreated_while_ready() {
        let stack = stack();
        let now = hashes(&[("db", "d2")]);
        let store = |running: &[Container]| -> Vec<String> {
            recreated_stores(&stack, &now, running)
                .iter()
                .map(|(s, _)| s.name.clone())
                .collect()
        };
        assert_eq!(store(&[container("db", "d1")]), ["db"]);
        assert!(store(&[container("db", "d2")]).is_empty(), "unchanged");
        let mut down = container("db", "d1");
        down.state = State::Exited;
        assert!(store(&[down]).is_empty(), "nothing to dump it from");
    }
}
