//! Containers (and volumes) on the local engine: the containers of a compose project,
//! read in one engine query, with their typed state and health; stopping, removing and
//! reading the logs of one.
//!
//! The engine describes a container in two shapes: its list (`/containers/json`, fast,
//! one query for all) and an inspect (`/containers/{id}/json`, `docker inspect`: also
//! the restart count). Each shape has a small reader that picks out the same [`Facts`];
//! one function turns those into a [`Container`], so the two can never read a container
//! differently (they once disagreed about a port bound on `::`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::engine::api::{self, Api};
use crate::engine::docker::process::{run, strings, text};

/// Compose's label naming a container's project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
/// Compose's label naming a container's service.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
/// Compose's hash of the service config a container was created from.
pub const CONFIG_HASH_LABEL: &str = "com.docker.compose.config-hash";
/// Compose's label on a one-off container (`compose run`), which is not the stack's.
const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

/// A container's state, in the engine's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    /// A word this engine version did not use yet.
    Other(String),
}

impl State {
    fn parse(word: &str) -> State {
        match word {
            "created" => State::Created,
            "running" => State::Running,
            "paused" => State::Paused,
            "restarting" => State::Restarting,
            "removing" => State::Removing,
            "exited" => State::Exited,
            "dead" => State::Dead,
            other => State::Other(other.to_string()),
        }
    }

    /// Exited, dead or restarting: it stopped, whether or not the engine starts it again.
    pub fn has_stopped(&self) -> bool {
        matches!(self, State::Exited | State::Dead | State::Restarting)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Removing => "removing",
            State::Exited => "exited",
            State::Dead => "dead",
            State::Other(word) => word,
        })
    }
}

/// What a container's health check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It has no health check.
    Unchecked,
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    fn parse(word: &str) -> Health {
        match word {
            "starting" => Health::Starting,
            "healthy" => Health::Healthy,
            "unhealthy" => Health::Unhealthy,
            _ => Health::Unchecked,
        }
    }

    /// The engine's word; empty without a health check.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unchecked => "",
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A container, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Compose's service label; empty when the container has none.
    pub service: String,
    /// The first 12 hex digits of the id.
    pub id: String,
    pub state: State,
    pub health: Health,
    pub image: String,
    /// The id of the image it runs, `sha256:...`.
    pub image_id: String,
    pub exit_code: i64,
    /// How often the engine restarted it (`restart: unless-stopped`); 0 from the list.
    pub restarts: u64,
    /// Container port -> published `host:port`, e.g. 8000 -> `127.0.0.1:8081`.
    pub ports: BTreeMap<u16, String>,
    pub labels: BTreeMap<String, String>,
    /// Network name -> the container's IPv4 address on it.
    pub addresses: BTreeMap<String, String>,
}

impl Container {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub fn is_running(&self) -> bool {
        self.state == State::Running
    }

    /// Running, and healthy when it has a health check.
    pub fn is_ready(&self) -> bool {
        self.is_running() && matches!(self.health, Health::Unchecked | Health::Healthy)
    }

    pub fn is_starting(&self) -> bool {
        self.is_running() && self.health == Health::Starting
    }

    /// Whether it was created from the config whose compose hash is `hash` (no hash
    /// and no label count as the same).
    pub fn has_config(&self, hash: Option<&str>) -> bool {
        self.label(CONFIG_HASH_LABEL) == hash
    }

    pub fn describe(&self) -> String {
        match (&self.state, self.health) {
            (State::Running, Health::Unchecked) => "running".into(),
            (State::Running, h) => format!("running, {}", h.as_str()),
            (State::Exited, _) => format!("exited with code {}", self.exit_code),
            (s, _) => s.to_string(),
        }
    }
}

/// What both shapes of the engine's answer tell of one container.
struct Facts<'a> {
    labels: &'a Value,
    id: &'a str,
    state: &'a str,
    health: &'a str,
    exit_code: i64,
    restarts: u64,
    image: &'a str,
    image_id: &'a str,
    bindings: Vec<Binding<'a>>,
    networks: &'a Value,
}

