//! Rendering: a pure function of the checked [`Stack`] and its input manifests to the text of
//! each target's file (`generated/docker-compose.yml`, and `generated/stack.yml` when the
//! stack names a registry) and of `generated/stack.lock`.
//!
//! Templates come from the project's `templates/` folder: each target's main template
//! (`docker-compose.yml.j2`, `swarm/stack.yml.j2`) holds what every service shares, and
//! `kinds/<kind>/<target>.yml.j2` the part one kind of service needs. Undefined variables
//! are errors (strict mode), and every `{{ ... }}` is written by [`yaml::format`], the one
//! quoting layer: a string is a YAML double-quoted scalar compose reads back unchanged.

pub mod configs;
pub mod edge;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::engine::docker::INPUTS_LABEL;
use crate::error::{Error, Problem};
use crate::hash::ServiceInputs;
use crate::stack::{ImageSource, Role, Service, Stack, TargetKind};
use crate::state::layout;

/// The main template every project has: the compose target's.
const MAIN_TEMPLATE: &str = "docker-compose.yml.j2";

/// The generated files, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `generated/stack.lock`: every built service's input manifest.
    pub lock: String,
    /// Each target's file, for the targets the stack renders.
    pub targets: BTreeMap<TargetKind, String>,
    /// `generated/edge.cfg`: the edge proxy's config, when the stack has an edge.
    pub edge: Option<String>,
    /// `generated/edge-swarm.cfg`: the swarm edge's config, when the stack has an edge
    /// and renders the swarm target.
    pub edge_swarm: Option<String>,
}

impl Rendered {
    /// One target's file, when the stack renders it.
    pub fn target(&self, kind: TargetKind) -> Option<&str> {
        self.targets.get(&kind).map(String::as_str)
    }

    /// Every generated file as (project-relative path, text), sorted by path.
    pub fn files(&self) -> Vec<(&'static str, &str)> {
        let mut files: Vec<(&'static str, &str)> = self
            .targets
            .iter()
            .map(|(kind, text)| (kind.spec().file, text.as_str()))
            .chain([(layout::LOCK_FILE, self.lock.as_str())])
            .chain(self.edge.as_deref().map(|e| (layout::EDGE_FILE, e)))
            .chain(
                self.edge_swarm
                    .as_deref()
                    .map(|e| (layout::EDGE_SWARM_FILE, e)),
            )
            .collect();
        files.sort();
        files
    }

    /// Every generated file by the name it keeps in a generation's folder.
    pub fn by_file_name(&self) -> BTreeMap<&'static str, &str> {
        self.files()
            .into_iter()
            .map(|(rel, text)| (layout::file_name(rel), text))
            .collect()
    }
}

/// Image tag for a built service: `<stack>/<service>:<first 12 hex of its input hash>`.
pub fn image_tag(stack: &str, service: &str, inputs: &ServiceInputs) -> String {
    format!("{stack}/{service}:{}", inputs.short())
}

#[derive(Serialize)]
struct StackCtx<'a> {
    name: &'a str,
    base_image: &'a str,
    bind_address: &'a str,
}

#[derive(Serialize)]
struct BuildCtx {
    context: String,
    dockerfile: String,
    args: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct HealthCtx<'a> {
    path: &'a str,
    command: Option<&'a [String]>,
    interval: &'a str,
    timeout: &'a str,
    retries: u32,
    start_period: &'a str,
}

/// A port the service publishes on the host: compose's long syntax.
#[derive(Serialize)]
struct PortCtx {
    target: u16,
    /// `None`: an ephemeral host port.
    published: Option<u16>,
}

#[derive(Serialize)]
struct MountCtx {
    source: String,
    target: String,
    /// Read-write: only the edge's admin socket folder, where HAProxy creates its sockets.
    writable: bool,
}

