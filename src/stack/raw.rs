//! The raw model: exactly what `stack.toml` says, as serde reads it (unknown keys
//! rejected), and the problems found before there is a model at all: every unknown key
//! with its line, column and a did-you-mean, and TOML syntax and type errors located the
//! same way. Private to `stack/`: only validation reads it, and `schema` derives the JSON
//! Schema of `stack.toml` from it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use crate::error::{Error, Problem};
use crate::stack::syntax::{closest, line_col};
use crate::stack::target::TargetKind;
use crate::state::layout::STACK_FILE;

// The doc comments and `schemars` attributes below are also the JSON Schema of
// `stack.toml` (`stackgen schema`): its descriptions, defaults and constraints. A
// constraint is written here only when validation enforces exactly it, so the schema
// never rejects a stack stackgen accepts (tests/schema.rs checks the edges).

/// A stackgen stack: the services to deploy, from which `stackgen render` writes
/// `generated/docker-compose.yml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "StackFile")]
pub(super) struct RawStackFile {
    /// The stack's name, base image, and where its published ports listen.
    pub(super) stack: RawStack,
    /// Where `stackgen up` deploys; without this table, compose on this host.
    pub(super) target: Option<RawTarget>,
    /// Secrets stackgen generates on first deploy, by name; a service lists the ones it
    /// may read in its `secrets`.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub(super) secrets: BTreeMap<String, RawSecret>,
    /// The services, by name: the table name is the service name (a DNS label). At least
    /// one is needed.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub(super) services: BTreeMap<String, RawService>,
}

/// The `[stack]` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Stack")]
pub(super) struct RawStack {
    /// The compose project name and image namespace: lowercase letters, digits, `-` and
    /// `_`, starting with a letter or digit, at most 63 characters.
    #[schemars(pattern(r"^[a-z0-9][a-z0-9_-]{0,62}$"))]
    pub(super) name: String,
    /// The image every Dockerfile builds FROM, passed to each build as `BASE_IMAGE`, like
    /// `debian:bookworm-slim`.
    pub(super) base_image: String,
    /// The IP address published ports listen on.
    #[serde(default = "default_bind_address")]
    pub(super) bind_address: String,
    /// Seconds `up --wait` may take before the deploy fails.
    #[serde(default = "default_wait_timeout")]
    #[schemars(range(min = 1))]
    pub(super) wait_timeout: u32,
}

/// Where the stack deploys: one host (compose) or a Docker Swarm through a registry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
pub(super) struct RawTarget {
    /// The target `up` deploys to unless `--target` says otherwise: `compose` (this host)
    /// or `swarm` (`docker stack deploy` of `generated/stack.yml`).
    #[serde(default = "default_target")]
    #[schemars(schema_with = "target_names")]
    pub(super) default: String,
    /// The registry a swarm pulls the images from, as `host[:port]`, like
    /// `127.0.0.1:5000`; with it, `render` also writes `generated/stack.yml`. A swarm
    /// target needs it.
    pub(super) registry: Option<String>,
}

fn default_target() -> String {
    "compose".to_string()
}

/// `[target] default` takes exactly the names of the targets.
fn target_names(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": TargetKind::NAMES })
}

fn default_bind_address() -> String {
    "127.0.0.1".to_string()
}

fn default_wait_timeout() -> u32 {
    120
}

/// A secret stackgen generates on first deploy into `.stackgen/secrets/`; a service that
/// lists it reads it at `/run/secrets/<name>`. It is never rendered into the generated
/// files.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Secret")]
pub(super) struct RawSecret {
    /// How many characters (letters and digits) the generated value has.
    #[serde(default = "default_secret_length")]
    #[schemars(range(min = 16, max = 256))]
    pub(super) length: u32,
}

fn default_secret_length() -> u32 {
    32
}

