//! The rules over each service of each rendered target file, one small function each,
//! listed in [`RULES`]; and the rules over a file as a whole, in [`FILE_RULES`]. A new rule
//! is one function and one line in its list.
//!
//! Every rule runs on every target file and reads it the way that target's engine does.
//! For Swarm (`docker stack deploy` of `generated/stack.yml`) each rule says why it is
//! what it is: a default the stack file can carry and does not is the same error as in
//! the compose file; a default Swarm reads from another key is read from there; a
//! default Swarm on this engine cannot express at all is a warning naming the limit and
//! what still holds, never an error the operator could not fix in stack.toml, and never
//! silence.

use yaml_rust2::Yaml;

use crate::stack::TargetKind;

use super::file::{File, Service};
use super::finding::Findings;
use super::names::{is_root, secret_looking};
use super::yaml::{names, scalar, strings, volumes};

/// A rule over one service of one target file.
pub struct Rule {
    /// What it is about: names a rule in the list and in tests; nothing prints it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub name: &'static str,
    pub check: fn(&Service, &mut Findings),
}

/// A rule over a target file's top-level keys.
pub struct FileRule {
    #[cfg_attr(not(test), allow(dead_code))]
    pub name: &'static str,
    pub check: fn(&File, &mut Findings),
}

/// Every service rule, in the order they were first written.
pub const RULES: &[Rule] = &[
    // Who it runs as; filesystem, capabilities, privileges.
    rule("user", user),
    rule("read_only", read_only),
    rule("cap_drop", cap_drop),
    rule("cap_add", cap_add),
    rule("no_new_privileges", no_new_privileges),
    rule("privileged", privileged),
    rule("host_namespaces", host_namespaces),
    rule("docker_socket", docker_socket),
    // Resources, restarts, logs, health.
    rule("limits", limits),
    rule("restart", restart),
    rule("log_rotation", log_rotation),
    rule("healthcheck", healthcheck),
    // Ports, the database, secrets.
    rule("ports_on_bind_address", ports_on_bind_address),
    rule("database_not_published", database_not_published),
    rule("database_internal_networks", database_internal_networks),
    rule("secrets_in_environment", secrets_in_environment),
    // What a multi-host engine (Swarm, Kubernetes) does not take as is: warnings.
    rule("multi_host_build", multi_host_build),
    rule("multi_host_bind_mounts", multi_host_bind_mounts),
    rule("multi_host_container_name", multi_host_container_name),
];

/// Every file rule.
pub const FILE_RULES: &[FileRule] = &[FileRule {
    name: "secrets_from_environment",
    check: secrets_from_environment,
}];

const fn rule(name: &'static str, check: fn(&Service, &mut Findings)) -> Rule {
    Rule { name, check }
}

const ROOT_WHY: &str =
    "root in a container is root on the host's kernel; one bug away from an escape";

/// A non-root user. Swarm: the same; `user:` is a service setting there too.
fn user(svc: &Service, out: &mut Findings) {
    let relaxed = svc.security().and_then(|s| s.user.as_deref());
    match scalar(&svc.yaml["user"]) {
        None => out.error(
            svc.at(),
            "user",
            "no user is set, so the image decides and may run as root",
            ROOT_WHY,
            "set `user:` in the kind's template (e.g. \"10001:10001\") and a non-root USER in the Dockerfile",
        ),
        Some(user) if is_root(&user) => out.unless_relaxed(
            relaxed == Some(user.as_str()),
            svc.at(),
            "user",
            &format!("runs as root (`{user}`)"),
            ROOT_WHY,
            "run as a non-root uid; give files to that uid in the Dockerfile",
        ),
        Some(_) => {}
    }
}

