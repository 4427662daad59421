//! `stackgen heal`: only the healing part of `up`, for a cron job or a watchdog. When
//! every service serves its users (`status`'s probes, no process started), it says so
//! and exits 0. Else it deploys the current generation again (never a change waiting in
//! `stack.toml`): what runs the generation's config but does not serve is replaced
//! start-first, or recreated after a backup; what stopped is started.

use anyhow::Result;

use crate::cli::LockArgs;
use crate::commands::context::{self, Context};
use crate::error::{Error, Exit};
use crate::output;
use crate::stack::Stack;
use crate::state::generations;
use crate::targets::{self, EngineUse};

pub fn run(ctx: &Context, lock: &LockArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::DeployTool)?;
    let _lock = context::lock(&stack, *lock)?;
    let Some(current) = generations::current(&stack.root)? else {
        return Err(Error::runtime(
            "nothing to heal: nothing was deployed from this folder yet",
            Some("deploy it with `stackgen up`".into()),
        )
        .into());
    };
    let faults: Vec<String> = target
        .status()?
        .iter()
        .filter(|r| !r.sync.serves())
        .map(|r| format!("`{}` is {} ({})", r.service, r.sync, r.detail))
        .collect();
    if faults.is_empty() {
        output::note(format_args!(
            "stack `{}` serves: nothing to heal (generation {})",
            stack.name, current.number
        ));
        return Ok(Exit::Success);
    }
    output::note(format_args!("healing: {}", faults.join("; ")));
    target.check_secrets()?;
    let deployed = target.activate_generation(&current).map_err(|f| f.error)?;
    if let Some(proof) = &deployed.proof {
        current.save_proof(&stack.root, proof)?;
    }
    output::note(format_args!(
        "stack `{}` is healed{}: {} (generation {})",
        stack.name,
        target.words().place,
        deployed.summary,
        current.number
    ));
    output::urls(&deployed.urls);
    Ok(Exit::Success)
}
