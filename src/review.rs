//! The commands that look and never touch: `diff` (the compose file diff and the plan
//! against the running stack), `why` (one service's plan) and `status` (each service's
//! state and whether it matches the generated file). They write no file, build no image
//! and touch no container.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use yaml_rust2::YamlLoader;

use crate::compose;
use crate::deploy;
use crate::error::{Error, Problem};
use crate::pipeline::Planned;
use crate::plan::{self, Action, Desired, Previous, Running, ServicePlan};
use crate::render::{self, COMPOSE_FILE, GENERATED_DIR};
use crate::stack::{Stack, TargetKind};
use crate::state;

/// Each service's config in a compose text, as JSON.
fn service_configs(compose: &str) -> BTreeMap<String, serde_json::Value> {
    let docs = YamlLoader::load_from_str(compose).unwrap_or_default();
    let Some(doc) = docs.first() else {
        return BTreeMap::new();
    };
    match plan::yaml_to_json(&doc["services"]) {
        serde_json::Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    }
}

fn desired(planned: &Planned) -> Result<BTreeMap<String, Desired>> {
    let stack = &planned.stack;
    let hashes = compose::config_hashes(
        &stack.name,
        &stack.root.join(GENERATED_DIR),
        &planned.rendered.compose,
    )?;
    let mut configs = service_configs(&planned.rendered.compose);
    Ok(stack
        .services
        .keys()
        .map(|name| {
            let config = configs.remove(name).unwrap_or_default();
            let image = config["image"].as_str().unwrap_or("").to_string();
            let want = Desired {
                image,
                inputs: planned.hashes.get(name).cloned(),
                config_hash: hashes.get(name).cloned().unwrap_or_default(),
                config,
            };
            (name.clone(), want)
        })
        .collect())
}

/// The current generation (the last successful `up` or `rollback`), when there is one.
fn previous(stack: &Stack) -> Result<BTreeMap<String, Previous>> {
    let Some(current) = state::current(&stack.root)? else {
        return Ok(BTreeMap::new());
    };
    let snapshot = current.rendered(&stack.root)?;
    let hashes = compose::config_hashes(
        &stack.name,
        &stack.root.join(GENERATED_DIR),
        &snapshot.compose,
    )?;
    let mut inputs = render::parse_lock(&snapshot.lock).unwrap_or_default();
    Ok(service_configs(&snapshot.compose)
        .into_iter()
        .map(|(name, config)| {
            let prev = Previous {
                config_hash: hashes.get(&name).cloned().unwrap_or_default(),
                config,
                inputs: inputs.remove(&name),
            };
            (name, prev)
        })
        .collect())
}

struct Review {
    planned: Planned,
    plans: Vec<ServicePlan>,
    /// Planned against a swarm stack (`generated/stack.yml`).
    swarm: bool,
}

fn review(dir: &Path, target: Option<TargetKind>) -> Result<Review> {
    let planned = crate::pipeline::plan(dir)?;
    compose::check_engine()?;
    if deploy::target_of(&planned.stack, target) == TargetKind::Swarm {
        let plans = swarm_plan(&planned)?;
        return Ok(Review {
            planned,
            plans,
            swarm: true,
        });
    }
    let running = compose::containers(&planned.stack.name)?;
    let plans = plan::plan(&desired(&planned)?, &running, &previous(&planned.stack)?);
    Ok(Review {
        planned,
        plans,
        swarm: false,
    })
}

/// The generated swarm stack file, or the error saying there is none.
fn swarm_text(planned: &Planned) -> Result<&str> {
    planned.rendered.swarm.as_deref().ok_or_else(|| {
        Error::input(
            Problem::new(
                "stack.toml: target.registry",
                "the stack has no swarm stack file",
            )
            .hint("add `[target] registry = \"host:port\"` to render generated/stack.yml"),
        )
        .into()
    })
}

/// Swarm has no compose config hash; a service's config is compared by the digest of
/// its rendered config instead.
fn config_digest(config: &serde_json::Value) -> String {
    use sha2::Digest;
    crate::hash::hex(&sha2::Sha256::digest(config.to_string().as_bytes()))
}

