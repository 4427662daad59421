//! What runs on this host, held against what is rendered and what the current
//! generation deployed: a plan's inputs, the no-op verdict, `status` rows, and the URL
//! each published service answers on (its own port, or the edge's for its route).

use std::collections::BTreeMap;

use anyhow::Result;

use crate::document::Document;
use crate::engine::docker::{self, CONFIG_HASH_LABEL, Container, INPUTS_LABEL};
use crate::pipeline::Evaluated;
use crate::plan::{self, Desired, Observed, PlanInputs, Previous};
use crate::render;
use crate::stack::{Stack, TargetKind};
use crate::state::generations;
use crate::state::layout;
use crate::targets::compose::certs;
use crate::targets::compose::edge::EdgeProxy;
use crate::targets::compose::interrupted;
use crate::targets::compose::noop;
use crate::targets::compose::project::config_hashes;
use crate::targets::compose::serving;
use crate::targets::deployed;
use crate::targets::interface::{StatusRow, Verdict};

/// Each service as rendered now, as it runs, and as the current generation deployed it;
/// and the edge, when its routes differ from what is rendered.
pub(super) fn plan_inputs(stack: &Stack, evaluated: &Evaluated) -> Result<PlanInputs> {
    let running = docker::containers(&stack.name)?;
    Ok(PlanInputs {
        desired: desired(stack, evaluated)?,
        observed: running.iter().map(observed).collect(),
        previous: previous(stack)?,
        reload: reloads(stack, evaluated, &running),
    })
}

/// Whether what runs is provably `evaluated` as the current generation deployed it.
pub(super) fn verdict(stack: &Stack, evaluated: &Evaluated) -> Result<Verdict> {
    let changed = |why: String| Ok(Verdict::Changed(why));
    let root = &stack.root;
    let Some(current) = generations::current(root)? else {
        return changed("nothing was deployed from this folder yet".into());
    };
    let Some(proof) = current.proof(root) else {
        let n = current.number;
        return changed(format!("generation {n} has no deploy record"));
    };
    let text = evaluated
        .rendered
        .target(TargetKind::Compose)
        .unwrap_or_default();
    let doubt =
        noop::files_doubt(evaluated, &current)?.or_else(|| noop::hashes_doubt(stack, &proof, text));
    if let Some(doubt) = doubt {
        return changed(doubt);
    }
    if let Some(started) = interrupted::interrupted(stack) {
        return changed(format!("a deploy was interrupted (it started {started})"));
    }
    let running = docker::containers(&stack.name)?;
    let images = if docker::containers_resolve_tags() {
        None
    } else {
        Some(docker::local_images(docker::On::Deploy)?)
    };
    let empty = Document::parse_lenient("");
    let doc = evaluated
        .documents
        .get(&TargetKind::Compose)
        .unwrap_or(&empty);
    let doubt = noop::check_running(&proof, doc, &running, images.as_ref());
    let doubt = doubt
        .or_else(|| edge_doubt(stack, evaluated, &running))
        .or_else(|| certs::doubt(stack))
        .or_else(|| serving_doubt(stack, doc, &running));
    if let Some(doubt) = doubt {
        return changed(doubt);
    }
    Ok(Verdict::Unchanged {
        generation: current.number,
        services: doc.services().len(),
        urls: urls(stack, &running),
    })
}

