//! `stackgen why SERVICE [--json]`: what `up` would do to one service, and why.

use anyhow::Result;

use crate::cli::WhyArgs;
use crate::commands::context::Context;
use crate::error::{Error, Exit, Problem};
use crate::output::{self, paint};
use crate::pipeline;
use crate::targets::{self, EngineUse};

pub fn run(ctx: &Context, args: &WhyArgs) -> Result<Exit> {
    let service = args.service.as_str();
    let evaluated = pipeline::evaluate(ctx.dir)?;
    let target = targets::open(&evaluated.stack, ctx.target_for(&evaluated.stack));
    target.check_engine(EngineUse::Engine)?;
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(p)?);
    } else {
        let on = output::colour();
        for line in p.lines() {
            println!("{}", paint(&line, on));
        }
    }
    Ok(Exit::Success)
}
