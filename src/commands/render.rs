//! `stackgen render [--check]`: write the generated files, or check they are up to date.

use anyhow::Result;

use crate::cli::RenderArgs;
use crate::commands::context::Context;
use crate::error::Exit;
use crate::output;
use crate::pipeline;
use crate::state::atomic;

pub fn run(ctx: &Context, args: &RenderArgs) -> Result<Exit> {
    let evaluated = pipeline::evaluate(ctx.dir)?;
    let files = evaluated.rendered.files();
    if args.check {
        let stale = atomic::stale(&evaluated.stack.root, &files);
        if stale.is_empty() {
            output::note(format_args!("generated files are up to date"));
            return Ok(Exit::Success);
        }
        output::differs(
            format_args!("generated files are stale: {}", stale.join(", ")),
            "run `stackgen render` and commit the result",
        );
        return Ok(Exit::Differs);
    }
    let written = atomic::write_changed(&evaluated.stack.root, &files)?;
    if written.is_empty() {
        output::note(format_args!("generated files are up to date"));
    }
    for rel in written {
        output::note(format_args!("wrote {rel}"));
    }
    Ok(Exit::Success)
}
