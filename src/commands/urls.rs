//! `stackgen urls`: `<service>\t<url>` for each published service of the running stack.

use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::output;
use crate::stack::{Stack, TargetKind};
use crate::target;

pub fn run(dir: &Path, target: Option<TargetKind>) -> Result<u8> {
    let stack = Stack::load(dir)?;
    docker::check_engine()?;
    output::urls(&target::open(&stack, stack.target_for(target)).urls()?);
    Ok(0)
}
