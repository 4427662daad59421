//! The commands, one file each: take the options, call the pipeline or a target, print.
//! [`execute`] turns the parsed command line into each command's options and runs it.

mod backup;
mod check;
mod completions;
mod diff;
mod down;
mod gc;
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
mod why;

use anyhow::Result;

use crate::cli::{Cli, Command, SecretsCommand};
use crate::output;
use crate::progress::Verbosity;
use crate::stack::TargetKind;

/// Runs the command; returns its exit code (errors are the caller's to print).
pub fn execute(cli: &Cli) -> Result<u8> {
    // clap has already refused `-q` with `-v`.
    output::install(match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    });
    let dir = cli.dir.as_path();
    // clap has already checked the name against `TargetKind::NAMES`.
    let target = cli.target.as_deref().and_then(TargetKind::from_name);
    match &cli.command {
        Command::Render { check } => render::run(dir, *check),
        Command::Schema { check } => schema::run(dir, *check),
        Command::Completions { shell } => completions::completions(*shell),
        Command::Man => completions::man(),
        Command::Check { json } => check::run(dir, *json),
        Command::Up {
            force,
            allow_insecure,
            no_rollback,
            lock_timeout,
        } => up::run(
            dir,
            &up::UpOptions {
                force: *force,
                allow_insecure: *allow_insecure,
                rollback: !*no_rollback,
                lock_timeout: *lock_timeout,
                target,
            },
        ),
        Command::Push => push::run(dir),
        Command::Rollback {
            generation,
            lock_timeout,
        } => rollback::run(dir, *generation, *lock_timeout, target),
        Command::History { json } => history::run(dir, *json),
        Command::Gc { keep, lock_timeout } => gc::run(dir, *keep, *lock_timeout),
        Command::Diff { exit_code, json } => diff::run(dir, *exit_code, *json, target),
        Command::Why { service, json } => why::run(dir, service, *json, target),
        Command::Status { json } => status::run(dir, *json, target),
        Command::Urls => urls::run(dir, target),
        Command::Logs {
            service,
            follow,
            since,
            tail,
            timestamps,
        } => logs::run(
            dir,
            &logs::LogsRequest {
                service: service.as_deref(),
                follow: *follow,
                since: since.as_deref(),
                tail: tail.as_deref(),
                timestamps: *timestamps,
                target,
            },
        ),
        Command::Backup { lock_timeout } => backup::run(dir, *lock_timeout, target),
        Command::Restore {
            file,
            service,
            yes,
            lock_timeout,
        } => restore::run(
            dir,
            &restore::RestoreOptions {
                file,
                service: service.as_deref(),
                yes: *yes,
                lock_timeout: *lock_timeout,
                target,
            },
        ),
        Command::Secrets {
            action: SecretsCommand::Rotate { name, lock_timeout },
        } => secrets::rotate(dir, name, *lock_timeout, target),
        Command::Down {
            volumes,
            lock_timeout,
        } => down::run(dir, *volumes, *lock_timeout, target),
    }
}
