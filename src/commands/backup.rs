//! `stackgen backup`: dump every service that holds data into `.stackgen/backups/`, by
//! its kind's `[backup]` scripts; print each file's path on stdout.

use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::error::{Error, Problem};
use crate::output;
use crate::stack::{Stack, TargetKind};
use crate::state::lock::DeployLock;
use crate::targets::{self, data};

pub fn run(dir: &Path, lock_timeout: u64, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    require_stores(&stack)?;
    let target = targets::open(&stack, stack.target_for(target));
    docker::check_daemon()?;
    // Not while a deploy recreates the database.
    let _lock = DeployLock::acquire(&stack.name, lock_timeout, |notice| {
        output::note(format_args!("{notice}"))
    })?;
    for file in data::back_up(target.as_ref(), &stack, data::When::Asked)? {
        println!("{}", file.display());
    }
    Ok(0)
}

/// A stack with nothing to back up is bad input: say what makes a service backed up.
pub fn require_stores(stack: &Stack) -> Result<(), Error> {
    if !data::stores(stack).is_empty() {
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
