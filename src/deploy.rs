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
use crate::pipeline::{Planned, plan};
use crate::plan::Running;
use crate::policy::{Finding, Severity};
use crate::render::{self, Rendered};
use crate::stack::{ImageSource, Stack, TargetKind};
use crate::state;

pub fn execute(cli: &Cli) -> Result<u8> {
    let target = cli.target.as_deref().and_then(TargetKind::from_name);
    let dir = &cli.dir;
    match &cli.command {
        Command::Render { check } => render_cmd(dir, *check),
        Command::Check { json } => check_cmd(dir, *json),
        Command::Up {
            allow_insecure,
            no_rollback,
            lock_timeout,
        } => up(
            dir,
            UpOptions {
                allow_insecure: *allow_insecure,
                rollback: !*no_rollback,
                lock_timeout: *lock_timeout,
                target,
            },
        ),
        Command::Push => push_cmd(dir),
        Command::Rollback {
            generation,
            lock_timeout,
        } => rollback(dir, *generation, *lock_timeout, target),
        Command::History { json } => history(dir, *json),
        Command::Gc { keep } => gc(dir, *keep),
        Command::Urls => urls(dir, target),
        Command::Diff { exit_code, json } => crate::review::diff(dir, *exit_code, *json, target),
        Command::Why { service, json } => crate::review::why(dir, service, *json, target),
        Command::Status { json } => crate::review::status(dir, *json, target),
        Command::Down {
            volumes,
            lock_timeout,
        } => down(dir, *volumes, *lock_timeout, target),
    }
}

fn generated_files(planned: &Planned) -> Vec<(&'static str, &str)> {
    let r = &planned.rendered;
    let mut files = vec![
        (render::COMPOSE_FILE, r.compose.as_str()),
        (render::LOCK_FILE, r.lock.as_str()),
    ];
    if let Some(swarm) = &r.swarm {
        files.push((render::SWARM_FILE, swarm.as_str()));
    }
    files
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

/// How `up` may behave beyond the defaults.
#[derive(Debug, Clone, Copy)]
pub struct UpOptions {
    pub allow_insecure: bool,
    pub rollback: bool,
    pub lock_timeout: u64,
    /// `--target`, overriding stack.toml's default.
    pub target: Option<TargetKind>,
}

/// The target a command acts on: `--target`, else stack.toml's default.
pub fn target_of(stack: &Stack, flag: Option<TargetKind>) -> TargetKind {
    flag.unwrap_or(stack.target.default)
}

fn up(dir: &Path, opts: UpOptions) -> Result<u8> {
    let allow_insecure = opts.allow_insecure;
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

    // Everything that can refuse the deploy, before anything is written. The engine
    // questions are independent, so they are asked at once: each `docker` call costs a
    // process start and a round trip, and a no-op deploy should cost little more than
    // compose's own.
    let (engine, ours, present) = std::thread::scope(|s| {
        let engine = s.spawn(compose::check_engine);
        let ours = s.spawn(|| compose::published_host_ports(&stack.name));
        let present = s.spawn(compose::local_tags);
        (engine.join(), ours.join(), present.join())
    });
    let thread = |_| anyhow::anyhow!("a check thread panicked");
    engine.map_err(thread)??;
    check_host_ports(stack, &ours.map_err(thread)??)?;
    let builds = missing_images(&planned, &present.map_err(thread)??);
    require_base_image(stack, &builds)?;

    let swarm = target_of(stack, opts.target) == TargetKind::Swarm;
    let registry = match (&stack.target.registry, &planned.rendered.swarm) {
        (Some(r), Some(_)) if swarm => Some(r.clone()),
        _ if swarm => {
            return Err(Error::input(
                Problem::new(
                    "stack.toml: target.registry",
                    "a swarm deploy needs a registry",
                )
                .hint("add `[target] registry = \"host:port\"`; every node pulls from it"),
            )
            .into());
        }
        _ => None,
    };
    if swarm && !compose::swarm_active()? {
        return Err(Error::runtime(
            "this Docker engine is not part of an active swarm",
            Some("run `docker swarm init` (one node) or join a swarm, or deploy with `--target compose`".into()),
        )
        .into());
    }

    // One deploy at a time per project; taken before the first write.
    let _lock = lock(stack, opts.lock_timeout)?;

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
    if let Some(registry) = registry {
        push_images(&planned, &registry)?;
        return swarm_deploy(stack, &planned.rendered);
    }

    let project = project(stack, &stack.root.join(render::COMPOSE_FILE));
    let services: Vec<String> = stack.services.keys().cloned().collect();
    let started = Instant::now();
    let running = match deploy_and_wait(stack, &project, &services) {
        Ok(running) => running,
        Err(failure) if !opts.rollback => return Err(failure.into()),
        Err(failure) => return Err(roll_back_after(stack, failure)?.into()),
    };
    let generation = record(stack, &planned.rendered)?;
    eprintln!(
        "stack `{}` is up: {} services healthy in {:.1}s (generation {generation})",
        stack.name,
        stack.services.len(),
        started.elapsed().as_secs_f64(),
    );
    print_urls(stack, &running);
    Ok(0)
}

/// Records a new generation, unless this deploy is exactly the current one again (as a
/// Nix profile does not grow when nothing changed). Returns the current number.
fn record(stack: &Stack, rendered: &Rendered) -> Result<u32> {
    if let Some(current) = state::current(&stack.root)?
        && current.rendered(&stack.root).ok().as_ref() == Some(rendered)
    {
        return Ok(current.number);
    }
    let images = images_of(&rendered.compose);
    Ok(state::record_generation(&stack.root, rendered, images)?.number)
}

/// The compose project for a compose file of this stack (generated, or a generation's).
fn project(stack: &Stack, file: &Path) -> Project {
    Project::new(&stack.name, file, &stack.root.join(render::GENERATED_DIR))
}

fn lock(stack: &Stack, timeout: u64) -> Result<state::DeployLock> {
    Ok(state::DeployLock::acquire(
        &stack.root,
        std::time::Duration::from_secs(timeout),
        |pid| match pid {
            Some(pid) => eprintln!(
                "waiting up to {timeout}s for the deploy lock, held by stackgen pid {pid}"
            ),
            None => eprintln!("waiting up to {timeout}s for the deploy lock"),
        },
    )?)
}

/// Service -> image of a compose text, for a generation's record.
fn images_of(compose: &str) -> BTreeMap<String, String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(compose).unwrap_or_default();
    let mut out = BTreeMap::new();
    if let Some(services) = docs.first().and_then(|d| d["services"].as_hash()) {
        for (name, svc) in services {
            if let (Some(name), Some(image)) = (name.as_str(), svc["image"].as_str()) {
                out.insert(name.to_string(), image.to_string());
            }
        }
    }
    out
}

