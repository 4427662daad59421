//! `stackgen schema [--check]`: print the JSON Schema of `stack.toml`, or check that the
//! committed copy, `stack.schema.json`, is what it prints.

use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result};

use crate::error::Error;
use crate::output;
use crate::stack;
use crate::state::layout::SCHEMA_FILE;

pub fn run(dir: &Path, check: bool) -> Result<u8> {
    let schema = stack::schema_json();
    if !check {
        output::stdout_bytes(schema.as_bytes()).context("cannot write the schema to stdout")?;
        return Ok(0);
    }
    let path = dir.join(SCHEMA_FILE);
    let problem = match std::fs::read(&path) {
        Ok(committed) if committed == schema.as_bytes() => {
            output::note(format_args!("{SCHEMA_FILE} is up to date"));
            return Ok(0);
        }
        Ok(_) => "is stale: it differs from what `stackgen schema` prints",
        Err(e) if e.kind() == ErrorKind::NotFound => "is missing",
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read `{}`", path.display()));
        }
    };
    Err(Error::differs(
        format!("`{SCHEMA_FILE}` {problem}"),
        Some(format!(
            "run `stackgen schema > {SCHEMA_FILE}` and commit the result"
        )),
    )
    .into())
}
