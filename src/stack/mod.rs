//! The stack model: `stack.toml` parsed into a raw serde model (unknown keys rejected),
//! then validated once into the checked [`Stack`]. Nothing downstream sees the raw model.
//!
//! Validation collects every problem it can find in one pass, so an operator fixes a
//! stack file in one round trip rather than one error per run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Problem};
use crate::state::layout::STACK_FILE;

pub mod kind;
pub mod target;

pub use kind::{Kind, Role};
pub use target::{TargetKind, TargetSpec};

// ---------------------------------------------------------------------------------------
// Raw model: exactly what the TOML says.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStackFile {
    stack: RawStack,
    target: Option<RawTarget>,
    #[serde(default)]
    secrets: BTreeMap<String, RawSecret>,
    #[serde(default)]
    services: BTreeMap<String, RawService>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStack {
    name: String,
    base_image: String,
    #[serde(default = "default_bind_address")]
    bind_address: String,
    #[serde(default = "default_wait_timeout")]
    wait_timeout: u32,
}

/// Where the stack deploys: one host (compose) or a Docker Swarm through a registry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default = "default_target")]
    default: String,
    registry: Option<String>,
}

fn default_target() -> String {
    "compose".to_string()
}

fn default_bind_address() -> String {
    "127.0.0.1".to_string()
}

fn default_wait_timeout() -> u32 {
    120
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    #[serde(default = "default_secret_length")]
    length: u32,
}

fn default_secret_length() -> u32 {
    32
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    kind: String,
    build: Option<String>,
    dockerfile: Option<String>,
    image: Option<String>,
    port: u16,
    publish: Option<u16>,
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    mounts: BTreeMap<String, String>,
    data: Option<String>,
    #[serde(default)]
    healthcheck: RawHealthcheck,
    #[serde(default)]
    security: RawSecurity,
    replicas: Option<u32>,
    #[serde(default)]
    placement: Vec<String>,
}

/// Explicit relaxations of the hardened defaults; each shows up in `check` and the diff.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    read_only: Option<bool>,
    #[serde(default)]
    cap_add: Vec<String>,
    user: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealthcheck {
    path: Option<String>,
    command: Option<Vec<String>>,
    interval: Option<String>,
    timeout: Option<String>,
    retries: Option<u32>,
    start_period: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Checked model.

/// A validated stack. Every path in it is inside the project and exists.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Absolute project root: the folder holding `stack.toml`.
    pub root: PathBuf,
    pub name: String,
    pub base_image: String,
    pub bind_address: String,
    pub wait_timeout: u32,
    pub target: TargetConfig,
    /// Secret name -> generated length.
    pub secrets: BTreeMap<String, u32>,
    /// Sorted by name, so everything derived from it is deterministic.
    pub services: BTreeMap<String, Service>,
    /// Every kind a service names, loaded once.
    pub kinds: BTreeMap<String, Kind>,
}

/// Which engine `up` deploys to by default, and the registry a swarm pulls from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    pub default: TargetKind,
    /// `host[:port]` of the registry every swarm node pulls from; `None`: no swarm file.
    pub registry: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub kind: String,
    pub source: ImageSource,
    pub port: u16,
    /// Host port; `Some(0)` asks the engine for an ephemeral one.
    pub publish: Option<u16>,
    pub environment: BTreeMap<String, String>,
    pub depends_on: Vec<String>,
    pub secrets: Vec<String>,
    /// Project-relative folder -> container path, mounted read-only.
    pub mounts: BTreeMap<String, String>,
    /// Container path of the service's named data volume.
    pub data: Option<String>,
    pub healthcheck: Healthcheck,
    pub security: Security,
    /// Swarm: tasks to run (compose runs one).
    pub replicas: u32,
    /// Swarm: placement constraints, e.g. `node.labels.stackgen.db == true`.
    pub placement: Vec<String>,
    /// Whether another service depends on this one.
    pub depended_on: bool,
}

#[derive(Debug, Clone)]
pub enum ImageSource {
    /// Built locally; paths are project-relative with `/` separators.
    Build {
        context: String,
        dockerfile: String,
        args: BTreeMap<String, String>,
    },
    /// Used as is.
    Image(String),
}

