//! Compose as the oracle for rendering: stacks with arbitrary names, keys and values (as
//! far as `stack.toml` allows them) are rendered by the real binary, and `docker compose
//! config --format json` must read back exactly what stack.toml says: the services, each
//! one's environment, build args, secrets, depends_on, data volume target and health
//! check path. A stack stackgen refuses instead (exit 2) passes too, if every error names
//! `stack.toml:<line>:` and nothing was written. Anything else fails, with the stack.toml,
//! the rendered file and compose's JSON in the message.
//!
//! Compose runs in a scrubbed environment (`HOME=/nonexistent-home`, no `X`, no
//! `PGDATA`), so a `$` that reaches it unescaped shows. What compose itself does to what
//! it prints is allowed for, nothing more: every `$` comes back as `$$` (its output is a
//! compose file), a volume target is cleaned like Go's `path.Clean`, and only the
//! secrets some service uses are listed.
//!
//! CI runs a fixed seed and [`CI_CASES`] cases; `STACKGEN_ORACLE_CASES` and
//! `STACKGEN_ORACLE_SEED` raise the count and pick the seed (`just oracle-long`), and
//! `STACKGEN_ORACLE_SURVEY=1` checks every case without shrinking and counts each kind
//! of failure, with its smallest example. The test fails, never skips, when `docker
//! compose` is missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{
    Config, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::Value;

use common::repo;

/// Cases and seed of the CI run: enough stacks (each with several services and
/// variables) to cover every generator branch, in well under a minute on 2 cores.
const CI_CASES: u32 = 48;
const CI_SEED: u64 = 0x5ac6_e00c_1e00;

/// The base image every generated stack names (stack.toml's `base_image`).
const BASE_IMAGE: &str = "debian:bookworm-slim";

/// Environment variables a kind's partial adds to every service of that kind, which
/// stack.toml did not write (templates/kinds/*/compose.yml.j2): none today.
const KIND_ENVIRONMENT: &[(&str, &[&str])] = &[("python-web", &[]), ("postgres", &[])];

