//! A service's ports: the container port, and the host port it publishes, which no other
//! service may publish too. (Where published ports listen, `stack.bind_address`, is
//! checked with the `[stack]` table.)

use std::collections::BTreeMap;

use crate::error::Problem;

use super::location::ServiceAt;

/// The container port: any but 0.
pub(super) fn port(svc: ServiceAt<'_>, port: u16, problems: &mut Vec<Problem>) {
    if port == 0 {
        problems.push(Problem::new(
            svc.key("port"),
            "port 0 is not a container port",
        ));
    }
}

/// The host port, recorded in `published` (host port -> the service that last published
/// it): a service publishing a port already taken is reported at its own `publish`,
/// naming the service before it.
pub(super) fn publish<'a>(
    svc: ServiceAt<'a>,
    publish: Option<u16>,
    published: &mut BTreeMap<u16, &'a str>,
    problems: &mut Vec<Problem>,
) {
    // 0 asks the engine for an ephemeral port: any number of services may.
    if let Some(host) = publish
        && host != 0
        && let Some(other) = published.insert(host, svc.name)
    {
        problems.push(
            Problem::new(
                svc.key("publish"),
                format!("host port {host} is also published by `{other}`"),
            )
            .hint("give each service its own host port, or `publish = 0` for an ephemeral one"),
        );
    }
}
