//! Compose: one project's argument lists (built by pure functions, tested below) and the
//! runs of them, whose progress goes to the progress sink; compose's own config hash of
//! a file; which Compose plugin answers. Also the commands run in a stack's own
//! containers for its data: a one-shot container of a service (`compose run`: the
//! service's own image, networks, secrets and environment, nothing published, removed
//! when it ends), a command in its running container (`compose exec`), and a stop-first
//! recreate. The scripts come from the service's kind; data and passwords go through
//! stdin and stdout, never through an argument or the environment.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::engine::docker::process::{
    docker, docker_cmd, relayed, run, script_failed, strings, text,
};
use crate::engine::logs::LogOptions;
use crate::error::Error;

/// upgraded or replaced reads differently, so config hashes it computed are not reused.
/// `None` when none is found (the CLI may find one elsewhere: then nothing is reused).
pub fn compose_identity() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let home = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
    let system = [
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ];
    home.map(|h| h.join("cli-plugins"))
        .into_iter()
        .chain(system.iter().map(PathBuf::from))
        .map(|dir| dir.join("docker-compose"))
        .find_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            let mtime = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
            Some(format!("{} {} {mtime}", path.display(), meta.len()))
        })
}

/// Compose's own config hash of each service of a compose file given as text (read from
/// stdin, so nothing is written), as `com.docker.compose.config-hash` labels carry it.
pub fn config_hashes(
    project: &str,
    project_dir: &Path,
    compose: &str,
) -> Result<BTreeMap<String, String>> {
    let dir = project_dir.display().to_string();
    let args = strings(&[
        "compose",
        "--project-name",
        project,
        "--project-directory",
        &dir,
        "--file",
        "-",
        "config",
        "--hash",
        "*",
    ]);
    let out = docker_cmd(&args)
        .stdin_bytes(compose.as_bytes().to_vec())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .context("cannot run `docker compose config --hash`")?;
    if !out.status.success() {
        anyhow::bail!(
            "`docker compose config --hash` failed: {}",
            text(&out.stderr)
        );
    }
    Ok(text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(s, h)| (s.to_string(), h.trim().to_string()))
        .collect())
}

/// One compose project: a name, its compose file, and the folder relative paths in the
/// file resolve against (always `generated/`, also for a generation's copy of the file).
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub file: PathBuf,
    pub dir: PathBuf,
}

impl Project {
    pub fn new(name: &str, file: &Path, dir: &Path) -> Project {
        Project {
            name: name.to_string(),
            file: file.to_path_buf(),
            dir: dir.to_path_buf(),
        }
    }

    /// `docker compose -p <name> --project-directory <dir> -f <file> <rest...>`
    pub fn args(&self, rest: &[&str]) -> Vec<String> {
        let mut args = strings(&["compose", "--project-name", &self.name]);
        args.push("--project-directory".into());
        args.push(self.dir.display().to_string());
        args.push("--file".into());
        args.push(self.file.display().to_string());
        args.extend(rest.iter().map(|s| s.to_string()));
        args
    }

    pub fn up_args(&self, wait_timeout: u32) -> Vec<String> {
        let timeout = wait_timeout.to_string();
        self.args(&[
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            &timeout,
            "--remove-orphans",
            "--no-build",
            "--pull",
            "never",
        ])
    }

    /// `up` of the named services only, leaving the others (and their dependencies) as
    /// they are; `--wait` for them.
    pub fn up_services_args(&self, wait_timeout: u32, services: &[String]) -> Vec<String> {
        let mut args = self.up_args(wait_timeout);
        args.push("--no-deps".into());
        args.extend(services.iter().cloned());
        args
    }

    /// One more container of `service` beside the `running` ones, from the file's config:
    /// the running ones are left as they are (`--no-recreate`), so the new one can be
    /// checked before the old ones are stopped.
    pub fn add_container_args(&self, service: &str, running: usize) -> Vec<String> {
        let scale = format!("{service}={}", running + 1);
        self.args(&[
            "up",
            "--detach",
            "--no-deps",
            "--no-recreate",
            "--no-build",
            "--pull",
            "never",
            "--scale",
            &scale,
            service,
        ])
    }