#[derive(Serialize)]
struct ServiceCtx<'a> {
    name: &'a str,
    kind: &'a str,
    image: String,
    build: Option<BuildCtx>,
    /// Full input hash, or empty for a ready-made image.
    hash: String,
    /// `app`, `database` or `edge`.
    role: Role,
    port: u16,
    /// What stack.toml says; a swarm publishes it on the service itself.
    publish: Option<u16>,
    /// What the compose file publishes for it: its own port, nothing behind an edge, and
    /// for the edge every routed app's.
    ports: Vec<PortCtx>,
    /// The edge's own health check (inside its container); empty for other roles.
    health_url: &'static str,
    environment: &'a BTreeMap<String, String>,
    depends_on: &'a [String],
    secrets: &'a [String],
    mounts: Vec<MountCtx>,
    data: Option<&'a str>,
    volume: String,
    healthcheck: HealthCtx<'a>,
    networks: Vec<&'static str>,
    security: &'a crate::stack::Security,
    /// Relaxations of the hardened defaults, `key=value`; empty when none.
    relaxed: String,
    /// Swarm: the image as every node pulls it (`<registry>/<image>` when built here).
    registry_image: String,
    replicas: u32,
    placement: &'a [String],
    /// Swarm: each file of its mounts as a swarm config (no host path on a node).
    configs: Vec<configs::ConfigCtx>,
}

#[derive(Serialize)]
struct LockFile<'a> {
    version: u32,
    stack: &'a str,
    services: BTreeMap<&'a str, LockEntry<'a>>,
}

#[derive(Serialize)]
struct LockEntry<'a> {
    image: String,
    #[serde(flatten)]
    inputs: &'a ServiceInputs,
}

/// Reads a lock file back: service name -> its inputs.
pub fn parse_lock(text: &str) -> Option<BTreeMap<String, ServiceInputs>> {
    #[derive(serde::Deserialize)]
    struct Lock {
        services: BTreeMap<String, ServiceInputs>,
    }
    serde_json::from_str::<Lock>(text).ok().map(|l| l.services)
}

/// Paths in the compose file are relative to `generated/`, where it lives.
fn from_generated(project_rel: &str) -> String {
    format!("../{project_rel}")
}

/// The Dockerfile path as compose wants it: relative to the build context.
fn dockerfile_in_context(context: &str, dockerfile: &str) -> String {
    match dockerfile
        .strip_prefix(context)
        .and_then(|r| r.strip_prefix('/'))
    {
        Some(inside) => inside.to_string(),
        None => {
            let depth = context.split('/').count();
            format!("{}{dockerfile}", "../".repeat(depth))
        }
    }
}

/// Which networks a service joins. `backend` is internal (no route out, nothing
/// published); `frontend` carries published ports. A service that publishes nothing and
/// talks to no one still joins `backend`, so it is never on compose's default network.
fn networks(svc: &Service, role: Role) -> Vec<&'static str> {
    if role == Role::Edge {
        return vec!["frontend"];
    }
    let mut nets = Vec::new();
    let talks = !svc.depends_on.is_empty() || svc.depended_on;
    if talks || svc.publish.is_none() {
        nets.push("backend");
    }
    if svc.publish.is_some() {
        nets.push("frontend");
    }
    nets
}

/// Renders every target's file the stack renders, and the lock.
pub fn render(stack: &Stack, inputs: &BTreeMap<String, ServiceInputs>) -> Result<Rendered, Error> {
    let on_swarm = stack.targets().contains(&TargetKind::Swarm);
    let mut services: Vec<ServiceCtx> = stack
        .services
        .values()
        .map(|svc| service_ctx(stack, svc, inputs))
        .collect();
    for (ctx, svc) in services.iter_mut().zip(stack.services.values()) {
        if on_swarm {
            ctx.configs = configs::of(stack, svc)?;
        }
    }
    let mount_configs: Vec<&configs::ConfigCtx> =
        services.iter().flat_map(|s| s.configs.iter()).collect();
    let secrets: BTreeMap<&str, String> = stack
        .secrets
        .keys()
        .map(|name| (name.as_str(), layout::secret_from_generated(name)))
        .collect();
    let volumes: Vec<String> = services
        .iter()
        .filter(|s| s.data.is_some())
        .map(|s| s.volume.clone())
        .collect();
    let uses = |net: &str| services.iter().any(|s| s.networks.contains(&net));
    let edge_swarm = stack
        .edge()
        .filter(|_| stack.targets().contains(&TargetKind::Swarm))
        .map(|_| edge::swarm_config(stack));
    // Swarm configs cannot change: each version of the file gets a name of its own.
    let edge_config = edge_swarm
        .as_deref()
        .and_then(edge::fingerprint)
        .map(|f| format!("{}_edge_{}", stack.name, &f[..12.min(f.len())]));
    let ctx = minijinja::context! {
        mount_configs => mount_configs,
        edge_config => edge_config,
        edge_config_file => layout::file_name(layout::EDGE_SWARM_FILE),
        edge_config_target => format!("{}/haproxy.cfg", edge::CONFIG_DIR),
        edge_admin_dir => edge::ADMIN_DIR,
        stack => StackCtx {
            name: &stack.name,
            base_image: &stack.base_image,
            bind_address: &stack.bind_address,
        },
        frontend => uses("frontend"),
        backend => uses("backend"),
        services => services,
        secrets => secrets,
        volumes => volumes,
        hash_label => INPUTS_LABEL,
    };
    let env = environment(&stack.root)?;
    let mut targets = BTreeMap::new();
    for kind in stack.targets() {
        let template = env
            .get_template(kind.spec().template)
            .map_err(|e| template_error(&stack.root, e))?;
        let mut text = template
            .render(&ctx)
            .map_err(|e| template_error(&stack.root, e))?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        targets.insert(kind, text);
    }
    Ok(Rendered {
        lock: lock_text(stack, inputs)?,
        targets,
        edge: stack.edge().map(|_| edge::config(stack)),
        edge_swarm,
    })
}

