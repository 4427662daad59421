//! The edge proxy: at most one, publishing nothing of its own (the apps' `publish` are its
//! ports), holding no data; `hosts` only with an edge. Returns its name, which decides
//! whether apps may share ports.

use std::collections::BTreeMap;

use crate::error::Problem;
use crate::stack::kind::{Kind, Role};
use crate::stack::model::Service;

use super::location::ServiceAt;

pub(super) fn check<'a>(
    services: &'a BTreeMap<String, Service>,
    kinds: &BTreeMap<String, Kind>,
    problems: &mut Vec<Problem>,
) -> Option<&'a str> {
    let edges: Vec<&Service> = services
        .values()
        .filter(|s| kinds.get(&s.kind).is_some_and(|k| k.role == Role::Edge))
        .collect();
    for extra in edges.iter().skip(1) {
        problems.push(
            Problem::new(
                ServiceAt { name: &extra.name }.key("kind"),
                format!(
                    "a second edge service; `{}` is the edge already",
                    edges[0].name
                ),
            )
            .hint("one edge publishes every app's host port; remove this one"),
        );
    }
    for edge in &edges {
        let at = ServiceAt { name: &edge.name };
        if edge.publish.is_some() || !edge.hosts.is_empty() {
            problems.push(
                Problem::new(at.key("publish"), "the edge publishes the apps' ports, not its own")
                    .hint("remove `publish` and `hosts` here; give each app `publish` (and `hosts` to share a port)"),
            );
        }
        if edge.data.is_some() {
            problems.push(
                Problem::new(at.key("data"), "the edge holds no data")
                    .hint("remove `data`: its config is rendered into generated/edge.cfg"),
            );
        }
    }
    if edges.is_empty() {
        for svc in services.values().filter(|s| !s.hosts.is_empty()) {
            problems.push(
                Problem::new(ServiceAt { name: &svc.name }.key("hosts"), "`hosts` needs an edge service")
                    .hint("add `[services.edge]` with `kind = \"edge\"` (it routes by host name), or remove `hosts`"),
            );
        }
    }
    edges.first().map(|e| e.name.as_str())
}