/// A read-only root filesystem. Swarm: the same key; only the writable paths are spelled
/// differently there (Swarm ignores `tmpfs:`, so they are `volumes` of `type: tmpfs`).
fn read_only(svc: &Service, out: &mut Findings) {
    if svc.yaml["read_only"].as_bool() == Some(true) {
        return;
    }
    let fix = match svc.target() {
        TargetKind::Compose => {
            "set `read_only: true` and add `tmpfs:` only where the service must write"
        }
        TargetKind::Swarm => {
            "set `read_only: true` and add `volumes` of `type: tmpfs` only where the service must write"
        }
    };
    out.unless_relaxed(
        svc.security().is_some_and(|s| !s.read_only),
        svc.at(),
        "read_only",
        "the root filesystem is writable",
        "an intruder can change the app's code and plant tools; a read-only root also catches stray writes",
        fix,
    );
}

/// All capabilities dropped. Swarm: the same; services take `cap_drop` (engine 20.10+).
fn cap_drop(svc: &Service, out: &mut Findings) {
    let dropped = strings(&svc.yaml["cap_drop"]);
    if !dropped.iter().any(|c| c.eq_ignore_ascii_case("ALL")) {
        out.error(
            svc.at(),
            "cap_drop",
            "not all capabilities are dropped",
            "Docker's default capabilities (e.g. NET_RAW, CHOWN, SETUID) are more than a web app needs",
            "set `cap_drop: [ALL]` and add back only what the service needs",
        );
    }
}

/// None added back, unless stack.toml says which. Swarm: the same, as for `cap_drop`.
fn cap_add(svc: &Service, out: &mut Findings) {
    for cap in strings(&svc.yaml["cap_add"]) {
        let bare = cap.strip_prefix("CAP_").unwrap_or(&cap);
        out.unless_relaxed(
            svc.security().is_some_and(|s| s.cap_add.iter().any(|c| c == bare)),
            svc.at(),
            "cap_add",
            &format!("capability `{bare}` is added back"),
            "every capability widens what a compromised process can do to the host",
            "remove it, or declare it in `[services.<name>.security] cap_add` with the reason beside it",
        );
    }
}

/// `no-new-privileges`. Swarm: services on this engine do not support `security_opt`
/// (`docker stack deploy` drops it, even when the file has it), so no stack file can set
/// it: a warning for every service, naming what still holds.
fn no_new_privileges(svc: &Service, out: &mut Findings) {
    if svc.target() == TargetKind::Swarm {
        out.warning(
            svc.at(),
            "security_opt",
            "`no-new-privileges` cannot be set on a swarm service",
            "Swarm services on this engine do not support `security_opt`, so a setuid binary in the image can regain its owner's uid; what still holds: the user is non-root, and `cap_drop: [ALL]` empties the bounding set, so even a setuid-root binary gains no capability beyond those added back",
            "keep setuid and setgid binaries out of the image (e.g. `RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +`), or deploy with the compose target",
        );
        return;
    }
    let opts = strings(&svc.yaml["security_opt"]);
    if !opts
        .iter()
        .any(|o| o == "no-new-privileges:true" || o == "no-new-privileges")
    {
        out.error(
            svc.at(),
            "security_opt",
            "`no-new-privileges` is not set",
            "without it a setuid binary in the image can regain privileges",
            "add `security_opt: [\"no-new-privileges:true\"]`",
        );
    }
}

/// Never privileged. Swarm: the same error. `docker stack deploy` ignores the key today,
/// but a stack file that asks for it is a template that wants it, and it takes effect
/// wherever the file is honoured.
fn privileged(svc: &Service, out: &mut Findings) {
    if svc.yaml["privileged"].as_bool() == Some(true) {
        out.error(
            svc.at(),
            "privileged",
            "the container is privileged",
            "a privileged container has every capability and every device: it is the host",
            "remove `privileged`; add the one capability needed instead",
        );
    }
}