/// One row per service of the generated file, and one per orphan.
pub(super) fn status(stack: &Stack) -> Result<Vec<StatusRow>> {
    let generated =
        std::fs::read_to_string(stack.root.join(layout::COMPOSE_FILE)).unwrap_or_default();
    let hashes = config_hashes(stack, &generated)?;
    let doc = Document::parse_lenient(&generated);
    let running = docker::containers(&stack.name)?;
    let mut serving = serving::check(stack, &running, &serving::networks(stack, &doc));
    let doubled = interrupted::doubled(stack, &running);
    let cut_short = interrupted::interrupted(stack);
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
        let is_edge = stack.edge().is_some_and(|e| &e.name == name);
        if is_edge && !routes_in_sync(stack, &running) {
            detail.push(format!("its routes differ from {}", layout::EDGE_FILE));
        }
        if let Some(extra) = doubled.get(name) {
            detail.push(format!(
                "{} containers, left by an interrupted deploy; `stackgen up` finishes it",
                extra.len()
            ));
        }
        if let Some(started) = cut_short.as_ref().filter(|_| is_edge) {
            detail.push(format!(
                "a deploy was interrupted (it started {started}); `stackgen up` finishes it"
            ));
        }
        let seen = serving.remove(name).unwrap_or_default();
        let mut row = StatusRow::observed(
            name,
            have.state.to_string(),
            have.health.as_str().to_string(),
            have.image.clone(),
            url(stack, have, &running).unwrap_or_default(),
            detail,
        );
        if let Some(fault) = seen.fault {
            row.fault(fault.state, fault.reason);
        }
        row.probes = seen.probes;
        rows.push(row);
    }
    for orphan in running
        .iter()
        .filter(|r| !doc.services().contains_key(&r.service))
    {
        rows.push(StatusRow::orphan(
            &orphan.service,
            orphan.state.to_string(),
            orphan.health.as_str().to_string(),
            orphan.image.clone(),
            "not in the generated file; `stackgen up` removes it",
        ));
    }
    Ok(rows)
}

/// The edge's name, when `evaluated` renders one and its ready container runs other
/// routes (or its runtime API does not answer).
fn reloads(stack: &Stack, evaluated: &Evaluated, running: &[Container]) -> Option<String> {
    let (Some(want), Some(edge)) = (evaluated.rendered.edge.as_deref(), stack.edge()) else {
        return None;
    };
    let proxy = EdgeProxy::find(stack, running)?;
    (!proxy.runs(want)).then(|| edge.name.clone())
}

/// Why the edge may not serve what `evaluated` renders: no ready edge, other routes
/// loaded (or a runtime API that does not answer), or a routed service whose requests
/// do not all go to its running containers.
fn edge_doubt(stack: &Stack, evaluated: &Evaluated, running: &[Container]) -> Option<String> {
    let want = evaluated.rendered.edge.as_deref()?;
    let Some(proxy) = EdgeProxy::find(stack, running).filter(|p| p.runs(want)) else {
        return Some(format!("the edge does not run {}", layout::EDGE_FILE));
    };
    proxy.misrouted(stack, running)
}

/// The first service users do not reach, and why: each container on the networks of
/// its config (the generation's, proven above), and the probes `status` makes.
fn serving_doubt(stack: &Stack, doc: &Document, running: &[Container]) -> Option<String> {
    serving::check(stack, running, &serving::networks(stack, doc))
        .into_iter()
        .find_map(|(name, seen)| {
            let fault = seen.fault?;
            Some(format!("`{name}` is {}: {}", fault.state, fault.reason))
        })
}

/// Whether the running edge has generated/edge.cfg loaded.
fn routes_in_sync(stack: &Stack, running: &[Container]) -> bool {
    let file = std::fs::read_to_string(stack.root.join(layout::EDGE_FILE));
    let proxy = EdgeProxy::find(stack, running);
    matches!((file, proxy), (Ok(want), Some(proxy)) if proxy.runs(&want))
}

fn desired(stack: &Stack, evaluated: &Evaluated) -> Result<BTreeMap<String, Desired>> {
    let kind = TargetKind::Compose;
    let hashes = config_hashes(stack, evaluated.rendered.target(kind).unwrap_or_default())?;
    Ok(plan::desired(
        stack.services.keys(),
        evaluated.documents.get(&kind),
        &evaluated.inputs,
        &hashes,
    ))
}

/// The current generation (the last successful `up` or `rollback`), when there is one.
fn previous(stack: &Stack) -> Result<BTreeMap<String, Previous>> {
    let Some(current) = deployed::current_file(&stack.root, layout::COMPOSE_FILE)? else {
        return Ok(BTreeMap::new());
    };
    let hashes = config_hashes(stack, &current.text)?;
    let doc = Document::parse_lenient(&current.text);
    Ok(plan::previous(&doc, current.lock.as_deref(), &hashes))
}

