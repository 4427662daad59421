//! `stackgen gc --keep K`: keep the newest K generations and the current one; delete the
//! other records and every image of the stack that no kept generation and no container
//! uses; and all but the newest K backups (the newest one is always kept).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;

use crate::engine::docker;
use crate::output;
use crate::stack::Stack;
use crate::state::lock::DeployLock;
use crate::state::{backups, generations};

pub fn run(dir: &Path, keep: u32, lock_timeout: u64) -> Result<u8> {
    let stack = Stack::load(dir)?;
    docker::check_engine()?;
    let _lock = DeployLock::acquire(&stack.name, lock_timeout, |notice| {
        output::note(format_args!("{notice}"))
    })?;
    let all = generations::generations(&stack.root)?;
    let newest: Vec<u32> = all
        .iter()
        .rev()
        .take(keep as usize)
        .map(|g| g.number)
        .collect();
    let (kept, dropped): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|g| g.current || newest.contains(&g.number));
    let mut used: BTreeSet<String> = kept
        .iter()
        .flat_map(|g| g.images.values().cloned())
        .collect();
    used.extend(
        docker::containers(&stack.name)?
            .into_iter()
            .map(|c| c.image),
    );
    for g in &dropped {
        generations::remove(&stack.root, g)?;
        output::note(format_args!("removed generation {}", g.number));
    }
    let prefix = format!("{}/", stack.name);
    let mut removed = 0;
    for tag in docker::local_tags()? {
        if tag.starts_with(&prefix) && !used.contains(&tag) && docker::remove_image(&tag)? {
            output::note(format_args!("removed image {tag}"));
            removed += 1;
        }
    }
    let pruned = backups::prune(&stack.root, keep)?;
    for name in &pruned {
        output::note(format_args!("removed backup {name}"));
    }
    output::note(format_args!(
        "kept {} generations ({}); removed {} generations, {removed} images and {} backups",
        kept.len(),
        kept.iter()
            .map(|g| g.number.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        dropped.len(),
        pruned.len()
    ));
    Ok(0)
}