/// No host namespace. Swarm: the same keys, for the reason `privileged` is the same; and
/// a swarm service joins the host's network namespace by being on a network named
/// `host` (the engine's own), which is an error too.
fn host_namespaces(svc: &Service, out: &mut Findings) {
    for key in ["network_mode", "pid", "ipc", "userns_mode", "uts"] {
        if scalar(&svc.yaml[key]).as_deref() == Some("host") {
            out.error(
                svc.at(),
                key,
                &format!("shares the host's {key} namespace"),
                "a host namespace removes the isolation between the container and the host",
                &format!("remove `{key}: host`"),
            );
        }
    }
    if svc.target() != TargetKind::Swarm {
        return;
    }
    let declared = &svc.file.yaml["networks"];
    for net in names(&svc.yaml["networks"]) {
        let name = scalar(&declared[net.as_str()]["name"]).unwrap_or_else(|| net.clone());
        if name == "host" {
            out.error(
                svc.at(),
                "networks",
                &format!("shares the host's network namespace (network `{net}`)"),
                "a host namespace removes the isolation between the container and the host",
                &format!("remove `{net}` from the service's networks"),
            );
        }
    }
}

/// Never the Docker socket. Swarm: the same; a bind mount works there as on one host.
fn docker_socket(svc: &Service, out: &mut Findings) {
    for volume in volumes(&svc.yaml["volumes"]) {
        if volume.source.ends_with("docker.sock") {
            out.error(
                svc.at(),
                "volumes",
                &format!("mounts the Docker socket `{}`", volume.source),
                "the Docker socket is root on the host for anyone who can reach it",
                "remove the mount",
            );
        }
    }
}

/// Memory, CPU and pids limits. Compose: its own keys or `deploy.resources.limits`.
/// Swarm: `deploy.resources.limits` only; it refuses `mem_limit` and has no `cpus` or
/// `pids_limit` key, so those would limit nothing.
fn limits(svc: &Service, out: &mut Findings) {
    let limits = &svc.yaml["deploy"]["resources"]["limits"];
    for (key, deploy_key, what) in [
        ("mem_limit", "memory", "memory"),
        ("cpus", "cpus", "CPU"),
        ("pids_limit", "pids", "process"),
    ] {
        if !limits[deploy_key].is_badvalue() {
            continue;
        }
        let (key, fix) = match svc.target() {
            TargetKind::Compose if !svc.yaml[key].is_badvalue() => continue,
            TargetKind::Compose => (
                key.to_string(),
                format!("set `{key}:` in the kind's template"),
            ),
            TargetKind::Swarm => {
                let key = format!("deploy.resources.limits.{deploy_key}");
                let fix = format!("set `{key}` in the kind's swarm partial");
                (key, fix)
            }
        };
        out.error(
            svc.at(),
            &key,
            &format!("no {what} limit"),
            "one runaway or compromised service can starve the whole host",
            &fix,
        );
    }
}

/// A restart policy. Swarm: `deploy.restart_policy.condition` (it ignores `restart:`).
/// Without one Swarm restarts on any exit (its default is `any`), so only `none` fails.
fn restart(svc: &Service, out: &mut Findings) {
    let (key, fix) = match svc.target() {
        TargetKind::Compose => match scalar(&svc.yaml["restart"]).as_deref() {
            None | Some("no") => ("restart", "set `restart: unless-stopped`"),
            _ => return,
        },
        TargetKind::Swarm => {
            let condition = &svc.yaml["deploy"]["restart_policy"]["condition"];
            if scalar(condition).as_deref() != Some("none") {
                return;
            }
            (
                "deploy.restart_policy",
                "set `deploy.restart_policy.condition: any` (or leave it out: `any` is Swarm's default)",
            )
        }
    };
    out.error(
        svc.at(),
        key,
        "no restart policy",
        "a crashed service stays down until someone notices",
        fix,
    );
}

/// Rotated logs. Swarm: the same; `logging:` is a service setting there too.
fn log_rotation(svc: &Service, out: &mut Findings) {
    let logging = &svc.yaml["logging"];
    let driver = scalar(&logging["driver"]).unwrap_or_else(|| "json-file".into());
    if driver != "json-file" && driver != "local" {
        return;
    }
    for opt in ["max-size", "max-file"] {
        if logging["options"][opt].is_badvalue() {
            out.error(
                svc.at(),
                "logging",
                &format!("log rotation `{opt}` is not set"),
                "unrotated logs grow until the host's disk is full",
                "set `logging.options.max-size` and `max-file`",
            );
        }
    }
}

