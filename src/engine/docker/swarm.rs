//! Docker Swarm and the registry its nodes pull from: whether the engine is in a swarm,
//! pushing an image, `docker stack deploy` and `rm`, and the stack's services and tasks
//! as the engine reports them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use anyhow::{Context, Result};

use crate::engine::api::{self, Api};
use crate::engine::docker::process::{
    On, docker_cmd, relay_lines, relayed, run, run_on, strings, text,
};
use crate::engine::docker::swarm_state::{self, ServiceState};
use crate::engine::logs::LogOptions;
use crate::error::Error;
use crate::progress;

/// Whether this engine is an active swarm manager's node.
pub fn swarm_active() -> Result<bool> {
    let out = run(&strings(&["info", "--format", "{{.Swarm.LocalNodeState}}"]))?;
    Ok(text(&out.stdout) == "active")
}

/// Whether the registry already holds `image` (by tag), asked without pulling it.
pub fn registry_has(image: &str) -> Result<bool> {
    Ok(run_on(
        On::Build,
        &strings(&["manifest", "inspect", "--insecure", image]),
    )?
    .status
    .success())
}

/// Tags an image of the building engine with its registry name and pushes it from there.
pub fn push(local: &str, remote: &str) -> Result<(), Error> {
    for args in [vec!["tag", local, remote], vec!["push", remote]] {
        let out = run_on(On::Build, &strings(&args))?;
        if !out.status.success() {
            return Err(Error::runtime(
                format!("`docker {}` failed: {}", args.join(" "), text(&out.stderr)),
                Some("check the registry is running and reachable from this host".into()),
            ));
        }
    }
    Ok(())
}

/// `docker stack deploy` of a stack file given as text, with its relative paths resolved
/// against `dir`: the file is read from stdin, for which the CLI resolves them against
/// its working folder (for a file on disk it would use the file's own folder, which for
/// a generation's copy is the wrong one). Waits until every service converged (or was
/// rolled back by Swarm), at most `timeout` seconds; its progress goes where the
/// progress sink wants it, as compose's does (see [`relayed`]). Returns whether it
/// finished in time and succeeded.
///
/// With the manager's API on a local socket the CLI only submits the stack
/// (`--detach=true`) and the wait is ours, on the manager's own account of services,
/// tasks and nodes ([`wait_settled`]): the CLI's own wait (20.10 and 28) waits for a
/// global service's task on a node drained meanwhile until it gives up.
pub fn stack_deploy(name: &str, stack_file: &str, dir: &Path, timeout: u32) -> Result<bool> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout.into());
    let ours = Api::local().is_some();
    let cmd = docker_cmd(stack_deploy_args(name, !ours))
        .dir(dir)
        .stdin_bytes(stack_file.as_bytes().to_vec())
        .unchecked();
    if ours {
        return Ok(relayed(cmd, "docker stack deploy")? && wait_settled(name, deadline, timeout)?);
    }
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

/// Polls the manager (three API requests) every 250 ms until every service of the stack
/// settled ([`ServiceState::settled`]) in two polls running, or `deadline` passed: two,
/// because a spec change that leaves the task template alone (ports) does not make its
/// tasks stale until the manager starts the update. Says when a service's progress
/// changes. Whether it settled in time.
fn wait_settled(name: &str, deadline: std::time::Instant, timeout: u32) -> Result<bool> {
    let mut said = String::new();
    let mut settled_before = false;
    loop {
        let Some(state) = swarm_state::stack_state(name)? else {
            return Ok(false);
        };
        let settled = state.services.iter().all(ServiceState::settled);
        if settled && settled_before {
            return Ok(true);
        }
        settled_before = settled;
        let now: Vec<String> = state
            .services
            .iter()
            .filter(|s| !s.settled())
            .map(|s| {
                let update = match s.update_state.as_str() {
                    "" => String::new(),
                    u => format!(" ({u})"),
                };
                format!("{} {}/{}{update}", s.service, s.current, s.desired)
            })
            .collect();
        let now = now.join(", ");
        if !now.is_empty() && now != said {
            progress::note(format_args!("converging: {now}"));
            said = now;
        }
        if std::time::Instant::now() >= deadline {
            progress::warn(format_args!(
                "stopped waiting for the swarm to converge after {timeout}s"
            ));
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
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

/// `wait`: the CLI waits for convergence itself (`--detach=false`).
pub fn stack_deploy_args(name: &str, wait: bool) -> Vec<String> {
    let detach = if wait {
        "--detach=false"
    } else {
        "--detach=true"
    };
    strings(&[
        "stack",
        "deploy",
        detach,
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
    let says =
        |c: &(dyn std::error::Error + 'static)| c.to_string().contains("not a swarm manager");
    e.chain().any(says).then(|| {
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

/// `node-address:published-port` of each running task of a stack's service that
/// publishes `port` in host mode, on whichever node it runs: the tasks and their ports
/// from the manager, each node's address from its swarm status.
pub fn task_addresses(stack: &str, service: &str, port: u16) -> Result<Vec<String>> {
    let name = format!("{stack}_{service}");
    let out = run(&strings(&[
        "service",
        "ps",
        "--quiet",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        &name,
    ]))?;
    let ids: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let format =
        "{{.NodeID}} {{range .Status.PortStatus.Ports}}{{.TargetPort}}={{.PublishedPort}} {{end}}";
    let mut args = strings(&["inspect", "--type", "task", "--format", format]);
    args.extend(ids);
    let tasks = text(&run(&args)?.stdout);
    let published: Vec<(String, String)> = tasks
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let node = fields.next()?.to_string();
            let host_port = fields.find_map(|f| f.strip_prefix(&format!("{port}=")))?;
            Some((node, host_port.to_string()))
        })
        .collect();
    if published.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = strings(&["node", "inspect", "--format", "{{.ID}} {{.Status.Addr}}"]);
    args.extend(
        published
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<BTreeSet<_>>(),
    );
    let nodes = text(&run(&args)?.stdout);
    let address = |node: &str| {
        nodes
            .lines()
            .filter_map(|l| l.split_once(' '))
            .find(|(id, _)| *id == node)
            .map(|(_, addr)| addr)
            .filter(|a| !a.is_empty() && *a != "0.0.0.0")
            .unwrap_or("127.0.0.1")
            .to_string()
    };
    Ok(published
        .iter()
        .map(|(node, host_port)| format!("{}:{host_port}", address(node)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_logs_pass_the_options() {
        let options = LogOptions {
            follow: true,
            tail: Some("1".into()),
            ..LogOptions::default()
        };
        assert_eq!(
            service_logs_args("demo_hello", &options).join(" "),
            "service logs --follow --tail 1 demo_hello"
        );
    }

    #[test]
    fn stack_deploy_reads_the_file_from_stdin() {
        assert_eq!(
            stack_deploy_args("demo", true).join(" "),
            "stack deploy --detach=false --prune --compose-file - demo"
        );
        assert_eq!(
            stack_deploy_args("demo", false).join(" "),
            "stack deploy --detach=true --prune --compose-file - demo"
        );
    }
}
