//! What every command gets besides its own options: the project folder and the target
//! (the global options), and the deploy lock taken as `--lock-timeout` says.

use std::path::Path;

use anyhow::Result;

use crate::cli::LockArgs;
use crate::output;
use crate::stack::{Stack, TargetKind};
use crate::state::lock::DeployLock;

/// What every command gets from the global options.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The project folder (`--dir`).
    pub dir: &'a Path,
    /// `--target`, overriding stack.toml's default.
    pub target: Option<TargetKind>,
}

impl Context<'_> {
    /// The target the command acts on: `--target`, else stack.toml's `[target] default`.
    pub fn target_for(&self, stack: &Stack) -> TargetKind {
        stack.target_for(self.target)
    }
}

/// The stack's deploy lock, waited for as `--lock-timeout` says, a note printed while
/// another deploy holds it.
pub fn lock(stack: &Stack, args: LockArgs) -> Result<DeployLock> {
    Ok(DeployLock::acquire(
        &stack.name,
        args.lock_timeout,
        |notice| output::note(format_args!("{notice}")),
    )?)
}
