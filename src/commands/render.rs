//! `stackgen render [--check]`: write the generated files, or check they are up to date.

use std::path::Path;

use anyhow::Result;

use crate::error::Error;
use crate::output;
use crate::pipeline;
use crate::state::atomic;

pub fn run(dir: &Path, check: bool) -> Result<u8> {
    let evaluated = pipeline::evaluate(dir)?;
    let files = evaluated.rendered.files();
    if check {
        let stale = atomic::stale(&evaluated.stack.root, &files);
        if stale.is_empty() {
            output::note(format_args!("generated files are up to date"));
            return Ok(0);
        }
        return Err(Error::differs(
            format!("generated files are stale: {}", stale.join(", ")),
            Some("run `stackgen render` and commit the result".into()),
        )
        .into());
    }
    let written = atomic::write_changed(&evaluated.stack.root, &files)?;
    if written.is_empty() {
        output::note(format_args!("generated files are up to date"));
    }
    for rel in written {
        output::note(format_args!("wrote {rel}"));
    }
    Ok(0)
}