/// A health check. Swarm: the same; it also gates Swarm's rolling updates, which without
/// one count a started task as healthy.
fn healthcheck(svc: &Service, out: &mut Findings) {
    let health = &svc.yaml["healthcheck"];
    if health.is_badvalue() || health["disable"].as_bool() == Some(true) {
        out.error(
            svc.at(),
            "healthcheck",
            "no health check",
            "`up --wait` counts a running container as ready, so a broken service passes the deploy",
            "add a `healthcheck:` to the kind's template",
        );
    }
}

/// The host address each published port listens on; empty for every interface.
fn host_ips(svc: &Yaml) -> Vec<String> {
    let items = svc["ports"].as_vec().into_iter().flatten();
    items
        .map(|p| match p {
            Yaml::Hash(_) => scalar(&p["host_ip"]).unwrap_or_default(),
            other => {
                let s = scalar(other).unwrap_or_default();
                // `ip:host:container`; fewer parts mean every interface.
                let parts: Vec<&str> = s.rsplitn(3, ':').collect();
                parts.get(2).map(|ip| (*ip).to_string()).unwrap_or_default()
            }
        })
        .collect()
}

/// Ports only on the stack's bind address. Swarm: its ports take no `host_ip`, so a
/// published port listens on every interface of the node (host mode) or of every node
/// (ingress): a warning per port, unless the stack binds everywhere anyway. stack.toml
/// cannot narrow it; the operator firewalls the node.
fn ports_on_bind_address(svc: &Service, out: &mut Findings) {
    let bind = &svc.stack().bind_address;
    let everywhere = bind == "0.0.0.0" || bind == "::";
    if svc.target() == TargetKind::Swarm {
        if everywhere {
            return;
        }
        for p in svc.yaml["ports"].as_vec().into_iter().flatten() {
            let port =
                scalar(&p["published"]).map_or_else(|| "a port".into(), |p| format!("port {p}"));
            out.warning(
                svc.at(),
                "ports",
                &format!("{port} is published on every interface of the node, not on the stack's `{bind}`"),
                "Swarm's published ports take no `host_ip`: a host-mode port listens on every interface of the node running the task; what still holds: only the ports stack.toml publishes are open",
                &format!("firewall the port on the node's other interfaces so it answers on `{bind}` only, as stack.toml intends (stack.toml cannot narrow it), or publish nothing and put a proxy in front"),
            );
        }
        return;
    }
    for host_ip in host_ips(svc.yaml) {
        let all = host_ip.is_empty() || host_ip == "0.0.0.0" || host_ip == "::";
        if (all && !everywhere) || (!all && host_ip != *bind) {
            let shown = if host_ip.is_empty() {
                "every interface"
            } else {
                &host_ip
            };
            out.error(
                svc.at(),
                "ports",
                &format!("a port is published on {shown}, not on the stack's `{bind}`"),
                "a port on every interface is open to the network, past the host's firewall rules for Docker",
                "publish on `stack.bind_address` (`host_ip:` in long syntax)",
            );
        }
    }
}

/// The database is never published. Swarm: the same; its file carries `ports` alike.
fn database_not_published(svc: &Service, out: &mut Findings) {
    if svc.is_database() && !host_ips(svc.yaml).is_empty() {
        out.error(
            svc.at(),
            "ports",
            "the database is published on the host",
            "a published database is one weak password away from the network",
            "remove `publish` from the database in stack.toml; apps reach it on the internal network",
        );
    }
}

/// The database is only on internal networks. Swarm: the same; overlay networks take
/// `internal: true` alike.
fn database_internal_networks(svc: &Service, out: &mut Findings) {
    if !svc.is_database() {
        return;
    }
    let nets = names(&svc.yaml["networks"]);
    if nets.is_empty() || nets.iter().any(|n| !svc.file.is_internal(n)) {
        out.error(
            svc.at(),
            "networks",
            "the database is on a network that is not internal",
            "a routable network gives the database a path to and from the outside world",
            "put it only on networks with `internal: true`",
        );
    }
}

