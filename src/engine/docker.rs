//! The only module that runs `docker`. Argument vectors are built by pure functions (tested
//! below) and run through `duct`, never through a shell string. It speaks the engine's
//! own terms (containers, labels, swarm services, images); what they mean to a stack is
//! the targets' business.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

use crate::engine::api::{self, Api};
use crate::engine::logs::LogOptions;
use crate::error::Error;
use crate::progress::{self, Relay};

/// The docker CLI to run; `STACKGEN_DOCKER` overrides it (tests, unusual installs).
pub(super) fn docker() -> String {
    std::env::var("STACKGEN_DOCKER").unwrap_or_else(|_| "docker".to_string())
}

/// A `docker` command that dies with stackgen. Without this, `kill -9` of stackgen
/// would leave its `docker compose up` or `docker build` running on, racing the next
/// `stackgen up` once the deploy lock is free.
pub(super) fn docker_cmd<I, S>(args: I) -> duct::Expression
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    super::traced(duct::cmd(docker(), args)).before_spawn(|cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(())
    })
}

pub(super) fn run(args: &[String]) -> Result<Output> {
    docker_cmd(args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("cannot run `{} {}`", docker(), args.join(" ")))
}

/// Runs a command whose output is progress (compose's `up`, `down`): straight to stderr
/// when the sink wants that, else line by line through its relay. Returns whether the
/// command succeeded; `what` names it in an error.
pub(super) fn relayed(expr: duct::Expression, what: &str) -> Result<bool> {
    let Some(relay) = progress::sink().relay() else {
        let out = expr
            .stdout_to_stderr()
            .unchecked()
            .run()
            .with_context(|| format!("cannot run `{what}`"))?;
        return Ok(out.status.success());
    };
    let reader = expr
        .stderr_to_stdout()
        .unchecked()
        .reader()
        .with_context(|| format!("cannot run `{what}`"))?;
    relay_lines(&reader, relay, what)
}

/// Passes each line `reader` reads to `relay` until the command ends; whether it succeeded.
fn relay_lines(reader: &duct::ReaderHandle, mut relay: Box<dyn Relay>, what: &str) -> Result<bool> {
    let read = each_line(reader, |line| relay.line(line));
    let ended = reader
        .try_wait()
        .with_context(|| format!("cannot wait for `{what}`"))?;
    let ok = read.is_ok() && ended.is_some_and(|o| o.status.success());
    relay.end(ok);
    read.with_context(|| format!("cannot read the output of `{what}`"))?;
    Ok(ok)
}

/// Calls `f` with each line `input` gives until its end, lossily decoded, without the
/// line end (`\n` or `\r\n`).
fn each_line(input: impl std::io::Read, mut f: impl FnMut(&str)) -> std::io::Result<()> {
    use std::io::BufRead;
    let mut input = std::io::BufReader::new(input);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&buf);
        f(line.trim_end_matches(['\n', '\r']));
    }
}

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_string()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Checks the daemon answers: one `GET /_ping` over its socket, or `docker version`
/// where the CLI talks to another engine.
pub fn check_daemon() -> Result<(), Error> {
    let Some(api) = Api::local() else {
        return check_daemon_cli();
    };
    api.get("/_ping").map(|_| ()).map_err(|e| {
        Error::runtime(
            format!("the Docker daemon is not reachable: {e:#}"),
            Some(
                "start it (`sudo systemctl start docker` or `sudo dockerd &`) and check \
                 `docker info` works for this user"
                    .into(),
            ),
        )
    })
}

/// Checks the engine and Compose v2 are there, with a fix for each way they are not.
pub fn check_engine() -> Result<(), Error> {
    check_daemon()?;
    check_compose()
}

/// The error for a `docker` that cannot be started: not installed, or another reason.
fn not_installed(e: &std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return Error::runtime(
            format!("`{}` is not installed", docker()),
            Some("install Docker Engine: https://docs.docker.com/engine/install/".into()),
        );
    }
    Error::runtime(format!("cannot run `{}`: {e}", docker()), None)
}

fn check_daemon_cli() -> Result<(), Error> {
    let version = docker_cmd(["version", "--format", "{{.Server.Version}}"])
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run();
    let out = version.map_err(|e| not_installed(&e))?;
    if !out.status.success() {
        return Err(Error::runtime(
            format!("the Docker daemon is not reachable: {}", text(&out.stderr)),
            Some(
                "start it (`sudo systemctl start docker` or `sudo dockerd &`) and check \
                 `docker info` works for this user"
                    .into(),
            ),
        ));
    }
    Ok(())
}

/// Checks the Compose v2 plugin answers (a process start: only where compose will run).
pub fn check_compose() -> Result<(), Error> {
    let compose = docker_cmd(strings(&["compose", "version", "--short"]))
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| not_installed(&e))?;
    if !compose.status.success() {
        let v1 = super::traced(duct::cmd("docker-compose", ["version", "--short"]))
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .is_ok_and(|o| o.status.success());
        let also = if v1 {
            " (only the old `docker-compose` v1 is installed; it lacks `up --wait`)"
        } else {
            ""
        };
        return Err(Error::runtime(
            format!("the Docker Compose v2 plugin (`docker compose`) is missing{also}"),
            Some("run `just tools`, or install the `docker-compose-plugin` package".into()),
        ));
    }
    Ok(())
}

