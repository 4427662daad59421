//! `stackgen down [--volumes]`: stop and remove the stack; its data volumes are kept
//! unless asked.

use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::stack::{Stack, TargetKind};
use crate::state::lock::DeployLock;
use crate::targets;

pub fn run(dir: &Path, volumes: bool, lock_timeout: u64, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    docker::check_engine()?;
    let _lock = DeployLock::acquire(&stack.name, lock_timeout, |notice| eprintln!("{notice}"))?;
    let said = targets::open(&stack, stack.target_for(target)).down(volumes)?;
    eprintln!("{said}");
    Ok(0)
}
