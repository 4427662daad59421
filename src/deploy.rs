//! The commands. Each is a short sequence over the pipeline modules, ordered so that every
//! check that can fail on bad input or a missing engine runs before anything is written,
//! built or started.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::compose::{self, BuildRequest, Project};
use crate::error::{Error, Problem};
use crate::hash::{self, ServiceInputs};
use crate::policy::{self, Finding, Severity};
use crate::render::{self, Rendered};
use crate::stack::{ImageSource, Stack};

pub fn execute(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Render { check } => render_cmd(&cli.dir, *check),
        Command::Check { json } => check_cmd(&cli.dir, *json),
        Command::Up { allow_insecure } => up(&cli.dir, *allow_insecure),
        Command::Urls => urls(&cli.dir),
        Command::Diff { exit_code, json } => crate::review::diff(&cli.dir, *exit_code, *json),
        Command::Why { service, json } => crate::review::why(&cli.dir, service, *json),
        Command::Status { json } => crate::review::status(&cli.dir, *json),
        Command::Down { volumes } => down(&cli.dir, *volumes),
    }
}

/// A stack with its inputs hashed and its files rendered, nothing written yet.
pub struct Planned {
    pub stack: Stack,
    pub hashes: BTreeMap<String, ServiceInputs>,
    pub rendered: Rendered,
    /// The security policy's findings; computing them also proves the YAML is valid.
    pub findings: Vec<Finding>,
}

/// Load, validate, hash, render, check: reads only.
pub fn plan(dir: &Path) -> Result<Planned> {
    plan_stack(Stack::load(dir)?)
}

/// The same pipeline from stack file text, for `root`'s templates and build contexts.
/// This is what the fuzz target drives: it must return, never panic, on any text.
pub fn plan_text(root: &Path, text: &str) -> Result<Planned> {
    plan_stack(Stack::parse(root, text)?)
}

fn plan_stack(stack: Stack) -> Result<Planned> {
    let hashes = hash::hash_stack(&stack)?;
    let rendered = render::render(&stack, &hashes)?;
    let findings = policy::check(&stack, &rendered.compose)?;
    Ok(Planned {
        stack,
        hashes,
        rendered,
        findings,
    })
}

fn generated_files(planned: &Planned) -> [(&'static str, &str); 2] {
    [
        (render::COMPOSE_FILE, &planned.rendered.compose),
        (render::LOCK_FILE, &planned.rendered.lock),
    ]
}

/// Writes the generated files that changed; returns their project-relative paths.
fn write_generated(planned: &Planned) -> Result<Vec<&'static str>> {
    let mut written = Vec::new();
    for (rel, text) in generated_files(planned) {
        if crate::state::write_if_changed(&planned.stack.root.join(rel), text.as_bytes(), 0o644)? {
            written.push(rel);
        }
    }
    Ok(written)
}

fn render_cmd(dir: &Path, check: bool) -> Result<u8> {
    let planned = plan(dir)?;
    if check {
        let stale: Vec<&str> = generated_files(&planned)
            .into_iter()
            .filter(|(rel, text)| {
                std::fs::read(planned.stack.root.join(rel)).ok().as_deref() != Some(text.as_bytes())
            })
            .map(|(rel, _)| rel)
            .collect();
        if stale.is_empty() {
            eprintln!("generated files are up to date");
            return Ok(0);
        }
        return Err(Error::runtime(
            format!("generated files are stale: {}", stale.join(", ")),
            Some("run `stackgen render` and commit the result".into()),
        )
        .into());
    }
    let written = write_generated(&planned)?;
    if written.is_empty() {
        eprintln!("generated files are up to date");
    }
    for rel in written {
        eprintln!("wrote {rel}");
    }
    Ok(0)
}

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

