//! The edge proxy's config (`generated/edge.cfg`): HAProxy 2.6's own format, written line
//! by line from checked values only (service names are identifiers, hosts are DNS names,
//! ports are numbers), so nothing from stack.toml can change its structure.
//!
//! One frontend per host port the apps publish; on it, one `use_backend` per app with
//! `hosts`, matched by the request's host name, and a default: the app without `hosts`
//! (or a plain 404). Each app's backend names one server, the app's compose service
//! name, which HAProxy resolves through the engine's DNS: the steady state names no
//! container. During a start-first replacement stackgen adds the new container as a
//! server over the runtime API and drains the old one, without a reload; a change of
//! the routes is a seamless reload (master-worker mode), where connections open on the
//! old config stay on the old worker until they close.
//!
//! The first lines carry a fingerprint of the rest (`node stackgen-<sha256>`, the node
//! name), which `show info` reports: how stackgen learns which config the edge runs.

use sha2::{Digest, Sha256};

use crate::stack::{Service, Stack};

/// Where the edge container reads its config: a read-only bind mount of
/// `.stackgen/edge/`.
pub const CONFIG_DIR: &str = "/etc/stackgen-edge";

/// Where the edge's admin API listens: a Unix socket in a bind mount of
/// `.stackgen/edge-admin/`, so stackgen reaches it from the host in a fraction of a
/// millisecond, and nothing on any network reaches it at all.
pub const ADMIN_DIR: &str = "/run/stackgen-edge";
/// The socket's file name, in [`ADMIN_DIR`] and in `.stackgen/edge-admin/`.
pub const ADMIN_SOCKET: &str = "admin.sock";
/// The master process's CLI socket (reloads), beside [`ADMIN_SOCKET`].
pub const MASTER_SOCKET: &str = "master.sock";
/// Where the edge's own health check asks, inside its container only.
pub const HEALTH_URL: &str = "http://127.0.0.1:8404/healthz";

/// The first words of the fingerprint line.
const FINGERPRINT: &str = "    node stackgen-";

/// One app as the edge routes to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub service: &'a str,
    /// The app's container port.
    pub port: u16,
    /// The port the edge listens on inside its container for this app's host port.
    pub listen: u16,
    /// The host port (0: ephemeral).
    pub published: u16,
    pub hosts: &'a [String],
    /// HTTPS: the host port, where the plain one redirects.
    pub tls: Option<u16>,
}

/// Every routed app, by listen port, host-named routes before the port's fallback.
pub fn routes(stack: &Stack) -> Vec<Route<'_>> {
    let fixed: Vec<u16> = routed(stack)
        .flat_map(|s| {
            [
                s.publish.filter(|p| *p != 0),
                s.tls.as_ref().map(|t| t.publish),
            ]
        })
        .flatten()
        .map(listen_port)
        .collect();
    let mut next_ephemeral = EPHEMERAL_BASE;
    let mut out: Vec<Route> = routed(stack)
        .map(|svc| {
            let published = svc.publish.unwrap_or(0);
            let listen = if published == 0 {
                while fixed.contains(&next_ephemeral) {
                    next_ephemeral += 1;
                }
                next_ephemeral += 1;
                next_ephemeral - 1
            } else {
                listen_port(published)
            };
            Route {
                service: &svc.name,
                port: svc.port,
                listen,
                published,
                hosts: &svc.hosts,
                tls: svc.tls.as_ref().map(|t| t.publish),
            }
        })
        .collect();
    out.sort_by_key(|r| (r.listen, r.hosts.is_empty(), r.service));
    out
}

/// Each distinct `(listen, published)` port of the edge, plain HTTP and HTTPS.
pub fn listeners(stack: &Stack) -> Vec<(u16, u16)> {
    let routes = routes(stack);
    let mut out: Vec<(u16, u16)> = routes.iter().map(|r| (r.listen, r.published)).collect();
    out.extend(
        routes
            .iter()
            .filter_map(|r| r.tls)
            .map(|t| (listen_port(t), t)),
    );
    out.sort_unstable();
    out.dedup();
    out
}

/// Where the edge finds an app's certificate and key (one PEM file), in its container.
pub fn cert_path(service: &str) -> String {
    format!("{CONFIG_DIR}/certs/{service}.pem")
}

