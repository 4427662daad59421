//! `tls`: HTTPS at the edge for one app's route. Its host port is fixed (the plain
//! port's redirect names it) and only HTTPS listens there; the certificate and key are
//! both files inside the project, or neither (stackgen's local CA issues one).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Problem;
use crate::stack::model::{Service, Tls};
use crate::stack::raw::RawTls;
use crate::stack::validate::location::ServiceAt;
use crate::stack::validate::paths::project_path;

/// One service's `tls`, checked.
pub(super) fn check(
    root: &Path,
    svc: ServiceAt<'_>,
    tls: Option<&RawTls>,
    publish: Option<u16>,
    problems: &mut Vec<Problem>,
) -> Option<Tls> {
    let tls = tls?;
    if publish.is_none() {
        problems.push(
            Problem::new(svc.key("tls"), "`tls` without `publish`")
                .hint("HTTPS is for a route: give the service `publish` (plain HTTP there redirects to HTTPS)"),
        );
    }
    if tls.publish == 0 {
        problems.push(
            Problem::new(svc.key("tls.publish"), "HTTPS needs a fixed host port")
                .hint("the redirect from plain HTTP names the port: choose one, like 8443"),
        );
    }
    let files = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let cert = project_path(root, cert, false, &svc.key("tls.cert"), problems);
            let key = project_path(root, key, false, &svc.key("tls.key"), problems);
            cert.zip(key)
        }
        (None, None) => None,
        _ => {
            problems.push(
                Problem::new(svc.key("tls"), "`cert` and `key` come together")
                    .hint("name both files, or neither for a certificate from stackgen's local CA"),
            );
            None
        }
    };
    Some(Tls {
        publish: tls.publish,
        files,
    })
}

/// No port is both plain HTTP (some service's `publish`) and HTTPS (some `tls.publish`);
/// every service with `tls` is behind an edge.
pub(super) fn ports(
    services: &BTreeMap<String, Service>,
    edge: Option<&str>,
    problems: &mut Vec<Problem>,
) {
    for svc in services.values() {
        let Some(tls) = &svc.tls else { continue };
        let at = ServiceAt { name: &svc.name };
        if edge.is_none() {
            problems.push(
                Problem::new(at.key("tls"), "`tls` needs an edge service").hint(
                    "add `[services.edge]` with `kind = \"edge\"`: it holds the certificates",
                ),
            );
        }
        if let Some(other) = services.values().find(|o| o.publish == Some(tls.publish)) {
            problems.push(
                Problem::new(
                    at.key("tls.publish"),
                    format!(
                        "host port {} is plain HTTP for `{}`",
                        tls.publish, other.name
                    ),
                )
                .hint("give HTTPS a port of its own"),
            );
        }
    }
}