// Durations as validation reads them: digits and a unit, like `500ms`, `2s` or `1m`.
const DURATION: &str = r"^[0-9]+(ms|s|m|h)$";

/// A `[services.<name>]` table: one service, built from a folder of the project or run
/// from a ready-made image.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Service")]
pub(super) struct RawService {
    /// The kind of service: the folder `templates/kinds/<kind>/` (shipped: `python-web`,
    /// `postgres`, `edge`).
    pub(super) kind: String,
    /// The build context: a folder inside the project. A service has `build` or
    /// `image`, not both.
    pub(super) build: Option<String>,
    /// The Dockerfile, project-relative, with `build`; default `<build>/Dockerfile`.
    pub(super) dockerfile: Option<String>,
    /// A ready-made image instead of `build`, like `nginx:1.27`.
    pub(super) image: Option<String>,
    /// The port the service listens on inside its container; required for every kind but
    /// the edge, which has none (its admin API is a Unix socket).
    #[schemars(range(min = 1))]
    pub(super) port: Option<u16>,
    /// The host port to publish the service on (on the edge, when the stack has one);
    /// `0` takes any free port; without it the service is not published.
    pub(super) publish: Option<u16>,
    /// Host names the edge routes to this service on its `publish` port.
    #[serde(default)]
    pub(super) hosts: Vec<String>,
    /// Build arguments, with `build`; `BASE_IMAGE` is always set by stackgen.
    #[serde(default)]
    pub(super) build_args: BTreeMap<String, String>,
    /// Environment variables: plain settings only; secrets go in `secrets`.
    #[serde(default)]
    pub(super) environment: BTreeMap<String, String>,
    /// Services this one starts after, once they are healthy.
    #[serde(default)]
    pub(super) depends_on: Vec<String>,
    /// Secrets declared in `[secrets]` this service may read, at `/run/secrets/<name>`.
    #[serde(default)]
    pub(super) secrets: Vec<String>,
    /// Project folders mounted read-only: folder -> absolute container path.
    #[serde(default)]
    pub(super) mounts: BTreeMap<String, String>,
    /// An absolute container path where a named volume `<service>-data` is mounted.
    #[schemars(pattern(r"^/"))]
    pub(super) data: Option<String>,
    /// How the engine checks that the service is ready; all keys optional.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub(super) healthcheck: RawHealthcheck,
    /// Relaxations of the hardened defaults; all keys optional.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub(super) security: RawSecurity,
    /// HTTPS at the edge for this app's route: on `publish` (a fixed host port), with
    /// plain HTTP on the app's own `publish` redirected there.
    pub(super) tls: Option<RawTls>,
    /// Seconds an old container keeps serving the connections it has (requests in
    /// flight, WebSockets, streams) after a start-first switch; then the edge closes
    /// what is left and `up` says how many.
    #[schemars(range(max = 3600), extend("default" = 30))]
    pub(super) drain_timeout: Option<u32>,
    /// Swarm: how many tasks to run.
    #[schemars(range(min = 1), extend("default" = 1))]
    pub(super) replicas: Option<u32>,
    /// Swarm: where tasks may run, like `node.labels.stackgen.db == true`.
    #[serde(default)]
    pub(super) placement: Vec<String>,
}

/// Explicit relaxations of the hardened defaults; each shows up in `check` and the diff.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Security")]
pub(super) struct RawSecurity {
    /// `false` makes the container's root filesystem writable.
    #[schemars(extend("default" = true))]
    pub(super) read_only: Option<bool>,
    /// Capabilities added back after all are dropped, like `NET_BIND_SERVICE`; never
    /// `ALL`.
    #[serde(default)]
    pub(super) cap_add: Vec<String>,
    /// Replaces the kind's non-root user: `uid`, `uid:gid` or a user name.
    pub(super) user: Option<String>,
}