/// Ephemeral host ports get listen ports from here up, skipping fixed ones.
const EPHEMERAL_BASE: u16 = 30000;

/// The edge listens on the host port's own number inside its container, so the config
/// reads like stack.toml; a privileged one is moved up, as the edge runs unprivileged.
pub fn listen_port(published: u16) -> u16 {
    if published < 1024 {
        10000 + published
    } else {
        published
    }
}

fn routed(stack: &Stack) -> impl Iterator<Item = &Service> {
    stack.services.values().filter(|s| stack.routed(s))
}

/// A backend's name: the app's service name, prefixed so it never meets HAProxy's own.
pub fn backend(service: &str) -> String {
    format!("app-{service}")
}

/// The fingerprint a config text carries, as `show info` reports it (`node:`).
pub fn fingerprint(config: &str) -> Option<&str> {
    config
        .lines()
        .find_map(|l| l.strip_prefix(FINGERPRINT))
        .map(str::trim_end)
}

/// The config text, as `generated/edge.cfg` holds it.
pub fn config(stack: &Stack) -> String {
    config_for(stack, Flavour::Compose)
}

/// The config of the edge on a swarm (`generated/edge-swarm.cfg`), a swarm config every
/// node's edge task reads: the same frontends; each backend is a set of server slots
/// filled from the engine's DNS, which answers an app's name with the address of each of
/// its tasks (`endpoint_mode: dnsrr`), checked every 500 ms, so a task that stops serving
/// leaves the rotation at once. A connection refused, or closed with no answer (a task
/// shutting down had taken it into its backlog), is tried again on another task.
pub fn swarm_config(stack: &Stack) -> String {
    config_for(stack, Flavour::Swarm)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Compose,
    Swarm,
}

fn config_for(stack: &Stack, flavour: Flavour) -> String {
    let routes = routes(stack);
    let mut body: Vec<String> = GLOBAL.iter().map(|l| (*l).to_string()).collect();
    let mut plain: Vec<u16> = routes.iter().map(|r| r.listen).collect();
    plain.dedup();
    let mut needs_404 = false;
    for listen in plain {
        let on_port: Vec<&Route> = routes.iter().filter(|r| r.listen == listen).collect();
        body.push(String::new());
        body.push(format!("frontend port-{listen}"));
        body.push(format!("    bind :{listen}"));
        if on_port
            .iter()
            .any(|r| !r.hosts.is_empty() || r.tls.is_some())
        {
            body.push(HOST_VAR.into());
        }
        body.extend(redirects(&on_port));
        needs_404 |= dispatch(&on_port, &mut body);
    }
    let mut secure: Vec<u16> = routes.iter().filter_map(|r| r.tls).collect();
    secure.sort_unstable();
    secure.dedup();
    for port in secure {
        let on_port: Vec<&Route> = routes.iter().filter(|r| r.tls == Some(port)).collect();
        let certs: Vec<String> = on_port
            .iter()
            .map(|r| format!("crt {}", cert_path(r.service)))
            .collect();
        let listen = listen_port(port);
        body.push(String::new());
        body.push(format!("frontend tls-{listen}"));
        body.push(format!("    bind :{listen} ssl {}", certs.join(" ")));
        body.push("    http-request set-header X-Forwarded-Proto https".into());
        if on_port.iter().any(|r| !r.hosts.is_empty()) {
            body.push(HOST_VAR.into());
        }
        needs_404 |= dispatch(&on_port, &mut body);
    }
    for r in &routes {
        body.push(String::new());
        body.push(format!("backend {}", backend(r.service)));
        body.extend(servers(stack, r, flavour));
    }
    if needs_404 {
        body.push(String::new());
        body.push("backend no-route".into());
        body.push("    http-request return status 404 content-type \"text/plain; charset=utf-8\" string \"no route for this host name\"".into());
    }
    let mut body = body.join("\n");
    body.push('\n');
    let digest = crate::hash::hex(&Sha256::digest(body.as_bytes()));
    let header = match flavour {
        Flavour::Compose => {
            "# generated/edge.cfg: the edge's routes (HAProxy 2.6), rendered from stack.toml by\n\
             # `stackgen render`; `stackgen up` loads it with a seamless reload. Do not edit.\n"
        }
        Flavour::Swarm => {
            "# generated/edge-swarm.cfg: the routes of the edge on every swarm node (HAProxy 2.6),\n\
             # rendered from stack.toml by `stackgen render`; a swarm config. Do not edit.\n"
        }
    };
    format!("{header}global\n{FINGERPRINT}{digest}\n{body}")
}