/// A container as the plan sees it.
fn observed(c: &Container) -> Observed {
    Observed {
        service: c.service.clone(),
        not_running: (!c.is_running()).then(|| c.state.to_string()),
        image: c.image.clone(),
        inputs_hash: c.label(INPUTS_LABEL).map(str::to_string),
        config_hash: c.label(CONFIG_HASH_LABEL).unwrap_or_default().to_string(),
    }
}

/// The URL a running container of a published service answers on: its own port, or
/// behind an edge the edge's port for its route (with its first host name).
fn url(stack: &Stack, c: &Container, running: &[Container]) -> Option<String> {
    let svc = stack.services.get(&c.service)?;
    svc.publish?;
    if !c.is_running() {
        return None;
    }
    if !stack.routed(svc) {
        return c.ports.get(&svc.port).map(|addr| format!("http://{addr}/"));
    }
    let (edge_container, route) = serving::edge_route(stack, svc, running)?;
    let (scheme, listen) = match route.tls {
        Some(port) => ("https", render::edge::listen_port(port)),
        None => ("http", route.listen),
    };
    let addr = edge_container.ports.get(&listen)?;
    Some(match svc.hosts.first() {
        Some(host) => {
            let port = addr.rsplit(':').next().unwrap_or("");
            format!("{scheme}://{host}:{port}/")
        }
        None => format!("{scheme}://{addr}/"),
    })
}

/// `(service, url)` for each published service that has a port bound, in stack order.
pub(super) fn urls(stack: &Stack, running: &[Container]) -> Vec<(String, String)> {
    stack
        .services
        .keys()
        .filter_map(|name| {
            let c = running
                .iter()
                .find(|r| &r.service == name && r.is_running())?;
            Some((name.clone(), url(stack, c, running)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::docker::State;
    use crate::targets::compose::fixture::{container, stack};

    #[test]
    fn a_routed_app_answers_on_the_edges_port_for_its_route() {
        let mut stack = stack();
        let listen = |stack: &Stack, name: &str| {
            render::edge::routes(stack)
                .into_iter()
                .find(|r| r.service == name)
                .expect("a route")
                .listen
        };
        let mut edge = container("edge", "e1");
        edge.ports
            .insert(listen(&stack, "hello"), "127.0.0.1:8081".into());
        let hello = container("hello", "h1");
        let db = container("db", "d1");
        let running = [db.clone(), edge.clone(), hello.clone()];
        assert_eq!(
            url(&stack, &hello, &running).as_deref(),
            Some("http://127.0.0.1:8081/")
        );
        // Its first host name, on the edge's port, when it has hosts.
        stack
            .services
            .get_mut("hello")
            .expect("hello")
            .hosts
            .push("hello.example".into());
        assert_eq!(
            url(&stack, &hello, &running).as_deref(),
            Some("http://hello.example:8081/")
        );
        // The database publishes nothing; without a running edge nothing answers.
        assert_eq!(url(&stack, &db, &running), None);
        let mut stopped = edge;
        stopped.state = State::Exited;
        assert_eq!(url(&stack, &hello, &[stopped, hello.clone()]), None);
        // greeter's route has no bound port in this edge: no URL, and `urls` skips it.
        let greeter = container("greeter", "g1");
        let listed = urls(&stack, &[running.to_vec(), vec![greeter]].concat());
        assert_eq!(
            listed,
            [(
                "hello".to_string(),
                "http://hello.example:8081/".to_string()
            )]
        );
    }

    #[test]
    fn a_published_app_without_an_edge_answers_on_its_own_port() {
        let mut stack = stack();
        stack.services.remove("edge");
        let mut hello = container("hello", "h1");
        hello.ports.insert(8000, "127.0.0.1:41000".into());
        assert_eq!(
            url(&stack, &hello, std::slice::from_ref(&hello)).as_deref(),
            Some("http://127.0.0.1:41000/")
        );
    }

    #[test]
    fn a_container_the_plan_sees_names_what_is_wrong_only_when_it_is() {
        let mut c = container("hello", "h1");
        assert_eq!(observed(&c).not_running, None);
        assert_eq!(observed(&c).config_hash, "h1");
        c.state = State::Exited;
        assert_eq!(observed(&c).not_running.as_deref(), Some("exited"));
    }
}