/// HTTPS at the edge: a certificate and key from files, or (without them) one issued by
/// stackgen's local CA in `.stackgen/ca/`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tls")]
pub(super) struct RawTls {
    /// The host port HTTPS listens on (on the edge); fixed, since the redirect names it.
    #[schemars(range(min = 1))]
    pub(super) publish: u16,
    /// A PEM certificate (chain) file inside the project, kept out of `generated/`.
    pub(super) cert: Option<String>,
    /// Its PEM private key file inside the project.
    pub(super) key: Option<String>,
}

/// The service's health check; the defaults are filled in by validation.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Healthcheck")]
pub(super) struct RawHealthcheck {
    /// The path (and query) the kind's default check probes, sent as written: `/` and
    /// then URL characters only (RFC 3986); percent-encode others (a space is `%20`).
    #[schemars(
        pattern(r"^/([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*$"),
        extend("default" = "/")
    )]
    pub(super) path: Option<String>,
    /// A command that replaces the kind's default check, like `["CMD", "true"]`.
    #[schemars(length(min = 1))]
    pub(super) command: Option<Vec<String>>,
    /// How often the check runs.
    #[schemars(pattern(DURATION), extend("default" = "1s"))]
    pub(super) interval: Option<String>,
    /// How long one check may take.
    #[schemars(pattern(DURATION), extend("default" = "3s"))]
    pub(super) timeout: Option<String>,
    /// Failures in a row before the service counts as unhealthy.
    #[schemars(extend("default" = 3))]
    pub(super) retries: Option<u32>,
    /// Time to start in, during which failures do not count.
    #[schemars(pattern(DURATION), extend("default" = "15s"))]
    pub(super) start_period: Option<String>,
}

/// Stack file text as the raw model, or every problem that keeps it from being one.
pub(super) fn parse(text: &str) -> Result<RawStackFile, Error> {
    // Unknown keys first, all of them at once and with suggestions; serde would stop
    // at the first one.
    let doc = DeTable::parse(text).map_err(|e| Error::input(toml_problem(text, &e)))?;
    let mut problems = unknown_keys(text, doc.get_ref());
    problems.extend(uncarried(text, doc.get_ref()));
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    toml::from_str(text).map_err(|e| Error::input(toml_problem(text, &e)))
}

// ---------------------------------------------------------------------------------------
// TOML errors and unknown keys, with line and column.

// The keys each table of the raw model knows: exactly the fields of the structs above (a
// field missing here would be reported as unknown).
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
    "hosts",
    "build_args",
    "environment",
    "depends_on",
    "secrets",
    "mounts",
    "data",
    "healthcheck",
    "security",
    "tls",
    "drain_timeout",
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
const TLS_KEYS: &[&str] = &["publish", "cert", "key"];

fn at_span(text: &str, span: &std::ops::Range<usize>) -> String {
    let (line, col) = line_col(text, span.start);
    format!("{STACK_FILE}:{line}:{col}")
}

/// Validation locates a problem by the key that holds it (`stack.toml: services.hello.build`);
/// this adds where that key is written: `stack.toml:27:1: services.hello.build`. A key
/// not in the file (a default) is located at the nearest table above it that is, and a
/// problem of the whole file at its end.
pub(super) fn locate(text: &str, problems: Vec<Problem>) -> Vec<Problem> {
    let Ok(doc) = DeTable::parse(text) else {
        return problems;
    };
    let prefix = format!("{STACK_FILE}: ");
    problems
        .into_iter()
        .map(|mut p| {
            let found = p.location.strip_prefix(&prefix).and_then(|key| {
                let segments: Vec<&str> = key.split('.').collect();
                key_span(doc.get_ref(), &segments).map(|span| (key.to_string(), span))
            });
            if let Some((key, span)) = found {
                p.location = format!("{}: {key}", at_span(text, &span));
            } else if p.location == STACK_FILE {
                // About the file as a whole (no services at all): its end, where the
                // missing part would go.
                p.location = at_span(text, &(text.len()..text.len()));
            }
            p
        })
        .collect()
}