/// A container port published on a host address.
struct Binding<'a> {
    private: u16,
    ip: &'a str,
    public: u16,
}

/// One element of the engine's container list. It has no restart count, and health and
/// exit code only in its `Status` text (`Up 3 minutes (healthy)`, `Up 2 seconds (health:
/// starting)`, `Exited (1) 5 seconds ago`), a format the engine has kept since health
/// checks exist.
fn from_summary(c: &Value) -> Option<Container> {
    let status = c["Status"].as_str().unwrap_or("");
    let health = ["healthy", "unhealthy", "starting"]
        .into_iter()
        .find(|h| status.contains(&format!("({h})")) || status.contains(&format!("(health: {h})")))
        .unwrap_or("");
    let exit_code = status
        .strip_prefix("Exited (")
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let bindings = c["Ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(Binding {
                private: u16::try_from(p["PrivatePort"].as_u64()?).ok()?,
                ip: p["IP"].as_str().unwrap_or(""),
                public: u16::try_from(p["PublicPort"].as_u64()?).ok()?,
            })
        })
        .collect();
    read(Facts {
        labels: &c["Labels"],
        id: c["Id"].as_str().unwrap_or(""),
        state: c["State"].as_str().unwrap_or(""),
        health,
        exit_code,
        restarts: 0,
        image: c["Image"].as_str().unwrap_or(""),
        image_id: c["ImageID"].as_str().unwrap_or(""),
        bindings,
        networks: &c["NetworkSettings"]["Networks"],
    })
}

/// One element of `docker inspect` (the API's `/containers/{id}/json`).
fn from_inspect(c: &Value) -> Option<Container> {
    let mut bindings = Vec::new();
    for (key, list) in c["NetworkSettings"]["Ports"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let Some(private) = key.split('/').next().and_then(|p| p.parse().ok()) else {
            continue;
        };
        for b in list.as_array().into_iter().flatten() {
            if let Some(public) = b["HostPort"].as_str().and_then(|p| p.parse().ok()) {
                let ip = b["HostIp"].as_str().unwrap_or("");
                bindings.push(Binding {
                    private,
                    ip,
                    public,
                });
            }
        }
    }
    read(Facts {
        labels: &c["Config"]["Labels"],
        id: c["Id"].as_str().unwrap_or(""),
        state: c["State"]["Status"].as_str().unwrap_or(""),
        health: c["State"]["Health"]["Status"].as_str().unwrap_or(""),
        exit_code: c["State"]["ExitCode"].as_i64().unwrap_or(0),
        restarts: c["RestartCount"].as_u64().unwrap_or(0),
        image: c["Config"]["Image"].as_str().unwrap_or(""),
        image_id: c["Image"].as_str().unwrap_or(""),
        bindings,
        networks: &c["NetworkSettings"]["Networks"],
    })
}

/// The one reading of a container, from either shape; `None` for a compose one-off
/// container (`compose run`), which is not the stack's.
fn read(facts: Facts) -> Option<Container> {
    let labels: BTreeMap<String, String> = facts
        .labels
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    if labels.get(ONEOFF_LABEL).map(String::as_str) == Some("True") {
        return None;
    }
    let addresses = facts
        .networks
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(net, v)| {
            let ip = v["IPAddress"].as_str().filter(|ip| !ip.is_empty())?;
            Some((net.clone(), ip.to_string()))
        })
        .collect();
    Some(Container {
        service: labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
        id: facts.id.chars().take(12).collect(),
        state: State::parse(facts.state),
        health: Health::parse(facts.health),
        image: facts.image.to_string(),
        image_id: facts.image_id.to_string(),
        exit_code: facts.exit_code,
        restarts: facts.restarts,
        ports: published(&facts.bindings),
        labels,
        addresses,
    })
}

