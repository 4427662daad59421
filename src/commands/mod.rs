//! The commands, one file each: take the options (clap's argument struct of the
//! command), call the pipeline or a target, print, and say how it ended ([`Exit`]).
//! [`execute`] dispatches, one line a command.

mod backup;
mod check;
mod completions;
mod context;
mod diff;
mod down;
mod gc;
mod heal;
mod history;
mod logs;
mod push;
mod render;
mod restore;
mod rollback;
mod schema;
mod secrets;
mod status;
mod up;
mod urls;
mod watch;
mod why;

use anyhow::Result;

pub use context::Context;

use crate::cli::{Cli, Command, SecretsCommand};
use crate::error::Exit;
use crate::output;
use crate::progress::Verbosity;

/// Runs the command; says how it ended (errors are the caller's to print).
pub fn execute(cli: &Cli) -> Result<Exit> {
    // clap has already refused `-q` with `-v`.
    output::install(match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    });
    let ctx = Context {
        dir: &cli.dir,
        target: cli.target,
    };
    match &cli.command {
        Command::Render(args) => render::run(&ctx, args),
        Command::Schema(args) => schema::run(&ctx, args),
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
        Command::Check(args) => check::run(&ctx, args),
        Command::Up(args) => up::run(&ctx, args),
        Command::Push => push::run(&ctx),
        Command::Rollback(args) => rollback::run(&ctx, args),
        Command::History(args) => history::run(&ctx, args),
        Command::Gc(args) => gc::run(&ctx, args),
        Command::Heal(lock) => heal::run(&ctx, lock),
        Command::Watch(args) => watch::run(&ctx, args),
        Command::Diff(args) => diff::run(&ctx, args),
        Command::Why(args) => why::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Urls => urls::run(&ctx),
        Command::Logs(args) => logs::run(&ctx, args),
        Command::Backup(lock) => backup::run(&ctx, lock),
        Command::Restore(args) => restore::run(&ctx, args),
        Command::Secrets {
            action: SecretsCommand::Rotate(args),
        } => secrets::rotate(&ctx, args),
        Command::Down(args) => down::run(&ctx, args),
    }
}