// ---------------------------------------------------------------------------------------
// The stack a case describes, and its stack.toml.

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `healthcheck.path` when set (the default check probes `/` otherwise).
    PythonWeb { port: u16, path: Option<String> },
    /// `data` when set: the named volume `<service>-data` is mounted there.
    Postgres { data: Option<String> },
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::PythonWeb { .. } => "python-web",
            Kind::Postgres { .. } => "postgres",
        }
    }

    fn port(&self) -> u16 {
        match self {
            Kind::PythonWeb { port, .. } => *port,
            Kind::Postgres { .. } => 5432,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Service {
    name: String,
    kind: Kind,
    environment: BTreeMap<String, String>,
    build_args: BTreeMap<String, String>,
    secrets: Vec<String>,
    depends_on: Vec<String>,
}

impl Service {
    fn new(name: &str, kind: Kind) -> Service {
        Service {
            name: name.to_string(),
            kind,
            environment: BTreeMap::new(),
            build_args: BTreeMap::new(),
            secrets: Vec::new(),
            depends_on: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct StackCase {
    name: String,
    secrets: Vec<String>,
    /// Unique names; every service builds `apps/app`.
    services: Vec<Service>,
}

/// A TOML basic string: `"`, `\` and the control characters TOML forbids raw are
/// escaped; everything else (U+0085, U+2028, U+FFFE, emoji, ...) is written as is.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_map(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{} = {}", toml_str(k), toml_str(v)))
        .collect();
    format!("{{ {} }}", pairs.join(", "))
}

fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

impl StackCase {
    fn to_toml(&self) -> String {
        let mut t = format!(
            "[stack]\nname = {}\nbase_image = {}\n",
            toml_str(&self.name),
            toml_str(BASE_IMAGE)
        );
        for secret in &self.secrets {
            let _ = write!(t, "\n[secrets.{}]\n", toml_str(secret));
        }
        for svc in &self.services {
            let _ = write!(
                t,
                "\n[services.{}]\nkind = {}\nbuild = \"apps/app\"\nport = {}\n",
                toml_str(&svc.name),
                toml_str(svc.kind.name()),
                svc.kind.port()
            );
            if !svc.build_args.is_empty() {
                let _ = writeln!(t, "build_args = {}", toml_map(&svc.build_args));
            }
            if !svc.environment.is_empty() {
                let _ = writeln!(t, "environment = {}", toml_map(&svc.environment));
            }
            if !svc.secrets.is_empty() {
                let _ = writeln!(t, "secrets = {}", toml_list(&svc.secrets));
            }
            if !svc.depends_on.is_empty() {
                let _ = writeln!(t, "depends_on = {}", toml_list(&svc.depends_on));
            }
            match &svc.kind {
                Kind::PythonWeb {
                    path: Some(path), ..
                } => {
                    let _ = writeln!(t, "healthcheck = {{ path = {} }}", toml_str(path));
                }
                Kind::Postgres { data: Some(data) } => {
                    let _ = writeln!(t, "data = {}", toml_str(data));
                }
                _ => {}
            }
        }
        t
    }

    /// What `to_toml` must parse back to: checks the test's own TOML writer.
    fn to_table(&self) -> toml::Table {
        use toml::Value as V;
        let strings = |m: &BTreeMap<String, String>| -> V {
            V::Table(
                m.iter()
                    .map(|(k, v)| (k.clone(), V::String(v.clone())))
                    .collect(),
            )
        };
        let list = |l: &[String]| V::Array(l.iter().cloned().map(V::String).collect());
        let mut root = toml::Table::new();
        let mut stack = toml::Table::new();
        stack.insert("name".into(), V::String(self.name.clone()));
        stack.insert("base_image".into(), V::String(BASE_IMAGE.into()));
        root.insert("stack".into(), V::Table(stack));
        if !self.secrets.is_empty() {
            let secrets = self
                .secrets
                .iter()
                .map(|s| (s.clone(), V::Table(toml::Table::new())))
                .collect();
            root.insert("secrets".into(), V::Table(secrets));
        }
        let mut services = toml::Table::new();
        for svc in &self.services {
            let mut t = toml::Table::new();
            t.insert("kind".into(), V::String(svc.kind.name().into()));
            t.insert("build".into(), V::String("apps/app".into()));
            t.insert("port".into(), V::Integer(i64::from(svc.kind.port())));
            if !svc.build_args.is_empty() {
                t.insert("build_args".into(), strings(&svc.build_args));
            }
            if !svc.environment.is_empty() {
                t.insert("environment".into(), strings(&svc.environment));
            }
            if !svc.secrets.is_empty() {
                t.insert("secrets".into(), list(&svc.secrets));
            }
            if !svc.depends_on.is_empty() {
                t.insert("depends_on".into(), list(&svc.depends_on));
            }
            match &svc.kind {
                Kind::PythonWeb {
                    path: Some(path), ..
                } => {
                    let mut hc = toml::Table::new();
                    hc.insert("path".into(), V::String(path.clone()));
                    t.insert("healthcheck".into(), V::Table(hc));
                }
                Kind::Postgres { data: Some(data) } => {
                    t.insert("data".into(), V::String(data.clone()));
                }
                _ => {}
            }
            services.insert(svc.name.clone(), V::Table(t));
        }
        if !services.is_empty() {
            root.insert("services".into(), V::Table(services));
        }
        root
    }
}

// ---------------------------------------------------------------------------------------
// Running stackgen and compose.

/// The Docker CLI config folder (where the compose plugin lives), found before the
/// environment is scrubbed: `DOCKER_CONFIG`, else `~/.docker`.
fn docker_config() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".docker"),
    }
}

/// `docker compose ...` in a fixed environment: `HOME` points nowhere, `X` and `PGDATA`
/// are unset, so a `$` that reaches compose unescaped changes the value (or fails).
fn compose(args: &[&str]) -> Output {
    let mut cmd = Command::new("docker");
    cmd.arg("compose").args(args).env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent-home")
        .env("DOCKER_CONFIG", docker_config());
    for var in [
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "DOCKER_CERT_PATH",
        "DOCKER_TLS_VERIFY",
    ] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd.output().expect("run docker compose")
}

/// Fails the test (never skips it) when `docker compose` is missing.
fn require_compose() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let out = compose(&["version"]);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`docker compose version` failed: this test needs the compose v2 plugin \
                 (`just tools` installs it)\n{}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = ready {
        panic!("{e}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let dest = to.join(entry.path().strip_prefix(from).expect("prefix"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// A project for `case`: the repository's templates, one build context, stack.toml.
fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("stackgen-oracle-")
        .tempdir()
        .expect("tempdir");
    copy_dir(&repo().join("templates"), &dir.path().join("templates"));
    std::fs::create_dir_all(dir.path().join("apps/app")).expect("mkdir");
    std::fs::write(
        dir.path().join("apps/app/Dockerfile"),
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER 10001:10001\n",
    )
    .expect("write Dockerfile");
    std::fs::write(dir.path().join("stack.toml"), text).expect("write stack.toml");
    dir
}

/// How a case ended when it passed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Exit 2, every error located in stack.toml, nothing written.
    Refused,
    /// Exit 0, and compose read back what stack.toml says.
    Rendered,
}

/// Why a case failed: `kind` groups like failures (the survey counts them), `message`
/// shows everything needed to see it.
#[derive(Debug)]
struct Failure {
    kind: String,
    message: String,
}

fn fail(kind: impl Into<String>, message: String) -> Failure {
    Failure {
        kind: kind.into(),
        message,
    }
}

/// Renders `case` and checks the result against compose.
fn check(case: &StackCase) -> Result<Outcome, Failure> {
    let text = case.to_toml();
    match toml::from_str::<toml::Table>(&text) {
        Ok(table) if table == case.to_table() => {}
        other => {
            return Err(fail(
                "the test's TOML writer is wrong",
                format!(
                    "the test's TOML writer is wrong (a bug in this test): {other:?}\n--- stack.toml\n{text}"
                ),
            ));
        }
    }
    let dir = project(&text);
    let out = Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(dir.path())
        .arg("render")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let generated = dir.path().join("generated");
    match out.status.code() {
        Some(2) => {
            let mut why = Vec::new();
            let mut kind = String::new();
            if let Err((e, at)) = refusal_is_located(&stderr) {
                kind = format!("refused at `{at}`, not `stack.toml:<line>:`");
                why.push(e);
            }
            if generated.exists() {
                kind = "refused, but wrote generated/".to_string();
                why.push("it refused the stack but wrote generated/".to_string());
            }
            if why.is_empty() {
                return Ok(Outcome::Refused);
            }
            Err(fail(
                kind,
                format!(
                    "stackgen render exited 2: {}\n--- stack.toml\n{text}\n--- stderr\n{stderr}",
                    why.join("; ")
                ),
            ))
        }
        Some(0) => read_back(case, &text, &generated.join("docker-compose.yml")),
        code => Err(fail(
            format!("render exited {code:?}"),
            format!(
                "stackgen render exited {code:?} (0 or 2 expected)\n--- stack.toml\n{text}\n--- stderr\n{stderr}"
            ),
        )),
    }
}

/// `docker compose config` of the rendered `file`, compared with `case`.
fn read_back(case: &StackCase, text: &str, file: &Path) -> Result<Outcome, Failure> {
    let rendered = std::fs::read_to_string(file).unwrap_or_default();
    let file = file.display().to_string();
    let out = compose(&["-f", &file, "config", "--format", "json"]);
    let context =
        || format!("--- stack.toml\n{text}\n--- generated/docker-compose.yml\n{rendered}");
    if !out.status.success() {
        let error = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        return Err(fail(
            format!("compose refused it: {}", error_kind(&error)),
            format!(
                "`docker compose config` refused what stackgen rendered:\n{error}\n{}",
                context()
            ),
        ));
    }
    let json: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        fail(
            "compose printed no JSON",
            format!("compose printed no JSON: {e}\n{}", context()),
        )
    })?;
    let mismatches = compare(case, &json);
    if mismatches.is_empty() {
        return Ok(Outcome::Rendered);
    }
    let what: BTreeSet<&str> = mismatches.iter().map(|(what, _)| *what).collect();
    let details: Vec<&str> = mismatches.iter().map(|(_, d)| d.as_str()).collect();
    Err(fail(
        format!(
            "compose read back another {}",
            what.into_iter().collect::<Vec<_>>().join(", ")
        ),
        format!(
            "compose does not carry what stack.toml says:\n  - {}\n{}\n--- compose config --format json\n{}",
            details.join("\n  - "),
            context(),
            serde_json::to_string_pretty(&json).unwrap_or_default()
        ),
    ))
}

