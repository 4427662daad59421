//! stackgen: `stack.toml` + templates -> content-hashed `generated/docker-compose.yml` ->
//! `docker compose up --wait`.
//!
//! Map of the modules, in pipeline order:
//! - [`cli`]: the command line (clap derive only);
//! - [`stack`]: `stack.toml` parsed and validated into the checked `Stack`;
//! - [`hash`]: per-service input hashing (Dockerfile, context after `.dockerignore`,
//!   build args, base image) that names every image;
//! - [`render`]: minijinja templates -> compose file and lock, a pure function;
//! - [`plan`]: what `up` would do to each service and why (`diff`, `why`, `status`);
//! - [`policy`]: the container-security policy `check` and `up` enforce;
//! - [`review`]: `diff`, `why` and `status`, which look and never touch;
//! - [`secrets`]: generated secrets, handed to containers as file secrets;
//! - [`state`]: atomic writes of everything stackgen puts on disk;
//! - [`compose`]: the only module that runs `docker`;
//! - [`deploy`]: the commands, each a thin sequence over the modules above;
//! - [`error`]: typed errors and their exit codes.
//!
//! [`run`] is the one place that prints errors and picks the exit code.

pub mod cli;
pub mod compose;
pub mod deploy;
pub mod document;
pub mod error;
pub mod hash;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod render;
pub mod review;
pub mod secrets;
pub mod stack;
pub mod state;

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
    match deploy::execute(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = report(&err);
            ExitCode::from(code)
        }
    }
}

/// Prints `error: ...`, its causes and a hint; returns the exit code it maps to.
fn report(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<Error>() {
        Some(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            e.exit_code()
        }
        None => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  Caused by: {cause}");
            }
            1
        }
    }
}
