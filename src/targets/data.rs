//! The stack's data: which services hold it (a named volume, and a kind whose
//! `kind.toml` says how to dump and load it), backups of them into
//! `.stackgen/backups/`, and the one-host ways of running a kind's data scripts (a
//! one-shot container of the service, or its running container). The rest of a target
//! reaches these through the `Target` trait.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::engine::docker::{self, CONFIG_HASH_LABEL, Container, Project};
use crate::engine::oneshot::{self, Input};
use crate::error::Error;
use crate::progress;
use crate::stack::kind::{Backup, Rotate};
use crate::stack::{Service, Stack};
use crate::state::{backups, generations, layout};
use crate::targets::edge::EdgeProxy;
use crate::targets::interface::Target;
use crate::targets::rollout::{Gate, StartFirst};

/// The services whose data is backed up: a named volume and a kind with `[backup]`.
pub fn stores(stack: &Stack) -> Vec<(&Service, &Backup)> {
    stack
        .services
        .values()
        .filter(|svc| svc.data.is_some())
        .filter_map(|svc| Some((svc, stack.kinds.get(&svc.kind)?.backup.as_ref()?)))
        .collect()
}

/// When a backup is taken: on request (a store that is not running is an error), or
/// before a risky step (a store that is not running is skipped, saying so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Asked,
    Before(&'static str),
}

/// Backs up every store into `.stackgen/backups/`; returns the files. On request a store
/// that does not run is an error; before a risky step it is skipped, saying so. A failed
/// dump leaves no file and is the error.
pub fn back_up(target: &dyn Target, stack: &Stack, when: When) -> Result<Vec<PathBuf>, Error> {
    let mut serving = Vec::new();
    for (svc, backup) in stores(stack) {
        if target.serves(svc)? {
            serving.push((svc, backup));
            continue;
        }
        match when {
            When::Asked => {
                return Err(Error::runtime(
                    format!("`{}` is not running ready, so it cannot be backed up", svc.name),
                    Some("start the stack with `stackgen up` (see `stackgen status`), then try again".into()),
                ));
            }
            When::Before(step) => progress::note(format_args!(
                "no backup of `{}` {step}: it does not run here (nothing to dump it from)",
                svc.name
            )),
        }
    }
    let why = match when {
        When::Asked => "",
        When::Before(step) => step,
    };
    write_backups(target, stack, &serving, why)
}

/// Dumps each of `chosen` (stores that run ready) into a backup file; `why` is said
/// after the service's name.
fn write_backups(
    target: &dyn Target,
    stack: &Stack,
    chosen: &[(&Service, &Backup)],
    why: &str,
) -> Result<Vec<PathBuf>, Error> {
    let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
    let generation = generations::current(&stack.root)
        .map_err(plumbing)?
        .map_or(0, |g| g.number);
    let single = stores(stack).len() == 1;
    let mut files = Vec::new();
    for (svc, backup) in chosen {
        let service = (!single).then_some(svc.name.as_str());
        let name = backups::new_name(&stack.root, generation, service, &backup.extension);
        let dumped = backups::write(&stack.root, &name, &backup.complete, |out| {
            Ok(target.dump(svc, backup, out)?)
        });
        let (path, size) = dumped.map_err(|e| match e.downcast::<Error>() {
            Ok(error) => error,
            Err(e) => plumbing(e),
        })?;
        progress::note(format_args!(
            "backed up `{}`{}{why}: {}/{name} ({})",
            svc.name,
            if why.is_empty() { "" } else { " " },
            layout::BACKUPS_DIR,
            human_size(size)
        ));
        files.push(path);
    }
    Ok(files)
}

/// Before a deploy: a backup of each store it recreates that runs ready now (its config
/// hash differs from what will run), from the containers the deploy already listed. A
/// store that is not running is not dumped: there is no server to ask, and nothing a
/// recreate could lose that a dump would hold.
pub fn back_up_before_recreate(
    target: &dyn Target,
    stack: &Stack,
    hashes: &BTreeMap<String, String>,
    running: &[Container],
) -> Result<(), Error> {
    let recreated: Vec<(&Service, &Backup)> = stores(stack)
        .into_iter()
        .filter(|(svc, _)| {
            running.iter().any(|c| {
                c.service == svc.name
                    && c.is_ready()
                    && hashes.get(&svc.name).map(String::as_str) != c.label(CONFIG_HASH_LABEL)
            })
        })
        .collect();
    write_backups(target, stack, &recreated, "before the deploy recreates it")?;
    Ok(())
}