/// `up --wait` with `file`, then reads the state back; on failure shows each failing
/// service with its last log lines and returns the error to report.
fn deploy_and_wait(
    stack: &Stack,
    project: &Project,
    services: &[String],
) -> Result<Vec<Running>, Error> {
    let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
    let ok = project.up(stack.wait_timeout).map_err(plumbing)?;
    // Compose's exit code is not the whole truth (interrupts, partial waits): read the
    // state back, in one `docker ps` and one `docker inspect`.
    let mut running = compose::containers(&stack.name).map_err(plumbing)?;
    remove_orphans(&mut running, services).map_err(plumbing)?;
    let failing: Vec<_> = services
        .iter()
        .map(|name| (name, running.iter().find(|s| &s.service == name)))
        .filter(|(_, state)| !state.is_some_and(Running::is_ready))
        .collect();
    if !ok || !failing.is_empty() {
        return Err(explain_failed_deploy(stack, project, &failing).map_err(plumbing)?);
    }
    Ok(running)
}

/// After a failed deploy: bring the current (last good) generation back and check it is
/// healthy. Returns the error to exit with, saying what was done.
fn roll_back_after(stack: &Stack, failure: Error) -> Result<Error> {
    let Some(good) = state::current(&stack.root)? else {
        eprintln!("\nnothing to roll back to: this was the stack's first deploy");
        return Ok(failure);
    };
    eprintln!(
        "\nrolling back to generation {} (the last good deploy)",
        good.number
    );
    let services: Vec<String> = good.images.keys().cloned().collect();
    let project = project(stack, &good.compose_file(&stack.root));
    let message = match deploy_and_wait(stack, &project, &services) {
        Ok(_) => format!(
            "{failure}; rolled back to generation {}, which is healthy again",
            good.number
        ),
        Err(e) => format!(
            "{failure}; rolling back to generation {} failed too: {e}",
            good.number
        ),
    };
    Ok(Error::runtime(
        message,
        Some("fix the service and run `stackgen up` again; `stackgen up --no-rollback` leaves a failed deploy in place to debug it".into()),
    ))
}

