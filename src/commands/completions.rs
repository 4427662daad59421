//! `stackgen completions SHELL` and `stackgen man`: the shell completion script and the
//! man page, both generated from the same clap definition as `--help` (clap_complete,
//! clap_mangen), so they list exactly the commands and flags there are.
//! `just install-completions` puts them where bash, zsh, fish and man look.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Exit;
use crate::output;

/// The completion script for the shell asked for, on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<Exit> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "stackgen", &mut out);
    output::stdout_bytes(&out).context("cannot write the completions to stdout")?;
    Ok(Exit::Success)
}

/// The man page, `stackgen(1)`, in roff on stdout (`stackgen man | man -l -`).
pub fn man() -> Result<Exit> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("cannot render the man page")?;
    output::stdout_bytes(&out).context("cannot write the man page to stdout")?;
    Ok(Exit::Success)
}
