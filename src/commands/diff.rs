//! `stackgen diff [--exit-code] [--json]`: the target file's diff against what is
//! committed, then what `up` would do to each service and why. Writes nothing, builds
//! nothing, touches no container.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::engine::docker;
use crate::error::DIFFERS;
use crate::output::{self, paint};
use crate::pipeline::{self, Evaluated};
use crate::plan::{Action, ServicePlan};
use crate::stack::TargetKind;
use crate::state::layout;
use crate::targets;

#[derive(Serialize)]
struct DiffReport<'a> {
    stack: &'a str,
    changes: bool,
    compose_diff: &'a str,
    services: &'a [ServicePlan],
}

pub fn run(dir: &Path, exit_code: bool, json: bool, target: Option<TargetKind>) -> Result<u8> {
    let evaluated = pipeline::evaluate(dir)?;
    docker::check_daemon()?;
    let target = targets::open(&evaluated.stack, evaluated.stack.target_for(target));
    let plans = targets::plan(target.as_ref(), &evaluated)?;
    let mut text = file_diff(
        &evaluated,
        target.file(),
        evaluated.rendered.target(target.kind()).unwrap_or_default(),
    );
    // The edge's routes: compose only (a swarm publishes the apps itself).
    if let (TargetKind::Compose, Some(edge)) = (target.kind(), &evaluated.rendered.edge) {
        text.push_str(&file_diff(&evaluated, layout::EDGE_FILE, edge));
    }
    let changes = !text.is_empty() || plans.iter().any(|p| p.action != Action::Unchanged);
    if json {
        let report = DiffReport {
            stack: &evaluated.stack.name,
            changes,
            compose_diff: &text,
            services: &plans,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(if exit_code && changes { DIFFERS } else { 0 });
    }
    let on = output::colour();
    if text.is_empty() {
        println!("{}: no changes", target.file());
    } else {
        for line in text.lines() {
            println!("{}", paint(line, on));
        }
    }
    println!();
    println!(
        "plan for stack `{}` against the running {}:",
        evaluated.stack.name,
        target.words().running
    );
    for p in &plans {
        for line in p.lines() {
            println!("{}", paint(&line, on));
        }
    }
    Ok(if exit_code && changes { DIFFERS } else { 0 })
}

/// The unified diff of a committed generated file against what would be rendered now;
/// empty when they are the same. Secrets never appear: the files hold only paths.
fn file_diff(evaluated: &Evaluated, file: &str, new: &str) -> String {
    let committed = std::fs::read_to_string(evaluated.stack.root.join(file)).unwrap_or_default();
    if committed == new {
        return String::new();
    }
    similar::TextDiff::from_lines(committed.as_str(), new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{file} (committed)"),
            &format!("{file} (rendered now)"),
        )
        .to_string()
}
