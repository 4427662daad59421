//! `stackgen down [--volumes]`: stop and remove the stack; its data volumes are kept
//! unless asked, and then a backup of them is taken first while they run.

use anyhow::Result;

use crate::cli::DownArgs;
use crate::commands::context::{self, Context};
use crate::error::Exit;
use crate::output;
use crate::stack::Stack;
use crate::targets::{self, EngineUse, backup};

pub fn run(ctx: &Context, args: &DownArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::DeployTool)?;
    let _lock = context::lock(&stack, args.lock)?;
    if args.volumes {
        backup::back_up(
            target.as_ref(),
            &stack,
            backup::When::Before("before `down --volumes` deletes it"),
        )?;
    }
    let said = target.down(args.volumes)?;
    output::note(format_args!("{said}"));
    Ok(Exit::Success)
}