/// Removes containers that carry the stack's project label but no declared service.
/// `up --remove-orphans` covers those compose created; this also covers containers
/// started by hand under the project's label, which compose does not consider its own.
fn remove_orphans(running: &mut Vec<Running>, declared: &[String]) -> Result<()> {
    for c in running.iter().filter(|c| !declared.contains(&c.service)) {
        compose::remove_container(&c.id)?;
        eprintln!(
            "removed orphan container {} (service `{}`)",
            c.id, c.service
        );
    }
    running.retain(|c| declared.contains(&c.service));
    Ok(())
}

/// Prints `<service>\t<url>` for each published service that has a port bound.
fn print_urls(stack: &Stack, running: &[Running]) {
    for svc in stack.services.values() {
        let addr = running
            .iter()
            .find(|r| r.service == svc.name && r.state == "running")
            .and_then(|r| r.ports.get(&svc.port));
        if let (Some(_), Some(addr)) = (svc.publish, addr) {
            println!("{}\thttp://{addr}/", svc.name);
        }
    }
}

fn urls(dir: &Path, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    compose::check_engine()?;
    match target_of(&stack, target) {
        TargetKind::Swarm => print_swarm_urls(&stack)?,
        TargetKind::Compose => print_urls(&stack, &compose::containers(&stack.name)?),
    }
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
    Ok(project(stack, &file))
}