/// Compose's error without what names one case: words with a `.` (key paths) become
/// `…`, and what follows the last `: ` (the offending value) is dropped.
fn error_kind(error: &str) -> String {
    let first = error.lines().next().unwrap_or("");
    let first = first.rsplit_once(": ").map_or(first, |(head, _)| head);
    first
        .split(' ')
        .map(|w| if w.contains('.') { "…" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every `error: ` line of a refusal starts `error: stack.toml:<line>:`; else why not,
/// and where the first one that does not is (its text up to the first `:`).
fn refusal_is_located(stderr: &str) -> Result<(), (String, String)> {
    let errors: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .collect();
    if errors.is_empty() {
        return Err(("no `error: ` line on stderr".into(), "nowhere".into()));
    }
    let unlocated: Vec<&&str> = errors.iter().filter(|e| !has_stack_line(e)).collect();
    match unlocated.first() {
        None => Ok(()),
        Some(first) => Err((
            format!("errors without `stack.toml:<line>:`: {unlocated:?}"),
            first.split(':').next().unwrap_or("").to_string(),
        )),
    }
}

fn has_stack_line(error: &str) -> bool {
    error.strip_prefix("stack.toml:").is_some_and(|rest| {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(':')
    })
}

// ---------------------------------------------------------------------------------------
// What compose must read back.

/// A string as `docker compose config` prints it: the output is itself a compose file,
/// so every literal `$` of the value comes back as `$$`. An unescaped `$HOME` in the
/// rendered file would come back as `/nonexistent-home`, a `$$` as `$$` (not `$$$$`).
fn printed(s: &str) -> String {
    s.replace('$', "$$")
}

fn strings(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), String::from),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn printed_map(m: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), printed(v))).collect()
}

