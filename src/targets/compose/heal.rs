//! What a deploy heals before it converges: services whose containers run the file's
//! very config but do not serve their users ([`serving`]): unhealthy, restarting,
//! unreachable through the edge, off a network, paused. Compose alone changes nothing
//! for those (the config is the same) and its `--wait` then fails; the engine restarts
//! only containers that exit, never unhealthy ones.
//!
//! - A paused container is unpaused, the database or the edge taken off a network is
//!   attached to it again, and a database whose name the engine's DNS lost is attached
//!   to that network anew: that undoes what was done to it. Only when it still does
//!   not serve a few seconds later is it healed as below.
//! - An app that goes start-first gets a new container (a fresh network setup, a fresh
//!   resolver) beside the old one, switched in behind the edge; that is
//!   [`super::converge`]'s start-first list, which takes [`broken`] in.
//! - Anything else (the database, the edge) is recreated stop-first, after a backup of
//!   its data when it still answers; a backup that fails stops the heal there, with
//!   nothing recreated.
//!
//! A container that exited is not broken here: compose starts it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::document::Document;
use crate::engine::docker::{self, Container, Project, State};
use crate::error::Error;
use crate::progress;
use crate::stack::Stack;
use crate::targets::backup;
use crate::targets::compose::data;
use crate::targets::compose::serving::{self, Fault};

/// Each service's networks as its config names them ([`serving::networks`]).
type Networks = BTreeMap<String, BTreeSet<String>>;

/// The services whose containers all run their config (per `hashes`, on `networks`)
/// and are up, but do not serve, with why.
fn broken(
    stack: &Stack,
    networks: &Networks,
    running: &[Container],
    hashes: &BTreeMap<String, String>,
) -> BTreeMap<String, Fault> {
    serving::check(stack, running, networks)
        .into_iter()
        .filter_map(|(name, seen)| {
            let theirs: Vec<&Container> = running.iter().filter(|c| c.service == name).collect();
            let up = theirs.iter().all(|c| {
                matches!(c.state, State::Running | State::Paused | State::Restarting)
                    && c.has_config(hashes.get(&name).map(String::as_str))
            });
            seen.fault
                .filter(|_| up && !theirs.is_empty())
                .map(|f| (name, f))
        })
        .collect()
}