pub fn image_exists(reference: &str) -> Result<bool> {
    Ok(run(&strings(&[
        "image", "inspect", "--format", "{{.Id}}", reference,
    ]))?
    .status
    .success())
}

/// An image present locally, under one of its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    /// `sha256:...`.
    pub id: String,
    /// Its `io.stackgen.inputs` label; `None` when unknown (read through the CLI).
    pub inputs: Option<String>,
}

/// Every `repository:tag` present locally with its image, in one engine query.
pub fn local_images() -> Result<BTreeMap<String, LocalImage>> {
    let Some(api) = Api::local() else {
        return Ok(local_tags_cli()?
            .into_iter()
            .map(|(tag, id)| (tag, LocalImage { id, inputs: None }))
            .collect());
    };
    let all = api.get_json("/images/json")?;
    let mut out = BTreeMap::new();
    for image in all.as_array().into_iter().flatten() {
        let id = image["Id"].as_str().unwrap_or("").to_string();
        let inputs = image["Labels"][INPUTS_LABEL].as_str().map(str::to_string);
        for tag in image["RepoTags"].as_array().into_iter().flatten() {
            let Some(tag) = tag.as_str().filter(|t| *t != "<none>:<none>") else {
                continue;
            };
            let image = LocalImage {
                id: id.clone(),
                inputs: inputs.clone(),
            };
            out.insert(tag.to_string(), image);
        }
    }
    Ok(out)
}

/// Every `repository:tag` present locally.
pub fn local_tags() -> Result<BTreeSet<String>> {
    Ok(local_images()?.into_keys().collect())
}

fn local_tags_cli() -> Result<BTreeMap<String, String>> {
    let out = run(&strings(&[
        "image",
        "ls",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]))?;
    if !out.status.success() {
        anyhow::bail!("`docker image ls` failed: {}", text(&out.stderr));
    }
    Ok(text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(tag, id)| (tag.to_string(), id.to_string()))
        .collect())
}

/// Host ports published by the running containers of a compose project, in one call.
/// Reads labels, not the compose file, so it works before the first render.
pub fn published_host_ports(project: &str) -> Result<BTreeSet<u16>> {
    if Api::local().is_some() {
        return Ok(containers(project)?
            .iter()
            .filter(|c| c.state == "running")
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

/// Which Compose plugin `docker compose` runs: the first `docker-compose` in the CLI's
/// plugin folders, as `path size mtime`. Read with a few `stat`s; a plugin that was
/// upgraded or replaced reads differently, so config hashes it computed are not reused.
/// `None` when none is found (the CLI may find one elsewhere: then nothing is reused).
pub fn compose_identity() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let home = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
    let system = [
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ];
    home.map(|h| h.join("cli-plugins"))
        .into_iter()
        .chain(system.iter().map(PathBuf::from))
        .map(|dir| dir.join("docker-compose"))
        .find_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            let mtime = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
            Some(format!("{} {} {mtime}", path.display(), meta.len()))
        })
}

/// Compose's own config hash of each service of a compose file given as text (read from
/// stdin, so nothing is written), as `com.docker.compose.config-hash` labels carry it.
pub fn config_hashes(
    project: &str,
    project_dir: &Path,
    compose: &str,
) -> Result<BTreeMap<String, String>> {
    let dir = project_dir.display().to_string();
    let args = strings(&[
        "compose",
        "--project-name",
        project,
        "--project-directory",
        &dir,
        "--file",
        "-",
        "config",
        "--hash",
        "*",
    ]);
    let out = docker_cmd(&args)
        .stdin_bytes(compose.as_bytes().to_vec())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .context("cannot run `docker compose config --hash`")?;
    if !out.status.success() {
        anyhow::bail!(
            "`docker compose config --hash` failed: {}",
            text(&out.stderr)
        );
    }
    Ok(text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(s, h)| (s.to_string(), h.trim().to_string()))
        .collect())
}

/// Compose's label naming a container's project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
/// Compose's label naming a container's service.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
/// stackgen's label on a built image: the sha256 of its build inputs.
pub const INPUTS_LABEL: &str = "io.stackgen.inputs";
/// Compose's hash of the service config a container was created from.
pub const CONFIG_HASH_LABEL: &str = "com.docker.compose.config-hash";

