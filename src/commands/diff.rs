//! `stackgen diff [--exit-code] [--json]`: the target file's diff against what is
//! committed, then what `up` would do to each service and why. Writes nothing, builds
//! nothing, touches no container.

use anyhow::Result;
use serde::Serialize;

use crate::cli::DiffArgs;
use crate::commands::context::Context;
use crate::error::Exit;
use crate::output::{self, paint};
use crate::pipeline::{self, Evaluated};
use crate::plan::{Action, ServicePlan};
use crate::targets::{self, EngineUse};

#[derive(Serialize)]
struct DiffReport<'a> {
    stack: &'a str,
    changes: bool,
    compose_diff: &'a str,
    services: &'a [ServicePlan],
}

pub fn run(ctx: &Context, args: &DiffArgs) -> Result<Exit> {
    let evaluated = pipeline::evaluate(ctx.dir)?;
    let target = targets::open(&evaluated.stack, ctx.target_for(&evaluated.stack));
    target.check_engine(EngineUse::Engine)?;
    let plans = targets::plan(target.as_ref(), &evaluated)?;
    let text: String = target
        .files(&evaluated)
        .into_iter()
        .map(|(file, new)| file_diff(&evaluated, file, new))
        .collect();
    let changes = !text.is_empty() || plans.iter().any(|p| p.action != Action::Unchanged);
    if args.json {
        let report = DiffReport {
            stack: &evaluated.stack.name,
            changes,
            compose_diff: &text,
            services: &plans,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(Exit::differs_if(args.exit_code && changes));
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
    Ok(Exit::differs_if(args.exit_code && changes))
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