/// One way the JSON differs from the case: what differs (`environment`, ...), and how.
type Mismatch = (&'static str, String);

/// Every way the JSON differs from the case; empty when it carries exactly the stack.
fn compare(case: &StackCase, json: &Value) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if json["name"].as_str() != Some(case.name.as_str()) {
        out.push((
            "project name",
            format!("project name {:?}, not {:?}", json["name"], case.name),
        ));
    }
    let want: BTreeSet<String> = case.services.iter().map(|s| s.name.clone()).collect();
    let got = keys(&json["services"]);
    if got != want {
        out.push(("service set", format!("services {got:?}, not {want:?}")));
    }
    // Compose prints only the secrets some service uses, however many are declared.
    let secrets: BTreeSet<String> = case
        .services
        .iter()
        .flat_map(|s| s.secrets.iter().cloned())
        .collect();
    if keys(&json["secrets"]) != secrets {
        out.push((
            "top-level secrets",
            format!(
                "top-level secrets {:?}, not {secrets:?}",
                keys(&json["secrets"])
            ),
        ));
    }
    for svc in &case.services {
        match json["services"].get(&svc.name) {
            Some(got) => compare_service(svc, got, json, &mut out),
            None => out.push(("service set", format!("service {:?} is missing", svc.name))),
        }
    }
    out
}