/// Each container port's `host:port` as a client on this host reaches it: an address
/// for every interface (empty, `0.0.0.0`, `::`) is `127.0.0.1`; an IPv4 binding wins
/// over an IPv6 one; an IPv6 address is written in brackets (`[::1]:8081`).
fn published(bindings: &[Binding]) -> BTreeMap<u16, String> {
    let mut out: BTreeMap<u16, (bool, String)> = BTreeMap::new();
    for b in bindings {
        let (v6, addr) = match b.ip {
            "" | "0.0.0.0" | "::" => (false, format!("127.0.0.1:{}", b.public)),
            ip if ip.contains(':') => (true, format!("[{ip}]:{}", b.public)),
            ip => (false, format!("{ip}:{}", b.public)),
        };
        let better = out.get(&b.private).is_none_or(|(had_v6, _)| *had_v6 && !v6);
        if better {
            out.insert(b.private, (v6, addr));
        }
    }
    out.into_iter()
        .map(|(port, (_, addr))| (port, addr))
        .collect()
}

fn sorted(mut containers: Vec<Container>) -> Vec<Container> {
    containers.sort_by(|a, b| a.service.cmp(&b.service));
    containers
}

/// Every container of a compose project (running or not), with its labels: one list
/// request over the engine's API (whatever the number of containers), or `docker ps`
/// and one `docker inspect` through the CLI. The list does not tell restart counts:
/// [`inspect`] does.
pub fn containers(project: &str) -> Result<Vec<Container>> {
    let label = format!("{PROJECT_LABEL}={project}");
    let Some(api) = Api::local() else {
        return containers_cli(project);
    };
    let list = api.get_json(&format!(
        "/containers/json?all=1&{}",
        api::label_filter(&label)
    ))?;
    Ok(sorted(
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(from_summary)
            .collect(),
    ))
}

/// Whether [`containers`] reads the engine's list, whose `Image` is the container's tag
/// only while that tag still names the image the container runs (the image's id once
/// the tag was moved): then `image == tag` proves the tag, without asking for images.
pub fn containers_resolve_tags() -> bool {
    Api::local().is_some()
}

fn containers_cli(project: &str) -> Result<Vec<Container>> {
    let label = format!("label={PROJECT_LABEL}={project}");
    let out = run(&strings(&[
        "ps",
        "--all",
        "--quiet",
        "--no-trunc",
        "--filter",
        &label,
    ]))?;
    if !out.status.success() {
        anyhow::bail!("`docker ps` failed: {}", text(&out.stderr));
    }
    let ids: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    inspect_cli(&ids)
}

/// The containers with these ids (running or not), as `containers` reads them, each
/// inspected over the API in parallel, or in one `docker inspect`. One that is gone by
/// the time it is asked about (removed meanwhile) is left out.
pub fn inspect(ids: &[&str]) -> Result<Vec<Container>> {
    use rayon::prelude::*;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let Some(api) = Api::local() else {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        return inspect_cli(&ids);
    };
    let found: Vec<Option<Value>> = ids
        .par_iter()
        .map(|id| match api.get_json(&format!("/containers/{id}/json")) {
            Ok(v) => Ok(Some(v)),
            Err(e) if format!("{e}").contains("answered 404") => Ok(None),
            Err(e) => Err(e),
        })
        .collect::<Result<_>>()?;
    Ok(sorted(
        found.iter().flatten().filter_map(from_inspect).collect(),
    ))
}

/// `docker inspect` of these ids; none is no container.
pub(super) fn inspect_cli(ids: &[String]) -> Result<Vec<Container>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = strings(&["inspect"]);
    args.extend(ids.iter().cloned());
    let out = run(&args)?;
    if !out.status.success() {
        anyhow::bail!("`docker inspect` failed: {}", text(&out.stderr));
    }
    parse_inspect(&text(&out.stdout))
}

