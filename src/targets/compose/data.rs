//! The one-host ways of running a kind's data scripts: a one-shot container of the
//! service (a dump, a restore, an offline password reset) or its running container (a
//! password set while it serves); new containers for the readers of a rotated secret;
//! and the refusal to generate a secret whose database already keeps another one. The
//! backups themselves are target-neutral (`targets::backup`).

use std::fs::File;
use std::io::Write;

use crate::engine::docker::{self, Container, Input, Project, State};
use crate::error::Error;
use crate::progress;
use crate::stack::kind::{Backup, Rotate};
use crate::stack::{Service, Stack};
use crate::state::{generations, layout};
use crate::targets::compose::edge::EdgeProxy;
use crate::targets::compose::project::project;
use crate::targets::compose::rollout::{Gate, StartFirst};

/// The compose project of what runs: the current generation's file, else the rendered one.
fn current_project(stack: &Stack) -> Project {
    let rendered = stack.root.join(layout::COMPOSE_FILE);
    let file = generations::current(&stack.root)
        .ok()
        .flatten()
        .map(|g| g.file(&stack.root, layout::file_name(layout::COMPOSE_FILE)))
        .filter(|f| f.is_file())
        .unwrap_or(rendered);
    project(stack, &file)
}

/// The one environment variable a data script gets beyond the service's own.
fn script_env(svc: &Service) -> Vec<(String, String)> {
    vec![("STACKGEN_SERVICE".to_string(), svc.name.clone())]
}

/// Whether `svc` has a container that runs ready.
pub(super) fn serves(stack: &Stack, svc: &Service) -> Result<bool, Error> {
    let running = docker::containers(&stack.name)?;
    Ok(running
        .iter()
        .any(|c| c.service == svc.name && c.is_ready()))
}

/// The kind's dump script in a one-shot container of `svc`, into `out`. The
/// caller has seen it run ready (`serves`).
pub(super) fn dump(
    stack: &Stack,
    svc: &Service,
    backup: &Backup,
    out: &mut dyn Write,
) -> Result<u64, Error> {
    current_project(stack).run_to(&svc.name, &backup.dump, &script_env(svc), out)
}

/// The kind's restore script in a one-shot container of `svc`, reading `input`.
/// The caller has seen it run ready (`serves`).
pub(super) fn load(
    stack: &Stack,
    svc: &Service,
    backup: &Backup,
    input: File,
) -> Result<(), Error> {
    current_project(stack).run_with(
        &svc.name,
        &backup.restore,
        &script_env(svc),
        Input::File(input),
    )
}

/// `password` set in `svc` by its kind's rotate script: in its running
/// container when it runs ready; when no container of it runs, by the kind's `offline`
/// script in a one-shot container on its volume (never beside a running server: two
/// servers must not share one data folder).
pub(super) fn set_password(
    stack: &Stack,
    svc: &Service,
    rotate: &Rotate,
    password: &str,
) -> Result<(), Error> {
    let input = || Input::Bytes(format!("{password}\n").into_bytes());
    let project = current_project(stack);
    let mine: Vec<Container> = docker::containers(&stack.name)?
        .into_iter()
        .filter(|c| c.service == svc.name)
        .collect();
    if mine.iter().any(Container::is_ready) {
        return project.exec_with(&svc.name, &rotate.script, input());
    }
    if let Some(c) = mine
        .iter()
        .find(|c| matches!(c.state, State::Running | State::Restarting))
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
    if !docker::volume_exists(&volume)? {
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

/// New containers for `services` with the same config, so they read their
/// secret files again: start-first behind the edge where the service allows it, else
/// stop-first, waited for. `before_switch` runs once: in the first start-first
/// replacement once its new container answers (so the old containers lose what it sets
/// only a probe's time before the switch), else before the first stop-first recreate.
pub(super) fn restart(
    stack: &Stack,
    services: &[&Service],
    before_switch: &dyn Fn() -> Result<(), Error>,
) -> Result<(), Error> {
    let project = current_project(stack);
    let before = docker::containers(&stack.name)?;
    let edge = EdgeProxy::find(stack, &before);
    // Without the edge's runtime API (its admin socket is gone with a lost
    // `.stackgen/`), nothing can be switched start-first: every service is recreated
    // stop-first.
    let routes = edge.as_ref().and_then(|e| e.loaded().ok());
    let rollout = StartFirst {
        stack,
        project: &project,
        edge: edge.as_ref(),
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
            rollout.replace_gated(svc, &old, &gate)?;
        } else {
            once()?;
            progress::note(format_args!("{}: recreating it (stop-first)", svc.name));
            if !project.recreate(&svc.name, stack.wait_timeout)? {
                return Err(Error::runtime(
                    format!("`{}` did not become ready again", svc.name),
                    Some(format!("see `stackgen logs {}`", svc.name)),
                ));
            }
        }
    }
    once()?;
    wait_healthy(stack, services)?;
    Ok(())
}

/// The switch followed stackgen's probe; the command ends once the engine calls every
/// new container healthy too, as a deploy does (the next `up` then proves a no-op). Not
/// an error when it does not: the new containers already serve, and putting the old
/// value back would lock them out.
fn wait_healthy(stack: &Stack, services: &[&Service]) -> Result<(), Error> {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(u64::from(stack.wait_timeout));
    loop {
        let running = docker::containers(&stack.name)?;
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

/// Refuses a deploy that would generate a secret a stateful service reads when
/// that service's volume exists already: the data in it keeps the password it was
/// initialised with, and a new one would lock every reader out.
pub(super) fn check_secrets(stack: &Stack) -> Result<(), Error> {
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
            if docker::volume_exists(&volume)? {
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
