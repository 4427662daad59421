//! What the current generation deployed to a target: its copy of the target's file and
//! the lock beside it, for `previous` in a plan.

use std::path::Path;

use anyhow::Result;

use crate::state::{generations, layout};

/// The current generation's copy of a target file and its lock.
pub struct DeployedFile {
    pub text: String,
    pub lock: Option<String>,
}

/// The current generation's copy of `file` (project-relative, as the target renders it);
/// `None` without a current generation or when it holds no such file.
pub fn current_file(root: &Path, file: &str) -> Result<Option<DeployedFile>> {
    let Some(generation) = generations::current(root)? else {
        return Ok(None);
    };
    let mut files = generation.files(root)?;
    let Some(text) = files.remove(layout::file_name(file)) else {
        return Ok(None);
    };
    Ok(Some(DeployedFile {
        text,
        lock: files.remove(layout::file_name(layout::LOCK_FILE)),
    }))
}