/// A container, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Compose's service label; empty when the container has none.
    pub service: String,
    /// The first 12 hex digits of the id.
    pub id: String,
    /// `running`, `exited`, `restarting`, ...
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or empty without a health check.
    pub health: String,
    pub image: String,
    /// The id of the image it runs, `sha256:...`.
    pub image_id: String,
    pub exit_code: i64,
    /// How often the engine restarted it (`restart: unless-stopped`).
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

    /// Running, and healthy when it has a health check.
    pub fn is_ready(&self) -> bool {
        self.state == "running" && (self.health.is_empty() || self.health == "healthy")
    }

    pub fn is_starting(&self) -> bool {
        self.state == "running" && self.health == "starting"
    }

    pub fn describe(&self) -> String {
        match (self.state.as_str(), self.health.as_str()) {
            ("running", "") => "running".into(),
            ("running", h) => format!("running, {h}"),
            ("exited", _) => format!("exited with code {}", self.exit_code),
            (s, _) => s.to_string(),
        }
    }
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
    let mut out: Vec<Container> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(parse_summary)
        .collect();
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(out)
}

/// Whether [`containers`] reads the engine's list, whose `Image` is the container's tag
/// only while that tag still names the image the container runs (the image's id once
/// the tag was moved): then `image == tag` proves the tag, without asking for images.
pub fn containers_resolve_tags() -> bool {
    Api::local().is_some()
}

/// One element of the API's container list: the same facts as an inspect but the
/// restart count (0 here); health and exit code are read off its `Status` text (`Up 3
/// minutes (healthy)`, `Up 2 seconds (health: starting)`, `Exited (1) 5 seconds ago`),
/// a format the engine has kept since health checks exist.
fn parse_summary(c: &serde_json::Value) -> Option<Container> {
    let labels = labels_of(&c["Labels"]);
    if labels.get("com.docker.compose.oneoff").map(String::as_str) == Some("True") {
        return None;
    }
    let status = c["Status"].as_str().unwrap_or("");
    let health = if status.contains("(healthy)") {
        "healthy"
    } else if status.contains("(unhealthy)") {
        "unhealthy"
    } else if status.contains("(health: starting)") {
        "starting"
    } else {
        ""
    };
    let exit_code = status
        .strip_prefix("Exited (")
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut ports = BTreeMap::new();
    for p in c["Ports"].as_array().into_iter().flatten() {
        let (Some(private), Some(public)) = (p["PrivatePort"].as_u64(), p["PublicPort"].as_u64())
        else {
            continue;
        };
        let ip = p["IP"].as_str().unwrap_or("");
        let Ok(private) = u16::try_from(private) else {
            continue;
        };
        // IPv4 first, as inspect lists it; `0.0.0.0` and `::` are every address.
        let ip = if ip.is_empty() || ip == "0.0.0.0" || ip == "::" {
            "127.0.0.1"
        } else {
            ip
        };
        if ip.contains(':') && ports.contains_key(&private) {
            continue;
        }
        ports.entry(private).or_insert(format!("{ip}:{public}"));
    }
    let str_of = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    Some(Container {
        service: labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
        id: c["Id"].as_str().unwrap_or("").chars().take(12).collect(),
        state: str_of(&c["State"]),
        health: health.to_string(),
        image: str_of(&c["Image"]),
        image_id: str_of(&c["ImageID"]),
        exit_code,
        restarts: 0,
        ports,
        labels,
        addresses: addresses_of(&c["NetworkSettings"]["Networks"]),
    })
}

fn labels_of(v: &serde_json::Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// Network name -> the container's IPv4 address on it.
fn addresses_of(networks: &serde_json::Value) -> BTreeMap<String, String> {
    networks
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(net, v)| {
            let ip = v["IPAddress"].as_str().filter(|ip| !ip.is_empty())?;
            Some((net.clone(), ip.to_string()))
        })
        .collect()
}

/// The containers with these ids, each inspected over the API, in parallel. One that is
/// gone by the time it is asked about (removed meanwhile) is left out.
fn inspect_api(api: &Api, ids: &[&str]) -> Result<Vec<Container>> {
    use rayon::prelude::*;
    let found: Vec<Option<serde_json::Value>> = ids
        .par_iter()
        .map(|id| match api.get_json(&format!("/containers/{id}/json")) {
            Ok(v) => Ok(Some(v)),
            Err(e) if format!("{e}").contains("answered 404") => Ok(None),
            Err(e) => Err(e),
        })
        .collect::<Result<_>>()?;
    let mut out: Vec<Container> = found.iter().flatten().filter_map(parse_container).collect();
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(out)
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
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = strings(&["inspect"]);
    args.extend(ids);
    let out = run(&args)?;
    if !out.status.success() {
        anyhow::bail!("`docker inspect` failed: {}", text(&out.stderr));
    }
    parse_inspect(&text(&out.stdout))
}

pub fn remove_container(id: &str) -> Result<()> {
    let out = run(&strings(&["rm", "--force", "--volumes", id]))?;
    if !out.status.success() {
        anyhow::bail!("`docker rm {id}` failed: {}", text(&out.stderr));
    }
    Ok(())
}

fn parse_inspect(json: &str) -> Result<Vec<Container>> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(json).context("cannot parse `docker inspect` output")?;
    let mut out: Vec<Container> = all.iter().filter_map(parse_container).collect();
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(out)
}

