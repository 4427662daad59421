//! Whether each service serves its users, asked the way they are served rather than the
//! way its own health check asks (`localhost`, inside its container, a path no user
//! takes):
//! - a routed app: its URL from this host through the edge, and each of its containers
//!   the way the edge reaches it (its address on the edge's network, its health path),
//!   and the edge's own servers for it (a name the edge cannot resolve, or none that
//!   takes requests);
//! - an app publishing its own port: that port;
//! - any service: its container running, not restarting, not unhealthy, on every
//!   network its compose config names.
//!
//! The probes run in parallel with short timeouts: a stack that serves answers in a few
//! milliseconds, one that does not within about [`probe::STATUS_TIMEOUT`]. No process is started.

use std::collections::{BTreeMap, BTreeSet};

use crate::document::Document;
use crate::engine::docker::{Container, Health, State};
use crate::render;
use crate::stack::{Service, Stack};
use crate::targets::compose::edge::{self, EdgeProxy};
use crate::targets::interface::{Probe, SyncState};
use crate::targets::probe;

/// What is wrong with how a service serves: the state `status` shows and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub state: SyncState,
    pub reason: String,
}

/// What users see of one service.
#[derive(Debug, Clone, Default)]
pub struct Serving {
    /// The first thing wrong; `None` when it serves.
    pub fault: Option<Fault>,
    pub probes: Vec<Probe>,
}

/// One probe to make: what it asks, where, with which Host header and path, and
/// whether any answer below 500 counts (a URL) or only 2xx and 3xx (a health path).
struct Ask {
    service: String,
    what: String,
    address: String,
    host: Option<String>,
    path: String,
    any_answer: bool,
}