/// A backend's servers. One host: the app's service name, which the engine's DNS
/// resolves to its one container (a replacement is added over the runtime API). A swarm:
/// a slot for each task the app may run during a start-first update, and room to spare.
fn servers(stack: &Stack, r: &Route, flavour: Flavour) -> Vec<String> {
    if flavour == Flavour::Compose {
        return vec![format!(
            "    server {0} {0}:{1} resolvers engine init-addr libc,none resolve-prefer ipv4",
            r.service, r.port
        )];
    }
    let replicas = stack.services.get(r.service).map_or(1, |s| s.replicas);
    vec![
        "    timeout connect 1s".into(),
        "    retry-on conn-failure empty-response".into(),
        format!(
            "    server-template {0} {2} {0}:{1} check inter 500ms fall 1 rise 1 \
             resolvers engine init-addr none resolve-prefer ipv4",
            r.service,
            r.port,
            2 * replicas + 2
        ),
    ]
}

/// The request's host name without its port, for host routes and redirects; hosts in
/// stack.toml are lowercase.
const HOST_VAR: &str = "    http-request set-var(txn.host) req.hdr(host),field(1,:),lower";

/// Plain HTTP on a port, for the routes on it that have HTTPS: a 308 to the same host
/// and path on the HTTPS port.
fn redirects(on_port: &[&Route]) -> Vec<String> {
    let mut out = Vec::new();
    for r in on_port {
        let Some(port) = r.tls else { continue };
        let to = format!("https://%[var(txn.host)]:{port}%[capture.req.uri]");
        let when = if r.hosts.is_empty() {
            let others: Vec<&str> = on_port
                .iter()
                .flat_map(|o| o.hosts.iter())
                .map(String::as_str)
                .collect();
            if others.is_empty() {
                String::new()
            } else {
                format!(" unless {{ var(txn.host) -m str {} }}", others.join(" "))
            }
        } else {
            format!(" if {{ var(txn.host) -m str {} }}", r.hosts.join(" "))
        };
        out.push(format!(
            "    http-request redirect location {to} code 308{when}"
        ));
    }
    out
}

/// The routes of one frontend: by host name first, then the port's default. Returns
/// whether the default is the 404 backend.
fn dispatch(on_port: &[&Route], body: &mut Vec<String>) -> bool {
    for r in on_port.iter().filter(|r| !r.hosts.is_empty()) {
        body.push(format!(
            "    use_backend {} if {{ var(txn.host) -m str {} }}",
            backend(r.service),
            r.hosts.join(" ")
        ));
    }
    match on_port.iter().find(|r| r.hosts.is_empty()) {
        Some(r) => {
            body.push(format!("    default_backend {}", backend(r.service)));
            false
        }
        None => {
            body.push("    default_backend no-route".into());
            true
        }
    }
}