fn compare_service(svc: &Service, got: &Value, json: &Value, out: &mut Vec<Mismatch>) {
    let name = &svc.name;
    let mut env = strings(&got["environment"]);
    let added = KIND_ENVIRONMENT
        .iter()
        .find(|(k, _)| *k == svc.kind.name())
        .map_or(&[][..], |(_, vars)| vars);
    env.retain(|k, _| !added.contains(&k.as_str()) || svc.environment.contains_key(k));
    if env != printed_map(&svc.environment) {
        out.push((
            "environment",
            format!(
                "{name:?}: environment {env:?}, not {:?}",
                printed_map(&svc.environment)
            ),
        ));
    }
    let mut args = strings(&got["build"]["args"]);
    if args.remove("BASE_IMAGE").as_deref() != Some(BASE_IMAGE) {
        out.push((
            "build args",
            format!("{name:?}: build arg BASE_IMAGE is not {BASE_IMAGE:?}"),
        ));
    }
    if args != printed_map(&svc.build_args) {
        out.push((
            "build args",
            format!(
                "{name:?}: build args {args:?}, not {:?}",
                printed_map(&svc.build_args)
            ),
        ));
    }
    let used: BTreeSet<String> = got["secrets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["source"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let want: BTreeSet<String> = svc.secrets.iter().cloned().collect();
    if used != want {
        out.push((
            "service secrets",
            format!("{name:?}: secrets {used:?}, not {want:?}"),
        ));
    }
    let deps = keys(&got["depends_on"]);
    let want: BTreeSet<String> = svc.depends_on.iter().cloned().collect();
    if deps != want {
        out.push((
            "depends_on",
            format!("{name:?}: depends_on {deps:?}, not {want:?}"),
        ));
    }
    match &svc.kind {
        Kind::Postgres { data: Some(data) } => compare_data(svc, data, got, json, out),
        Kind::Postgres { data: None } => {}
        Kind::PythonWeb { port, path } => {
            let test: Vec<String> = got["healthcheck"]["test"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default();
            if let Err(e) = health_check_probes(&test, *port, path.as_deref().unwrap_or("/")) {
                out.push(("health check", format!("{name:?}: {e}")));
            }
        }
    }
}

/// An absolute path as compose prints a volume target: cleaned as Go's `path.Clean`
/// does (no empty, `.` or `..` segments, no trailing `/`), which means the same mount.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

fn compare_data(svc: &Service, data: &str, got: &Value, json: &Value, out: &mut Vec<Mismatch>) {
    let volume = format!("{}-data", svc.name);
    let want = printed(&clean(data));
    let targets: Vec<&str> = got["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["type"] == "volume" && v["source"] == volume.as_str())
        .map(|v| v["target"].as_str().unwrap_or(""))
        .collect();
    if targets != [want.as_str()] {
        out.push((
            "data volume target",
            format!(
                "{:?}: volume {volume:?} is mounted at {targets:?}, not [{want:?}]",
                svc.name
            ),
        ));
    }
    if json["volumes"].get(&volume).is_none() {
        out.push((
            "data volume target",
            format!("top-level volume {volume:?} is missing"),
        ));
    }
}

/// The health check probes `path` as written: in exec form (`CMD`), either the path is
/// one argv element, unmodified, or the test is the python one-liner of
/// templates/kinds/python-web with the path pasted into its URL literal exactly, and
/// nothing in the path that ends or changes a Python `'...'` literal.
fn health_check_probes(test: &[String], port: u16, path: &str) -> Result<(), String> {
    if test.first().map(String::as_str) != Some("CMD") {
        return Err(format!("health check {test:?} is not in exec form (`CMD`)"));
    }
    if test[1..].contains(&printed(path)) {
        return Ok(());
    }
    let one_liner = format!(
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=2)"
    );
    let python = ["CMD", "python3", "-c", &printed(&one_liner)].map(String::from);
    if test != python {
        return Err(format!(
            "health check {test:?} has path {path:?} neither as an argument nor in the python one-liner"
        ));
    }
    match path
        .chars()
        .find(|c| matches!(c, '\'' | '\\' | '\n' | '\r'))
    {
        Some(c) => Err(format!(
            "health check path {path:?} is pasted into Python code, where {c:?} does not mean itself"
        )),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Generators: valid stacks, biased toward what YAML, compose and Python misread; one
// case in ten carries one deliberate mistake, so the refusal path is exercised too.

const TRICKY_SERVICE_NAMES: &[&str] = &[
    "null", "true", "false", "yes", "no", "on", "off", "y", "n", "123", "0x1f", "1e3", "0o17",
    "0b101", "012", "1e-3", "0", "nan", "inf", "db", "web",
];
const TRICKY_ENV_NAMES: &[&str] = &[
    "null", "Null", "NULL", "true", "True", "TRUE", "false", "yes", "Yes", "no", "NO", "on", "off",
    "y", "Y", "n", "_1", "_", "HOME", "X", "PATH",
];
const TRICKY_SECRET_NAMES: &[&str] = &[
    "null",
    "true",
    "yes",
    "no",
    "123",
    "0x1f",
    "_1",
    "On",
    "db_password",
];
#[rustfmt::skip]
const TRICKY_PIECES: &[&str] = &[
    // Compose interpolation.
    "$", "$$", "${X}", "${X:?must be set}", "$HOME", "${HOME}", "$X", "$1",
    // Quoting and YAML syntax.
    "'", "\"", "\\", "\\n", "#", " #", ": ", ":", " ", "- ", "---", "...", "&a", "*a",
    "!!str", "|", ">", "@", "`", "%", "[", "]", "{", "}", ",", "?", "~",
    "yes", "null", "0x1f", "1e3", "{{ x }}", "{%",
    // Line breaks, controls, and what YAML does not allow raw.
    "\n", "\t", "\r", "\r\n", "\0", "\u{7f}", "\u{85}", "\u{90}", "\u{1b}[31m",
    "\u{2028}", "\u{2029}", "\u{feff}", "\u{fffe}", "\u{ffff}",
    // Beyond the basic plane.
    "😀", "👩\u{200d}💻",
];
#[rustfmt::skip]
const PATH_PIECES: &[&str] = &[
    "$HOME", "$PGDATA", "${X}", "'", "\"", " ", "?y=1&z=%20", "a", "healthz", "\\", "#", ")",
    "%", ":", ",", "\n", "\u{2028}", "\u{85}", "😀", "/",
];

/// A name from `tricky` (most often) or a random one matching `regex`.
fn name(tricky: &'static [&'static str], regex: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        1 => select(tricky).prop_map(String::from),
        1 => proptest::string::string_regex(regex).expect("regex"),
    ]
    .boxed()
}

fn service_name() -> BoxedStrategy<String> {
    name(TRICKY_SERVICE_NAMES, "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?")
}

fn env_name() -> BoxedStrategy<String> {
    name(TRICKY_ENV_NAMES, "[A-Za-z_][A-Za-z0-9_]{0,8}")
}

/// A DNS label or an environment variable name, as `[secrets]` allows.
fn secret_name() -> BoxedStrategy<String> {
    prop_oneof![
        2 => select(TRICKY_SECRET_NAMES).prop_map(String::from),
        1 => proptest::string::string_regex("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?").expect("regex"),
        1 => proptest::string::string_regex("[A-Za-z_][A-Za-z0-9_]{0,7}").expect("regex"),
    ]
    .boxed()
}

/// An arbitrary string built of pieces: tricky ones, words, and any Unicode.
fn value() -> BoxedStrategy<String> {
    let piece = prop_oneof![
        5 => select(TRICKY_PIECES).prop_map(String::from),
        2 => "[a-zA-Z0-9 _./-]{1,6}",
        2 => any::<char>().prop_map(String::from),
        1 => "\\PC{1,3}",
    ];
    proptest::collection::vec(piece, 0..5)
        .prop_map(|p| p.concat())
        .boxed()
}

/// An absolute container path: one of `examples`, or `/` and pieces.
fn container_path(examples: &'static [&'static str]) -> BoxedStrategy<String> {
    let piece = prop_oneof![
        4 => select(PATH_PIECES).prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        1 => select(examples).prop_map(String::from),
        2 => proptest::collection::vec(piece, 0..4).prop_map(|p| format!("/{}", p.concat())),
    ]
    .boxed()
}

fn env_map() -> BoxedStrategy<BTreeMap<String, String>> {
    proptest::collection::btree_map(env_name(), value(), 0..5).boxed()
}

/// One service before names are resolved: `secrets` index the declared secrets,
/// `depends_on` the services generated before it (so there is never a cycle).
#[derive(Debug, Clone)]
struct ServiceDraft {
    name: String,
    kind: Kind,
    environment: BTreeMap<String, String>,
    build_args: BTreeMap<String, String>,
    secrets: Vec<Index>,
    depends_on: Vec<Index>,
}

fn kind() -> BoxedStrategy<Kind> {
    let port = prop_oneof![Just(8000u16), Just(80), Just(65535), 1u16..=65535];
    let web = (
        port,
        proptest::option::weighted(
            0.7,
            container_path(&["/", "/$HOME", "/a'b", "/a b", "/x?y=1&z=%20"]),
        ),
    )
        .prop_map(|(port, path)| Kind::PythonWeb { port, path });
    let db = proptest::option::weighted(
        0.8,
        container_path(&["/var/lib/$PGDATA", "/var/lib/postgresql/data", "/data dir"]),
    )
    .prop_map(|data| Kind::Postgres { data });
    prop_oneof![3 => web, 2 => db].boxed()
}

fn service_draft() -> BoxedStrategy<ServiceDraft> {
    (
        service_name(),
        kind(),
        env_map(),
        env_map(),
        proptest::collection::vec(any::<Index>(), 0..3),
        proptest::collection::vec(any::<Index>(), 0..3),
    )
        .prop_map(
            |(name, kind, environment, build_args, secrets, depends_on)| ServiceDraft {
                name,
                kind,
                environment,
                build_args,
                secrets,
                depends_on,
            },
        )
        .boxed()
}

/// A mistake stackgen must refuse at its line: the exit-2 path.
#[derive(Debug, Clone)]
enum Mistake {
    ServiceName(&'static str),
    EnvName(&'static str),
    BuildArgName(&'static str),
    SecretName(&'static str),
    /// A relative `healthcheck.path` or `data`.
    RelativePath,
}

fn mistake() -> BoxedStrategy<Mistake> {
    prop_oneof![
        select(&["Null", "a_b", "-x", "x-", "a.b", "a b", ""][..]).prop_map(Mistake::ServiceName),
        select(&["1BAD", "A-B", "A.B", "A B", "$X", ""][..]).prop_map(Mistake::EnvName),
        select(&["1BAD", "BASE_IMAGE", "A=B"][..]).prop_map(Mistake::BuildArgName),
        select(&["Bad.Name", "a b", "9_x", ""][..]).prop_map(Mistake::SecretName),
        Just(Mistake::RelativePath),
    ]
    .boxed()
}

fn stack_case() -> BoxedStrategy<StackCase> {
    (
        prop_oneof![
            1 => select(&["s", "null", "true", "123", "0x1f", "yes"][..]).prop_map(String::from),
            2 => "[a-z0-9][a-z0-9_-]{0,10}",
        ],
        proptest::collection::btree_set(secret_name(), 0..3),
        proptest::collection::vec(service_draft(), 1..5),
        proptest::option::weighted(0.1, (mistake(), any::<Index>())),
    )
        .prop_map(|(name, secrets, drafts, mistake)| {
            let mut case = resolve(name, secrets.into_iter().collect(), drafts);
            if let Some((mistake, at)) = mistake {
                make(&mut case, &mistake, at);
            }
            case
        })
        .boxed()
}

/// The drafts as services: duplicate names dropped, indices turned into names.
fn resolve(name: String, secrets: Vec<String>, drafts: Vec<ServiceDraft>) -> StackCase {
    let pick = |from: &[String], ix: &[Index]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if !from.is_empty() {
            for i in ix {
                let n = i.get(from).clone();
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    };
    let mut services: Vec<Service> = Vec::new();
    for d in drafts {
        if services.iter().any(|s| s.name == d.name) {
            continue;
        }
        let earlier: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        services.push(Service {
            secrets: pick(&secrets, &d.secrets),
            depends_on: pick(&earlier, &d.depends_on),
            name: d.name,
            kind: d.kind,
            environment: d.environment,
            build_args: d.build_args,
        });
    }
    StackCase {
        name,
        secrets,
        services,
    }
}

/// Puts `mistake` into the service at `at` (or the stack's secrets).
fn make(case: &mut StackCase, mistake: &Mistake, at: Index) {
    let i = at.index(case.services.len());
    match mistake {
        Mistake::ServiceName(bad) => {
            if case.services.iter().any(|s| s.name == *bad) {
                return;
            }
            let old = std::mem::replace(&mut case.services[i].name, bad.to_string());
            for svc in &mut case.services {
                for dep in &mut svc.depends_on {
                    if *dep == old {
                        *dep = bad.to_string();
                    }
                }
            }
        }
        Mistake::EnvName(bad) => {
            case.services[i]
                .environment
                .insert(bad.to_string(), "x".into());
        }
        Mistake::BuildArgName(bad) => {
            case.services[i]
                .build_args
                .insert(bad.to_string(), "x".into());
        }
        Mistake::SecretName(bad) => {
            if !case.secrets.iter().any(|s| s == bad) {
                case.secrets.push(bad.to_string());
            }
        }
        Mistake::RelativePath => match &mut case.services[i].kind {
            Kind::PythonWeb { path, .. } => *path = Some("healthz".into()),
            Kind::Postgres { data } => *data = Some("var/lib/data".into()),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The property.

fn env_number<T: std::str::FromStr>(var: &str) -> Option<T> {
    let text = std::env::var(var).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={text:?} is not a number")),
    )
}

/// ChaCha's 32-byte seed from a u64, the same on every machine.
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(
            &(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes(),
        );
    }
    bytes
}

#[test]
fn compose_reads_back_what_stack_toml_says() {
    require_compose();
    let cases = env_number("STACKGEN_ORACLE_CASES").unwrap_or(CI_CASES);
    let seed = env_number("STACKGEN_ORACLE_SEED").unwrap_or(CI_SEED);
    let config = Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        // Each shrink step runs stackgen and compose (~0.2 s): bound it.
        max_shrink_iters: 300,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
    );
    if std::env::var_os("STACKGEN_ORACLE_SURVEY").is_some() {
        return survey(&mut runner, cases, seed);
    }
    let runs = std::sync::Mutex::new(BTreeMap::<String, u32>::new());
    let started = std::time::Instant::now();
    let result = runner.run(&stack_case(), |case| {
        let outcome = check(&case).map_err(|f| TestCaseError::fail(f.message))?;
        *runs
            .lock()
            .expect("runs")
            .entry(format!("{outcome:?}"))
            .or_default() += 1;
        Ok(())
    });
    eprintln!(
        "render oracle: seed {seed}, {cases} cases; passing runs (shrink steps included): {:?}; {:.1?}",
        runs.lock().expect("runs"),
        started.elapsed()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, case)) => panic!(
            "render oracle failed (seed {seed}; rerun with STACKGEN_ORACLE_SEED={seed} \
             STACKGEN_ORACLE_CASES={cases}, or add STACKGEN_ORACLE_SURVEY=1 to list every \
             kind of failure); minimal case after shrinking:\n{why}\n--- case\n{case:#?}"
        ),
        Err(TestError::Abort(why)) => panic!("render oracle aborted (seed {seed}): {why}"),
    }
}

/// `STACKGEN_ORACLE_SURVEY=1`: every case checked, none shrunk; each kind of failure
/// counted, with its smallest example, so one run shows everything there is to fix.
fn survey(runner: &mut TestRunner, cases: u32, seed: u64) {
    let strategy = stack_case();
    let mut passed = BTreeMap::<String, u32>::new();
    let mut failed = BTreeMap::<String, (u32, String)>::new();
    for _ in 0..cases {
        let case = strategy
            .new_tree(runner)
            .expect("generate a case")
            .current();
        match check(&case) {
            Ok(outcome) => *passed.entry(format!("{outcome:?}")).or_default() += 1,
            Err(f) => {
                let entry = failed.entry(f.kind).or_insert((0, String::new()));
                entry.0 += 1;
                if entry.1.is_empty() || f.message.len() < entry.1.len() {
                    entry.1 = f.message;
                }
            }
        }
    }
    let mut report =
        format!("render oracle survey: seed {seed}, {cases} cases, passed {passed:?}\n");
    for (kind, (n, _)) in &failed {
        let _ = writeln!(report, "  {n:>5}  {kind}");
    }
    eprintln!("{report}");
    if !failed.is_empty() {
        for (kind, (_, example)) in &failed {
            let _ = write!(report, "\n=== {kind}: smallest example\n{example}\n");
        }
        panic!("{report}");
    }
}

// ---------------------------------------------------------------------------------------
// Named cases, each one stack.

/// What a named case must do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A valid stack by stackgen's own rules: it must render, and compose read it back.
    Renders,
    /// Rendered faithfully, or refused at its line: either is right.
    RendersOrRefused,
    /// Refused with exit 2 at a line of stack.toml.
    Refused,
}

fn web(name: &str) -> Service {
    Service::new(
        name,
        Kind::PythonWeb {
            port: 8000,
            path: None,
        },
    )
}

fn one(svc: Service) -> StackCase {
    StackCase {
        name: "oracle".into(),
        secrets: Vec::new(),
        services: vec![svc],
    }
}

fn web_with_env(key: &str, value: &str) -> StackCase {
    let mut svc = web("web");
    svc.environment.insert(key.into(), value.into());
    one(svc)
}

#[track_caller]
fn expect(case: StackCase, expect: Expect) {
    require_compose();
    match (check(&case), expect) {
        (Err(why), _) => panic!("{}", why.message),
        (Ok(Outcome::Rendered), Expect::Renders | Expect::RendersOrRefused)
        | (Ok(Outcome::Refused), Expect::Refused | Expect::RendersOrRefused) => {}
        (Ok(got), want) => panic!(
            "expected {want:?}, got {got:?}\n--- stack.toml\n{}",
            case.to_toml()
        ),
    }
}

#[test]
fn env_value_home_is_not_interpolated() {
    expect(web_with_env("A", "$HOME"), Expect::Renders);
}

#[test]
fn env_value_double_dollar_stays_two_dollars() {
    expect(web_with_env("A", "$$"), Expect::Renders);
}

#[test]
fn env_value_required_variable_is_not_required() {
    expect(web_with_env("A", "${X:?must be set}"), Expect::Renders);
}

#[test]
fn health_check_path_with_dollar() {
    expect(
        one(Service::new(
            "web",
            Kind::PythonWeb {
                port: 8000,
                path: Some("/$HOME".into()),
            },
        )),
        Expect::Renders,
    );
}

#[test]
fn health_check_path_with_quote() {
    expect(
        one(Service::new(
            "web",
            Kind::PythonWeb {
                port: 8000,
                path: Some("/a'b".into()),
            },
        )),
        Expect::RendersOrRefused,
    );
}

#[test]
fn data_path_with_dollar() {
    expect(
        one(Service::new(
            "db",
            Kind::Postgres {
                data: Some("/var/lib/$PGDATA".into()),
            },
        )),
        Expect::Renders,
    );
}

#[test]
fn service_named_null() {
    expect(one(web("null")), Expect::Renders);
}

#[test]
fn service_named_123() {
    expect(one(web("123")), Expect::Renders);
}

#[test]
fn env_var_named_true() {
    expect(web_with_env("true", "x"), Expect::Renders);
}

#[test]
fn env_value_with_next_line_u0085() {
    expect(web_with_env("A", "a\u{85}b"), Expect::RendersOrRefused);
}

#[test]
fn env_value_with_noncharacter_ufffe() {
    expect(web_with_env("A", "a\u{fffe}b"), Expect::RendersOrRefused);
}

#[test]
fn depends_on_the_same_service_twice_is_refused() {
    let mut app = web("web");
    app.depends_on = vec!["db".into(), "db".into()];
    let case = StackCase {
        name: "oracle".into(),
        secrets: Vec::new(),
        services: vec![Service::new("db", Kind::Postgres { data: None }), app],
    };
    expect(case, Expect::Refused);
}