/// One element of `docker inspect` (the API's `/containers/{id}/json`); `None` for a
/// compose one-off container (`compose run`), which is not the stack's.
fn parse_container(c: &serde_json::Value) -> Option<Container> {
    let labels = labels_of(&c["Config"]["Labels"]);
    if labels.get("com.docker.compose.oneoff").map(String::as_str) == Some("True") {
        return None;
    }
    let mut ports = BTreeMap::new();
    for (key, bindings) in c["NetworkSettings"]["Ports"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let port = key.split('/').next().and_then(|p| p.parse::<u16>().ok());
        let first = bindings.as_array().and_then(|b| b.first());
        if let (Some(port), Some(b)) = (port, first) {
            let ip = b["HostIp"].as_str().unwrap_or("");
            let ip = if ip.is_empty() || ip == "0.0.0.0" {
                "127.0.0.1"
            } else {
                ip
            };
            let host_port = b["HostPort"].as_str().unwrap_or("");
            ports.insert(port, format!("{ip}:{host_port}"));
        }
    }
    let addresses = addresses_of(&c["NetworkSettings"]["Networks"]);
    let str_of = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    Some(Container {
        service: labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
        id: c["Id"].as_str().unwrap_or("").chars().take(12).collect(),
        state: str_of(&c["State"]["Status"]),
        health: str_of(&c["State"]["Health"]["Status"]),
        image: str_of(&c["Config"]["Image"]),
        image_id: str_of(&c["Image"]),
        exit_code: c["State"]["ExitCode"].as_i64().unwrap_or(0),
        restarts: c["RestartCount"].as_u64().unwrap_or(0),
        ports,
        labels,
        addresses,
    })
}

/// The containers with these ids (running or not), as `containers` reads them.
pub fn inspect(ids: &[&str]) -> Result<Vec<Container>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(api) = Api::local() {
        return inspect_api(&api, ids);
    }
    let mut args = strings(&["inspect"]);
    args.extend(ids.iter().map(|s| s.to_string()));
    let out = run(&args)?;
    if !out.status.success() {
        anyhow::bail!("`docker inspect` failed: {}", text(&out.stderr));
    }
    parse_inspect(&text(&out.stdout))
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

/// How [`stream`]ed commands ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// The first command's code that was not 0 (128 + N for one killed by signal N); 0
    /// when all succeeded.
    pub code: u8,
    /// Whether Ctrl-C (SIGINT) came while they ran.
    pub interrupted: bool,
}