/// The `environment:` of a service as `(key, value)`, map or `KEY=value` list syntax.
fn environment(svc: &Yaml) -> Vec<(String, String)> {
    match &svc["environment"] {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| (scalar(k).unwrap_or_default(), scalar(v).unwrap_or_default()))
            .collect(),
        Yaml::Array(items) => items
            .iter()
            .filter_map(scalar)
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv, String::new()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// No secret-looking variable in the environment. Swarm: the same; swarm secrets are
/// files under /run/secrets too.
fn secrets_in_environment(svc: &Service, out: &mut Findings) {
    for (key, value) in environment(svc.yaml) {
        if secret_looking(&key) && !value.starts_with("/run/secrets/") {
            out.error(
                svc.at(),
                "environment",
                &format!("`{key}` looks like a secret in the environment"),
                "environment variables show in `docker inspect`, in child processes and in crash reports",
                "declare a `[secrets.<name>]`, give it to the service, and pass its path (`<KEY>_FILE=/run/secrets/<name>`)",
            );
        }
    }
}

/// Compose: a warning that the image is built here. Swarm: a warning that `build:` does
/// nothing there (it is ignored; every node pulls `image`).
fn multi_host_build(svc: &Service, out: &mut Findings) {
    if svc.yaml["build"].is_badvalue() {
        return;
    }
    match svc.target() {
        TargetKind::Compose => out.warning(
            svc.at(),
            "build",
            "the image is built on this host",
            "other hosts cannot build it; a multi-host engine pulls images from a registry",
            "push the content-tagged image to a registry and reference it there",
        ),
        TargetKind::Swarm => out.warning(
            svc.at(),
            "build",
            "`build` is ignored by Swarm",
            "no node builds the image: each pulls `image` from the registry, so a `build:` here only misleads",
            "remove `build:` from the swarm template; `stackgen push` puts the image in the registry",
        ),
    }
}

/// Bind mounts of host paths: warnings on both. Swarm mounts the path of whichever node
/// runs the task, which stack.toml's `placement` may pin but cannot create.
fn multi_host_bind_mounts(svc: &Service, out: &mut Findings) {
    let (why, fix) = match svc.target() {
        TargetKind::Compose => (
            "the path exists on this host only; on another host the service starts without it",
            "bake the files into the image, or use a named volume or a config",
        ),
        TargetKind::Swarm => (
            "Swarm mounts the path of the node the task runs on; on a node without it the task fails to start",
            "pin the service to the node that has the path (`placement` in stack.toml), or bake the files into the image",
        ),
    };
    for volume in volumes(&svc.yaml["volumes"]) {
        if volume.kind == "bind" {
            out.warning(
                svc.at(),
                "volumes",
                &format!("bind-mounts the host path `{}`", volume.source),
                why,
                fix,
            );
        }
    }
}

/// A fixed container name: a warning on both. Swarm ignores the key and names each task.
fn multi_host_container_name(svc: &Service, out: &mut Findings) {
    if svc.yaml["container_name"].is_badvalue() {
        return;
    }
    let (why, fix) = match svc.target() {
        TargetKind::Compose => (
            "a fixed name allows one container: no replicas, no start-first rolling update",
            "remove `container_name`; compose names containers by project and service",
        ),
        TargetKind::Swarm => (
            "Swarm ignores `container_name` and names each task itself, so the key only misleads",
            "remove `container_name` from the swarm template",
        ),
    };
    out.warning(
        svc.at(),
        "container_name",
        "a fixed container name",
        why,
        fix,
    );
}

/// No secret read from an environment variable (`secrets.<name>.environment`). Swarm:
/// the same; it is the same leak wherever the file is deployed.
fn secrets_from_environment(file: &File, out: &mut Findings) {
    for (name, secret) in file.yaml["secrets"].as_hash().into_iter().flatten() {
        if !secret["environment"].is_badvalue() {
            out.error(
                file.at("(stack)"),
                &format!("secrets.{}", name.as_str().unwrap_or("?")),
                "a secret is read from an environment variable",
                "environment variables leak through `docker inspect`, child processes and crash reports",
                "use a file secret (`file:`), generated by stackgen",
            );
        }
    }
}
