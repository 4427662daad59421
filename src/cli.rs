//! The command line, as clap derive types. Doc comments are the help text; no logic here.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};

use crate::stack::TargetKind;

/// Deploy a small stack of containerised services reproducibly, with one command.
///
/// stackgen renders `stack.toml` and `templates/` into a plain, content-hashed
/// `generated/docker-compose.yml`, builds only the images whose inputs changed, and runs
/// `docker compose up --wait`.
///
/// Exit codes: 0 success; 1 a check's answer is "differs" (`diff --exit-code` has
/// changes, `status` is not in sync, `render --check` or `schema --check` found stale
/// files, `check` found policy errors); 2 bad input (stack file, template, command
/// line), nothing written, built or started; 3 a runtime failure (Docker, a build, a
/// deploy, a backup or restore); 4 `status` found a service that does not serve its
/// users (missing, unreachable, unhealthy, restarting); 130 stopped by Ctrl-C (`logs`
/// without `--follow`; any other command the signal stops, `up` and `restore`
/// included).
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
    #[arg(long, global = true, value_parser = target_parser())]
    pub target: Option<TargetKind>,

    /// Print only errors, their hints and warnings on stderr; what goes to stdout (URLs,
    /// tables, diffs, paths) is unchanged.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also print each command stackgen runs (`+ docker compose ...`), and the output of
    /// builds and compose in full.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// `--target`'s values: the names `TargetKind` knows, listed in `--help` and completions.
