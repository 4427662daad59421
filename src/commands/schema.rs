//! `stackgen schema [--check]`: print the JSON Schema of `stack.toml`, or check that the
//! committed copy, `stack.schema.json`, is what it prints.

use std::io::ErrorKind;

use anyhow::{Context as _, Result};

use crate::cli::SchemaArgs;
use crate::commands::context::Context;
use crate::error::Exit;
use crate::output;
use crate::stack;
use crate::state::layout::SCHEMA_FILE;

pub fn run(ctx: &Context, args: &SchemaArgs) -> Result<Exit> {
    let schema = stack::schema_json();
    if !args.check {
        output::stdout_bytes(schema.as_bytes()).context("cannot write the schema to stdout")?;
        return Ok(Exit::Success);
    }
    let path = ctx.dir.join(SCHEMA_FILE);
    let problem = match std::fs::read(&path) {
        Ok(committed) if committed == schema.as_bytes() => {
            output::note(format_args!("{SCHEMA_FILE} is up to date"));
            return Ok(Exit::Success);
        }
        Ok(_) => "is stale: it differs from what `stackgen schema` prints",
        Err(e) if e.kind() == ErrorKind::NotFound => "is missing",
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read `{}`", path.display()));
        }
    };
    output::differs(
        format_args!("`{SCHEMA_FILE}` {problem}"),
        &format!("run `stackgen schema > {SCHEMA_FILE}` and commit the result"),
    );
    Ok(Exit::Differs)
}