/// The containers of the stack and its [`broken`] services, once the paused ones among
/// them are unpaused and have had [`SETTLE`] to serve again (a worker that missed its
/// heartbeats while paused may be restarted by its own master first).
pub(super) fn unpaused(
    stack: &Stack,
    text: &str,
    hashes: &BTreeMap<String, String>,
) -> Result<(Vec<Container>, BTreeMap<String, Fault>), Error> {
    let networks = serving::networks(stack, &Document::parse_lenient(text));
    let running = docker::containers(&stack.name)?;
    let faults = broken(stack, &networks, &running, hashes);
    let unpaused = unpause(&running, &faults)?;
    let reconnected = reconnect(stack, &networks, &running, &faults)?;
    let renamed = reregister(stack, &networks, &running, &faults)?;
    if !(reconnected || renamed || unpaused) {
        return Ok((running, faults));
    }
    let deadline = Instant::now() + SETTLE;
    loop {
        let running = docker::containers(&stack.name)?;
        let faults = broken(stack, &networks, &running, hashes);
        if faults.is_empty() || Instant::now() >= deadline {
            return Ok((running, faults));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How long an unpaused container gets to serve before it is replaced all the same.
const SETTLE: Duration = Duration::from_secs(5);

/// Attaches each container of a `broken` service that does not go start-first (the
/// database, the edge: a new container would cost downtime, or a backup) to the
/// networks of its config it lost; whether there was any.
fn reconnect(
    stack: &Stack,
    networks: &Networks,
    running: &[Container],
    broken: &BTreeMap<String, Fault>,
) -> Result<bool, Error> {
    let mut any = false;
    for c in running.iter().filter(|c| broken.contains_key(&c.service)) {
        let replaced = stack
            .services
            .get(&c.service)
            .is_some_and(|svc| stack.start_first(svc) && c.ports.is_empty());
        let lost = networks
            .get(&c.service)
            .into_iter()
            .flatten()
            .filter(|n| !c.addresses.contains_key(*n));
        for network in lost.filter(|_| !replaced) {
            progress::note(format_args!(
                "{}: container {} is off the `{network}` network; attaching it again",
                c.service, c.id
            ));
            docker::connect(network, &c.id, &c.service)?;
            any = true;
        }
    }
    Ok(any)
}

/// Registers again, on each network, the name of a service others depend on (the
/// database) when the engine's DNS no longer resolves it there, asked from another
/// running container on that network: Docker 20.10 forgets the names of every running
/// container when it leaves a swarm (`swarm leave --force`), and a new container of the
/// app that asks would not resolve it either. Only when some service is `broken`; whether
/// there was any. A start-first app is not asked for: it gets a new container.
fn reregister(
    stack: &Stack,
    networks: &Networks,
    running: &[Container],
    broken: &BTreeMap<String, Fault>,
) -> Result<bool, Error> {
    if broken.is_empty() {
        return Ok(false);
    }
    let depended_on = |name: &str| {
        stack
            .services
            .values()
            .any(|s| s.depends_on.iter().any(|d| d == name))
    };
    let mut any = false;
    for c in running
        .iter()
        .filter(|c| c.is_running() && depended_on(&c.service))
    {
        for network in networks.get(&c.service).into_iter().flatten() {
            let Some(asker) = running.iter().find(|o| {
                o.service != c.service && o.is_running() && o.addresses.contains_key(network)
            }) else {
                continue;
            };
            if docker::names::resolves(&asker.id, &c.service)? != Some(false) {
                continue;
            }
            progress::note(format_args!(
                "{}: the engine's DNS lost its name on `{network}` ({} cannot resolve it); \
                 attaching container {} again",
                c.service, asker.service, c.id
            ));
            docker::names::reattach(network, &c.id, &c.service)?;
            any = true;
        }
    }
    Ok(any)
}

/// Unpauses the paused containers of `broken` services; whether there was any.
fn unpause(running: &[Container], broken: &BTreeMap<String, Fault>) -> Result<bool, Error> {
    let mut any = false;
    for c in running
        .iter()
        .filter(|c| c.state == State::Paused && broken.contains_key(&c.service))
    {
        progress::note(format_args!(
            "{}: container {} is paused; unpausing it",
            c.service, c.id
        ));
        docker::unpause(&c.id)?;
        any = true;
    }
    Ok(any)
}

/// Recreates, stop-first, each `broken` service that does not go start-first (`except`),
/// its data backed up first when it still answers; the database before the rest.
pub(super) fn recreate(
    stack: &Stack,
    project: &Project,
    broken: &BTreeMap<String, Fault>,
    except: &[&str],
    running: &[Container],
) -> Result<(), Error> {
    let mut order: Vec<&String> = broken
        .keys()
        .filter(|name| !except.contains(&name.as_str()))
        .collect();
    order.sort_by_key(|name| !backup::stores(stack).iter().any(|(s, _)| &s.name == *name));
    for name in order {
        let Some(svc) = stack.services.get(name) else {
            continue;
        };
        progress::note(format_args!(
            "{name}: {}; recreating it (its config is the file's)",
            broken[name].reason
        ));
        let stores: Vec<_> = backup::stores(stack)
            .into_iter()
            .filter(|(s, _)| s.name == *name)
            .filter(|_| running.iter().any(|c| &c.service == name && c.is_ready()))
            .collect();
        backup::write(
            stack,
            &stores,
            "before healing recreates it",
            &|svc, kind, out| data::dump(stack, svc, kind, out),
        )?;
        if !project.recreate(&svc.name, stack.wait_timeout)? {
            return Err(Error::runtime(
                format!("healing `{name}` failed: its new container is not ready"),
                Some(format!("`stackgen logs {name}` shows why")),
            ));
        }
    }
    Ok(())
}
