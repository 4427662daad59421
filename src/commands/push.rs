//! `stackgen push`: build the stack's missing images and push those the registry lacks
//! (by tag), for the nodes of a swarm to pull.

use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::error::{Error, Problem};
use crate::output;
use crate::pipeline;
use crate::targets::images;

pub fn run(dir: &Path) -> Result<u8> {
    let evaluated = pipeline::evaluate(dir)?;
    let stack = &evaluated.stack;
    let Some(registry) = stack.target.registry.clone() else {
        return Err(Error::input(
            Problem::new("stack.toml: target.registry", "no registry to push to")
                .hint("add `[target] registry = \"host:port\"`"),
        )
        .into());
    };
    docker::check_engine()?;
    let local = docker::local_images()?;
    let builds = images::missing(&evaluated, &local);
    images::require_base_image(stack, &builds, &local)?;
    images::build_all(&builds)?;
    let (pushed, present) = images::push(&evaluated, &registry)?;
    output::note(format_args!(
        "{pushed} pushed, {present} already in {registry}"
    ));
    Ok(0)
}
