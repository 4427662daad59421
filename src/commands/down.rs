//! `stackgen down [--volumes]`: stop and remove the stack; its data volumes are kept
//! unless asked, and then a backup of them is taken first while they run.

use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::output;
use crate::stack::{Stack, TargetKind};
use crate::state::lock::DeployLock;
use crate::targets::{self, data};

pub fn run(dir: &Path, volumes: bool, lock_timeout: u64, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    docker::check_engine()?;
    let _lock = DeployLock::acquire(&stack.name, lock_timeout, |notice| {
        output::note(format_args!("{notice}"))
    })?;
    let target = targets::open(&stack, stack.target_for(target));
    if volumes {
        data::back_up(
            target.as_ref(),
            &stack,
            data::When::Before("before `down --volumes` deletes it"),
        )?;
    }
    let said = target.down(volumes)?;
    output::note(format_args!("{said}"));
    Ok(0)
}