    pub fn down_args(&self, volumes: bool) -> Vec<String> {
        let mut rest = vec!["down", "--remove-orphans"];
        if volumes {
            rest.push("--volumes");
        }
        self.args(&rest)
    }

    /// Runs `up --wait` of some services only (see `up_services_args`); an empty list is
    /// `up` of the whole file. Compose's progress goes to the progress sink; returns
    /// whether it succeeded (the caller reads the state afterwards rather than trusting
    /// the code).
    pub fn up_services(&self, wait_timeout: u32, services: &[String]) -> Result<bool> {
        let args = if services.is_empty() {
            self.up_args(wait_timeout)
        } else {
            self.up_services_args(wait_timeout, services)
        };
        relayed(docker_cmd(args), "docker compose up")
    }

    /// Starts one more container of `service`; see `add_container_args`.
    pub fn add_container(&self, service: &str, running: usize) -> Result<bool> {
        relayed(
            docker_cmd(self.add_container_args(service, running)),
            "docker compose up --scale",
        )
    }

    /// `logs` with the operator's options, of one service or of every service.
    pub fn logs_args(&self, options: &LogOptions, service: Option<&str>) -> Vec<String> {
        let mut rest = vec!["logs".to_string()];
        if !options.colour {
            rest.push("--no-color".into());
        }
        rest.extend(options.flags());
        rest.extend(service.map(str::to_string));
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        self.args(&rest)
    }

    pub fn logs(&self, service: &str, tail: u32) -> Result<String> {
        let tail = tail.to_string();
        let out = run(&self.args(&["logs", "--no-color", "--tail", &tail, service]))?;
        Ok(format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }

    pub fn down(&self, volumes: bool) -> Result<bool> {
        relayed(docker_cmd(self.down_args(volumes)), "docker compose down")
    }

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
        let reader = docker_cmd(self.run_args(service, script, env))
            .stderr_capture()
            .unchecked()
            .reader()?;
        let mut reader = reader;
        let copied = std::io::copy(&mut reader, out)?;
        let output = reader.try_wait()?;
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
    script_failed(
        &format!("`docker compose {how}` in `{service}`"),
        code,
        stderr,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn up_args_are_complete() {
        let p = Project::new(
            "demo",
            Path::new("/p/generated/docker-compose.yml"),
            Path::new("/p/generated"),
        );
        assert_eq!(
            p.up_args(30).join(" "),
            "compose --project-name demo --project-directory /p/generated --file \
             /p/generated/docker-compose.yml up --detach --wait --wait-timeout 30 \
             --remove-orphans --no-build --pull never"
        );
        assert_eq!(
            p.down_args(false).join(" "),
            "compose --project-name demo --project-directory /p/generated --file \
             /p/generated/docker-compose.yml down --remove-orphans"
        );
        assert!(p.down_args(true).ends_with(&["--volumes".to_string()]));
    }

    #[test]
    fn logs_args_pass_the_options_and_the_service() {
        let p = Project::new("demo", Path::new("/p/g/c.yml"), Path::new("/p/g"));
        let options = LogOptions {
            follow: true,
            tail: Some("1".into()),
            ..LogOptions::default()
        };
        assert_eq!(
            p.logs_args(&options, Some("hello")).join(" "),
            "compose --project-name demo --project-directory /p/g --file /p/g/c.yml logs \
             --no-color --follow --tail 1 hello"
        );
        let coloured = LogOptions {
            colour: true,
            since: Some("10m".into()),
            ..LogOptions::default()
        };
        assert!(p.logs_args(&coloured, None).ends_with(&[
            "logs".to_string(),
            "--since".into(),
            "10m".into()
        ]));
    }

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
