//! The edge proxy's config (`generated/edge.json`): Caddy's native JSON, built as data and
//! written by serde, so a value from stack.toml can never change its structure.
//!
//! One Caddy server per host port the apps publish; on it, one route per app, matched by
//! host name, and a last route for the app without `hosts` (or a plain 404). Each route
//! proxies to its app by its compose service name, which the engine's DNS resolves to the
//! app's running containers: the steady state names no container. During a start-first
//! replacement stackgen loads the same config with the replaced app pinned to one
//! container's address ([`config`]'s `pins`).

use serde_json::{Value, json};

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
/// The `Host` the admin API accepts (Caddy checks it against its allowed origins).
pub const ADMIN_ORIGIN: &str = "stackgen-edge";

/// How long Caddy holds a request while no upstream answers (a container being swapped
/// or restarted) before it answers 502.
const TRY_DURATION: &str = "5s";
/// The longest an old container is drained (its in-flight requests left to finish)
/// before it is stopped anyway.
pub const DRAIN_TIMEOUT_SECS: u64 = 30;
/// How long Caddy itself lets in-flight requests finish on SIGTERM: below the edge's
/// `stop_grace_period` (30 s), so they finish rather than being killed with it. (A reload
/// never cuts an in-flight request; this applies only when the edge stops.)
const SHUTDOWN_GRACE: &str = "25s";

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
}

/// Every routed app, by listen port, host-named routes before the port's fallback.
pub fn routes(stack: &Stack) -> Vec<Route<'_>> {
    let fixed: Vec<u16> = routed(stack)
        .filter_map(|s| s.publish.filter(|p| *p != 0))
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
            }
        })
        .collect();
    out.sort_by_key(|r| (r.listen, r.hosts.is_empty(), r.service));
    out
}

/// Each distinct `(listen, published)` port of the edge.
pub fn listeners(stack: &Stack) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = routes(stack)
        .iter()
        .map(|r| (r.listen, r.published))
        .collect();
    out.dedup();
    out
}

/// Ephemeral host ports get listen ports from here up, skipping fixed ones.
const EPHEMERAL_BASE: u16 = 30000;

/// The edge listens on the host port's own number inside its container, so the config
/// reads like stack.toml; a privileged one is moved up, as the edge runs unprivileged.
fn listen_port(published: u16) -> u16 {
    if published < 1024 {
        10000 + published
    } else {
        published
    }
}

fn routed(stack: &Stack) -> impl Iterator<Item = &Service> {
    stack.services.values().filter(|s| stack.routed(s))
}

/// The config text, as `generated/edge.json` holds it.
pub fn config(stack: &Stack) -> String {
    let routes = routes(stack);
    let mut servers = serde_json::Map::new();
    for (listen, _) in listeners(stack) {
        let on_port: Vec<&Route> = routes.iter().filter(|r| r.listen == listen).collect();
        let mut handlers: Vec<Value> = on_port.iter().map(|r| route(r)).collect();
        if on_port.iter().all(|r| !r.hosts.is_empty()) {
            handlers.push(json!({
                "handle": [{
                    "handler": "static_response",
                    "status_code": 404,
                    "headers": {"Content-Type": ["text/plain; charset=utf-8"]},
                    "body": "no route for this host name\n",
                }],
            }));
        }
        servers.insert(
            format!("port-{listen}"),
            json!({
                "listen": [format!(":{listen}")],
                "automatic_https": {"disable": true},
                "routes": handlers,
            }),
        );
    }
    let config = json!({
        "admin": {
            "listen": format!("unix/{ADMIN_DIR}/{ADMIN_SOCKET}"),
            "origins": [ADMIN_ORIGIN],
            "config": {"persist": false},
        },
        "apps": {"http": {
            "grace_period": SHUTDOWN_GRACE,
            "servers": servers,
        }},
    });
    let mut text = serde_json::to_string_pretty(&config).expect("a JSON value serialises");
    text.push('\n');
    text
}

fn route(r: &Route) -> Value {
    let upstreams = vec![json!({"dial": format!("{}:{}", r.service, r.port)})];
    let mut route = json!({
        "handle": [{
            "handler": "reverse_proxy",
            "upstreams": upstreams,
            "load_balancing": {"try_duration": TRY_DURATION, "try_interval": "100ms"},
        }],
        "terminal": true,
    });
    if !r.hosts.is_empty() {
        route["match"] = json!([{"host": r.hosts}]);
    }
    route
}

/// `config` (any edge config this module wrote, also a generation's) with every upstream
/// that dials `service` replaced by `addresses`, tried in that order (Caddy's `first`
/// policy): the edge sends that service's new requests to the first of them, and counts
/// the requests still in flight to every one, so a container listed after the first
/// drains. `None` when the text is not such a config.
pub fn pin(config: &str, service: &str, port: u16, addresses: &[String]) -> Option<String> {
    let mut value: Value = serde_json::from_str(config).ok()?;
    let dial = format!("{service}:{port}");
    // `get_mut`, not indexing: `value["key"]` on an object inserts a null key.
    let servers = value.pointer_mut("/apps/http/servers")?.as_object_mut()?;
    for server in servers.values_mut() {
        let routes = server.get_mut("routes").and_then(Value::as_array_mut);
        for route in routes.into_iter().flatten() {
            let handlers = route.get_mut("handle").and_then(Value::as_array_mut);
            for handler in handlers.into_iter().flatten() {
                let Some(upstreams) = handler.get_mut("upstreams").and_then(Value::as_array_mut)
                else {
                    continue;
                };
                if upstreams.iter().any(|u| u["dial"] == dial.as_str()) {
                    *upstreams = addresses.iter().map(|a| json!({"dial": a})).collect();
                    handler["load_balancing"]["selection_policy"] = json!({"policy": "first"});
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&value).ok()?;
    text.push('\n');
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"apps": {"http": {"servers": {"port-8081": {"routes": [
        {"match": [{"host": ["a.test"]}], "handle": [{"handler": "reverse_proxy",
          "upstreams": [{"dial": "hello:8000"}], "load_balancing": {"try_duration": "5s"}}]},
        {"handle": [{"handler": "static_response", "status_code": 404}]}]}}}}}"#;

    #[test]
    fn pin_replaces_only_the_service_s_upstreams_and_touches_nothing_else() {
        let pinned = pin(
            CONFIG,
            "hello",
            8000,
            &["10.0.0.2:8000".into(), "10.0.0.1:8000".into()],
        )
        .expect("a config of ours");
        let v: Value = serde_json::from_str(&pinned).unwrap();
        let routes = &v["apps"]["http"]["servers"]["port-8081"]["routes"];
        let proxy = &routes[0]["handle"][0];
        assert_eq!(
            proxy["upstreams"],
            json!([{"dial": "10.0.0.2:8000"}, {"dial": "10.0.0.1:8000"}])
        );
        assert_eq!(
            proxy["load_balancing"]["selection_policy"],
            json!({"policy": "first"})
        );
        assert_eq!(proxy["load_balancing"]["try_duration"], "5s");
        assert_eq!(
            routes[1]["handle"][0],
            json!({"handler": "static_response", "status_code": 404}),
            "a handler without upstreams gains no key"
        );
        let other = pin(CONFIG, "greeter", 8000, &["10.0.0.3:8000".into()]).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&other).unwrap(),
            serde_json::from_str::<Value>(CONFIG).unwrap(),
            "another service's pin changes nothing here"
        );
        assert_eq!(pin("not json", "hello", 8000, &[]), None);
    }
}
