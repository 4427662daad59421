//! `stackgen why SERVICE [--json]`: what `up` would do to one service, and why.

use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::error::{Error, Problem};
use crate::output::{self, paint};
use crate::pipeline;
use crate::stack::TargetKind;
use crate::targets;

pub fn run(dir: &Path, service: &str, json: bool, target: Option<TargetKind>) -> Result<u8> {
    let evaluated = pipeline::evaluate(dir)?;
    docker::check_daemon()?;
    let target = targets::open(&evaluated.stack, evaluated.stack.target_for(target));
    let plans = targets::plan(target.as_ref(), &evaluated)?;
    let Some(p) = plans.iter().find(|p| p.service == service) else {
        let known: Vec<&str> = plans.iter().map(|p| p.service.as_str()).collect();
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
        let on = output::colour();
        for line in p.lines() {
            println!("{}", paint(&line, on));
        }
    }
    Ok(0)
}