/// What every edge config holds, after the fingerprint: the process, the admin sockets,
/// the timeouts, the engine's DNS, and the health check's own frontend.
const GLOBAL: &[&str] = &[
    // Master-worker mode comes from the command line (-W); the master CLI reloads.
    "    stats socket /run/stackgen-edge/admin.sock mode 666 level admin expose-fd listeners",
    "    stats timeout 10s",
    // How long an old worker keeps the connections it had when the routes changed (a
    // WebSocket, a stream) before it closes them: long-lived clients outlive reloads.
    "    hard-stop-after 1h",
    "    maxconn 2000",
    "    log stdout format raw local0 notice",
    "",
    "defaults",
    "    mode http",
    "    log global",
    "    timeout connect 5s",
    "    timeout client 60s",
    "    timeout server 60s",
    "    timeout http-request 30s",
    "    timeout http-keep-alive 60s",
    // A WebSocket (or any upgraded connection) may stay quiet this long.
    "    timeout tunnel 1h",
    "    timeout client-fin 5s",
    // On a reload the old worker answers the next request on each idle keep-alive
    // connection with `Connection: close` instead of closing it under the client.
    "    option idle-close-on-response",
    // A connection the app refused is tried again: the request was never sent.
    "    retries 3",
    "    option redispatch 1",
    "    retry-on conn-failure",
    "",
    "resolvers engine",
    "    nameserver engine 127.0.0.11:53",
    "    hold valid 1s",
    "    hold nx 1s",
    "    hold obsolete 1s",
    // The engine's DNS not answering (it can break under running containers: a swarm
    // left on this engine does that) keeps each server's last address, for an hour.
    "    hold timeout 1h",
    "    hold refused 1h",
    "    hold other 1h",
    "    accepted_payload_size 8192",
    "",
    "frontend health",
    "    bind 127.0.0.1:8404",
    "    monitor-uri /healthz",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Stack {
        Stack::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("the shipped stack")
    }

    #[test]
    fn a_swarm_edge_fills_server_slots_from_the_engines_dns_and_checks_them() {
        let text = swarm_config(&shipped());
        assert!(
            text.contains(
                "backend app-hello\n    timeout connect 1s\n    retry-on conn-failure empty-response\n    \
                 server-template hello 4 hello:8000 check inter 500ms fall 1 rise 1 resolvers engine"
            ),
            "{text}"
        );
        assert!(text.starts_with("# generated/edge-swarm.cfg"), "{text}");
        assert_ne!(fingerprint(&text), fingerprint(&config(&shipped())));
    }

    #[test]
    fn the_fingerprint_covers_everything_below_it() {
        let text = config(&shipped());
        let print = fingerprint(&text).expect("a fingerprint");
        let below = text.split_once(print).unwrap().1.trim_start_matches('\n');
        assert_eq!(print, crate::hash::hex(&Sha256::digest(below.as_bytes())));
        assert_eq!(fingerprint("global\n    maxconn 1\n"), None);
    }

    #[test]
    fn each_port_routes_hosts_first_then_its_default() {
        let mut stack = shipped();
        let greeter = stack.services.get_mut("greeter").unwrap();
        greeter.publish = Some(8081);
        greeter.hosts = vec!["greeter.test".into(), "g.test".into()];
        let text = config(&stack);
        let frontend: Vec<&str> = text
            .split("frontend port-8081\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(
            frontend,
            [
                "    bind :8081",
                "    http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
                "    use_backend app-greeter if { var(txn.host) -m str greeter.test g.test }",
                "    default_backend app-hello",
            ]
        );
        assert!(!text.contains("frontend port-8082"));
        assert!(
            text.contains("backend app-greeter\n    server greeter greeter:8000 resolvers engine")
        );
        assert!(
            !text.contains("no-route"),
            "a port with a default needs no 404"
        );
        stack.services.get_mut("hello").unwrap().hosts = vec!["hello.test".into()];
        let text = config(&stack);
        assert!(text.contains("    default_backend no-route\n"));
        assert!(text.contains("backend no-route\n"));
    }

    #[test]
    fn https_gets_its_own_frontend_and_plain_http_on_the_route_redirects() {
        let mut stack = shipped();
        let greeter = stack.services.get_mut("greeter").unwrap();
        greeter.publish = Some(8081);
        greeter.hosts = vec!["greeter.test".into()];
        stack.services.get_mut("hello").unwrap().tls = Some(crate::stack::Tls {
            publish: 8443,
            files: None,
        });
        let text = config(&stack);
        assert!(text.contains(
            "    http-request redirect location https://%[var(txn.host)]:8443%[capture.req.uri] code 308 unless { var(txn.host) -m str greeter.test }\n"
        ), "{text}");
        assert!(text.contains(
            "frontend tls-8443\n    bind :8443 ssl crt /etc/stackgen-edge/certs/hello.pem\n    http-request set-header X-Forwarded-Proto https\n    default_backend app-hello\n"
        ), "{text}");
        assert_eq!(listeners(&stack), [(8081, 8081), (8443, 8443)]);
    }
}
