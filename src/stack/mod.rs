//! The stack model: `stack.toml` parsed into a raw serde model (unknown keys rejected),
//! then validated once into the checked [`Stack`]. Nothing downstream sees the raw model.
//!
//! - `raw`: the serde model, unknown keys and TOML errors with line and column;
//! - `validate`: every check of the raw model, problems collected in one pass;
//! - `model`: the checked model the rest of stackgen reads;
//! - `syntax`: what a valid name, image reference or duration looks like;
//! - `file`: reading a stack's text files (regular, at most 1 MiB, UTF-8);
//! - [`kind`]: a kind's folder of partials and its role;
//! - [`target`]: the deploy targets, as data.
//!
//! Dependencies point one way: this file uses the others, and none of them uses it.

use std::path::Path;

use crate::error::{Error, Problem};
use crate::state::layout::STACK_FILE;

pub mod file;
pub mod kind;
mod model;
mod raw;
mod schema;
mod syntax;
pub mod target;
#[cfg(test)]
mod test_support;
mod validate;

pub use kind::{Kind, Role};
pub use model::{Healthcheck, ImageSource, Security, Service, Stack, TargetConfig, Tls};
pub use schema::schema_json;
pub use syntax::closest;
pub use target::{TargetKind, TargetSpec};

impl Stack {
    /// Reads and validates `stack.toml` in `root`. Reads only; writes nothing.
    pub fn load(root: &Path) -> Result<Stack, Error> {
        let path = root.join(STACK_FILE);
        let text = file::read(&path, STACK_FILE).map_err(|problem| {
            Error::input(if path.symlink_metadata().is_err() {
                problem.hint(
                    "run stackgen in the folder holding `stack.toml`, or pass `--dir <folder>`",
                )
            } else {
                problem
            })
        })?;
        let root = std::path::absolute(root).map_err(|e| {
            Error::input(Problem::new(
                root.display().to_string(),
                format!("cannot resolve: {e}"),
            ))
        })?;
        Stack::parse(&root, &text)
    }

    /// Parses and validates stack file text; `root` is where its relative paths point.
    pub fn parse(root: &Path, text: &str) -> Result<Stack, Error> {
        let printable = |problems: Vec<Problem>| {
            Error::Input(problems.into_iter().map(Problem::printable).collect())
        };
        let raw = raw::parse(text).map_err(|e| match e {
            Error::Input(problems) => printable(problems),
            other => other,
        })?;
        validate::validate(root, raw).map_err(|e| match e {
            Error::Input(problems) => printable(raw::locate(text, problems)),
            other => other,
        })
    }
}
