//! `stackgen down [--volumes]`: stop and remove the stack; its data volumes are kept
//! unless asked.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::engine::docker;
use crate::output;
use crate::stack::{Stack, TargetKind};
use crate::state::lock::DeployLock;
use crate::targets;

pub fn run(dir: &Path, volumes: bool, lock_timeout: u64, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    docker::check_engine()?;
    let _lock = DeployLock::acquire(
        &stack.name,
        Duration::from_secs(lock_timeout),
        output::lock_wait(lock_timeout),
    )?;
    let said = targets::open(&stack, stack.target_for(target)).down(volumes)?;
    eprintln!("{said}");
    Ok(0)
}
