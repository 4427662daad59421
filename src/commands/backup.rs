//! `stackgen backup`: dump every service that holds data into `.stackgen/backups/`, by
//! its kind's `[backup]` scripts; print each file's path on stdout.

use anyhow::Result;

use crate::cli::LockArgs;
use crate::commands::context::{self, Context};
use crate::engine::signal::Shield;
use crate::error::{Error, Exit, Problem};
use crate::output;
use crate::stack::Stack;
use crate::targets::{self, EngineUse, backup};

pub fn run(ctx: &Context, lock: &LockArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    require_stores(&stack)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::Engine)?;
    // Not while a deploy recreates the database.
    let _lock = context::lock(&stack, *lock)?;
    // Ctrl-C reaches stackgen alone: the dump finishes, and is checked and kept.
    let shield = Shield::install();
    for file in backup::back_up(target.as_ref(), &stack, backup::When::Asked)? {
        println!("{}", file.display());
    }
    if shield.interrupted() {
        output::warn(format_args!(
            "interrupted: the backup was under way, so it finished first"
        ));
        return Ok(Exit::Interrupted);
    }
    Ok(Exit::Success)
}

/// A stack with nothing to back up is bad input: say what makes a service backed up.
pub fn require_stores(stack: &Stack) -> Result<(), Error> {
    if !backup::stores(stack).is_empty() {
        return Ok(());
    }
    Err(Error::input(
        Problem::new(
            "stack.toml",
            "no service holds data that stackgen can back up",
        )
        .hint("a service is backed up when it has `data = \"<path>\"` and its kind's `kind.toml` has a `[backup]` table (as `postgres` does)"),
    ))
}