/// The hardened defaults and what `stack.toml` explicitly relaxes of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Security {
    /// Read-only root filesystem (default true).
    pub read_only: bool,
    /// Capabilities added back after dropping all, without the `CAP_` prefix.
    pub cap_add: Vec<String>,
    /// User to run as, replacing the kind's non-root default.
    pub user: Option<String>,
}

impl Security {
    /// Each relaxation as `key=value`, for the compose label and `check`.
    pub fn relaxations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.read_only {
            out.push("read_only=false".to_string());
        }
        for cap in &self.cap_add {
            out.push(format!("cap_add={cap}"));
        }
        if let Some(user) = &self.user {
            out.push(format!("user={user}"));
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Healthcheck {
    /// HTTP path a kind's default check probes (e.g. `python-web`).
    pub path: String,
    /// Explicit command, replacing the kind's default.
    pub command: Option<Vec<String>>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

impl Stack {
    /// Reads and validates `stack.toml` in `root`. Reads only; writes nothing.
    pub fn load(root: &Path) -> Result<Stack, Error> {
        let path = root.join(STACK_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::input(
                Problem::new(path.display().to_string(), format!("cannot read: {e}")).hint(
                    "run stackgen in the folder holding `stack.toml`, or pass `--dir <folder>`",
                ),
            )
        })?;
        let root = std::path::absolute(root).map_err(|e| {
            Error::input(Problem::new(
                root.display().to_string(),
                format!("cannot resolve: {e}"),
            ))
        })?;
        Stack::parse(&root, &text)
    }

    /// Parses and validates stack file text; `root` is where its relative paths point.
    pub fn parse(root: &Path, text: &str) -> Result<Stack, Error> {
        // Unknown keys first, all of them at once and with suggestions; serde would stop
        // at the first one.
        let unknown = unknown_keys(text)?;
        if !unknown.is_empty() {
            return Err(Error::Input(unknown));
        }
        let raw: RawStackFile =
            toml::from_str(text).map_err(|e| Error::input(toml_problem(text, &e)))?;
        validate(root, raw)
    }

    /// The targets this stack renders a file for, in a fixed order.
    pub fn targets(&self) -> Vec<TargetKind> {
        rendered_targets(self.target.registry.as_deref())
    }

    /// The target a command acts on: `--target`, else stack.toml's `[target] default`.
    pub fn target_for(&self, flag: Option<TargetKind>) -> TargetKind {
        flag.unwrap_or(self.target.default)
    }

    /// The role of a service's kind; `App` for a name that is not a service.
    pub fn role(&self, service: &str) -> Role {
        self.services
            .get(service)
            .and_then(|s| self.kinds.get(&s.kind))
            .map_or(Role::App, |k| k.role)
    }
}

fn rendered_targets(registry: Option<&str>) -> Vec<TargetKind> {
    TargetKind::ALL
        .into_iter()
        .filter(|t| t.rendered_with(registry))
        .collect()
}

// ---------------------------------------------------------------------------------------
// TOML errors and unknown keys, with line and column.

const TOP_KEYS: &[&str] = &["stack", "target", "secrets", "services"];
const TARGET_KEYS: &[&str] = &["default", "registry"];
const STACK_KEYS: &[&str] = &["name", "base_image", "bind_address", "wait_timeout"];
const SECRET_KEYS: &[&str] = &["length"];
const SERVICE_KEYS: &[&str] = &[
    "kind",
    "build",
    "dockerfile",
    "image",
    "port",
    "publish",
    "build_args",
    "environment",
    "depends_on",
    "secrets",
    "mounts",
    "data",
    "healthcheck",
    "security",
    "replicas",
    "placement",
];
const HEALTHCHECK_KEYS: &[&str] = &[
    "path",
    "command",
    "interval",
    "timeout",
    "retries",
    "start_period",
];
const SECURITY_KEYS: &[&str] = &["read_only", "cap_add", "user"];

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

fn at_span(text: &str, span: &std::ops::Range<usize>) -> String {
    let (line, col) = line_col(text, span.start);
    format!("{STACK_FILE}:{line}:{col}")
}

/// A TOML syntax or type error as `stack.toml:<line>:<col>: <what>: `<offending text>``.
fn toml_problem(text: &str, err: &toml::de::Error) -> Problem {
    let message = err.message().trim_end().to_string();
    let Some(span) = err.span() else {
        return Problem::new(STACK_FILE, message);
    };
    let offending: String = text
        .get(span.clone())
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(60)
        .collect();
    let message = if offending.trim().is_empty() {
        message
    } else {
        format!("{message}: `{}`", offending.trim())
    };
    Problem::new(at_span(text, &span), message)
        .hint("see the README's `stack.toml` reference for each key's type")
}

/// The known key closest to `key`, when it is close enough to be a likely typo.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

/// Every key the model does not know, each with where it is and the closest valid key.
fn unknown_keys(text: &str) -> Result<Vec<Problem>, Error> {
    use toml::de::{DeTable, DeValue};
    fn table<'a, 'i>(v: &'a DeValue<'i>) -> Option<&'a DeTable<'i>> {
        match v {
            DeValue::Table(t) => Some(t),
            _ => None,
        }
    }
    fn check(
        text: &str,
        t: &DeTable<'_>,
        known: &[&str],
        path: &str,
        out: &mut Vec<(usize, Problem)>,
    ) {
        for (key, _) in t.iter() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let full = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            let p = Problem::new(at_span(text, &key.span()), format!("unknown key `{full}`"));
            out.push((
                key.span().start,
                match closest(name, known) {
                    Some(k) => p.hint(format!("did you mean `{k}`?")),
                    None => p.hint(format!("valid keys here: {}", known.join(", "))),
                },
            ));
        }
    }
    let doc = DeTable::parse(text).map_err(|e| Error::input(toml_problem(text, &e)))?;
    let root = doc.get_ref();
    let mut out = Vec::new();
    check(text, root, TOP_KEYS, "", &mut out);
    if let Some(stack) = root.get("stack").and_then(|v| table(v.get_ref())) {
        check(text, stack, STACK_KEYS, "stack", &mut out);
    }
    if let Some(target) = root.get("target").and_then(|v| table(v.get_ref())) {
        check(text, target, TARGET_KEYS, "target", &mut out);
    }
    if let Some(secrets) = root.get("secrets").and_then(|v| table(v.get_ref())) {
        for (name, secret) in secrets.iter() {
            if let Some(t) = table(secret.get_ref()) {
                let path = format!("secrets.{}", name.get_ref());
                check(text, t, SECRET_KEYS, &path, &mut out);
            }
        }
    }
    if let Some(services) = root.get("services").and_then(|v| table(v.get_ref())) {
        for (name, svc) in services.iter() {
            let Some(svc) = table(svc.get_ref()) else {
                continue;
            };
            let path = format!("services.{}", name.get_ref());
            check(text, svc, SERVICE_KEYS, &path, &mut out);
            for (sub, known) in [
                ("healthcheck", HEALTHCHECK_KEYS),
                ("security", SECURITY_KEYS),
            ] {
                if let Some(t) = svc.get(sub).and_then(|v| table(v.get_ref())) {
                    check(text, t, known, &format!("{path}.{sub}"), &mut out);
                }
            }
        }
    }
    // In file order, as an editor would walk them.
    out.sort_by_key(|(start, _)| *start);
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

// ---------------------------------------------------------------------------------------
// Validation.

fn validate(root: &Path, raw: RawStackFile) -> Result<Stack, Error> {
    let mut problems = Vec::new();
    let at = |key: String| format!("{STACK_FILE}: {key}");

    if !is_project_name(&raw.stack.name) {
        problems.push(
            Problem::new(
                at("stack.name".into()),
                format!("`{}` is not a valid stack name", raw.stack.name),
            )
            .hint("use lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
        );
    }
    if !is_image_reference(&raw.stack.base_image) {
        problems.push(
            Problem::new(
                at("stack.base_image".into()),
                format!("`{}` is not a valid image reference", raw.stack.base_image),
            )
            .hint("write it like `debian:bookworm-slim` or `registry.example/debian@sha256:...`"),
        );
    }
    if raw.stack.bind_address.parse::<std::net::IpAddr>().is_err() {
        problems.push(
            Problem::new(
                at("stack.bind_address".into()),
                format!("`{}` is not an IP address", raw.stack.bind_address),
            )
            .hint("use `127.0.0.1` (this host only) or the address of one host interface"),
        );
    }
    if raw.stack.wait_timeout == 0 {
        problems.push(Problem::new(
            at("stack.wait_timeout".into()),
            "must be at least 1 second",
        ));
    }

    let target = match &raw.target {
        None => TargetConfig {
            default: TargetKind::Compose,
            registry: None,
        },
        Some(t) => {
            let default = match TargetKind::from_name(&t.default) {
                Some(kind) => kind,
                None => {
                    problems.push(
                        Problem::new(
                            at("target.default".into()),
                            format!("unknown target `{}`", t.default),
                        )
                        .hint("use `compose` (one host) or `swarm`"),
                    );
                    TargetKind::Compose
                }
            };
            if let Some(r) = &t.registry
                && !is_image_reference(&format!("{r}/x"))
            {
                problems.push(
                    Problem::new(
                        at("target.registry".into()),
                        format!("`{r}` is not a registry address"),
                    )
                    .hint("write it as `host[:port]`, like `127.0.0.1:5000`"),
                );
            }
            if default == TargetKind::Swarm && t.registry.is_none() {
                problems.push(
                    Problem::new(
                        at("target.registry".into()),
                        "a swarm target needs a registry",
                    )
                    .hint(
                        "every node pulls the images from it; e.g. `registry = \"127.0.0.1:5000\"`",
                    ),
                );
            }
            TargetConfig {
                default,
                registry: t.registry.clone(),
            }
        }
    };

    let mut secrets = BTreeMap::new();
    for (name, secret) in &raw.secrets {
        if !is_dns_label(name) && !is_env_name(name) {
            problems.push(
                Problem::new(
                    at(format!("secrets.{name}")),
                    format!("`{name}` is not a valid secret name"),
                )
                .hint("use lowercase letters, digits, `-` and `_`"),
            );
        }
        if !(16..=256).contains(&secret.length) {
            problems.push(Problem::new(
                at(format!("secrets.{name}.length")),
                format!("{} is outside 16..=256", secret.length),
            ));
        }
        secrets.insert(name.clone(), secret.length);
    }

    if raw.services.is_empty() {
        problems.push(
            Problem::new(STACK_FILE, "the stack declares no services")
                .hint("add a `[services.<name>]` table; see the README's stack.toml reference"),
        );
    }

    let depended: BTreeSet<&str> = raw
        .services
        .values()
        .flat_map(|s| s.depends_on.iter().map(String::as_str))
        .collect();
    let mut published: BTreeMap<u16, &str> = BTreeMap::new();
    let mut services = BTreeMap::new();
    let targets = rendered_targets(target.registry.as_deref());
    let mut loaded_kinds: BTreeMap<&str, kind::Loaded> = BTreeMap::new();

    for (name, raw_svc) in &raw.services {
        let key = |k: &str| at(format!("services.{name}.{k}"));
        if !is_dns_label(name) {
            problems.push(
                Problem::new(
                    at(format!("services.{name}")),
                    format!("`{name}` is not a valid service name"),
                )
                .hint(
                    "use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`",
                ),
            );
        }
        let loaded = loaded_kinds
            .entry(raw_svc.kind.as_str())
            .or_insert_with(|| {
                let loaded = kind::load(root, &raw_svc.kind, &targets);
                problems.extend(loaded.file_problems.iter().cloned());
                loaded
            });
        for (message, hint) in &loaded.missing {
            problems.push(Problem::new(key("kind"), message).hint(hint));
        }
        if raw_svc.port == 0 {
            problems.push(Problem::new(key("port"), "port 0 is not a container port"));
        }
        if let Some(host) = raw_svc.publish
            && host != 0
            && let Some(other) = published.insert(host, name)
        {
            problems.push(
                Problem::new(
                    key("publish"),
                    format!("host port {host} is also published by `{other}`"),
                )
                .hint("give each service its own host port, or `publish = 0` for an ephemeral one"),
            );
        }

        let source = match (&raw_svc.build, &raw_svc.image) {
            (Some(_), Some(_)) => {
                problems.push(
                    Problem::new(key("image"), "a service has `build` or `image`, not both")
                        .hint("remove one of them"),
                );
                None
            }
            (None, None) => {
                problems.push(
                    Problem::new(at(format!("services.{name}")), "no `build` or `image`")
                        .hint("set `build = \"apps/<name>\"` (a folder with a Dockerfile)"),
                );
                None
            }
            (None, Some(image)) => {
                if !is_image_reference(image) {
                    problems.push(Problem::new(
                        key("image"),
                        format!("`{image}` is not a valid image reference"),
                    ));
                }
                if raw_svc.dockerfile.is_some() || !raw_svc.build_args.is_empty() {
                    problems.push(Problem::new(
                        key("image"),
                        "`dockerfile` and `build_args` need `build`",
                    ));
                }
                Some(ImageSource::Image(image.clone()))
            }
            (Some(context), None) => {
                let context = project_path(root, context, true, &key("build"), &mut problems);
                let dockerfile = match (&raw_svc.dockerfile, &context) {
                    (Some(df), _) => {
                        project_path(root, df, false, &key("dockerfile"), &mut problems)
                    }
                    (None, Some(ctx)) => {
                        let df = join_rel(ctx, "Dockerfile");
                        if root.join(&df).is_file() {
                            Some(df)
                        } else {
                            problems.push(
                                Problem::new(key("build"), format!("no `{df}`")).hint(
                                    "add a Dockerfile to the build context or set `dockerfile`",
                                ),
                            );
                            None
                        }
                    }
                    (None, None) => None,
                };
                for arg in raw_svc.build_args.keys() {
                    if !is_env_name(arg) {
                        problems.push(Problem::new(
                            key("build_args"),
                            format!("`{arg}` is not a valid build argument name"),
                        ));
                    }
                    if arg == "BASE_IMAGE" {
                        problems.push(
                            Problem::new(key("build_args"), "`BASE_IMAGE` is set by stackgen")
                                .hint("change `stack.base_image` instead"),
                        );
                    }
                }
                match (context, dockerfile) {
                    (Some(context), Some(dockerfile)) => Some(ImageSource::Build {
                        context,
                        dockerfile,
                        args: raw_svc.build_args.clone(),
                    }),
                    _ => None,
                }
            }
        };

        for var in raw_svc.environment.keys() {
            if !is_env_name(var) {
                problems.push(
                    Problem::new(
                        key("environment"),
                        format!("`{var}` is not a valid environment variable name"),
                    )
                    .hint("use letters, digits and `_`, not starting with a digit"),
                );
            }
        }
        for dep in &raw_svc.depends_on {
            if !raw.services.contains_key(dep) {
                problems.push(
                    Problem::new(
                        key("depends_on"),
                        format!("depends on `{dep}`, which is not declared"),
                    )
                    .hint(format!(
                        "declare `[services.{dep}]` or remove it from depends_on"
                    )),
                );
            } else if dep == name {
                problems.push(Problem::new(
                    key("depends_on"),
                    "a service cannot depend on itself",
                ));
            }
        }
        for secret in &raw_svc.secrets {
            if !raw.secrets.contains_key(secret) {
                problems.push(
                    Problem::new(
                        key("secrets"),
                        format!("uses secret `{secret}`, which is not declared"),
                    )
                    .hint(format!("declare it with `[secrets.{secret}]`")),
                );
            }
        }
        let mut mounts = BTreeMap::new();
        for (source, target) in &raw_svc.mounts {
            if let Some(source) = project_path(root, source, true, &key("mounts"), &mut problems) {
                if !target.starts_with('/') {
                    problems.push(Problem::new(
                        key("mounts"),
                        format!("mount target `{target}` must be an absolute container path"),
                    ));
                }
                mounts.insert(source, target.clone());
            }
        }
        if let Some(data) = &raw_svc.data
            && !data.starts_with('/')
        {
            problems.push(Problem::new(
                key("data"),
                format!("`{data}` must be an absolute container path"),
            ));
        }

        let hc = &raw_svc.healthcheck;
        let duration =
            |value: &Option<String>, default: &str, field: &str, problems: &mut Vec<Problem>| {
                let value = value.clone().unwrap_or_else(|| default.to_string());
                if !is_duration(&value) {
                    problems.push(
                        Problem::new(
                            key(&format!("healthcheck.{field}")),
                            format!("`{value}` is not a duration"),
                        )
                        .hint("write a number and a unit, like `500ms`, `2s` or `1m`"),
                    );
                }
                value
            };
        let healthcheck = Healthcheck {
            path: hc.path.clone().unwrap_or_else(|| "/".to_string()),
            command: hc.command.clone(),
            interval: duration(&hc.interval, "1s", "interval", &mut problems),
            timeout: duration(&hc.timeout, "3s", "timeout", &mut problems),
            retries: hc.retries.unwrap_or(3),
            start_period: duration(&hc.start_period, "15s", "start_period", &mut problems),
        };
        if !healthcheck.path.starts_with('/') {
            problems.push(Problem::new(
                key("healthcheck.path"),
                format!("`{}` must start with `/`", healthcheck.path),
            ));
        }
        if healthcheck.command.as_ref().is_some_and(Vec::is_empty) {
            problems.push(Problem::new(key("healthcheck.command"), "is empty"));
        }

        let mut cap_add = Vec::new();
        for cap in &raw_svc.security.cap_add {
            let name = cap.strip_prefix("CAP_").unwrap_or(cap);
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                problems.push(
                    Problem::new(
                        key("security.cap_add"),
                        format!("`{cap}` is not a capability name"),
                    )
                    .hint("write it like `NET_BIND_SERVICE`; see capabilities(7)"),
                );
            } else if name == "ALL" {
                problems.push(
                    Problem::new(
                        key("security.cap_add"),
                        "adding back ALL capabilities is not allowed",
                    )
                    .hint("name the one capability the service needs"),
                );
            } else {
                cap_add.push(name.to_string());
            }
        }
        cap_add.sort();
        cap_add.dedup();
        if let Some(user) = &raw_svc.security.user
            && (user.is_empty() || user.contains(char::is_whitespace))
        {
            problems.push(
                Problem::new(key("security.user"), format!("`{user}` is not a user"))
                    .hint("write `uid`, `uid:gid` or a user name"),
            );
        }
        let security = Security {
            read_only: raw_svc.security.read_only.unwrap_or(true),
            cap_add,
            user: raw_svc.security.user.clone(),
        };

        if raw_svc.replicas == Some(0) {
            problems.push(
                Problem::new(key("replicas"), "0 replicas would run nothing")
                    .hint("remove the service, or set at least 1"),
            );
        }
        for constraint in &raw_svc.placement {
            if !["==", "!="].iter().any(|op| constraint.contains(op)) {
                problems.push(
                    Problem::new(
                        key("placement"),
                        format!("`{constraint}` is not a constraint"),
                    )
                    .hint("write it like `node.labels.stackgen.db == true`"),
                );
            }
        }

        if let Some(source) = source {
            services.insert(
                name.clone(),
                Service {
                    name: name.clone(),
                    kind: raw_svc.kind.clone(),
                    source,
                    port: raw_svc.port,
                    publish: raw_svc.publish,
                    environment: raw_svc.environment.clone(),
                    depends_on: raw_svc.depends_on.clone(),
                    secrets: raw_svc.secrets.clone(),
                    mounts,
                    data: raw_svc.data.clone(),
                    healthcheck,
                    security,
                    replicas: raw_svc.replicas.unwrap_or(1),
                    placement: raw_svc.placement.clone(),
                    depended_on: depended.contains(name.as_str()),
                },
            );
        }
    }

    if let Some(cycle) = find_cycle(&raw.services) {
        problems.push(
            Problem::new(
                at("services".into()),
                format!("dependency cycle: {}", cycle.join(" -> ")),
            )
            .hint("remove one of these depends_on entries"),
        );
    }

    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    Ok(Stack {
        root: root.to_path_buf(),
        name: raw.stack.name,
        base_image: raw.stack.base_image,
        bind_address: raw.stack.bind_address,
        wait_timeout: raw.stack.wait_timeout,
        target,
        secrets,
        services,
        kinds: loaded_kinds
            .into_values()
            .filter_map(|l| l.kind)
            .map(|k| (k.name.clone(), k))
            .collect(),
    })
}

/// Checks that `rel` is a relative path inside the project that exists (a folder when
/// `dir`), with no `..` and no symlink leading out; returns it with `/` separators.
fn project_path(
    root: &Path,
    rel: &str,
    dir: bool,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let path = Path::new(rel);
    let escapes = path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes || rel.is_empty() {
        problems.push(
            Problem::new(
                location,
                format!("`{rel}` is not a path inside the project"),
            )
            .hint("use a relative path below the folder holding stack.toml, without `..`"),
        );
        return None;
    }
    let full = root.join(path);
    let exists = if dir { full.is_dir() } else { full.is_file() };
    if !exists {
        let what = if dir { "folder" } else { "file" };
        problems.push(Problem::new(
            location,
            format!("{what} `{rel}` does not exist"),
        ));
        return None;
    }
    // A symlink inside the project may still point out of it.
    match (full.canonicalize(), root.canonicalize()) {
        (Ok(real), Ok(real_root)) if real.starts_with(&real_root) => {}
        _ => {
            problems.push(
                Problem::new(location, format!("`{rel}` leads outside the project"))
                    .hint("a symlink on the way points out of the project; copy the files in"),
            );
            return None;
        }
    }
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    Some(parts.join("/"))
}

fn join_rel(dir: &str, file: &str) -> String {
    format!("{dir}/{file}")
}

/// Depth-first search over depends_on; returns the first cycle found, closed.
fn find_cycle(services: &BTreeMap<String, RawService>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        services: &'a BTreeMap<String, RawService>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = path.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        path.push(name);
        if let Some(svc) = services.get(name) {
            for dep in &svc.depends_on {
                if dep != name
                    && services.contains_key(dep)
                    && let Some(c) = visit(dep, services, marks, path)
                {
                    return Some(c);
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in services.keys() {
        if let Some(c) = visit(name, services, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

/// RFC 1123 label: what compose service names and DNS names on the network must be.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Compose project names: lowercase alphanumerics, `-`, `_`, starting alphanumeric.
fn is_project_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

fn is_duration(s: &str) -> bool {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&s[digits..], "ms" | "s" | "m" | "h")
}

/// A Docker image reference: `[host[:port]/]path[:tag][@sha256:<64 hex>]`, lowercase path.
pub fn is_image_reference(s: &str) -> bool {
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let ok = d
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !ok {
            return false;
        }
    }
    // A tag is after the last `:` that follows the last `/` (a `:` before it is a port).
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && !tag.starts_with(['.', '-']);
        if !ok {
            return false;
        }
    }
    let mut parts = name.split('/').peekable();
    let mut first = true;
    while let Some(part) = parts.next() {
        let is_host =
            first && parts.peek().is_some() && (part.contains(['.', ':']) || part == "localhost");
        first = false;
        if is_host {
            if part.is_empty()
                || !part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
            {
                return false;
            }
            continue;
        }
        let ok = !part.is_empty()
            && part.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && part.as_bytes()[0].is_ascii_alphanumeric()
            && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric();
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway project folder with the given files.
    pub(crate) fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        }
        dir
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("templates/kinds/python-web/compose.yml.j2", ""),
            ("apps/a/Dockerfile", "FROM x\n"),
            ("apps/b/Dockerfile", "FROM x\n"),
        ]
    }

    const HEAD: &str = "[stack]\nname = \"demo\"\nbase_image = \"debian:bookworm-slim\"\n";

    fn problems(stack: &str) -> Vec<String> {
        let dir = project(&minimal());
        match Stack::parse(dir.path(), stack) {
            Ok(_) => vec![],
            Err(Error::Input(ps)) => ps.iter().map(|p| p.to_string()).collect(),
            Err(e) => vec![format!("unexpected: {e}")],
        }
    }

    #[test]
    fn valid_stack_loads_with_defaults() {
        let dir = project(&minimal());
        let text = format!(
            "{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 8000\npublish = 8080\n"
        );
        let stack = Stack::parse(dir.path(), &text).expect("valid");
        assert_eq!(stack.bind_address, "127.0.0.1");
        assert_eq!(stack.wait_timeout, 120);
        let a = &stack.services["a"];
        assert_eq!(a.publish, Some(8080));
        assert_eq!(a.healthcheck.interval, "1s");
        match &a.source {
            ImageSource::Build {
                context,
                dockerfile,
                ..
            } => {
                assert_eq!(context, "apps/a");
                assert_eq!(dockerfile, "apps/a/Dockerfile");
            }
            other => panic!("expected a build, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_is_rejected_with_location() {
        let got = problems(&format!(
            "{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 8000\nprot = 1\n"
        ));
        assert_eq!(
            got,
            ["stack.toml:8:1: unknown key `services.a.prot`\n  hint: did you mean `port`?"]
        );
    }

    #[test]
    fn all_meaning_problems_are_reported_in_one_run() {
        let got = problems(&format!(
            "{HEAD}\
[services.Bad_Name]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 8000\npublish = 9000\n\
[services.b]\nkind = \"nope\"\nbuild = \"../outside\"\nport = 80\npublish = 9000\ndepends_on = [\"ghost\"]\n\
environment = {{ \"1BAD\" = \"x\" }}\n"
        ));
        let joined = got.join("\n");
        for needle in [
            "`Bad_Name` is not a valid service name",
            "unknown kind `nope`",
            "`../outside` is not a path inside the project",
            "host port 9000 is also published by `Bad_Name`",
            "depends on `ghost`, which is not declared",
            "`1BAD` is not a valid environment variable name",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
    }

    #[test]
    fn dependency_cycle_is_named() {
        let got = problems(&format!(
            "{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 1\ndepends_on = [\"b\"]\n\
[services.b]\nkind = \"python-web\"\nbuild = \"apps/b\"\nport = 1\ndepends_on = [\"a\"]\n"
        ));
        assert_eq!(
            got,
            vec![
                "stack.toml: services: dependency cycle: a -> b -> a\n  hint: remove one of these depends_on entries"
            ]
        );
    }

    #[test]
    fn empty_stack_is_rejected() {
        let got = problems(HEAD);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("declares no services"));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_out_of_the_project_is_rejected() {
        let dir = project(&minimal());
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("Dockerfile"), "FROM x\n").expect("write");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("apps/link")).expect("symlink");
        let text =
            format!("{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/link\"\nport = 1\n");
        let err = Stack::parse(dir.path(), &text).expect_err("must fail");
        assert!(
            err.to_string().contains("leads outside the project"),
            "{err}"
        );
    }

    #[test]
    fn image_references() {
        for ok in [
            "debian:bookworm-slim",
            "debian",
            "library/debian:12",
            "127.0.0.1:5000/stack/hello:abc",
            "localhost/x",
            "debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(is_image_reference(ok), "{ok}");
        }
        for bad in [
            "",
            "Debian",
            "debian:",
            "debian:bad tag",
            "a//b",
            "debian@sha256:xyz",
            "-x",
        ] {
            assert!(!is_image_reference(bad), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(is_dns_label("hello-2"));
        assert!(!is_dns_label("-x"));
        assert!(!is_dns_label("a_b"));
        assert!(is_env_name("PGHOST"));
        assert!(!is_env_name("9X"));
        assert!(
            is_duration("500ms") && is_duration("2s") && !is_duration("2") && !is_duration("s")
        );
    }
}