/// Runs the `docker` commands all at once, their stdout and stderr straight to ours (no
/// capture, so each line shows when docker writes it), and waits for every one.
///
/// Ctrl-C does not end stackgen meanwhile: the terminal sends SIGINT to the whole
/// foreground group, so the commands get it too and end by themselves; stackgen notes
/// it, passes it on once to those still running (for a SIGINT sent to stackgen alone),
/// and returns when all have ended, so the caller decides what an interrupt means. A
/// stackgen killed otherwise takes the commands with it (`PR_SET_PDEATHSIG`).
pub fn stream(commands: &[Vec<String>]) -> Result<Streamed> {
    let noted = SigintNoted::install();
    let mut handles = Vec::new();
    for args in commands {
        let handle = docker_cmd(args)
            .stdin_null()
            .unchecked()
            .start()
            .with_context(|| format!("cannot run `{} {}`", docker(), args.join(" ")))?;
        handles.push(handle);
    }
    let mut ended: Vec<Option<std::process::ExitStatus>> = vec![None; handles.len()];
    let mut passed_on = false;
    // Polled rather than waited for, so an interrupt can be passed on meanwhile.
    loop {
        for ((handle, end), args) in handles.iter().zip(&mut ended).zip(commands) {
            if end.is_none() {
                let out = handle.try_wait().with_context(|| {
                    format!("cannot wait for `{} {}`", docker(), args.join(" "))
                })?;
                *end = out.map(|o| o.status);
            }
        }
        if ended.iter().all(Option::is_some) {
            break;
        }
        if noted.interrupted() && !passed_on {
            passed_on = true;
            for (handle, _) in handles.iter().zip(&ended).filter(|(_, e)| e.is_none()) {
                for pid in handle.pids() {
                    // SAFETY: kill(2) of a child we started and have not reaped yet, so
                    // its pid cannot have been reused.
                    unsafe {
                        libc::kill(pid as libc::pid_t, libc::SIGINT);
                    }
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let code = ended
        .into_iter()
        .flatten()
        .map(exit_code)
        .find(|c| *c != 0)
        .unwrap_or(0);
    Ok(Streamed {
        code,
        interrupted: noted.interrupted(),
    })
}

/// A child's exit status as a shell shows it: its code, or 128 + the signal that killed it.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(signal)) => u8::try_from((128 + signal).min(255)).unwrap_or(255),
        (None, None) => 1,
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While it lives, SIGINT is noted instead of ending stackgen; dropped, the handler
/// before it is back. A handler rather than `SIG_IGN`: `exec` resets a handler to the
/// default in the children, while an ignored signal would stay ignored there. Where
/// SIGINT is ignored already (a background job of a script, `nohup`), it stays so.
struct SigintNoted {
    old: Option<libc::sigaction>,
}

impl SigintNoted {
    fn install() -> SigintNoted {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: sigaction is given valid, zero-initialised structs; the handler only
        // stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                return SigintNoted { old: None };
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = note_interrupt as extern "C" fn(libc::c_int) as usize;
            new.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            let ok = libc::sigaction(libc::SIGINT, &new, &mut old) == 0;
            SigintNoted {
                old: ok.then_some(old),
            }
        }
    }

    fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

impl Drop for SigintNoted {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            // SAFETY: puts back the disposition sigaction reported, unchanged.
            unsafe {
                libc::sigaction(libc::SIGINT, old, std::ptr::null_mut());
            }
        }
    }
}

/// Removes an image tag (the layers stay while another tag uses them).
pub fn remove_image(tag: &str) -> Result<bool> {
    Ok(run(&strings(&["rmi", tag]))?.status.success())
}

// ---------------------------------------------------------------------------------------
// Docker Swarm and the registry.

/// Whether this engine is an active swarm manager's node.
pub fn swarm_active() -> Result<bool> {
    let out = run(&strings(&["info", "--format", "{{.Swarm.LocalNodeState}}"]))?;
    Ok(text(&out.stdout) == "active")
}

/// Whether the registry already holds `image` (by tag), asked without pulling it.
pub fn registry_has(image: &str) -> Result<bool> {
    Ok(
        run(&strings(&["manifest", "inspect", "--insecure", image]))?
            .status
            .success(),
    )
}

/// Tags a local image with its registry name and pushes it.
pub fn push(local: &str, remote: &str) -> Result<(), Error> {
    for args in [vec!["tag", local, remote], vec!["push", remote]] {
        let out = run(&strings(&args)).map_err(|e| Error::runtime(format!("{e:#}"), None))?;
        if !out.status.success() {
            return Err(Error::runtime(
                format!("`docker {}` failed: {}", args.join(" "), text(&out.stderr)),
                Some("check the registry is running and reachable from this host".into()),
            ));
        }
    }
    Ok(())
}

/// `docker stack deploy --detach=false` of a stack file given as text, with its relative
/// paths resolved against `dir`: the file is read from stdin, for which the CLI resolves
/// them against its working folder (for a file on disk it would use the file's own
/// folder, which for a generation's copy is the wrong one). Waits until every service
/// converged (or was rolled back by Swarm), at most `timeout` seconds; its progress goes
/// where the progress sink wants it, as compose's does (see [`relayed`]). Returns whether
/// it finished in time and succeeded.
pub fn stack_deploy(name: &str, stack_file: &str, dir: &Path, timeout: u32) -> Result<bool> {
    let cmd = docker_cmd(stack_deploy_args(name))
        .dir(dir)
        .stdin_bytes(stack_file.as_bytes().to_vec())
        .unchecked();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout.into());
    let what = "docker stack deploy";
    let Some(relay) = progress::sink().relay() else {
        let handle = cmd
            .stdout_to_stderr()
            .start()
            .with_context(|| format!("cannot run `{what}`"))?;
        return wait_until(deadline, timeout, || handle.try_wait(), || handle.kill());
    };
    let reader = cmd
        .stderr_to_stdout()
        .reader()
        .with_context(|| format!("cannot run `{what}`"))?;
    std::thread::scope(|s| {
        let relaying = s.spawn(|| relay_lines(&reader, relay, what));
        let ended = wait_until(deadline, timeout, || reader.try_wait(), || reader.kill());
        let relayed = relaying
            .join()
            .map_err(|_| anyhow::anyhow!("the thread reading `{what}` panicked"))?;
        Ok(ended? && relayed?)
    })
}

/// Polls `try_wait` until the command ended (whether it succeeded) or `deadline`
/// passed: then it is killed, which counts as failure.
fn wait_until<'a>(
    deadline: std::time::Instant,
    timeout: u32,
    try_wait: impl Fn() -> std::io::Result<Option<&'a Output>>,
    kill: impl Fn() -> std::io::Result<()>,
) -> Result<bool> {
    loop {
        if let Some(out) = try_wait().context("cannot wait for `docker stack deploy`")? {
            return Ok(out.status.success());
        }
        if std::time::Instant::now() >= deadline {
            // Swarm keeps converging (or rolling back) on its own; we stop waiting.
            let _ = kill();
            progress::warn(format_args!(
                "stopped waiting for `docker stack deploy` after {timeout}s"
            ));
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub fn stack_deploy_args(name: &str) -> Vec<String> {
    strings(&[
        "stack",
        "deploy",
        "--detach=false",
        "--prune",
        "--compose-file",
        "-",
        name,
    ])
}

/// The names of a swarm stack's services without the `<stack>_` prefix, sorted: one
/// engine query (`docker service ls` where the CLI talks to another engine). An engine
/// that is no swarm manager has no services to list: that is an error saying so.
pub fn stack_service_names(stack: &str) -> Result<Vec<String>> {
    let label = format!("com.docker.stack.namespace={stack}");
    let full: Vec<String> = match Api::local() {
        Some(api) => {
            let path = format!("/services?{}", api::label_filter(&label));
            let list = api
                .get_json(&path)
                .map_err(|e| not_a_manager(&e).unwrap_or(e))?;
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["Spec"]["Name"].as_str().map(str::to_string))
                .collect()
        }
        None => {
            let filter = format!("label={label}");
            let args = strings(&[
                "service",
                "ls",
                "--filter",
                &filter,
                "--format",
                "{{.Name}}",
            ]);
            let out = run(&args)?;
            if !out.status.success() {
                let e = anyhow::anyhow!("`docker service ls` failed: {}", text(&out.stderr));
                return Err(not_a_manager(&e).unwrap_or(e));
            }
            text(&out.stdout).lines().map(str::to_string).collect()
        }
    };
    let prefix = format!("{stack}_");
    let mut names: Vec<String> = full
        .iter()
        .map(|n| n.strip_prefix(&prefix).unwrap_or(n).to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// The engine's "not a swarm manager" answer as the error an operator can act on.
fn not_a_manager(e: &anyhow::Error) -> Option<anyhow::Error> {
    format!("{e:#}").contains("not a swarm manager").then(|| {
        Error::runtime(
            "this Docker engine is not a manager of an active swarm",
            Some(
                "run `docker swarm init` (one node) or join a swarm, or use `--target compose`"
                    .into(),
            ),
        )
        .into()
    })
}

/// `docker service logs` of one swarm service (`<stack>_<service>`) with the operator's
/// options; docker prefixes each line with its task (`<stack>_<service>.1.<id>@<node>`).
pub fn service_logs_args(full_name: &str, options: &LogOptions) -> Vec<String> {
    let mut args = strings(&["service", "logs"]);
    args.extend(options.flags());
    args.push(full_name.to_string());
    args
}

pub fn stack_rm(name: &str) -> Result<bool> {
    relayed(
        docker_cmd(strings(&["stack", "rm", name])),
        "docker stack rm",
    )
}

/// One service of a swarm stack.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SwarmService {
    pub service: String,
    /// Running tasks / desired tasks.
    pub running: u32,
    pub desired: u32,
    pub image: String,
    /// Swarm's update state: empty, `completed`, `rollback_completed`, ...
    pub update_state: String,
    pub update_message: String,
}

/// The services of a swarm stack, with their replicas and the last update's outcome.
pub fn stack_services(name: &str) -> Result<Vec<SwarmService>> {
    let label = format!("label=com.docker.stack.namespace={name}");
    let out = run(&strings(&["service", "ls", "--quiet", "--filter", &label]))?;
    let ids: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = strings(&["service", "inspect"]);
    args.extend(ids.iter().cloned());
    let inspect: Vec<serde_json::Value> = serde_json::from_str(&text(&run(&args)?.stdout))
        .context("cannot parse `docker service inspect` output")?;
    let ls = strings(&[
        "service",
        "ls",
        "--filter",
        &label,
        "--format",
        "{{.Name}} {{.Replicas}}",
    ]);
    let replicas = text(&run(&ls)?.stdout);
    let mut out = Vec::new();
    for s in inspect {
        let full = s["Spec"]["Name"].as_str().unwrap_or("").to_string();
        let service = full
            .strip_prefix(&format!("{name}_"))
            .unwrap_or(&full)
            .to_string();
        let (running, desired) = replicas
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{full} ")))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|r| r.split_once('/'))
            .map(|(a, b)| (a.parse().unwrap_or(0), b.parse().unwrap_or(0)))
            .unwrap_or((0, 0));
        let image = s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
            .as_str()
            .unwrap_or("")
            .split('@')
            .next()
            .unwrap_or("")
            .to_string();
        out.push(SwarmService {
            service,
            running,
            desired,
            image,
            update_state: s["UpdateStatus"]["State"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            update_message: s["UpdateStatus"]["Message"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        });
    }
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(out)
}

/// The host addresses the running tasks of a swarm service publish `port` on.
pub fn task_addresses(stack: &str, service: &str, port: u16) -> Result<Vec<String>> {
    let label = format!("label=com.docker.swarm.service.name={stack}_{service}");
    let out = run(&strings(&["ps", "--quiet", "--filter", &label]))?;
    let ids: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = strings(&["inspect"]);
    args.extend(ids);
    let running = parse_inspect(&text(&run(&args)?.stdout))?;
    Ok(running
        .into_iter()
        .filter_map(|r| r.ports.get(&port).cloned())
        .collect())
}

/// What to build for one service.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub service: String,
    pub tag: String,
    /// Labels the image carries (stackgen's input hash).
    pub labels: Vec<(String, String)>,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub args: Vec<(String, String)>,
}

pub fn build_args(req: &BuildRequest) -> Vec<String> {
    // `--force-rm`: the classic builder keeps a failed step's container otherwise.
    let mut args = strings(&["build", "--force-rm", "--tag"]);
    args.push(req.tag.clone());
    for (k, v) in &req.labels {
        args.push("--label".into());
        args.push(format!("{k}={v}"));
    }
    for (k, v) in &req.args {
        args.push("--build-arg".into());
        args.push(format!("{k}={v}"));
    }
    args.push("--file".into());
    args.push(req.dockerfile.display().to_string());
    args.push(req.context.display().to_string());
    args
}

/// How many of a failed build's last lines its error shows.
const BUILD_TAIL: usize = 25;

/// Builds one image, each line it prints told to `progress`; on failure the error
/// carries the build's last lines.
pub fn build(req: &BuildRequest, progress: &dyn progress::Build) -> Result<(), Error> {
    // No buildx here: the classic builder, asked for explicitly so the CLI does not
    // look for BuildKit and fail.
    let args = build_args(req);
    let cannot =
        |e: std::io::Error| Error::runtime(format!("cannot run `docker build`: {e}"), None);
    let reader = docker_cmd(&args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .reader()
        .map_err(cannot)?;
    let mut tail = std::collections::VecDeque::with_capacity(BUILD_TAIL + 1);
    each_line(&reader, |line| {
        progress.line(line);
        tail.push_back(line.to_string());
        if tail.len() > BUILD_TAIL {
            tail.pop_front();
        }
    })
    .map_err(cannot)?;
    let ended = reader.try_wait().map_err(cannot)?;
    if ended.is_some_and(|o| o.status.success()) {
        return Ok(());
    }
    let tail: Vec<String> = tail.into_iter().filter(|l| !l.trim().is_empty()).collect();
    Err(Error::runtime(
        format!(
            "building `{}` ({}) failed:\n{}",
            req.service,
            req.tag,
            tail.join("\n")
        ),
        Some(format!(
            "reproduce with `docker build` on `{}`",
            req.context.display()
        )),
    ))
}

/// One compose project: a name, its compose file, and the folder relative paths in the
/// file resolve against (always `generated/`, also for a generation's copy of the file).
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub file: PathBuf,
    pub dir: PathBuf,
}

impl Project {
    pub fn new(name: &str, file: &Path, dir: &Path) -> Project {
        Project {
            name: name.to_string(),
            file: file.to_path_buf(),
            dir: dir.to_path_buf(),
        }
    }

    /// `docker compose -p <name> --project-directory <dir> -f <file> <rest...>`
    pub fn args(&self, rest: &[&str]) -> Vec<String> {
        let mut args = strings(&["compose", "--project-name", &self.name]);
        args.push("--project-directory".into());
        args.push(self.dir.display().to_string());
        args.push("--file".into());
        args.push(self.file.display().to_string());
        args.extend(rest.iter().map(|s| s.to_string()));
        args
    }

    pub fn up_args(&self, wait_timeout: u32) -> Vec<String> {
        let timeout = wait_timeout.to_string();
        self.args(&[
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            &timeout,
            "--remove-orphans",
            "--no-build",
            "--pull",
            "never",
        ])
    }

    /// `up` of the named services only, leaving the others (and their dependencies) as
    /// they are; `--wait` for them.
    pub fn up_services_args(&self, wait_timeout: u32, services: &[String]) -> Vec<String> {
        let mut args = self.up_args(wait_timeout);
        args.push("--no-deps".into());
        args.extend(services.iter().cloned());
        args
    }

    /// One more container of `service` beside the `running` ones, from the file's config:
    /// the running ones are left as they are (`--no-recreate`), so the new one can be
    /// checked before the old ones are stopped.
    pub fn add_container_args(&self, service: &str, running: usize) -> Vec<String> {
        let scale = format!("{service}={}", running + 1);
        self.args(&[
            "up",
            "--detach",
            "--no-deps",
            "--no-recreate",
            "--no-build",
            "--pull",
            "never",
            "--scale",
            &scale,
            service,
        ])
    }

    pub fn down_args(&self, volumes: bool) -> Vec<String> {
        let mut rest = vec!["down", "--remove-orphans"];
        if volumes {
            rest.push("--volumes");
        }
        self.args(&rest)
    }

    /// Runs `up --wait`, compose's progress going to our stderr. Returns whether it
    /// succeeded; the caller reads the state afterwards rather than trusting the code.
    pub fn up(&self, wait_timeout: u32) -> Result<bool> {
        relayed(docker_cmd(self.up_args(wait_timeout)), "docker compose up")
    }

    /// `up --wait` of some services only (see `up_services_args`); an empty list is
    /// `up` of the whole file.
    pub fn up_services(&self, wait_timeout: u32, services: &[String]) -> Result<bool> {
        let args = if services.is_empty() {
            self.up_args(wait_timeout)
        } else {
            self.up_services_args(wait_timeout, services)
        };
        relayed(docker_cmd(args), "docker compose up")
    }

    /// Starts one more container of `service`; see `add_container_args`.
    pub fn add_container(&self, service: &str, running: usize) -> Result<bool> {
        relayed(
            docker_cmd(self.add_container_args(service, running)),
            "docker compose up --scale",
        )
    }

    /// `logs` with the operator's options, of one service or of every service.
    pub fn logs_args(&self, options: &LogOptions, service: Option<&str>) -> Vec<String> {
        let mut rest = vec!["logs".to_string()];
        if !options.colour {
            rest.push("--no-color".into());
        }
        rest.extend(options.flags());
        rest.extend(service.map(str::to_string));
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        self.args(&rest)
    }

    pub fn logs(&self, service: &str, tail: u32) -> Result<String> {
        let tail = tail.to_string();
        let out = run(&self.args(&["logs", "--no-color", "--tail", &tail, service]))?;
        Ok(format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }

    pub fn down(&self, volumes: bool) -> Result<bool> {
        relayed(docker_cmd(self.down_args(volumes)), "docker compose down")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_args_are_complete() {
        let p = Project::new(
            "demo",
            Path::new("/p/generated/docker-compose.yml"),
            Path::new("/p/generated"),
        );
        assert_eq!(
            p.up_args(30).join(" "),
            "compose --project-name demo --project-directory /p/generated --file \
             /p/generated/docker-compose.yml up --detach --wait --wait-timeout 30 \
             --remove-orphans --no-build --pull never"
        );
        assert_eq!(
            p.down_args(false).join(" "),
            "compose --project-name demo --project-directory /p/generated --file \
             /p/generated/docker-compose.yml down --remove-orphans"
        );
        assert!(p.down_args(true).ends_with(&["--volumes".to_string()]));
    }

    #[test]
    fn logs_args_pass_the_options_and_the_service() {
        let p = Project::new("demo", Path::new("/p/g/c.yml"), Path::new("/p/g"));
        let options = LogOptions {
            follow: true,
            tail: Some("1".into()),
            ..LogOptions::default()
        };
        assert_eq!(
            p.logs_args(&options, Some("hello")).join(" "),
            "compose --project-name demo --project-directory /p/g --file /p/g/c.yml logs \
             --no-color --follow --tail 1 hello"
        );
        let coloured = LogOptions {
            colour: true,
            since: Some("10m".into()),
            ..LogOptions::default()
        };
        assert!(p.logs_args(&coloured, None).ends_with(&[
            "logs".to_string(),
            "--since".into(),
            "10m".into()
        ]));
        assert_eq!(
            service_logs_args("demo_hello", &options).join(" "),
            "service logs --follow --tail 1 demo_hello"
        );
    }

    #[test]
    fn exit_codes_read_like_a_shell_shows_them() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::ExitStatus::from_raw;
        assert_eq!(exit_code(status(0)), 0);
        assert_eq!(exit_code(status(1 << 8)), 1);
        assert_eq!(exit_code(status(130 << 8)), 130);
        assert_eq!(exit_code(status(libc::SIGINT)), 130, "killed by SIGINT");
    }

    #[test]
    fn stack_deploy_reads_the_file_from_stdin() {
        assert_eq!(
            stack_deploy_args("demo").join(" "),
            "stack deploy --detach=false --prune --compose-file - demo"
        );
    }

    #[test]
    fn build_args_carry_label_and_build_args() {
        let req = BuildRequest {
            service: "hello".into(),
            tag: "demo/hello:abc".into(),
            labels: vec![("io.stackgen.inputs".into(), "abcdef".into())],
            context: PathBuf::from("/p/apps/hello"),
            dockerfile: PathBuf::from("/p/apps/hello/Dockerfile"),
            args: vec![("BASE_IMAGE".into(), "debian:bookworm-slim".into())],
        };
        assert_eq!(
            build_args(&req).join(" "),
            "build --force-rm --tag demo/hello:abc --label io.stackgen.inputs=abcdef --build-arg \
             BASE_IMAGE=debian:bookworm-slim --file /p/apps/hello/Dockerfile /p/apps/hello"
        );
    }

    #[test]
    fn readiness_and_description() {
        let mut c = Container {
            service: "a".into(),
            id: "0123456789ab".into(),
            state: "running".into(),
            health: String::new(),
            image: "s/a:1".into(),
            image_id: "sha256:1".into(),
            exit_code: 0,
            restarts: 0,
            ports: BTreeMap::new(),
            labels: BTreeMap::new(),
            addresses: BTreeMap::new(),
        };
        assert!(c.is_ready());
        c.health = "starting".into();
        assert!(!c.is_ready() && c.is_starting());
        assert_eq!(c.describe(), "running, starting");
        c.state = "exited".into();
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
            .filter_map(parse_summary)
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
}
