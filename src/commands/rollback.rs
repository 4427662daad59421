//! `stackgen rollback [N]`: deploy an earlier generation again (default: the one before
//! the current), without building: its images are still tagged by hash.

use anyhow::Result;

use crate::cli::RollbackArgs;
use crate::commands::context::{self, Context};
use crate::error::{Error, Exit, Problem};
use crate::output;
use crate::stack::{Stack, TargetKind};
use crate::state::generations::{self, Generation};
use crate::state::{backups, layout};
use crate::targets::{self, EngineUse, backup, images};

pub fn run(ctx: &Context, args: &RollbackArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::DeployTool)?;
    let _lock = context::lock(&stack, args.lock)?;
    let all = generations::generations(&stack.root)?;
    let chosen = choose(&all, args.generation)?;
    require_images(&stack, chosen)?;
    output::note(format_args!(
        "rolling back to generation {} ({})",
        chosen.number, chosen.time
    ));
    target.check_secrets()?;
    if target.kind() == TargetKind::Compose {
        images::ship(&stack, chosen.images.values().cloned())?;
    }
    let deployed = target.activate_generation(chosen).map_err(|f| f.error)?;
    generations::set_current(&stack.root, chosen.number)?;
    if let Some(proof) = &deployed.proof {
        chosen.save_proof(&stack.root, proof)?;
    }
    output::urls(&deployed.urls);
    output::note(format_args!(
        "stack `{}` is at generation {}{}: {}",
        stack.name,
        chosen.number,
        target.words().place,
        deployed.summary
    ));
    point_at_backup(&stack, chosen.number)?;
    Ok(Exit::Success)
}

/// A rollback brings the old files and images back, not the old data. When a later
/// generation changed the data's shape, the data from before it is in a backup: the
/// newest one taken while this generation (or an older one) ran.
fn point_at_backup(stack: &Stack, number: u32) -> Result<()> {
    if backup::stores(stack).is_empty() {
        return Ok(());
    }
    let matching = backups::list(&stack.root)?
        .into_iter()
        .rev()
        .find(|b| b.generation <= number);
    let rel = |b: &backups::BackupFile| format!("{}/{}", layout::BACKUPS_DIR, b.name);
    match matching {
        Some(b) => output::warn(format_args!(
            "the data was not rolled back. If a later generation changed its schema, the data from before it is in {} (taken while generation {} ran): `stackgen restore {}`",
            rel(&b),
            b.generation,
            rel(&b)
        )),
        None => output::warn(format_args!(
            "the data was not rolled back, and no backup was taken while generation {number} or an older one ran"
        )),
    }
    Ok(())
}

/// Generation `number`, or the newest one before the current.
fn choose(all: &[Generation], number: Option<u32>) -> Result<&Generation> {
    let current = all.iter().find(|g| g.current).map(|g| g.number);
    let chosen = match number {
        Some(n) => all.iter().find(|g| g.number == n),
        None => all
            .iter()
            .rev()
            .find(|g| current.is_some_and(|c| g.number < c)),
    };
    chosen.ok_or_else(|| {
        let known: Vec<String> = all.iter().map(|g| g.number.to_string()).collect();
        Error::input(
            Problem::new(
                "rollback",
                match number {
                    Some(n) => format!("there is no generation {n}"),
                    None => "there is no generation before the current one".to_string(),
                },
            )
            .hint(if known.is_empty() {
                "nothing was deployed from this folder yet".to_string()
            } else {
                format!(
                    "generations: {} (`stackgen history` lists them)",
                    known.join(", ")
                )
            }),
        )
        .into()
    })
}

/// A generation's built images must still be here: a rollback builds nothing.
fn require_images(stack: &Stack, generation: &Generation) -> Result<()> {
    let gone = images::gone(stack, generation)?;
    if gone.is_empty() {
        return Ok(());
    }
    Err(Error::runtime(
        format!(
            "generation {}'s images are gone: {}",
            generation.number,
            gone.join(", ")
        ),
        Some(
            "they were removed (by `stackgen gc` or `docker rmi`); pick a newer generation".into(),
        ),
    )
    .into())
}