fn check_cmd(dir: &Path, json: bool) -> Result<u8> {
    let planned = plan(dir)?;
    let findings = &planned.findings;
    let errors = count(findings, Severity::Error);
    if json {
        let report = serde_json::json!({
            "errors": errors,
            "warnings": count(findings, Severity::Warning),
            "relaxed": count(findings, Severity::Relaxed),
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in findings {
            println!("{}", f.line());
        }
        eprintln!(
            "check: {errors} errors, {} warnings, {} relaxed",
            count(findings, Severity::Warning),
            count(findings, Severity::Relaxed)
        );
    }
    Ok(if errors > 0 { 1 } else { 0 })
}

fn up(dir: &Path, allow_insecure: bool) -> Result<u8> {
    let planned = plan(dir)?;
    let stack = &planned.stack;

    // The security policy: errors refuse the deploy unless explicitly allowed.
    let findings = &planned.findings;
    for f in findings.iter().filter(|f| f.severity != Severity::Warning) {
        eprintln!("{}", f.line());
    }
    let errors: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        if !allow_insecure {
            return Err(Error::input(
                Problem::new(
                    "policy",
                    format!("{} security findings above; nothing was deployed", errors.len()),
                )
                .hint("fix them (see `stackgen check`), relax one in stack.toml's `[services.<name>.security]`, or pass `--allow-insecure`"),
            )
            .into());
        }
        eprintln!(
            "--allow-insecure: deploying despite {} security findings: {}",
            errors.len(),
            errors
                .iter()
                .map(|f| format!("{} {}", f.service, f.key))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // Everything that can refuse the deploy, before anything is written.
    compose::check_engine()?;
    check_host_ports(stack)?;
    let builds = missing_images(&planned)?;
    if !builds.is_empty() && !compose::image_exists(&stack.base_image)? {
        return Err(Error::runtime(
            format!(
                "the base image `{}` is not present locally",
                stack.base_image
            ),
            Some("run `just base`: it pulls the image, or builds it from Debian packages".into()),
        )
        .into());
    }

    for rel in write_generated(&planned)? {
        eprintln!("wrote {rel}");
    }
    for name in crate::secrets::ensure(stack)? {
        eprintln!(
            "generated secret `{name}` in {}/",
            crate::secrets::SECRETS_DIR
        );
    }

    let reused = planned.hashes.len() - builds.len();
    eprintln!("images: {} to build, {reused} up to date", builds.len());
    build_all(&builds)?;

    let project = Project::new(&stack.name, &stack.root.join(render::COMPOSE_FILE));
    let started = Instant::now();
    let ok = project.up(stack.wait_timeout)?;
    remove_orphans(stack)?;
    // Compose's exit code is not the whole truth (interrupts, partial waits): read the state.
    let states = project.ps()?;
    let failing: Vec<_> = stack
        .services
        .keys()
        .map(|name| (name, states.iter().find(|s| &s.service == name)))
        .filter(|(_, state)| !state.is_some_and(compose::ContainerState::is_ready))
        .collect();
    if !ok || !failing.is_empty() {
        return Err(explain_failed_deploy(stack, &project, &failing)?.into());
    }
    crate::state::save_deployed(&stack.root, &planned.rendered)?;
    eprintln!(
        "stack `{}` is up: {} services healthy in {:.1}s",
        stack.name,
        stack.services.len(),
        started.elapsed().as_secs_f64()
    );
    print_urls(stack, &project)?;
    Ok(0)
}

/// Removes containers that carry the stack's project label but no declared service.
/// `up --remove-orphans` covers those compose created; this also covers containers
/// started by hand under the project's label, which compose does not consider its own.
fn remove_orphans(stack: &Stack) -> Result<()> {
    for c in compose::containers(&stack.name)? {
        if !stack.services.contains_key(&c.service) {
            compose::remove_container(&c.id)?;
            eprintln!(
                "removed orphan container {} (service `{}`)",
                c.id, c.service
            );
        }
    }
    Ok(())
}

/// Prints `<service>\t<url>` for each published service that has a port bound.
fn print_urls(stack: &Stack, project: &Project) -> Result<()> {
    for svc in stack.services.values() {
        if svc.publish.is_some()
            && let Some(addr) = project.port(&svc.name, svc.port)?
        {
            println!("{}\thttp://{addr}/", svc.name);
        }
    }
    Ok(())
}

fn urls(dir: &Path) -> Result<u8> {
    let stack = Stack::load(dir)?;
    compose::check_engine()?;
    print_urls(&stack, &deployed_project(&stack)?)?;
    Ok(0)
}

/// The compose project of a stack deployed from this folder.
fn deployed_project(stack: &Stack) -> Result<Project> {
    let file = stack.root.join(render::COMPOSE_FILE);
    if !file.is_file() {
        return Err(Error::runtime(
            format!("`{}` does not exist", render::COMPOSE_FILE),
            Some("nothing was deployed from this folder; run `stackgen up` first".into()),
        )
        .into());
    }
    Ok(Project::new(&stack.name, &file))
}

/// Shows each service that is not ready with its last log lines, and builds the error.
/// A service still starting when another one failed is named but not blamed: compose
/// stops waiting at the first failure.
fn explain_failed_deploy(
    stack: &Stack,
    project: &Project,
    not_ready: &[(&String, Option<&compose::ContainerState>)],
) -> Result<Error> {
    let starting = |s: &Option<&compose::ContainerState>| {
        s.is_some_and(|s| s.state == "running" && s.health == "starting")
    };
    let failed: Vec<_> = not_ready.iter().filter(|(_, s)| !starting(s)).collect();
    let blamed: Vec<_> = if failed.is_empty() {
        not_ready.iter().collect()
    } else {
        failed
    };
    for (name, state) in not_ready {
        let what = state.map_or_else(|| "not created".to_string(), |s| s.describe());
        if !blamed.iter().any(|(n, _)| n == name) {
            eprintln!("\nservice `{name}` was still starting ({what})");
            continue;
        }
        eprintln!("\nservice `{name}` is not ready: {what}; its last log lines:");
        for line in project.logs(name, 20)?.lines() {
            eprintln!("  {line}");
        }
    }
    let names: Vec<&str> = blamed.iter().map(|(n, _)| n.as_str()).collect();
    let message = if names.is_empty() {
        "`docker compose up --wait` failed".to_string()
    } else if blamed.iter().all(|(_, s)| starting(s)) {
        format!(
            "deploy failed: not healthy within {}s: {}",
            stack.wait_timeout,
            names.join(", ")
        )
    } else {
        format!("deploy failed: not ready: {}", names.join(", "))
    };
    Ok(Error::runtime(
        message,
        Some(format!(
            "read the logs above; `docker compose -p {} logs <service>` shows more",
            stack.name
        )),
    ))
}

/// Fails when a fixed host port is taken by something other than this stack itself.
fn check_host_ports(stack: &Stack) -> Result<()> {
    let ours = compose::published_host_ports(&stack.name)?;
    for svc in stack.services.values() {
        let Some(port) = svc.publish.filter(|p| *p != 0 && !ours.contains(p)) else {
            continue;
        };
        let addr = (stack.bind_address.as_str(), port);
        if let Err(e) = std::net::TcpListener::bind(addr) {
            return Err(Error::runtime(
                format!(
                    "host port {port} on {} for `{}` is not available: {e}",
                    stack.bind_address, svc.name
                ),
                Some(format!(
                    "stop what listens there (`ss -ltnp 'sport = :{port}'` shows it) or change `publish` of `{}` in stack.toml",
                    svc.name
                )),
            )
            .into());
        }
    }
    Ok(())
}

/// The built services whose content-addressed tag is not present locally.
fn missing_images(planned: &Planned) -> Result<Vec<BuildRequest>> {
    let present = compose::local_tags()?;
    let stack = &planned.stack;
    let mut builds = Vec::new();
    for (name, inputs) in &planned.hashes {
        let tag = render::image_tag(&stack.name, name, inputs);
        if present.contains(&tag) {
            continue;
        }
        if let ImageSource::Build {
            context,
            dockerfile,
            ..
        } = &stack.services[name].source
        {
            builds.push(BuildRequest {
                service: name.clone(),
                tag,
                hash: inputs.hash.clone(),
                context: stack.root.join(context),
                dockerfile: stack.root.join(dockerfile),
                args: inputs
                    .build_args
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
        }
    }
    Ok(builds)
}

/// Builds in parallel: the daemon runs independent builds side by side.
fn build_all(builds: &[BuildRequest]) -> Result<()> {
    let results: Vec<(String, f64, Result<(), Error>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = builds
            .iter()
            .map(|req| {
                eprintln!("building {} ({})", req.service, req.tag);
                scope.spawn(move || {
                    let t = Instant::now();
                    let r = compose::build(req);
                    (req.service.clone(), t.elapsed().as_secs_f64(), r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        "?".into(),
                        0.0,
                        Err(Error::runtime("a build thread panicked", None)),
                    )
                })
            })
            .collect()
    });
    let mut first_error = None;
    for (service, secs, result) in results {
        match result {
            Ok(()) => eprintln!("built {service} in {secs:.1}s"),
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn down(dir: &Path, volumes: bool) -> Result<u8> {
    let stack = Stack::load(dir)?;
    compose::check_engine()?;
    let project = deployed_project(&stack)?;
    if !project.down(volumes)? {
        return Err(Error::runtime("`docker compose down` failed", None).into());
    }
    if volumes {
        eprintln!("stack `{}` is down; its volumes are deleted", stack.name);
    } else {
        eprintln!(
            "stack `{}` is down; its volumes are kept (`stackgen down --volumes` deletes them)",
            stack.name
        );
    }
    Ok(0)
}