fn parse_inspect(json: &str) -> Result<Vec<Container>> {
    let all: Vec<Value> =
        serde_json::from_str(json).context("cannot parse `docker inspect` output")?;
    Ok(sorted(all.iter().filter_map(from_inspect).collect()))
}

/// Host ports published by the running containers of a compose project, in one call.
/// Reads labels, not the compose file, so it works before the first render.
pub fn published_host_ports(project: &str) -> Result<BTreeSet<u16>> {
    if Api::local().is_some() {
        return Ok(containers(project)?
            .iter()
            .filter(|c| c.is_running())
            .flat_map(|c| c.ports.values())
            .filter_map(|addr| addr.rsplit(':').next()?.parse().ok())
            .collect());
    }
    let label = format!("label={PROJECT_LABEL}={project}");
    let out = run(&strings(&[
        "ps",
        "--filter",
        &label,
        "--format",
        "{{.Ports}}",
    ]))?;
    if !out.status.success() {
        anyhow::bail!("`docker ps` failed: {}", text(&out.stderr));
    }
    Ok(parse_ports(&text(&out.stdout)))
}

/// `127.0.0.1:8081->8000/tcp, [::]:8081->8000/tcp` -> {8081}; `docker ps` writes
/// consecutive ports as a range: `127.0.0.1:8081-8082->8081-8082/tcp` -> {8081, 8082}.
fn parse_ports(out: &str) -> BTreeSet<u16> {
    out.split([',', '\n'])
        .filter_map(|entry| entry.split_once("->"))
        .filter_map(|(host, _)| host.rsplit(':').next())
        .flat_map(|ports| {
            let (from, to) = ports
                .trim()
                .split_once('-')
                .unwrap_or((ports.trim(), ports.trim()));
            match (from.parse::<u16>(), to.parse::<u16>()) {
                (Ok(a), Ok(b)) if a <= b => a..=b,
                #[allow(clippy::reversed_empty_ranges)]
                _ => 1..=0,
            }
        })
        .collect()
}

pub fn remove_container(id: &str) -> Result<()> {
    let out = run(&strings(&["rm", "--force", "--volumes", id]))?;
    if !out.status.success() {
        anyhow::bail!("`docker rm {id}` failed: {}", text(&out.stderr));
    }
    Ok(())
}

/// Lets a paused container run again.
pub fn unpause(id: &str) -> Result<()> {
    let out = run(&strings(&["unpause", id]))?;
    if !out.status.success() {
        anyhow::bail!("`docker unpause {id}` failed: {}", text(&out.stderr));
    }
    Ok(())
}

/// Attaches a container to `network` again, found there by `alias` (its service name).
pub fn connect(network: &str, id: &str, alias: &str) -> Result<()> {
    let out = run(&strings(&[
        "network", "connect", "--alias", alias, network, id,
    ]))?;
    if !out.status.success() {
        anyhow::bail!(
            "`docker network connect {network} {id}` failed: {}",
            text(&out.stderr)
        );
    }
    Ok(())
}

/// Stops a container gracefully (SIGTERM, then SIGKILL after `grace_secs`) and removes it.
pub fn stop_and_remove(id: &str, grace_secs: u64) -> Result<()> {
    let grace = grace_secs.to_string();
    let out = run(&strings(&["stop", "--time", &grace, id]))?;
    if !out.status.success() {
        anyhow::bail!("`docker stop {id}` failed: {}", text(&out.stderr));
    }
    remove_container(id)
}

