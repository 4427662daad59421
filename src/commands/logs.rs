//! `stackgen logs [SERVICE] [-f] [--since TIME] [--tail N] [-t]`: the services' logs,
//! as the target's own tool prints them (`docker compose logs`, `docker service logs`).
//! Every argument is checked first: a mistake is exit 2 before the engine is asked
//! anything. Exit 3 when nothing of the stack exists or the tool fails; 0 when Ctrl-C
//! ended `--follow`, the one way following ends; 130 when Ctrl-C stopped it otherwise.

use anyhow::Result;

use crate::cli::LogsArgs;
use crate::commands::context::Context;
use crate::engine::logs::{self, LogOptions};
use crate::error::{Error, Exit, Problem};
use crate::output;
use crate::stack::{self, Stack};
use crate::targets::{self, EngineUse};

pub fn run(ctx: &Context, args: &LogsArgs) -> Result<Exit> {
    let mut problems = flag_problems(args);
    let stack = match Stack::load(ctx.dir) {
        Ok(stack) => stack,
        Err(Error::Input(more)) => {
            problems.extend(more);
            return Err(Error::Input(problems).into());
        }
        Err(e) => return Err(e.into()),
    };
    let service = args.service.as_deref();
    problems.extend(service.and_then(|s| unknown_service(&stack, s)));
    if !problems.is_empty() {
        return Err(Error::Input(problems).into());
    }
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::Engine)?;
    let options = LogOptions {
        follow: args.follow,
        since: args.since.clone(),
        tail: args.tail.clone(),
        timestamps: args.timestamps,
        colour: output::colour(),
    };
    let end = target.logs(service, &options)?;
    Ok(ended(end.interrupted, options.follow, end.code)?)
}

/// The exit of a `logs` that ran: Ctrl-C is how `--follow` ends (success); without it,
/// Ctrl-C is an interrupt (130, as a shell shows it); the tool failing is a runtime
/// failure (3), its own message printed above ours.
fn ended(interrupted: bool, follow: bool, code: u8) -> Result<Exit, Error> {
    match (interrupted, code) {
        (true, _) if follow => Ok(Exit::Success),
        (true, _) => Ok(Exit::Interrupted),
        (false, 0) => Ok(Exit::Success),
        (false, code) => Err(Error::runtime(
            format!("the logs tool failed (exit code {code}); its message is above"),
            Some("check `stackgen status`; `docker info` should answer".into()),
        )),
    }
}

/// `--since` and `--tail`, each checked as docker would read it.
fn flag_problems(args: &LogsArgs) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(since) = args.since.as_deref().filter(|s| !logs::is_since(s)) {
        problems.push(
            Problem::new(
                "logs",
                format!("`--since {since}` is neither a duration nor a time"),
            )
            .hint(
                "a duration back from now (`90s`, `10m`, `1h30m`), a time (`2026-12-01`, \
                 `2026-12-01T10:00:00`, RFC 3339 `2026-12-01T10:00:00Z`), or unix seconds",
            )
            .printable(),
        );
    }
    if let Some(tail) = args.tail.as_deref().filter(|t| !logs::is_tail(t)) {
        problems.push(
            Problem::new(
                "logs",
                format!("`--tail {tail}` is neither a number of lines nor `all`"),
            )
            .hint(
                "`--tail 100` shows the last 100 lines of each container; `--tail all` every line",
            )
            .printable(),
        );
    }
    problems
}

/// The problem with a SERVICE that stack.toml does not declare: the likely one meant,
/// and the ones it declares.
fn unknown_service(stack: &Stack, service: &str) -> Option<Problem> {
    if stack.services.contains_key(service) {
        return None;
    }
    let known: Vec<&str> = stack.services.keys().map(String::as_str).collect();
    let hint = match stack::closest(service, &known) {
        Some(near) => format!("did you mean `{near}`? services: {}", known.join(", ")),
        None => format!("services: {}", known.join(", ")),
    };
    Some(
        Problem::new("logs", format!("no service `{service}` in stack.toml"))
            .hint(hint)
            .printable(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(since: Option<&str>, tail: Option<&str>) -> LogsArgs {
        LogsArgs {
            since: since.map(str::to_string),
            tail: tail.map(str::to_string),
            ..LogsArgs::default()
        }
    }

    #[test]
    fn good_flags_are_no_problem_and_bad_ones_are_all_named() {
        assert!(flag_problems(&args(Some("1h30m"), Some("all"))).is_empty());
        let both = flag_problems(&args(Some("10x"), Some("ten")));
        let messages: Vec<&str> = both.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`--since 10x` is neither a duration nor a time",
                "`--tail ten` is neither a number of lines nor `all`"
            ]
        );
    }

    #[test]
    fn how_a_logs_run_ends_is_its_exit_code() {
        assert_eq!(
            ended(true, true, 130).unwrap(),
            Exit::Success,
            "Ctrl-C ends --follow"
        );
        assert_eq!(
            ended(true, false, 0).unwrap(),
            Exit::Interrupted,
            "Ctrl-C stopped it early"
        );
        assert_eq!(ended(false, false, 0).unwrap(), Exit::Success);
        let failed = ended(false, true, 1).unwrap_err();
        assert_eq!(failed.exit_code(), 3);
        assert!(failed.to_string().contains("exit code 1"), "{failed}");
    }
}