fn target_parser() -> impl clap::builder::TypedValueParser<Value = TargetKind> {
    clap::builder::PossibleValuesParser::new(TargetKind::NAMES)
        .try_map(|name| TargetKind::from_name(&name).ok_or("not a target"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render `generated/docker-compose.yml` and `generated/stack.lock` from the stack.
    Render(RenderArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell); `just install-completions` installs bash's, zsh's and fish's.
    Completions(CompletionsArgs),
    /// Print the man page, stackgen(1), in roff (`stackgen man | man -l -`).
    Man,
    /// Print the JSON Schema of `stack.toml`, for editors: completion, and inline errors
    /// for unknown keys and wrong types.
    ///
    /// Generated from the model stackgen reads. Editors read a committed copy,
    /// `stack.schema.json` at the project root, named by `#:schema ./stack.schema.json` as
    /// the first line of `stack.toml`.
    Schema(SchemaArgs),
    /// Check the rendered stack and its Dockerfiles against the security policy.
    ///
    /// Writes nothing. One line per finding: errors break the policy (exit 1), warnings
    /// name what would not survive a multi-host engine, `relaxed` lines are defaults that
    /// stack.toml explicitly relaxes.
    Check(CheckArgs),
    /// Render, check, build the images whose tag is missing, and deploy with `up --wait`;
    /// when what runs is provably the current generation, do nothing, in milliseconds.
    Up(UpArgs),
    /// Heal what does not serve its users, and nothing else: for a cron job.
    ///
    /// When every service serves (`status`'s probes), says so and exits 0. Else deploys
    /// the current generation again, never a change waiting in stack.toml: a service
    /// that runs its config but is unhealthy, unreachable or paused is replaced
    /// start-first (or, the database and the edge, recreated after a backup); one that
    /// stopped is started.
    Heal(LockArgs),
    /// Check every N seconds that each service serves its users, and heal it when not.
    ///
    /// A long-running loop for a service manager: it logs what it finds and does, never
    /// acts while another stackgen holds the deploy lock, waits twice as long after each
    /// failed heal (at most 5 minutes), and stops cleanly on SIGTERM or Ctrl-C.
    /// `--print` prints a systemd unit for it; `--install` writes that unit for the
    /// user's systemd and says how to enable it.
    Watch(WatchArgs),
    /// Build the stack's missing images and push those the registry lacks (by tag), for
    /// a swarm to pull.
    Push,
    /// Deploy an earlier generation again, without building anything.
    Rollback(RollbackArgs),
    /// List the generations: every successful deploy, the current one marked.
    History(HistoryArgs),
    /// Delete old generations and the images only they used, and backups beyond the newest K.
    Gc(GcArgs),
    /// Preview a deploy: the compose file diff, then what `up` would do to each service.
    ///
    /// Writes nothing, builds nothing, touches no container. Each service is `+ create`,
    /// `~ rebuild` (its image inputs changed; the files are listed), `~ recreate` (its
    /// config changed; the keys are listed), `~ start`, `- remove` or `= unchanged`.
    Diff(DiffArgs),
    /// Explain what `up` would do to one service, and why.
    Why(WhyArgs),
    /// Show each service's state, health, image, URL, and whether it matches the generated
    /// file and serves its users.
    ///
    /// `in sync`, `drifted`, `missing`, `orphan`; and, asked the way users reach each
    /// service (its URL through the edge, each container where the edge reaches it),
    /// `unreachable` (with the reason), `unhealthy`, `restarting`. Exit 4 when a service
    /// does not serve (missing, unreachable, unhealthy, restarting); else 1 when anything
    /// is not in sync. `--json` lists every probe with its answer and time.
    Status(StatusArgs),
    /// Print `<service>\t<url>` for each published service of the running stack.
    Urls,
    /// Show the services' logs: `docker compose logs` on one host, `docker service logs`
    /// on a swarm, their lines as they come.
    ///
    /// Every line starts with its container's (on a swarm: its task's) name. On a swarm
    /// without SERVICE the services come one after another in name order, or with
    /// `--follow` all at once, their lines interleaved as they arrive. Exit 3, before
    /// anything is started, when no container of the stack (or of SERVICE) exists, and
    /// when the docker command fails; Ctrl-C ends `--follow` with exit 0, and stops it
    /// otherwise with 130.
    Logs(LogsArgs),
    /// Dump the stack's data into `.stackgen/backups/<time>-gen<N>.sql.gz` (0600, verified).
    ///
    /// Runs the database kind's dump in a one-shot container of the service; prints the
    /// file's path on stdout.
    Backup(LockArgs),
    /// Replace the database's data with a backup, in one transaction; the apps stay up.
    ///
    /// The file is checked whole first, and what is there now is backed up before it is
    /// replaced. Asks for confirmation on a terminal; `--yes` otherwise.
    Restore(RestoreArgs),
    /// Manage the generated secrets.
    Secrets {
        #[command(subcommand)]
        action: SecretsCommand,
    },
    /// Stop and remove the stack's containers and networks; data volumes are kept.
    Down(DownArgs),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Set a new random value: in the database that checks it, then in its file, then
    /// new containers for every other service that reads it (start-first where allowed).
    ///
    /// Works while the database runs, also when the old value's file was lost.
    Rotate(RotateArgs),
}

/// The deploy lock, for every command that changes what runs or its data.
#[derive(Debug, Clone, Copy, Args)]
pub struct LockArgs {
    /// Seconds to wait for another stackgen deploying the same stack; 0 fails at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub lock_timeout: u64,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Write nothing; exit 1 if the generated files differ from what would be rendered.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print no schema; exit 1 if `stack.schema.json` is missing or differs from it.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the findings as JSON (docs/src/json.md has the shape).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run compose even when nothing changed (skip the no-op proof).
    #[arg(long)]
    pub force: bool,
    /// Deploy even when `stackgen check` reports errors (each one is printed).
    #[arg(long)]
    pub allow_insecure: bool,
    /// On a failed deploy, leave it in place instead of bringing the last good
    /// generation back.
    #[arg(long)]
    pub no_rollback: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The generation to deploy (default: the one before the current).
    pub generation: Option<u32>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print them as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// How many of the newest generations and backups to keep (the current generation
    /// and the newest backup are always kept).
    #[arg(long, value_name = "K")]
    pub keep: u32,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Exit 1 when anything would change, 0 when nothing would.
    #[arg(long)]
    pub exit_code: bool,
    /// Print the diff and the plan as JSON (docs/src/json.md has the shape).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The service, as named in stack.toml (or running).
    pub service: String,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Seconds between two checks.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub interval: u64,
    /// Print a systemd unit that runs this watch, and exit.
    #[arg(long, conflicts_with = "install")]
    pub print: bool,
    /// Write that unit to ~/.config/systemd/user/ (or $XDG_CONFIG_HOME), and exit.
    #[arg(long)]
    pub install: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the rows as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Args)]
pub struct LogsArgs {
    /// The service, as named in stack.toml (default: every service).
    pub service: Option<String>,
    /// Keep printing new lines until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only lines since TIME: a duration back from now (`10m`, `1h30m`), a date and
    /// time (`2026-12-01T10:00:00` in this host's zone; RFC 3339 with `Z` or
    /// `+01:00`), or unix seconds.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only the last N lines of each container (`all`, the default: every line).
    #[arg(long, value_name = "N")]
    pub tail: Option<String>,
    /// Start each line with the time the engine received it.
    #[arg(long, short = 't')]
    pub timestamps: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (`.stackgen/backups/...`).
    pub file: PathBuf,
    /// The service to restore into, when more than one holds data.
    #[arg(long)]
    pub service: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also delete the stack's named volumes, i.e. all its data (a backup is taken
    /// first while the database runs).
    #[arg(long)]
    pub volumes: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The secret, as declared in stack.toml's `[secrets]`.
    pub name: String,
    #[command(flatten)]
    pub lock: LockArgs,
}