/// The plan against a swarm stack: images and configs as rendered now, against the
/// services running and the current generation's `stack.yml` (the last swarm deploy).
fn swarm_plan(planned: &Planned) -> Result<Vec<ServicePlan>> {
    let stack = &planned.stack;
    let mut configs = service_configs(swarm_text(planned)?);
    let desired: BTreeMap<String, Desired> = stack
        .services
        .keys()
        .map(|name| {
            let config = configs.remove(name).unwrap_or_default();
            let want = Desired {
                image: config["image"].as_str().unwrap_or("").to_string(),
                inputs: planned.hashes.get(name).cloned(),
                config_hash: config_digest(&config),
                config,
            };
            (name.clone(), want)
        })
        .collect();
    let mut previous = BTreeMap::new();
    if let Some(current) = state::current(&stack.root)?
        && let snapshot = current.rendered(&stack.root)?
        && let Some(text) = &snapshot.swarm
    {
        let mut inputs = render::parse_lock(&snapshot.lock).unwrap_or_default();
        for (name, config) in service_configs(text) {
            let prev = Previous {
                config_hash: config_digest(&config),
                inputs: inputs.remove(&name),
                config,
            };
            previous.insert(name, prev);
        }
    }
    let running: Vec<Running> = compose::stack_services(&stack.name)?
        .into_iter()
        .map(|s| {
            let prev = previous.get(&s.service);
            let want = desired.get(&s.service);
            // What runs is known when it is the image of the last deploy or of now.
            let from_prev = prev.filter(|p| p.config["image"].as_str() == Some(s.image.as_str()));
            let from_now = want.filter(|w| w.image == s.image);
            let inputs_hash = from_now
                .and_then(|w| w.inputs.as_ref().map(|i| i.hash.clone()))
                .or_else(|| from_prev.and_then(|p| p.inputs.as_ref().map(|i| i.hash.clone())))
                .or_else(|| Some(s.image.clone()));
            Running {
                service: s.service.clone(),
                id: String::new(),
                state: if s.running >= s.desired && s.desired > 0 {
                    "running".into()
                } else {
                    format!("running {}/{} replicas", s.running, s.desired)
                },
                health: String::new(),
                image: s.image.clone(),
                inputs_hash,
                config_hash: from_prev.map(|p| p.config_hash.clone()).unwrap_or_default(),
                exit_code: 0,
                ports: BTreeMap::new(),
            }
        })
        .collect();
    Ok(plan::plan(&desired, &running, &previous))
}

fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn paint(line: &str, on: bool) -> String {
    if !on {
        return line.to_string();
    }
    let code = match line.chars().next() {
        Some('+') => "32",
        Some('-') => "31",
        Some('@') => "36",
        Some('~') => "33",
        _ => return line.to_string(),
    };
    format!("\x1b[{code}m{line}\x1b[0m")
}

/// The unified diff of the committed compose file against what would be rendered now;
/// empty when they are the same. Secrets never appear: the compose file holds only paths.
fn compose_diff(planned: &Planned, swarm: bool) -> String {
    let (file, new) = match (&planned.rendered.swarm, swarm) {
        (Some(text), true) => (render::SWARM_FILE, text),
        _ => (COMPOSE_FILE, &planned.rendered.compose),
    };
    let committed = std::fs::read_to_string(planned.stack.root.join(file)).unwrap_or_default();
    if &committed == new {
        return String::new();
    }
    similar::TextDiff::from_lines(committed.as_str(), new.as_str())
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{file} (committed)"),
            &format!("{file} (rendered now)"),
        )
        .to_string()
}

#[derive(Serialize)]
struct DiffReport<'a> {
    stack: &'a str,
    changes: bool,
    compose_diff: &'a str,
    services: &'a [ServicePlan],
}