/// The compose project of what runs: the current generation's file, else the rendered one.
pub fn current_project(stack: &Stack) -> Project {
    let rendered = stack.root.join(layout::COMPOSE_FILE);
    let file = generations::current(&stack.root)
        .ok()
        .flatten()
        .map(|g| g.file(&stack.root, layout::file_name(layout::COMPOSE_FILE)))
        .filter(|f| f.is_file())
        .unwrap_or(rendered);
    Project::new(&stack.name, &file, &stack.root.join(layout::GENERATED_DIR))
}

/// The edge config of what runs: the current generation's, else the rendered one.
fn steady_edge_config(stack: &Stack) -> Option<String> {
    let name = layout::file_name(layout::EDGE_FILE);
    generations::current(&stack.root)
        .ok()
        .flatten()
        .and_then(|g| std::fs::read_to_string(g.file(&stack.root, name)).ok())
        .or_else(|| std::fs::read_to_string(stack.root.join(layout::EDGE_FILE)).ok())
}

/// The one environment variable a data script gets beyond the service's own.
fn script_env(svc: &Service) -> Vec<(String, String)> {
    vec![("STACKGEN_SERVICE".to_string(), svc.name.clone())]
}

/// Compose: whether `svc` has a container that runs ready.
pub fn serves(stack: &Stack, svc: &Service) -> Result<bool, Error> {
    let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
    let running = docker::containers(&stack.name).map_err(plumbing)?;
    Ok(running
        .iter()
        .any(|c| c.service == svc.name && c.is_ready()))
}

/// Compose: the kind's dump script in a one-shot container of `svc`, into `out`. The
/// caller has seen it run ready (`serves`).
pub fn dump(
    stack: &Stack,
    svc: &Service,
    backup: &Backup,
    out: &mut dyn Write,
) -> Result<u64, Error> {
    current_project(stack).run_to(&svc.name, &backup.dump, &script_env(svc), out)
}

/// Compose: the kind's restore script in a one-shot container of `svc`, reading `input`.
/// The caller has seen it run ready (`serves`).
pub fn load(stack: &Stack, svc: &Service, backup: &Backup, input: File) -> Result<(), Error> {
    current_project(stack).run_with(
        &svc.name,
        &backup.restore,
        &script_env(svc),
        Input::File(input),
    )
}

/// Compose: `password` set in `svc` by its kind's rotate script: in its running
/// container when it runs ready; when no container of it runs, by the kind's `offline`
/// script in a one-shot container on its volume (never beside a running server: two
/// servers must not share one data folder).
pub fn set_password(
    stack: &Stack,
    svc: &Service,
    rotate: &Rotate,
    password: &str,
) -> Result<(), Error> {
    let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
    let input = || Input::Bytes(format!("{password}\n").into_bytes());
    let project = current_project(stack);
    let mine: Vec<Container> = docker::containers(&stack.name)
        .map_err(plumbing)?
        .into_iter()
        .filter(|c| c.service == svc.name)
        .collect();
    if mine.iter().any(Container::is_ready) {
        return project.exec_with(&svc.name, &rotate.script, input());
    }
    if let Some(c) = mine
        .iter()
        .find(|c| c.state == "running" || c.state == "restarting")
    {
        return Err(Error::runtime(
            format!(
                "`{}` runs but is not ready ({}), so its password cannot be set now",
                svc.name,
                c.describe()
            ),
            Some(format!(
                "wait until `stackgen status` shows it healthy, or stop it (`docker compose -p {} stop {}`) to set it offline",
                stack.name, svc.name
            )),
        ));
    }
    let Some(offline) = &rotate.offline else {
        return Err(Error::runtime(
            format!(
                "`{}` does not run, and its kind sets a password only while it runs",
                svc.name
            ),
            Some("start the stack with `stackgen up`, then rotate".into()),
        ));
    };
    let volume = format!("{}_{}-data", stack.name, svc.name);
    if !oneshot::volume_exists(&volume).map_err(plumbing)? {
        progress::note(format_args!(
            "`{}` has no data yet: it takes the new value when it first starts",
            svc.name
        ));
        return Ok(());
    }
    progress::note(format_args!(
        "`{}` does not run: setting the password offline, on its volume",
        svc.name
    ));
    project.run_with(&svc.name, offline, &script_env(svc), input())
}

