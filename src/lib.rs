//! stackgen: `stack.toml` + templates -> content-hashed files for each deploy target ->
//! `docker compose up --wait` (one host) or `docker stack deploy` (a swarm).
//!
//! Map of the modules, from the command line down. Imports only point down this list
//! (the order of `LAYERS` in `tests/structure.rs`, which checks it, and that no two files
//! import each other in a loop); no function is longer than 100 lines (clippy).
//! - [`commands`]: one file per command: options in, call the pipeline or a target, print;
//! - [`cli`]: the command line (clap derive only);
//! - [`output`]: colour, diff lines, URLs: what commands print besides errors; the
//!   printer behind `progress` (`-q`, `-v`, build lines, compose's output);
//! - [`targets`]: the deploy targets behind one trait (`compose`, `swarm`), and the
//!   images every target needs built;
//! - [`pipeline`]: load -> hash -> render -> parse -> check, pure;
//! - [`plan`]: what `up` would do to each service and why: desired vs observed vs
//!   previous, the same for every target;
//! - [`policy`]: the container-security policy `check` and `up` enforce;
//! - [`render`]: minijinja templates -> each target's file and the lock, a pure function;
//! - [`document`]: a rendered file, parsed once;
//! - [`hash`]: per-service input hashing that names every image;
//! - [`stack`]: `stack.toml` parsed and validated into the checked `Stack`; kinds and
//!   the targets as data;
//! - [`state`]: atomic writes, generations, the deploy lock, secrets; `layout` names
//!   every path;
//! - [`engine`]: `docker` (the only code that talks to the engine) and `git`;
//! - [`progress`]: what the layers below `output` report (notes, warnings, commands,
//!   builds, compose's lines), to the one sink `output` installs;
//! - [`error`]: how a command ends ([`error::Exit`]) and typed errors, and the exit
//!   code of each.
//!
//! [`run`] is the one place that prints errors and picks the exit code.
#![deny(clippy::too_many_lines)]

pub mod cli;
pub mod commands;
pub mod document;
pub mod engine;
pub mod error;
pub mod hash;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod render;
pub mod stack;
pub mod state;
pub mod targets;

use std::process::ExitCode;

use clap::Parser;

use crate::error::Error;

/// Parses the command line, runs the command, prints any error, returns the exit code.
pub fn run() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match commands::execute(&cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) => ExitCode::from(report(&Error::from(err))),
    }
}

/// Prints `error: ...`, what caused it and a hint; returns the exit code it maps to.
fn report(err: &Error) -> u8 {
    eprintln!("error: {err}");
    for cause in err.causes() {
        eprintln!("  Caused by: {cause}");
    }
    if let Some(hint) = err.hint() {
        eprintln!("hint: {hint}");
    }
    err.exit_code()
}
