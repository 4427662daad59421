//! `stackgen push`: build the stack's missing images and push those the registry lacks
//! (by tag), for the nodes of a swarm to pull.

use anyhow::Result;

use crate::commands::context::Context;
use crate::error::{Error, Exit, Problem};
use crate::output;
use crate::pipeline;
use crate::targets::{self, EngineUse, images};

pub fn run(ctx: &Context) -> Result<Exit> {
    let evaluated = pipeline::evaluate(ctx.dir)?;
    let stack = &evaluated.stack;
    let Some(registry) = stack.target.registry.clone() else {
        return Err(Error::input(
            Problem::new("stack.toml: target.registry", "no registry to push to")
                .hint("add `[target] registry = \"host:port\"`"),
        )
        .into());
    };
    // Builds and pushes run on the local engine: no deploy tool is needed.
    targets::open(stack, ctx.target_for(stack)).check_engine(EngineUse::Engine)?;
    let local = images::present()?;
    let builds = images::missing(&evaluated, &local);
    images::require_base_image(stack, &builds, &local)?;
    images::build_all(&builds)?;
    let (pushed, present) = images::push(&evaluated, &registry)?;
    output::note(format_args!(
        "{pushed} pushed, {present} already in {registry}"
    ));
    Ok(Exit::Success)
}
