//! `stackgen gc --keep K`: keep the newest K generations and the current one; delete the
//! other records and every image of the stack that no kept generation and no container
//! uses; and all but the newest K backups (the newest one is always kept).

use std::collections::BTreeSet;

use anyhow::Result;

use crate::cli::GcArgs;
use crate::commands::context::{self, Context};
use crate::error::Exit;
use crate::output;
use crate::stack::Stack;
use crate::state::{backups, generations};
use crate::targets::{self, EngineUse, images};

pub fn run(ctx: &Context, args: &GcArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    // Images live on the local engine whatever the target: only the engine is needed.
    targets::open(&stack, ctx.target_for(&stack)).check_engine(EngineUse::Engine)?;
    let _lock = context::lock(&stack, args.lock)?;
    let all = generations::generations(&stack.root)?;
    let newest: Vec<u32> = all
        .iter()
        .rev()
        .take(args.keep as usize)
        .map(|g| g.number)
        .collect();
    let (kept, dropped): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|g| g.current || newest.contains(&g.number));
    let used: BTreeSet<String> = kept
        .iter()
        .flat_map(|g| g.images.values().cloned())
        .collect();
    for g in &dropped {
        generations::remove(&stack.root, g)?;
        output::note(format_args!("removed generation {}", g.number));
    }
    let removed = images::remove_unused(&stack, used)?;
    for tag in &removed {
        output::note(format_args!("removed image {tag}"));
    }
    let pruned = backups::prune(&stack.root, args.keep)?;
    for name in &pruned {
        output::note(format_args!("removed backup {name}"));
    }
    output::note(format_args!(
        "kept {} generations ({}); removed {} generations, {} images and {} backups",
        kept.len(),
        kept.iter()
            .map(|g| g.number.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        dropped.len(),
        removed.len(),
        pruned.len()
    ));
    Ok(Exit::Success)
}