/// A container's last `tail` log lines, stdout and stderr.
pub fn container_logs(id: &str, tail: u32) -> Result<String> {
    let tail = tail.to_string();
    let out = run(&strings(&["logs", "--tail", &tail, id]))?;
    let both = [text(&out.stdout), text(&out.stderr)];
    Ok(both
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Whether the named volume exists: one engine query (or `docker volume inspect`).
pub fn volume_exists(name: &str) -> Result<bool> {
    if let Some(api) = Api::local() {
        return api.exists(&format!("/volumes/{}", api::percent_encode(name)));
    }
    let out = run(&strings(&["volume", "inspect", name]))?;
    if out.status.success() {
        return Ok(true);
    }
    let stderr = text(&out.stderr);
    if stderr.contains("No such volume") || stderr.contains("no such volume") {
        return Ok(false);
    }
    Err(anyhow::anyhow!("`docker volume inspect {name}`: {stderr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_and_description() {
        let mut c = Container {
            service: "a".into(),
            id: "0123456789ab".into(),
            state: State::Running,
            health: Health::Unchecked,
            image: "s/a:1".into(),
            image_id: "sha256:1".into(),
            exit_code: 0,
            restarts: 0,
            ports: BTreeMap::new(),
            labels: BTreeMap::new(),
            addresses: BTreeMap::new(),
        };
        assert!(c.is_ready());
        c.health = Health::Starting;
        assert!(!c.is_ready() && c.is_starting());
        assert_eq!(c.describe(), "running, starting");
        c.state = State::Exited;
        c.exit_code = 3;
        assert_eq!(c.describe(), "exited with code 3");
    }

    #[test]
    fn inspect_output_is_read_with_labels_ports_and_health() {
        let json = r#"[{"Id": "0123456789abcdef", "Config": {"Image": "s/a:1", "Labels": {
            "com.docker.compose.service": "a", "com.docker.compose.config-hash": "c1",
            "io.stackgen.inputs": "h1"}},
          "State": {"Status": "running", "ExitCode": 0, "Health": {"Status": "healthy"}},
          "NetworkSettings": {"Ports": {"8000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8081"}]}}},
          {"Id": "ffff", "Config": {"Image": "x", "Labels": {"com.docker.compose.oneoff": "True"}},
           "State": {}, "NetworkSettings": {}}]"#;
        let got = parse_inspect(json).expect("parse");
        assert_eq!(got.len(), 1, "one-off containers are not the stack's");
        let c = &got[0];
        assert_eq!((c.service.as_str(), c.id.as_str()), ("a", "0123456789ab"));
        assert_eq!(c.label(CONFIG_HASH_LABEL), Some("c1"));
        assert_eq!(c.label("io.stackgen.inputs"), Some("h1"));
        assert_eq!(c.ports[&8000], "127.0.0.1:8081");
        assert!(c.is_ready());
    }

    #[test]
    fn the_api_list_is_read_like_inspect() {
        let list: serde_json::Value = serde_json::from_str(
            r#"[{"Id": "0123456789abcdef", "Image": "s/a:1", "ImageID": "sha256:a",
            "Labels": {"com.docker.compose.service": "a", "com.docker.compose.config-hash": "c1"},
            "State": "running", "Status": "Up 3 minutes (healthy)",
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 8081, "PublicPort": 41000, "Type": "tcp"},
                      {"IP": "::", "PrivatePort": 8081, "PublicPort": 41000, "Type": "tcp"},
                      {"PrivatePort": 2019, "Type": "tcp"}],
            "NetworkSettings": {"Networks": {"demo_frontend": {"IPAddress": "172.18.0.3"}}}},
            {"Id": "ffff", "Labels": {"com.docker.compose.oneoff": "True"}},
            {"Id": "eeee", "Labels": {"com.docker.compose.service": "b"}, "State": "exited",
             "Status": "Exited (3) 5 seconds ago"},
            {"Id": "dddd", "Labels": {}, "State": "running", "Status": "Up 1 second (health: starting)"}]"#,
        )
        .expect("json");
        let got: Vec<Container> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(from_summary)
            .collect();
        assert_eq!(got.len(), 3, "one-off containers are not the stack's");
        let a = &got[0];
        assert_eq!(
            (a.id.as_str(), a.health.as_str(), a.image_id.as_str()),
            ("0123456789ab", "healthy", "sha256:a")
        );
        assert_eq!(
            a.ports,
            BTreeMap::from([(8081, "127.0.0.1:41000".to_string())])
        );
        assert_eq!(a.addresses["demo_frontend"], "172.18.0.3");
        assert_eq!(a.label(CONFIG_HASH_LABEL), Some("c1"));
        assert!(a.is_ready());
        assert_eq!(
            (got[1].exit_code, got[1].describe().as_str()),
            (3, "exited with code 3")
        );
        assert!(got[2].is_starting());
    }

    #[test]
    fn published_ports_are_parsed() {
        let got = parse_ports(
            "127.0.0.1:8081->8000/tcp, [::]:8081->8000/tcp\n5432/tcp\n0.0.0.0:9000->9000/tcp",
        );
        assert_eq!(got.into_iter().collect::<Vec<_>>(), [8081, 9000]);
        let range = parse_ports("127.0.0.1:8081-8083->8081-8083/tcp");
        assert_eq!(range.into_iter().collect::<Vec<_>>(), [8081, 8082, 8083]);
    }

    /// Issue 24: the list and an inspect of one container read the same, a port bound
    /// on `::` (before `0.0.0.0`) and one bound on IPv6 only included.
    #[test]
    fn the_list_and_an_inspect_of_one_container_agree() {
        let summary: Value = serde_json::from_str(
            r#"{"Id": "0123456789abcdef", "Image": "s/a:1", "ImageID": "sha256:a",
            "Labels": {"com.docker.compose.service": "a"}, "State": "running",
            "Status": "Up 3 minutes (unhealthy)",
            "Ports": [{"IP": "::", "PrivatePort": 8081, "PublicPort": 41000, "Type": "tcp"},
                      {"IP": "0.0.0.0", "PrivatePort": 8081, "PublicPort": 41000, "Type": "tcp"},
                      {"IP": "::1", "PrivatePort": 9000, "PublicPort": 42000, "Type": "tcp"}],
            "NetworkSettings": {"Networks": {"demo_frontend": {"IPAddress": "172.18.0.3"}}}}"#,
        )
        .expect("json");
        let inspect: Value = serde_json::from_str(
            r#"{"Id": "0123456789abcdef", "Image": "sha256:a",
            "Config": {"Image": "s/a:1", "Labels": {"com.docker.compose.service": "a"}},
            "State": {"Status": "running", "ExitCode": 0, "Health": {"Status": "unhealthy"}},
            "RestartCount": 0,
            "NetworkSettings": {
              "Ports": {"8081/tcp": [{"HostIp": "::", "HostPort": "41000"},
                                     {"HostIp": "0.0.0.0", "HostPort": "41000"}],
                        "9000/tcp": [{"HostIp": "::1", "HostPort": "42000"}],
                        "2019/tcp": null},
              "Networks": {"demo_frontend": {"IPAddress": "172.18.0.3"}}}}"#,
        )
        .expect("json");
        let listed = from_summary(&summary).expect("a container");
        assert_eq!(Some(&listed), from_inspect(&inspect).as_ref());
        assert_eq!(
            listed.ports,
            BTreeMap::from([
                (8081, "127.0.0.1:41000".to_string()),
                (9000, "[::1]:42000".to_string())
            ])
        );
        assert_eq!(
            (listed.state, listed.health),
            (State::Running, Health::Unhealthy)
        );
    }

    #[test]
    fn states_read_and_print_in_the_engines_words() {
        for word in [
            "created",
            "running",
            "paused",
            "restarting",
            "removing",
            "exited",
            "dead",
            "new",
        ] {
            assert_eq!(State::parse(word).to_string(), word);
        }
        assert!(State::Restarting.has_stopped() && !State::Paused.has_stopped());
        assert_eq!(Health::parse(""), Health::Unchecked);
        assert_eq!(Health::parse("healthy").as_str(), "healthy");
    }
}
