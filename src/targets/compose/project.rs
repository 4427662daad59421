//! The compose project of a compose file of the stack (the generated one, or a
//! generation's copy), and compose's own config hash of each of its services.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::engine::docker::{self, Project};
use crate::stack::Stack;
use crate::state::{generations, layout};
use crate::targets::compose::noop;

/// The compose project for a compose file of `stack` (generated, or a generation's
/// copy): relative paths in it resolve against `generated/`.
pub(super) fn project(stack: &Stack, file: &Path) -> Project {
    Project::new(&stack.name, file, &stack.root.join(layout::GENERATED_DIR))
}

/// Compose's own config hash of each service of a compose text of `stack`: the current
/// generation's record when it is provably the same answer (the same text, folder,
/// plugin, and no environment it depends on), else `docker compose config --hash`.
pub(super) fn config_hashes(stack: &Stack, compose: &str) -> Result<BTreeMap<String, String>> {
    let root = &stack.root;
    if let Some(proof) = generations::current(root)?.and_then(|g| g.proof(root))
        && noop::hashes_doubt(stack, &proof, compose).is_none()
    {
        return Ok(proof.config_hashes);
    }
    docker::config_hashes(&stack.name, &root.join(layout::GENERATED_DIR), compose)
}