pub fn diff(dir: &Path, exit_code: bool, json: bool, target: Option<TargetKind>) -> Result<u8> {
    let r = review(dir, target)?;
    let text = compose_diff(&r.planned, r.swarm);
    let changes = !text.is_empty() || r.plans.iter().any(|p| p.action != Action::Unchanged);
    if json {
        let report = DiffReport {
            stack: &r.planned.stack.name,
            changes,
            compose_diff: &text,
            services: &r.plans,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let on = colour();
        if text.is_empty() {
            let file = if r.swarm {
                render::SWARM_FILE
            } else {
                COMPOSE_FILE
            };
            println!("{file}: no changes");
        } else {
            for line in text.lines() {
                println!("{}", paint(line, on));
            }
        }
        println!();
        let against = if r.swarm {
            "swarm services"
        } else {
            "containers"
        };
        println!(
            "plan for stack `{}` against the running {against}:",
            r.planned.stack.name
        );
        for p in &r.plans {
            for line in p.lines() {
                println!("{}", paint(&line, on));
            }
        }
    }
    Ok(if exit_code && changes { 1 } else { 0 })
}

pub fn why(dir: &Path, service: &str, json: bool, target: Option<TargetKind>) -> Result<u8> {
    let r = review(dir, target)?;
    let Some(p) = r.plans.iter().find(|p| p.service == service) else {
        let known: Vec<&str> = r.plans.iter().map(|p| p.service.as_str()).collect();
        return Err(Error::input(
            Problem::new(
                "why",
                format!("`{service}` is neither declared in stack.toml nor running"),
            )
            .hint(format!("services: {}", known.join(", "))),
        )
        .into());
    };
    if json {
        println!("{}", serde_json::to_string_pretty(p)?);
    } else {
        let on = colour();
        for line in p.lines() {
            println!("{}", paint(&line, on));
        }
    }
    Ok(0)
}

/// One row of `stackgen status`.
#[derive(Debug, Serialize)]
pub struct StatusRow {
    pub service: String,
    /// `running`, `exited`, ..., or `missing`.
    pub state: String,
    pub health: String,
    pub image: String,
    pub url: String,
    /// `in sync`, `drifted`, `missing` or `orphan`.
    pub sync: String,
    /// Why it is not in sync; empty when it is.
    pub detail: String,
}

impl StatusRow {
    fn missing(service: &str, image: &str, detail: &str) -> StatusRow {
        StatusRow {
            service: service.to_string(),
            state: "missing".into(),
            health: String::new(),
            image: image.to_string(),
            url: String::new(),
            sync: "missing".into(),
            detail: detail.to_string(),
        }
    }
}

pub fn status(dir: &Path, json: bool, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    compose::check_engine()?;
    if deploy::target_of(&stack, target) == TargetKind::Swarm {
        return print_status(&swarm_status(&stack)?, json);
    }
    let file = stack.root.join(COMPOSE_FILE);
    let generated = std::fs::read_to_string(&file).unwrap_or_default();
    let hashes = compose::config_hashes(&stack.name, &stack.root.join(GENERATED_DIR), &generated)?;
    let configs = service_configs(&generated);
    let running = compose::containers(&stack.name)?;
    let mut rows = Vec::new();
    for (name, config) in &configs {
        let want_image = config["image"].as_str().unwrap_or("");
        let Some(have) = running.iter().find(|r| &r.service == name) else {
            rows.push(StatusRow::missing(
                name,
                want_image,
                "no container; `stackgen up` creates it",
            ));
            continue;
        };
        let mut detail = Vec::new();
        if have.image != want_image {
            detail.push(format!(
                "runs `{}`, the generated file says `{want_image}`",
                have.image
            ));
        } else if hashes.get(name) != Some(&have.config_hash) {
            detail.push("its config differs from the generated file".to_string());
        }
        if have.state != "running" {
            detail.push(format!("the container is {}", have.state));
        }
        let url = match stack.services.get(name) {
            Some(svc) if svc.publish.is_some() && have.state == "running" => have
                .ports
                .get(&svc.port)
                .map(|a| format!("http://{a}/"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        rows.push(StatusRow {
            service: name.clone(),
            state: have.state.clone(),
            health: have.health.clone(),
            image: have.image.clone(),
            url,
            sync: if detail.is_empty() {
                "in sync"
            } else {
                "drifted"
            }
            .into(),
            detail: detail.join("; "),
        });
    }
    for orphan in running.iter().filter(|r| !configs.contains_key(&r.service)) {
        rows.push(StatusRow {
            service: orphan.service.clone(),
            state: orphan.state.clone(),
            health: orphan.health.clone(),
            image: orphan.image.clone(),
            url: String::new(),
            sync: "orphan".into(),
            detail: "not in the generated file; `stackgen up` removes it".into(),
        });
    }
    print_status(&rows, json)
}

/// Swarm status: each declared service's replicas and image against `generated/stack.yml`.
fn swarm_status(stack: &Stack) -> Result<Vec<StatusRow>> {
    let generated =
        std::fs::read_to_string(stack.root.join(render::SWARM_FILE)).unwrap_or_default();
    let configs = service_configs(&generated);
    let running = compose::stack_services(&stack.name)?;
    let mut rows = Vec::new();
    for (name, config) in &configs {
        let want = config["image"].as_str().unwrap_or("");
        let Some(have) = running.iter().find(|r| &r.service == name) else {
            rows.push(StatusRow::missing(
                name,
                want,
                "no service; `stackgen up --target swarm` creates it",
            ));
            continue;
        };
        let mut detail = Vec::new();
        if have.image != want {
            detail.push(format!(
                "runs `{}`, the generated file says `{want}`",
                have.image
            ));
        }
        if have.running < have.desired {
            detail.push(format!(
                "{}/{} replicas running",
                have.running, have.desired
            ));
        }
        if !have.update_state.is_empty() && have.update_state != "completed" {
            detail.push(format!("last update: {}", have.update_state));
        }
        let url = match stack.services.get(name) {
            Some(svc) if svc.publish.is_some() => {
                compose::task_addresses(&stack.name, name, svc.port)?
                    .iter()
                    .map(|a| format!("http://{a}/"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            _ => String::new(),
        };
        rows.push(StatusRow {
            service: name.clone(),
            state: format!("{}/{} running", have.running, have.desired),
            health: String::new(),
            image: have.image.clone(),
            url,
            sync: if detail.is_empty() {
                "in sync"
            } else {
                "drifted"
            }
            .into(),
            detail: detail.join("; "),
        });
    }
    for orphan in running.iter().filter(|r| !configs.contains_key(&r.service)) {
        rows.push(StatusRow {
            service: orphan.service.clone(),
            state: format!("{}/{} running", orphan.running, orphan.desired),
            health: String::new(),
            image: orphan.image.clone(),
            url: String::new(),
            sync: "orphan".into(),
            detail: "not in the generated file; `stackgen up --target swarm` removes it (--prune)"
                .into(),
        });
    }
    Ok(rows)
}

fn print_status(rows: &[StatusRow], json: bool) -> Result<u8> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
    } else {
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        let table: Vec<[String; 6]> = std::iter::once(
            ["SERVICE", "STATE", "HEALTH", "IMAGE", "URL", "SYNC"].map(String::from),
        )
        .chain(rows.iter().map(|r| {
            let sync = if r.detail.is_empty() {
                r.sync.clone()
            } else {
                format!("{} ({})", r.sync, r.detail)
            };
            [
                r.service.clone(),
                r.state.clone(),
                dash(&r.health),
                r.image.clone(),
                dash(&r.url),
                sync,
            ]
        }))
        .collect();
        let width = |i: usize| table.iter().map(|row| row[i].len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..5).map(width).collect();
        for row in &table {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                line.push_str(&format!("{:<w$}  ", row[i], w = w));
            }
            line.push_str(&row[5]);
            println!("{line}");
        }
    }
    let in_sync = rows.iter().all(|r| r.sync == "in sync");
    Ok(if in_sync { 0 } else { 1 })
}
