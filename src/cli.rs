//! The command line, as clap derive types. Doc comments are the help text; no logic here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Deploy a small stack of containerised services reproducibly, with one command.
///
/// stackgen renders `stack.toml` and `templates/` into a plain, content-hashed
/// `generated/docker-compose.yml`, builds only the images whose inputs changed, and runs
/// `docker compose up --wait`.
///
/// Exit codes: 0 success, 1 deploy or runtime failure (or stale files with `render
/// --check`), 2 bad input (stack file, template, command line).
#[derive(Debug, Parser)]
#[command(name = "stackgen", version)]
pub struct Cli {
    /// Project folder holding `stack.toml` (default: the current folder).
    #[arg(
        long,
        short = 'C',
        global = true,
        value_name = "DIR",
        default_value = "."
    )]
    pub dir: PathBuf,

    /// Where to deploy: `compose` (this host) or `swarm`; default: stack.toml's
    /// `[target] default`, else `compose`.
    #[arg(long, global = true, value_parser = clap::builder::PossibleValuesParser::new(crate::stack::TargetKind::NAMES))]
    pub target: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render `generated/docker-compose.yml` and `generated/stack.lock` from the stack.
    Render {
        /// Write nothing; exit 1 if the generated files differ from what would be rendered.
        #[arg(long)]
        check: bool,
    },
    /// Check the rendered stack and its Dockerfiles against the security policy.
    ///
    /// Writes nothing. One line per finding: errors break the policy (exit 1), warnings
    /// name what would not survive a multi-host engine, `relaxed` lines are defaults that
    /// stack.toml explicitly relaxes.
    Check {
        /// Print the findings as JSON (see the README for the shape).
        #[arg(long)]
        json: bool,
    },
    /// Render, check, build the images whose tag is missing, and deploy with `up --wait`;
    /// when what runs is provably the current generation, do nothing, in milliseconds.
    Up {
        /// Run compose even when nothing changed (skip the no-op proof).
        #[arg(long)]
        force: bool,
        /// Deploy even when `stackgen check` reports errors (each one is printed).
        #[arg(long)]
        allow_insecure: bool,
        /// On a failed deploy, leave it in place instead of bringing the last good
        /// generation back.
        #[arg(long)]
        no_rollback: bool,
        /// Seconds to wait for another stackgen deploying the same stack; 0 fails at once.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        lock_timeout: u64,
    },
    /// Build the stack's missing images and push those the registry lacks (by tag), for
    /// a swarm to pull.
    Push,
    /// Deploy an earlier generation again, without building anything.
    Rollback {
        /// The generation to deploy (default: the one before the current).
        generation: Option<u32>,
        /// Seconds to wait for another stackgen deploying the same stack; 0 fails at once.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        lock_timeout: u64,
    },
    /// List the generations: every successful deploy, the current one marked.
    History {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete old generations and the images only they used.
    Gc {
        /// How many of the newest generations to keep (the current one is always kept).
        #[arg(long, value_name = "K")]
        keep: u32,
        /// Seconds to wait for another stackgen deploying the same stack; 0 fails at once.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        lock_timeout: u64,
    },
    /// Preview a deploy: the compose file diff, then what `up` would do to each service.
    ///
    /// Writes nothing, builds nothing, touches no container. Each service is `+ create`,
    /// `~ rebuild` (its image inputs changed; the files are listed), `~ recreate` (its
    /// config changed; the keys are listed), `~ start`, `- remove` or `= unchanged`.
    Diff {
        /// Exit 1 when anything would change, 0 when nothing would.
        #[arg(long)]
        exit_code: bool,
        /// Print the diff and the plan as JSON (see the README for the shape).
        #[arg(long)]
        json: bool,
    },
    /// Explain what `up` would do to one service, and why.
    Why {
        /// The service, as named in stack.toml (or running).
        service: String,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show each service's state, health, image, URL, and whether it matches the generated
    /// file (in sync, drifted, missing, orphan). Exit 1 when anything is not in sync.
    Status {
        /// Print the rows as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print `<service>\t<url>` for each published service of the running stack.
    Urls,
    /// Stop and remove the stack's containers and networks; data volumes are kept.
    Down {
        /// Also delete the stack's named volumes, i.e. all its data.
        #[arg(long)]
        volumes: bool,
        /// Seconds to wait for another stackgen deploying the same stack; 0 fails at once.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        lock_timeout: u64,
    },
}
