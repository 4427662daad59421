//! `stackgen urls`: `<service>\t<url>` for each published service of the running stack.

use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::output;
use crate::stack::{Stack, TargetKind};
use crate::targets;

pub fn run(dir: &Path, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    docker::check_daemon()?;
    output::urls(&targets::open(&stack, stack.target_for(target)).urls()?);
    Ok(0)
}