/// Each service of `stack` that has containers in `running`, by name, with what users
/// see of it. `networks` is each service's networks as its compose config names them.
pub fn check(
    stack: &Stack,
    running: &[Container],
    networks: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, Serving> {
    let asks: Vec<Ask> = stack
        .services
        .values()
        .flat_map(|svc| asks(stack, svc, running))
        .collect();
    let answers: Vec<Probe> = std::thread::scope(|s| {
        let handles: Vec<_> = asks.iter().map(|a| s.spawn(|| run(a))).collect();
        handles
            .into_iter()
            .zip(&asks)
            .map(|(h, a)| h.join().unwrap_or_else(|_| failed(a, "the probe panicked")))
            .collect()
    });
    let servers = EdgeProxy::find(stack, running).map(|e| e.servers());
    let mut out = BTreeMap::new();
    for svc in stack.services.values() {
        let theirs: Vec<&Container> = running.iter().filter(|c| c.service == svc.name).collect();
        if theirs.is_empty() {
            continue;
        }
        let probes: Vec<Probe> = asks
            .iter()
            .zip(&answers)
            .filter(|(a, _)| a.service == svc.name)
            .map(|(_, p)| p.clone())
            .collect();
        let fault = container_fault(stack, svc, &theirs, networks.get(&svc.name))
            .or_else(|| probe_fault(&probes))
            .or_else(|| match (&servers, stack.routed(svc)) {
                (Some(Ok(servers)), true) => edge_fault(svc, servers),
                (Some(Err(_)), true) => Some(unreachable("the edge's runtime API does not answer")),
                _ => None,
            });
        out.insert(svc.name.clone(), Serving { fault, probes });
    }
    out
}

/// Each service's networks as the compose file `doc` names them, by their engine
/// names (`<project>_<network>`).
pub fn networks(stack: &Stack, doc: &Document) -> BTreeMap<String, BTreeSet<String>> {
    doc.services()
        .iter()
        .map(|(name, config)| {
            let names: Vec<String> = match &config["networks"] {
                serde_json::Value::Array(list) => list
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect(),
                serde_json::Value::Object(map) => map.keys().cloned().collect(),
                _ => vec!["default".to_string()],
            };
            let engine = names
                .into_iter()
                .map(|n| format!("{}_{n}", stack.name))
                .collect();
            (name.clone(), engine)
        })
        .collect()
}

fn unreachable(reason: impl Into<String>) -> Fault {
    Fault {
        state: SyncState::Unreachable,
        reason: reason.into(),
    }
}

/// What the engine tells of the containers: restarting, not running, unhealthy, or off
/// a network of their config.
fn container_fault(
    stack: &Stack,
    svc: &Service,
    theirs: &[&Container],
    networks: Option<&BTreeSet<String>>,
) -> Option<Fault> {
    for c in theirs {
        let fault = |state, reason: String| Some(Fault { state, reason });
        if c.state == State::Restarting {
            let why = format!(
                "container {} keeps restarting (exit code {})",
                c.id, c.exit_code
            );
            return fault(SyncState::Restarting, why);
        }
        if !c.is_running() {
            return Some(unreachable(format!("container {} is {}", c.id, c.state)));
        }
        if c.health == Health::Unhealthy {
            let why = format!("container {}'s health check fails", c.id);
            return fault(SyncState::Unhealthy, why);
        }
        let on: BTreeSet<&String> = c.addresses.keys().collect();
        if let Some(missing) = networks.and_then(|n| n.iter().find(|n| !on.contains(n))) {
            let net = missing
                .strip_prefix(&format!("{}_", stack.name))
                .unwrap_or(missing);
            let why = format!("container {} is not on the `{net}` network", c.id);
            return Some(unreachable(why));
        }
        if stack.routed(svc) && edge::address(stack, c).is_none() {
            let why = format!("container {} has no address on the edge's network", c.id);
            return Some(unreachable(why));
        }
    }
    None
}

/// The first failed probe, as a fault.
fn probe_fault(probes: &[Probe]) -> Option<Fault> {
    let bad = probes.iter().find(|p| !p.ok)?;
    Some(unreachable(format!(
        "{} at {}: {}",
        bad.what, bad.address, bad.answer
    )))
}

/// The edge's view: a server of `svc`'s backend that takes requests, with an address.
fn edge_fault(svc: &Service, servers: &[(String, edge::Server)]) -> Option<Fault> {
    let backend = render::edge::backend(&svc.name);
    let ours: Vec<&edge::Server> = servers
        .iter()
        .filter(|(b, _)| *b == backend)
        .map(|(_, s)| s)
        .collect();
    if ours.iter().any(|s| s.takes_requests()) {
        return None;
    }
    Some(unreachable(if ours.iter().all(|s| s.address.is_empty()) {
        "name not resolved: the edge has no address for it".to_string()
    } else {
        "the edge sends its requests to no server".to_string()
    }))
}

/// The probes for `svc`: its URL through the edge and each container as the edge
/// reaches it (routed), or its own published port; none for a service without HTTP.
fn asks(stack: &Stack, svc: &Service, running: &[Container]) -> Vec<Ask> {
    let theirs = running
        .iter()
        .filter(|c| c.service == svc.name && c.is_running());
    let ask = |what: String, address: String, host: Option<String>, path: &str, any| Ask {
        service: svc.name.clone(),
        what,
        address,
        host,
        path: path.to_string(),
        any_answer: any,
    };
    let mut out = Vec::new();
    if svc.publish.is_none() {
        return out;
    }
    let health = svc.healthcheck.path.as_str();
    if !stack.routed(svc) {
        for c in theirs {
            if let Some(addr) = c.ports.get(&svc.port) {
                out.push(ask(
                    format!("container {}", c.id),
                    addr.clone(),
                    None,
                    health,
                    false,
                ));
            }
        }
        return out;
    }
    if let Some(addr) = edge_entry(stack, svc, running) {
        out.push(ask(
            "the URL".into(),
            addr,
            svc.hosts.first().cloned(),
            "/",
            true,
        ));
    }
    for c in theirs {
        if let Some(addr) = edge::address(stack, c) {
            out.push(ask(
                format!("container {}", c.id),
                addr,
                None,
                health,
                false,
            ));
        }
    }
    out
}

/// Where this host reaches `svc` through the edge: the edge's published address for the
/// route's plain port.
fn edge_entry(stack: &Stack, svc: &Service, running: &[Container]) -> Option<String> {
    let (container, route) = edge_route(stack, svc, running)?;
    container.ports.get(&route.listen).cloned()
}

/// The stack's running edge container and `svc`'s route through it.
pub fn edge_route<'c, 's>(
    stack: &'s Stack,
    svc: &Service,
    running: &'c [Container],
) -> Option<(&'c Container, render::edge::Route<'s>)> {
    let edge = stack.edge()?;
    let container = running
        .iter()
        .find(|c| c.service == edge.name && c.is_running())?;
    let route = render::edge::routes(stack)
        .into_iter()
        .find(|r| r.service == svc.name)?;
    Some((container, route))
}

fn run(ask: &Ask) -> Probe {
    probe::ask(
        &ask.what,
        &ask.address,
        ask.host.as_deref(),
        &ask.path,
        ask.any_answer,
    )
}

fn failed(ask: &Ask, why: &str) -> Probe {
    Probe {
        what: ask.what.clone(),
        address: ask.address.clone(),
        host: ask.host.clone(),
        path: ask.path.clone(),
        ok: false,
        answer: why.to_string(),
        ms: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::compose::fixture::{container, stack};

    #[test]
    fn the_engine_tells_a_restarting_a_stopped_an_unhealthy_and_a_detached_container() {
        let stack = stack();
        let svc = &stack.services["db"];
        let nets: BTreeSet<String> = [format!("{}_backend", stack.name)].into();
        let mut db = container("db", "d1");
        db.addresses
            .insert(format!("{}_backend", stack.name), "10.0.0.2".into());
        assert_eq!(container_fault(&stack, svc, &[&db], Some(&nets)), None);
        let mut restarting = db.clone();
        restarting.state = State::Restarting;
        let state =
            |c: &Container| container_fault(&stack, svc, &[c], Some(&nets)).map(|f| f.state);
        assert_eq!(state(&restarting), Some(SyncState::Restarting));
        let mut paused = db.clone();
        paused.state = State::Paused;
        let fault = container_fault(&stack, svc, &[&paused], Some(&nets)).expect("a fault");
        assert_eq!(fault.reason, "container db-d1 is paused");
        let mut sick = db.clone();
        sick.health = Health::Unhealthy;
        assert_eq!(state(&sick), Some(SyncState::Unhealthy));
        let mut detached = db.clone();
        detached.addresses.clear();
        let fault = container_fault(&stack, svc, &[&detached], Some(&nets)).expect("a fault");
        assert_eq!(
            fault.reason,
            "container db-d1 is not on the `backend` network"
        );
    }

    #[test]
    fn a_routed_app_is_asked_through_the_edge_and_where_the_edge_reaches_each_container() {
        let stack = stack();
        let listen = render::edge::routes(&stack)
            .into_iter()
            .find(|r| r.service == "hello")
            .expect("a route")
            .listen;
        let mut edge = container("edge", "e1");
        edge.ports.insert(listen, "127.0.0.1:8081".into());
        let mut hello = container("hello", "h1");
        hello
            .addresses
            .insert(format!("{}_frontend", stack.name), "10.0.1.5".into());
        let svc = &stack.services["hello"];
        let asked: Vec<(String, String, String)> = asks(&stack, svc, &[edge, hello])
            .into_iter()
            .map(|a| (a.what, a.address, a.path))
            .collect();
        let port = svc.port;
        assert_eq!(
            asked,
            [
                ("the URL".into(), "127.0.0.1:8081".into(), "/".into()),
                (
                    "container hello-h1".into(),
                    format!("10.0.1.5:{port}"),
                    svc.healthcheck.path.clone()
                ),
            ]
        );
        // The database has no HTTP to ask.
        assert!(asks(&stack, &stack.services["db"], &[container("db", "d1")]).is_empty());
    }

    #[test]
    fn a_probe_that_finds_nothing_listening_is_refused_and_names_where() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let ask = Ask {
            service: "hello".into(),
            what: "the URL".into(),
            address: closed.clone(),
            host: None,
            path: "/".into(),
            any_answer: true,
        };
        let probe = run(&ask);
        assert!(!probe.ok);
        assert_eq!(probe.answer, "refused");
        assert_eq!(
            probe_fault(&[probe]).map(|f| f.reason),
            Some(format!("the URL at {closed}: refused"))
        );
    }
}