/// Shows each service that is not ready with its last log lines, and builds the error.
/// A service still starting when another one failed is named but not blamed: compose
/// stops waiting at the first failure.
fn explain_failed_deploy(
    stack: &Stack,
    project: &Project,
    not_ready: &[(&String, Option<&Running>)],
) -> Result<Error> {
    let starting = |s: &Option<&Running>| s.is_some_and(Running::is_starting);
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

/// Building needs the base image locally: fail before anything is written if it is not.
fn require_base_image(stack: &Stack, builds: &[BuildRequest]) -> Result<()> {
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
    Ok(())
}

/// Fails when a fixed host port is taken by something other than this stack itself.
fn check_host_ports(stack: &Stack, ours: &std::collections::BTreeSet<u16>) -> Result<()> {
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
fn missing_images(
    planned: &Planned,
    present: &std::collections::BTreeSet<String>,
) -> Vec<BuildRequest> {
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
    builds
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

fn down(dir: &Path, volumes: bool, lock_timeout: u64, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    compose::check_engine()?;
    if target_of(&stack, target) == TargetKind::Swarm {
        let _lock = lock(&stack, lock_timeout)?;
        if !compose::stack_rm(&stack.name)? {
            return Err(Error::runtime("`docker stack rm` failed", None).into());
        }
        if volumes {
            eprintln!(
                "note: Swarm keeps volumes on each node; remove them there with `docker volume rm {}_<volume>`",
                stack.name
            );
        }
        eprintln!(
            "stack `{}` is removed from the swarm; its volumes are kept",
            stack.name
        );
        return Ok(0);
    }
    let project = deployed_project(&stack)?;
    let _lock = lock(&stack, lock_timeout)?;
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

/// Deploys generation `number` (default: the one before the current) without building:
/// its images are still tagged by hash.
fn rollback(
    dir: &Path,
    number: Option<u32>,
    lock_timeout: u64,
    target_flag: Option<TargetKind>,
) -> Result<u8> {
    let stack = Stack::load(dir)?;
    compose::check_engine()?;
    let _lock = lock(&stack, lock_timeout)?;
    let all = state::generations(&stack.root)?;
    let current = all.iter().find(|g| g.current).map(|g| g.number);
    let target = match number {
        Some(n) => all.iter().find(|g| g.number == n),
        None => all
            .iter()
            .rev()
            .find(|g| current.is_some_and(|c| g.number < c)),
    };
    let Some(target) = target else {
        let known: Vec<String> = all.iter().map(|g| g.number.to_string()).collect();
        return Err(Error::input(
            Problem::new(
                "rollback",
                match number {
                    Some(n) => format!("there is no generation {n}"),
                    None => "there is no generation before the current one".to_string(),
                },
            )
            .hint(if known.is_empty() {
                "nothing was deployed from this folder yet".to_string()
            } else {
                format!(
                    "generations: {} (`stackgen history` lists them)",
                    known.join(", ")
                )
            }),
        )
        .into());
    };
    let present = compose::local_tags()?;
    let gone: Vec<&String> = target
        .images
        .values()
        .filter(|i| {
            i.contains('/') && i.starts_with(&format!("{}/", stack.name)) && !present.contains(*i)
        })
        .collect();
    if !gone.is_empty() {
        return Err(Error::runtime(
            format!(
                "generation {}'s images are gone: {}",
                target.number,
                gone.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(
                "they were removed (by `stackgen gc` or `docker rmi`); pick a newer generation"
                    .into(),
            ),
        )
        .into());
    }
    eprintln!(
        "rolling back to generation {} ({})",
        target.number, target.time
    );
    if target_of(&stack, target_flag) == TargetKind::Swarm {
        let file = target.dir(&stack.root).join("stack.yml");
        if !file.is_file() {
            return Err(Error::runtime(
                format!("generation {} has no swarm stack file", target.number),
                Some("it was deployed before the stack had a `[target] registry`".into()),
            )
            .into());
        }
        if !compose::stack_deploy(&stack.name, &file, stack.wait_timeout)? {
            return Err(Error::runtime("`docker stack deploy` failed", None).into());
        }
        state::set_current(&stack.root, target.number)?;
        eprintln!(
            "stack `{}` is at generation {} on the swarm",
            stack.name, target.number
        );
        return Ok(0);
    }
    let services: Vec<String> = target.images.keys().cloned().collect();
    let project = project(&stack, &target.compose_file(&stack.root));
    let running = deploy_and_wait(&stack, &project, &services)?;
    state::set_current(&stack.root, target.number)?;
    print_urls(&stack, &running);
    eprintln!(
        "stack `{}` is at generation {}: {} services healthy",
        stack.name,
        target.number,
        services.len()
    );
    Ok(0)
}

fn history(dir: &Path, json: bool) -> Result<u8> {
    let stack = Stack::load(dir)?;
    let all = state::generations(&stack.root)?;
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|g| {
                serde_json::json!({
                    "generation": g.number,
                    "current": g.current,
                    "time": g.time,
                    "git_revision": g.git_revision,
                    "images": g.images,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if all.is_empty() {
        eprintln!("no generations yet: `stackgen up` records one on each successful deploy");
        return Ok(0);
    }
    println!("GEN  CURRENT  TIME                  GIT            IMAGES");
    for g in &all {
        let rev = g.git_revision.as_deref().map_or("-".to_string(), |r| {
            let short: String = r.chars().take(12).collect();
            if r.ends_with("-dirty") {
                format!("{short}+")
            } else {
                short
            }
        });
        let images: Vec<String> = g
            .images
            .iter()
            .map(|(s, i)| format!("{s}={}", i.rsplit(':').next().unwrap_or(i)))
            .collect();
        println!(
            "{:<4} {:<8} {:<21} {:<14} {}",
            g.number,
            if g.current { "*" } else { "" },
            g.time,
            rev,
            images.join(" ")
        );
    }
    Ok(0)
}

/// Keeps the newest `keep` generations and the current one; deletes the other records
/// and every image of the stack that no kept generation and no container uses.
fn gc(dir: &Path, keep: u32) -> Result<u8> {
    let stack = Stack::load(dir)?;
    compose::check_engine()?;
    let _lock = lock(&stack, 60)?;
    let all = state::generations(&stack.root)?;
    let newest: Vec<u32> = all
        .iter()
        .rev()
        .take(keep as usize)
        .map(|g| g.number)
        .collect();
    let (kept, dropped): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|g| g.current || newest.contains(&g.number));
    let mut used: std::collections::BTreeSet<String> = kept
        .iter()
        .flat_map(|g| g.images.values().cloned())
        .collect();
    used.extend(
        compose::containers(&stack.name)?
            .into_iter()
            .map(|c| c.image),
    );
    for g in &dropped {
        state::remove_generation(&stack.root, g)?;
        eprintln!("removed generation {}", g.number);
    }
    let prefix = format!("{}/", stack.name);
    let mut removed = 0;
    for tag in compose::local_tags()? {
        if tag.starts_with(&prefix) && !used.contains(&tag) && compose::remove_image(&tag)? {
            eprintln!("removed image {tag}");
            removed += 1;
        }
    }
    eprintln!(
        "kept {} generations ({}); removed {} generations and {removed} images",
        kept.len(),
        kept.iter()
            .map(|g| g.number.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        dropped.len()
    );
    Ok(0)
}

// -----------------------------------------------------------------------------------------
// Docker Swarm.

/// Pushes each built image the registry lacks, by tag; returns how many were pushed.
fn push_images(planned: &Planned, registry: &str) -> Result<usize> {
    let mut pushed = 0;
    for (name, inputs) in &planned.hashes {
        let local = render::image_tag(&planned.stack.name, name, inputs);
        let remote = format!("{registry}/{local}");
        if compose::registry_has(&remote)? {
            eprintln!("{name}: {remote} is already in the registry");
            continue;
        }
        compose::push(&local, &remote)?;
        eprintln!("{name}: pushed {remote}");
        pushed += 1;
    }
    Ok(pushed)
}

fn push_cmd(dir: &Path) -> Result<u8> {
    let planned = plan(dir)?;
    let stack = &planned.stack;
    let Some(registry) = stack.target.registry.clone() else {
        return Err(Error::input(
            Problem::new("stack.toml: target.registry", "no registry to push to")
                .hint("add `[target] registry = \"host:port\"`"),
        )
        .into());
    };
    compose::check_engine()?;
    let builds = missing_images(&planned, &compose::local_tags()?);
    require_base_image(stack, &builds)?;
    build_all(&builds)?;
    let pushed = push_images(&planned, &registry)?;
    eprintln!(
        "{pushed} pushed, {} already in {registry}",
        planned.hashes.len() - pushed
    );
    Ok(0)
}

/// `docker stack deploy` of the generated stack file, then the services' state: every
/// replica running, and no update that Swarm had to roll back.
fn swarm_deploy(stack: &Stack, rendered: &Rendered) -> Result<u8> {
    let file = stack.root.join(render::SWARM_FILE);
    let started = Instant::now();
    let ok = compose::stack_deploy(&stack.name, &file, stack.wait_timeout)?;
    let services = compose::stack_services(&stack.name)?;
    let rolled_back: Vec<&compose::SwarmService> = services
        .iter()
        .filter(|s| s.update_state.starts_with("rollback"))
        .collect();
    let short: Vec<&compose::SwarmService> =
        services.iter().filter(|s| s.running < s.desired).collect();
    for s in &services {
        let update = if s.update_state.is_empty() {
            String::new()
        } else {
            format!("  (update: {})", s.update_state)
        };
        eprintln!(
            "{:<12} {}/{} running  {}{update}",
            s.service, s.running, s.desired, s.image
        );
    }
    if !ok || !rolled_back.is_empty() || !short.is_empty() {
        let mut what = Vec::new();
        for s in &rolled_back {
            what.push(format!(
                "Swarm rolled `{}` back: {}",
                s.service, s.update_message
            ));
        }
        for s in &short {
            what.push(format!(
                "`{}` runs {}/{} replicas",
                s.service, s.running, s.desired
            ));
        }
        if what.is_empty() {
            what.push("`docker stack deploy` failed".into());
        }
        return Err(Error::runtime(
            format!("swarm deploy failed: {}", what.join("; ")),
            Some(format!(
                "`docker service ps {}_<service> --no-trunc` shows each task's error",
                stack.name
            )),
        )
        .into());
    }
    let generation = record(stack, rendered)?;
    eprintln!(
        "stack `{}` is up on the swarm: {} services converged in {:.1}s (generation {generation})",
        stack.name,
        services.len(),
        started.elapsed().as_secs_f64()
    );
    print_swarm_urls(stack)?;
    Ok(0)
}

fn print_swarm_urls(stack: &Stack) -> Result<()> {
    for svc in stack.services.values().filter(|s| s.publish.is_some()) {
        for addr in compose::task_addresses(&stack.name, &svc.name, svc.port)? {
            println!("{}\thttp://{addr}/", svc.name);
        }
    }
    Ok(())
}