/// What the templates see of one service.
fn service_ctx<'a>(
    stack: &'a Stack,
    svc: &'a Service,
    inputs: &BTreeMap<String, ServiceInputs>,
) -> ServiceCtx<'a> {
    let (image, build, hash) = match &svc.source {
        ImageSource::Build {
            context,
            dockerfile,
            ..
        } => {
            let service_inputs = &inputs[&svc.name];
            (
                image_tag(&stack.name, &svc.name, service_inputs),
                Some(BuildCtx {
                    context: from_generated(context),
                    dockerfile: dockerfile_in_context(context, dockerfile),
                    args: service_inputs.build_args.clone(),
                }),
                service_inputs.hash.clone(),
            )
        }
        ImageSource::Image(image) => (image.clone(), None, String::new()),
    };
    let role = stack.role(svc);
    let mut mounts: Vec<MountCtx> = svc
        .mounts
        .iter()
        .map(|(s, t)| MountCtx {
            source: from_generated(s),
            target: t.clone(),
            writable: false,
        })
        .collect();
    if role == Role::Edge {
        mounts.push(MountCtx {
            source: from_generated(layout::EDGE_RUNTIME_DIR),
            target: edge::CONFIG_DIR.to_string(),
            writable: false,
        });
        mounts.push(MountCtx {
            source: from_generated(layout::EDGE_ADMIN_DIR),
            target: edge::ADMIN_DIR.to_string(),
            writable: true,
        });
    }
    ServiceCtx {
        name: &svc.name,
        kind: &svc.kind,
        build,
        hash,
        role,
        port: svc.port,
        publish: svc.publish,
        ports: ports(stack, svc, role),
        health_url: match role {
            Role::Edge => edge::HEALTH_URL,
            _ => "",
        },
        environment: &svc.environment,
        depends_on: &svc.depends_on,
        secrets: &svc.secrets,
        mounts,
        data: svc.data.as_deref(),
        volume: format!("{}-data", svc.name),
        healthcheck: HealthCtx {
            path: &svc.healthcheck.path,
            command: svc.healthcheck.command.as_deref(),
            interval: &svc.healthcheck.interval,
            timeout: &svc.healthcheck.timeout,
            retries: svc.healthcheck.retries,
            start_period: &svc.healthcheck.start_period,
        },
        networks: networks(svc, role),
        security: &svc.security,
        relaxed: svc.security.relaxations().join("; "),
        registry_image: match (&stack.target.registry, &svc.source) {
            (Some(registry), ImageSource::Build { .. }) => format!("{registry}/{image}"),
            _ => image.clone(),
        },
        replicas: svc.replicas,
        placement: &svc.placement,
        configs: Vec::new(),
        image,
    }
}

/// The host ports the compose file publishes for `svc`.
fn ports(stack: &Stack, svc: &Service, role: Role) -> Vec<PortCtx> {
    let ephemeral = |p: u16| (p != 0).then_some(p);
    if role == Role::Edge {
        return edge::listeners(stack)
            .into_iter()
            .map(|(listen, published)| PortCtx {
                target: listen,
                published: ephemeral(published),
            })
            .collect();
    }
    match svc.publish {
        Some(publish) if !stack.routed(svc) => vec![PortCtx {
            target: svc.port,
            published: ephemeral(publish),
        }],
        _ => Vec::new(),
    }
}

