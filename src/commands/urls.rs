//! `stackgen urls`: `<service>\t<url>` for each published service of the running stack.

use anyhow::Result;

use crate::commands::context::Context;
use crate::error::Exit;
use crate::output;
use crate::stack::Stack;
use crate::targets::{self, EngineUse};

pub fn run(ctx: &Context) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::Engine)?;
    output::urls(&target.urls()?);
    Ok(Exit::Success)
}
