//! `stackgen heal`: only the healing part of `up`, for a cron job or a watchdog. When
//! every service serves its users (`status`'s probes, no process started), it says so
//! and exits 0. Else it deploys the current generation again (never a change waiting in
//! `stack.toml`): what runs the generation's config but does not serve is unpaused,
//! attached to its network again or replaced start-first; what stopped is started.

use anyhow::Result;

use crate::cli::LockArgs;
use crate::commands::context::{self, Context};
use crate::error::{Error, Exit};
use crate::output;
use crate::stack::Stack;
use crate::state::generations;
use crate::targets::{self, EngineUse, Target};

pub fn run(ctx: &Context, lock: &LockArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::DeployTool)?;
    let _lock = context::lock(&stack, *lock)?;
    match heal(&stack, target.as_ref(), &faults(target.as_ref())?)? {
        Healed::Nothing => output::note(format_args!(
            "stack `{}` serves: nothing to heal",
            stack.name
        )),
        Healed::Done(said) => output::note(format_args!("{said}")),
    }
    Ok(Exit::Success)
}

/// What one heal did.
pub enum Healed {
    /// Every service served.
    Nothing,
    /// What it said it did.
    Done(String),
}

/// Each service that does not serve its users, as `` `name` is state (why) ``.
pub fn faults(target: &dyn Target) -> Result<Vec<String>> {
    Ok(target
        .status()?
        .iter()
        .filter(|r| !r.sync.serves())
        .map(|r| format!("`{}` is {} ({})", r.service, r.sync, r.detail))
        .collect())
}

/// Heals `faults` (nothing when there are none) by deploying the current generation
/// again; the caller holds the deploy lock.
pub fn heal(stack: &Stack, target: &dyn Target, faults: &[String]) -> Result<Healed> {
    if faults.is_empty() {
        return Ok(Healed::Nothing);
    }
    let Some(current) = generations::current(&stack.root)? else {
        return Err(Error::runtime(
            "nothing to heal from: nothing was deployed from this folder yet",
            Some("deploy it with `stackgen up`".into()),
        )
        .into());
    };
    output::note(format_args!("healing: {}", faults.join("; ")));
    target.check_secrets()?;
    let deployed = target.activate_generation(&current).map_err(|f| f.error)?;
    if let Some(proof) = &deployed.proof {
        current.save_proof(&stack.root, proof)?;
    }
    output::urls(&deployed.urls);
    Ok(Healed::Done(format!(
        "stack `{}` is healed{}: {} (generation {})",
        stack.name,
        target.words().place,
        deployed.summary,
        current.number
    )))
}
