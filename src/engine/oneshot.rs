//! Commands run in a stack's own containers for its data: a one-shot container of a
//! service (`docker compose run`: the service's own image, networks, secrets and
//! environment, nothing published, removed when it ends), a command in its running
//! container (`docker compose exec`), and a stop-first recreate. The scripts come from
//! the service's kind; data and passwords go through stdin and stdout, never through an
//! argument or the environment.

use std::fs::File;
use std::io::Write;

use anyhow::Result;

use crate::engine::api::{self, Api};
use crate::engine::docker::{Project, docker, docker_cmd, relayed, run, text};
use crate::error::Error;

/// Whether the named volume exists: one engine query (or `docker volume inspect`).
pub fn volume_exists(name: &str) -> Result<bool> {
    if let Some(api) = Api::local() {
        return api.exists(&format!("/volumes/{}", api::percent_encode(name)));
    }
    let args = vec!["volume".to_string(), "inspect".into(), name.to_string()];
    let out = run(&args)?;
    if out.status.success() {
        return Ok(true);
    }
    let stderr = text(&out.stderr);
    if stderr.contains("No such volume") || stderr.contains("no such volume") {
        return Ok(false);
    }
    Err(anyhow::anyhow!("`docker volume inspect {name}`: {stderr}"))
}

impl Project {
    /// `run` of `script` under `/bin/sh` in a one-shot container of `service`, with
    /// `env` set (names only of things that are not secret), no TTY, its dependencies
    /// left alone, removed afterwards; the image must be there already.
    pub fn run_args(&self, service: &str, script: &str, env: &[(String, String)]) -> Vec<String> {
        let mut rest: Vec<String> = [
            "run",
            "--rm",
            "--no-deps",
            "--no-TTY",
            "--pull",
            "never",
            "--entrypoint",
            "/bin/sh",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (k, v) in env {
            rest.push("--env".into());
            rest.push(format!("{k}={v}"));
        }
        rest.extend([service.to_string(), "-c".into(), script.to_string()]);
        self.args(&rest.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `exec` of `script` under `/bin/sh` in the running container of `service`.
    pub fn exec_args(&self, service: &str, script: &str) -> Vec<String> {
        self.args(&["exec", "--no-TTY", service, "/bin/sh", "-c", script])
    }

    /// A new container of `service` in place of the old one (stop-first), waited for.
    pub fn recreate_args(&self, service: &str, wait_timeout: u32) -> Vec<String> {
        let mut args = self.up_services_args(wait_timeout, &[service.to_string()]);
        args.insert(args.len() - 1, "--force-recreate".into());
        args
    }

    /// Runs `script` in a one-shot container of `service` and streams its stdout into
    /// `out`; returns the bytes written. Fails, with the script's last error lines, when
    /// it exits non-zero.
    pub fn run_to(
        &self,
        service: &str,
        script: &str,
        env: &[(String, String)],
        out: &mut dyn Write,
    ) -> Result<u64, Error> {
        let plumbing = |e: std::io::Error| Error::runtime(format!("{e:#}"), None);
        let reader = docker_cmd(self.run_args(service, script, env))
            .stderr_capture()
            .unchecked()
            .reader()
            .map_err(plumbing)?;
        let mut reader = reader;
        let copied = std::io::copy(&mut reader, out).map_err(plumbing)?;
        let output = reader.try_wait().map_err(plumbing)?;
        match output {
            Some(o) if o.status.success() => Ok(copied),
            Some(o) => Err(failed("run", service, o.status.code(), &o.stderr)),
            None => Err(Error::runtime(
                format!("the one-shot `{service}` container did not finish"),
                None,
            )),
        }
    }

    /// Runs `script` in a one-shot container of `service` with `input` as its stdin.
    pub fn run_with(
        &self,
        service: &str,
        script: &str,
        env: &[(String, String)],
        input: Input,
    ) -> Result<(), Error> {
        feed(self.run_args(service, script, env), input, "run", service)
    }

    /// Runs `script` in the running container of `service` with `input` as its stdin.
    pub fn exec_with(&self, service: &str, script: &str, input: Input) -> Result<(), Error> {
        feed(self.exec_args(service, script), input, "exec", service)
    }

    /// Recreates `service` stop-first and waits for it; see `recreate_args`.
    pub fn recreate(&self, service: &str, wait_timeout: u32) -> Result<bool> {
        relayed(
            docker_cmd(self.recreate_args(service, wait_timeout)),
            "docker compose up --force-recreate",
        )
    }
}

/// What a script reads on stdin: a file (a restore's dump) or a few bytes (a password).
pub enum Input {
    File(File),
    Bytes(Vec<u8>),
}

/// Runs `docker <args>` with `input` on stdin, its stdout dropped; the script's last
/// error lines when it fails.
fn feed(args: Vec<String>, input: Input, how: &str, service: &str) -> Result<(), Error> {
    let cmd = docker_cmd(args);
    let cmd = match input {
        Input::File(file) => cmd.stdin_file(file),
        Input::Bytes(bytes) => cmd.stdin_bytes(bytes),
    };
    let out = cmd
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| {
            Error::runtime(
                format!("cannot run `{} compose {how}`: {e}", docker()),
                None,
            )
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(failed(how, service, out.status.code(), &out.stderr))
}

/// The error of a script that failed in a container: its exit code and last lines.
fn failed(how: &str, service: &str, code: Option<i32>, stderr: &[u8]) -> Error {
    let stderr = text(stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Error::runtime(
        format!(
            "`docker compose {how}` in `{service}` exited with {}:\n  {}",
            code.map_or("a signal".to_string(), |c| format!("code {c}")),
            tail.join("\n  ")
        ),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn project() -> Project {
        Project::new(
            "s",
            Path::new("/p/generated/docker-compose.yml"),
            Path::new("/p/generated"),
        )
    }

    #[test]
    fn one_shot_commands_pass_data_through_stdio_only() {
        let args = project().run_args(
            "db",
            "exec pg_dump",
            &[("STACKGEN_SERVICE".into(), "db".into())],
        );
        let tail: Vec<&str> = args.iter().skip(7).map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "run",
                "--rm",
                "--no-deps",
                "--no-TTY",
                "--pull",
                "never",
                "--entrypoint",
                "/bin/sh",
                "--env",
                "STACKGEN_SERVICE=db",
                "db",
                "-c",
                "exec pg_dump"
            ]
        );
        let exec = project().exec_args("db", "psql");
        assert_eq!(
            &exec[7..],
            ["exec", "--no-TTY", "db", "/bin/sh", "-c", "psql"]
        );
        let recreate = project().recreate_args("greeter", 60);
        assert_eq!(
            recreate[recreate.len() - 2..],
            ["--force-recreate", "greeter"]
        );
    }
}