/// Compose: new containers for `services` with the same config, so they read their
/// secret files again: start-first behind the edge where the service allows it, else
/// stop-first, waited for. `before_switch` runs once: in the first start-first
/// replacement once its new container answers (so the old containers lose what it sets
/// only a probe's time before the switch), else before the first stop-first recreate.
pub fn restart(
    stack: &Stack,
    services: &[&Service],
    before_switch: &dyn Fn() -> Result<(), Error>,
) -> Result<(), Error> {
    let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
    let project = current_project(stack);
    let before = docker::containers(&stack.name).map_err(plumbing)?;
    let edge = EdgeProxy::find(stack, &before);
    // Without the edge's routes (its admin socket is gone with a lost `.stackgen/`),
    // nothing can be switched start-first: every service is recreated stop-first.
    let routes = edge.as_ref().and_then(|e| e.loaded().ok());
    let steady = steady_edge_config(stack);
    let rollout = StartFirst {
        stack,
        project: &project,
        edge: edge.as_ref(),
        steady: steady.as_deref().or(routes.as_deref()),
    };
    let done = std::cell::Cell::new(false);
    let once = || -> Result<(), Error> {
        if !done.replace(true) {
            before_switch()?;
        }
        Ok(())
    };
    let hook = || once().map_err(|e| e.to_string());
    for svc in services {
        let old: Vec<Container> = before
            .iter()
            .filter(|c| c.service == svc.name)
            .cloned()
            .collect();
        if old.is_empty() {
            progress::note(format_args!(
                "{}: not running; it reads the new file when it starts",
                svc.name
            ));
            continue;
        }
        let ready = old.iter().all(|c| c.is_ready() && c.ports.is_empty());
        if stack.start_first(svc) && ready && (routes.is_some() || !stack.routed(svc)) {
            let gate = Gate {
                before: (!done.get()).then_some(&hook as &dyn Fn() -> Result<(), String>),
                probe_only: true,
            };
            rollout.replace_gated(svc, &old, routes.as_deref(), &gate)?;
        } else {
            once()?;
            progress::note(format_args!("{}: recreating it (stop-first)", svc.name));
            if !project
                .recreate(&svc.name, stack.wait_timeout)
                .map_err(plumbing)?
            {
                return Err(Error::runtime(
                    format!("`{}` did not become ready again", svc.name),
                    Some(format!("see `stackgen logs {}`", svc.name)),
                ));
            }
        }
    }
    once()?;
    wait_healthy(stack, services)?;
    // A start-first switch leaves the edge pinned to the new containers: back to the
    // steady routes (service names), as a deploy ends.
    if let (Some(edge), Some(steady)) = (&edge, &steady) {
        edge.load(steady).map_err(plumbing)?;
    }
    Ok(())
}

/// The switch followed stackgen's probe; the command ends once the engine calls every
/// new container healthy too, as a deploy does (the next `up` then proves a no-op). Not
/// an error when it does not: the new containers already serve, and putting the old
/// value back would lock them out.
fn wait_healthy(stack: &Stack, services: &[&Service]) -> Result<(), Error> {
    let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(u64::from(stack.wait_timeout));
    loop {
        let running = docker::containers(&stack.name).map_err(plumbing)?;
        let waiting = running
            .iter()
            .find(|c| services.iter().any(|s| s.name == c.service) && !c.is_ready());
        let Some(first) = waiting else {
            return Ok(());
        };
        if std::time::Instant::now() >= deadline {
            progress::warn(format_args!(
                "warning: `{}` serves, but the engine has not called it healthy within {}s ({}); see `stackgen status`",
                first.service,
                stack.wait_timeout,
                first.describe()
            ));
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Compose: refuses a deploy that would generate a secret a stateful service reads when
/// that service's volume exists already: the data in it keeps the password it was
/// initialised with, and a new one would lock every reader out.
pub fn check_secrets(stack: &Stack) -> Result<(), Error> {
    let plumbing = |e: anyhow::Error| Error::runtime(format!("{e:#}"), None);
    for name in stack.secrets.keys() {
        if layout::secret_file(&stack.root, name).exists() {
            continue;
        }
        let holders = stack
            .services
            .values()
            .filter(|s| s.data.is_some() && s.secrets.contains(name));
        for svc in holders {
            let volume = format!("{}_{}-data", stack.name, svc.name);
            if oneshot::volume_exists(&volume).map_err(plumbing)? {
                return Err(lost_secret(name, svc, &volume));
            }
        }
    }
    Ok(())
}

fn lost_secret(name: &str, svc: &Service, volume: &str) -> Error {
    Error::runtime(
        format!(
            "secret `{name}` is missing ({}/{name}), but the volume `{volume}` of `{}` exists: \
             its data keeps the password it was first started with, so a new one would lock \
             the apps out; nothing was written or started",
            layout::SECRETS_DIR,
            svc.name
        ),
        Some(format!(
            "put the file back from your copy of `{}/` (README: \"Recover a lost `.stackgen/`\"), \
             or set a new password with `stackgen secrets rotate {name}` (while `{}` runs, or \
             after `stackgen down`); only if the data may go: `stackgen down --volumes`",
            layout::SECRETS_DIR,
            svc.name
        )),
    )
}

/// `1.2 MB`, `340 kB`, `12 B`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.0} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}