/// `generated/stack.lock`: each built service's image and input manifest, as JSON.
fn lock_text(stack: &Stack, inputs: &BTreeMap<String, ServiceInputs>) -> Result<String, Error> {
    let lock = LockFile {
        version: 1,
        stack: &stack.name,
        services: inputs
            .iter()
            .map(|(name, inputs)| {
                (
                    name.as_str(),
                    LockEntry {
                        image: image_tag(&stack.name, name, inputs),
                        inputs,
                    },
                )
            })
            .collect(),
    };
    let mut lock = serde_json::to_string_pretty(&lock)
        .map_err(|e| Error::runtime(format!("cannot serialise the lock: {e}"), None))?;
    lock.push('\n');
    Ok(lock)
}

/// A template environment reading from `<root>/templates`: strict undefined, no
/// the quoting formatter, blocks trimmed so templates can be indented for reading.
fn environment(root: &Path) -> Result<Environment<'static>, Error> {
    let dir = root.join(layout::TEMPLATES_DIR);
    if !dir.join(MAIN_TEMPLATE).is_file() {
        return Err(Error::input(
            Problem::new(
                format!("templates/{MAIN_TEMPLATE}"),
                "template not found",
            )
            .hint("every project needs `templates/docker-compose.yml.j2`; copy it from the stackgen repository"),
        ));
    }
    let mut env = Environment::new();
    env.set_loader(move |name| load_template(&dir, name));
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A custom mode, so a macro's output (template text, already formatted) counts as
    // written and is not quoted again; the formatter does the quoting.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Custom("yaml"));
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_formatter(yaml::format);
    env.add_filter("comment", yaml::comment);
    env.add_filter("safe", yaml::refused);
    env.add_filter("tojson", yaml::refused);
    env.add_filter("q", yaml::q);
    Ok(env)
}

/// A template's text, read as stack files are (a regular file only, up to 1 MiB, UTF-8);
/// `None` when there is no such template. Names with `..` or an empty segment name none.
fn load_template(dir: &Path, name: &str) -> Result<Option<String>, minijinja::Error> {
    if name.split('/').any(|seg| seg.is_empty() || seg == "..") {
        return Ok(None);
    }
    let path = dir.join(name);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    crate::stack::file::read(&path, &format!("templates/{name}"))
        .map(Some)
        .map_err(|p| {
            minijinja::Error::new(
                minijinja::ErrorKind::TemplateNotFound,
                format!("cannot load `templates/{name}`: {}", p.message),
            )
        })
}

fn template_error(root: &Path, err: minijinja::Error) -> Error {
    // An error inside an included partial arrives wrapped; the innermost one knows the
    // file and line the user must fix.
    let mut inner = &err;
    while let Some(next) =
        std::error::Error::source(inner).and_then(|s| s.downcast_ref::<minijinja::Error>())
    {
        inner = next;
    }
    let file = inner.name().unwrap_or(MAIN_TEMPLATE);
    let mut message = match inner.detail() {
        Some(detail) => format!("{}: {detail}", inner.kind()),
        None => inner.kind().to_string(),
    };
    let location = match inner.line() {
        Some(line) => {
            // Quote the template line, so the user sees what is wrong without opening it.
            let source =
                std::fs::read_to_string(root.join("templates").join(file)).unwrap_or_default();
            if let Some(text) = source.lines().nth(line.saturating_sub(1)) {
                message.push_str(&format!(" in `{}`", text.trim()));
            }
            format!("templates/{file}:{line}")
        }
        None => format!("templates/{file}"),
    };
    Error::input(Problem::new(location, message).hint(
        "fix the template; the variables templates can use are listed in docs/src/templates.md",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_paths_relative_to_context() {
        assert_eq!(
            dockerfile_in_context("apps/a", "apps/a/Dockerfile"),
            "Dockerfile"
        );
        assert_eq!(
            dockerfile_in_context("apps/a", "docker/a.Dockerfile"),
            "../../docker/a.Dockerfile"
        );
    }
}