/// The span of the deepest key of `path` written in `t` (a segment may hold dots: an
/// environment variable `A.B` is one key).
fn key_span(t: &DeTable<'_>, path: &[&str]) -> Option<std::ops::Range<usize>> {
    (1..=path.len()).find_map(|n| {
        let name = path[..n].join(".");
        let (key, value) = t.iter().find(|(k, _)| *k.get_ref() == name)?;
        let deeper = table(value.get_ref()).and_then(|sub| key_span(sub, &path[n..]));
        Some(deeper.unwrap_or_else(|| key.span()))
    })
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
        .hint("see docs/src/stack-toml.md for each key's type")
}

fn table<'a, 'i>(v: &'a DeValue<'i>) -> Option<&'a DeTable<'i>> {
    match v {
        DeValue::Table(t) => Some(t),
        _ => None,
    }
}

/// Adds each key of `t` not in `known` to `out`, with its offset for sorting.
fn unknown_in(
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

/// Every string that holds a NUL character: it can be written in TOML (`\u0000`) and in
/// YAML, but no environment variable, argument, label or path can carry it, so the
/// container could never get what stack.toml says. Every other character is carried
/// (the render escapes what YAML cannot take raw).
fn uncarried(text: &str, root: &DeTable<'_>) -> Vec<Problem> {
    fn walk(text: &str, path: &str, v: &toml::Spanned<DeValue<'_>>, out: &mut Vec<Problem>) {
        match v.get_ref() {
            DeValue::String(s) if s.contains('\0') => out.push(
                Problem::new(
                    at_span(text, &v.span()),
                    format!("{path}: contains a NUL character, which no environment variable, argument or path can carry"),
                )
                .hint("remove the `\\u0000`"),
            ),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(text, &format!("{path}[{i}]"), item, out);
                }
            }
            DeValue::Table(t) => {
                for (key, value) in t.iter() {
                    let name: &str = key.get_ref();
                    let full = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
                    walk(text, &full, value, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in root.iter() {
        walk(text, key.get_ref(), value, &mut out);
    }
    out
}

/// Every key the model does not know, each with where it is and the closest valid key.
fn unknown_keys(text: &str, root: &DeTable<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    unknown_in(text, root, TOP_KEYS, "", &mut out);
    if let Some(stack) = root.get("stack").and_then(|v| table(v.get_ref())) {
        unknown_in(text, stack, STACK_KEYS, "stack", &mut out);
    }
    if let Some(target) = root.get("target").and_then(|v| table(v.get_ref())) {
        unknown_in(text, target, TARGET_KEYS, "target", &mut out);
    }
    if let Some(secrets) = root.get("secrets").and_then(|v| table(v.get_ref())) {
        for (name, secret) in secrets.iter() {
            if let Some(t) = table(secret.get_ref()) {
                let path = format!("secrets.{}", name.get_ref());
                unknown_in(text, t, SECRET_KEYS, &path, &mut out);
            }
        }
    }
    if let Some(services) = root.get("services").and_then(|v| table(v.get_ref())) {
        for (name, svc) in services.iter() {
            let Some(svc) = table(svc.get_ref()) else {
                continue;
            };
            let path = format!("services.{}", name.get_ref());
            unknown_in(text, svc, SERVICE_KEYS, &path, &mut out);
            for (sub, known) in [
                ("healthcheck", HEALTHCHECK_KEYS),
                ("security", SECURITY_KEYS),
                ("tls", TLS_KEYS),
            ] {
                if let Some(t) = svc.get(sub).and_then(|v| table(v.get_ref())) {
                    unknown_in(text, t, known, &format!("{path}.{sub}"), &mut out);
                }
            }
        }
    }
    // In file order, as an editor would walk them.
    out.sort_by_key(|(start, _)| *start);
    out.into_iter().map(|(_, p)| p).collect()
}
