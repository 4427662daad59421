//! Running `docker`: the CLI's path, commands that die with stackgen, output captured,
//! relayed line by line to the progress sink, or streamed straight to the terminal.
//! Argument vectors are built by the other files' pure functions and run here through
//! `duct`, never through a shell string.

use std::process::Output;

use anyhow::{Context, Result};

use crate::engine::signal::{self, SigintNoted};
use crate::progress::{self, Relay};

/// The docker CLI to run; `STACKGEN_DOCKER` overrides it (tests, unusual installs).
pub(super) fn docker() -> String {
    std::env::var("STACKGEN_DOCKER").unwrap_or_else(|_| "docker".to_string())
}

/// A `docker` command that dies with stackgen ([`signal::die_with_parent`]).
pub(super) fn docker_cmd<I, S>(args: I) -> duct::Expression
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    crate::engine::traced(duct::cmd(docker(), args)).before_spawn(|cmd| {
        signal::die_with_parent(cmd);
        signal::own_group_if_shielded(cmd);
        Ok(())
    })
}

/// Which engine a command is for: the one that deploys (`DOCKER_HOST`, as for the CLI),
/// or the one that builds and pushes ([`crate::engine::build_host`], else the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Deploy,
    Build,
}

/// A [`docker_cmd`] for the engine `on` names.
pub(super) fn docker_on<I, S>(on: On, args: I) -> duct::Expression
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    let cmd = docker_cmd(args);
    match (on, crate::engine::build_host()) {
        (On::Build, Some(host)) => cmd.env("DOCKER_HOST", host).env_remove("DOCKER_CONTEXT"),
        _ => cmd,
    }
}

pub(super) fn run(args: &[String]) -> Result<Output> {
    run_on(On::Deploy, args)
}

pub(super) fn run_on(on: On, args: &[String]) -> Result<Output> {
    docker_on(on, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("cannot run `{} {}`", docker(), args.join(" ")))
}

/// Runs a command whose output is progress (compose's `up`, `down`): straight to stderr
/// when the sink wants that, else line by line through its relay. Returns whether the
/// command succeeded; `what` names it in an error.
pub(super) fn relayed(expr: duct::Expression, what: &str) -> Result<bool> {
    let Some(relay) = progress::sink().relay() else {
        let out = expr
            .stdout_to_stderr()
            .unchecked()
            .run()
            .with_context(|| format!("cannot run `{what}`"))?;
        return Ok(out.status.success());
    };
    let reader = expr
        .stderr_to_stdout()
        .unchecked()
        .reader()
        .with_context(|| format!("cannot run `{what}`"))?;
    relay_lines(&reader, relay, what)
}

/// Passes each line `reader` reads to `relay` until the command ends; whether it succeeded.
pub(super) fn relay_lines(
    reader: &duct::ReaderHandle,
    mut relay: Box<dyn Relay>,
    what: &str,
) -> Result<bool> {
    let read = each_line(reader, |line| relay.line(line));
    let ended = reader
        .try_wait()
        .with_context(|| format!("cannot wait for `{what}`"))?;
    let ok = read.is_ok() && ended.is_some_and(|o| o.status.success());
    relay.end(ok);
    read.with_context(|| format!("cannot read the output of `{what}`"))?;
    Ok(ok)
}

/// Calls `f` with each line `input` gives until its end, lossily decoded, without the
/// line end (`\n` or `\r\n`).
pub(super) fn each_line(input: impl std::io::Read, mut f: impl FnMut(&str)) -> std::io::Result<()> {
    use std::io::BufRead;
    let mut input = std::io::BufReader::new(input);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&buf);
        f(line.trim_end_matches(['\n', '\r']));
    }
}

/// The error of a script that failed in a container (`what` ran it): its exit code and
/// its last lines on stderr.
pub(super) fn script_failed(what: &str, code: Option<i32>, stderr: &[u8]) -> crate::error::Error {
    let stderr = text(stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    crate::error::Error::runtime(
        format!(
            "{what} exited with {}:\n  {}",
            code.map_or("a signal".to_string(), |c| format!("code {c}")),
            tail.join("\n  ")
        ),
        None,
    )
}

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_string()
}

pub(super) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// How [`stream`]ed commands ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// The first command's code that was not 0 (128 + N for one killed by signal N); 0
    /// when all succeeded.
    pub code: u8,
    /// Whether Ctrl-C (SIGINT) came while they ran.
    pub interrupted: bool,
}

/// Runs the `docker` commands all at once, their stdout and stderr straight to ours (no
/// capture, so each line shows when docker writes it), and waits for every one.
///
/// Ctrl-C does not end stackgen meanwhile: the terminal sends SIGINT to the whole
/// foreground group, so the commands get it too and end by themselves; stackgen notes
/// it, passes it on once to those still running (for a SIGINT sent to stackgen alone),
/// and returns when all have ended, so the caller decides what an interrupt means. A
/// stackgen killed otherwise takes the commands with it (`PR_SET_PDEATHSIG`).
pub fn stream(commands: &[Vec<String>]) -> Result<Streamed> {
    let noted = SigintNoted::install();
    let mut handles = Vec::new();
    for args in commands {
        let handle = docker_cmd(args)
            .stdin_null()
            .unchecked()
            .start()
            .with_context(|| format!("cannot run `{} {}`", docker(), args.join(" ")))?;
        handles.push(handle);
    }
    let mut ended: Vec<Option<std::process::ExitStatus>> = vec![None; handles.len()];
    let mut passed_on = false;
    // Polled rather than waited for, so an interrupt can be passed on meanwhile.
    loop {
        for ((handle, end), args) in handles.iter().zip(&mut ended).zip(commands) {
            if end.is_none() {
                let out = handle.try_wait().with_context(|| {
                    format!("cannot wait for `{} {}`", docker(), args.join(" "))
                })?;
                *end = out.map(|o| o.status);
            }
        }
        if ended.iter().all(Option::is_some) {
            break;
        }
        if noted.interrupted() && !passed_on {
            passed_on = true;
            for (handle, _) in handles.iter().zip(&ended).filter(|(_, e)| e.is_none()) {
                for pid in handle.pids() {
                    signal::interrupt(pid);
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let code = ended
        .into_iter()
        .flatten()
        .map(exit_code)
        .find(|c| *c != 0)
        .unwrap_or(0);
    Ok(Streamed {
        code,
        interrupted: noted.interrupted(),
    })
}

/// A child's exit status as a shell shows it: its code, or 128 + the signal that killed it.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(signal)) => u8::try_from((128 + signal).min(255)).unwrap_or(255),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_read_like_a_shell_shows_them() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::ExitStatus::from_raw;
        assert_eq!(exit_code(status(0)), 0);
        assert_eq!(exit_code(status(1 << 8)), 1);
        assert_eq!(exit_code(status(130 << 8)), 130);
        assert_eq!(exit_code(status(libc::SIGINT)), 130, "killed by SIGINT");
    }

    #[test]
    fn lines_are_read_without_their_ends_and_lossily() {
        let mut got = Vec::new();
        each_line(&b"one\r\ntwo\n\xffthree"[..], |l| got.push(l.to_string())).unwrap();
        assert_eq!(got, ["one", "two", "\u{fffd}three"]);
    }
}
