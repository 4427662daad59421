//! A service's ports: the container port, and the host port it publishes, which no other
//! service may publish too, unless an edge tells them apart by host name. (Where published ports listen, `stack.bind_address`, is
//! checked with the `[stack]` table.)

use std::collections::BTreeMap;

use crate::error::Problem;
use crate::stack::syntax::is_dns_label;

use super::location::ServiceAt;

/// The container port: any but 0, required but for the edge, which has none: it
/// listens on the apps' ports, and its admin API is a Unix socket.
pub(super) fn port(svc: ServiceAt<'_>, port: Option<u16>, edge: bool, problems: &mut Vec<Problem>) {
    match (port, edge) {
        (Some(0), false) => problems.push(Problem::new(
            svc.key("port"),
            "port 0 is not a container port",
        )),
        (None, false) => problems.push(
            Problem::new(svc.key("port"), "missing `port`")
                .hint("the port the service listens on inside its container, e.g. `port = 8000`"),
        ),
        (Some(_), true) => problems.push(
            Problem::new(svc.key("port"), "the edge has no port of its own")
                .hint("remove `port`: the edge listens on the apps' `publish` ports, and stackgen reaches its admin API through a Unix socket in .stackgen/edge-admin/"),
        ),
        _ => {}
    }
}

/// The host port, recorded in `published` (host port -> the services publishing it, with
/// their `hosts`). Whether two services may share a host port is decided once every
/// service is known ([`shared`]): only behind an edge, told apart by host name.
pub(super) fn publish<'a>(
    svc: ServiceAt<'a>,
    publish: Option<u16>,
    hosts: &'a [String],
    published: &mut BTreeMap<u16, Vec<(&'a str, &'a [String])>>,
    problems: &mut Vec<Problem>,
) {
    for host in hosts {
        if !is_host_name(host) {
            problems.push(
                Problem::new(svc.key("hosts"), format!("`{host}` is not a host name"))
                    .hint("lowercase DNS labels joined by dots, e.g. `hello.example.com`"),
            );
        }
    }
    match publish {
        None if !hosts.is_empty() => problems.push(
            Problem::new(svc.key("hosts"), "`hosts` without `publish`")
                .hint("`hosts` names the host names the edge routes to this service on its `publish` port"),
        ),
        // 0 asks the engine for an ephemeral port: any number of services may.
        Some(host) if host != 0 => published.entry(host).or_default().push((svc.name, hosts)),
        _ => {}
    }
}

/// Services sharing a host port: allowed behind an edge (`edge` names it), when at most
/// one of them has no `hosts` (it takes what the others do not) and no host name is
/// claimed twice. Reported at the later service's `publish` or `hosts`.
pub(super) fn shared(
    published: &BTreeMap<u16, Vec<(&str, &[String])>>,
    edge: Option<&str>,
    problems: &mut Vec<Problem>,
) {
    for (port, services) in published {
        let mut fallback: Option<&str> = None;
        let mut claimed: BTreeMap<&str, &str> = BTreeMap::new();
        for (i, (name, hosts)) in services.iter().enumerate() {
            let svc = ServiceAt { name };
            if i > 0 && edge.is_none() {
                problems.push(
                    Problem::new(
                        svc.key("publish"),
                        format!("host port {port} is also published by `{}`", services[0].0),
                    )
                    .hint("give each service its own host port, `publish = 0` for an ephemeral one, or add an edge service and tell them apart with `hosts`"),
                );
                continue;
            }
            if hosts.is_empty()
                && let Some(other) = fallback.replace(name)
            {
                problems.push(
                    Problem::new(
                        svc.key("publish"),
                        format!("host port {port} is also published by `{other}`, and neither names `hosts`"),
                    )
                    .hint("on a shared port, give each service but one its own `hosts`"),
                );
            }
            for host in hosts.iter() {
                if let Some(other) = claimed.insert(host, name) {
                    problems.push(
                        Problem::new(
                            svc.key("hosts"),
                            format!("host `{host}` on port {port} is also routed to `{other}`"),
                        )
                        .hint("each host name on a port goes to one service"),
                    );
                }
            }
        }
    }
}

/// A host name as the edge matches it: lowercase DNS labels joined by dots.
fn is_host_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}
