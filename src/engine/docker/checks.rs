//! The checks with a fix for each way the engine is not there: the docker CLI, the
//! daemon, the Compose v2 plugin. Each target asks for what it uses
//! (`Target::check_engine`); the commands never call these themselves.

use crate::engine::api::Api;
use crate::engine::docker::process::{docker, docker_cmd, strings, text};
use crate::error::Error;

/// Checks the daemon answers: one `GET /_ping` over its socket, or `docker version`
/// where the CLI talks to another engine.
pub fn check_daemon() -> Result<(), Error> {
    let Some(api) = Api::local() else {
        return check_daemon_cli();
    };
    api.get("/_ping").map(|_| ()).map_err(|e| {
        Error::runtime("the Docker daemon is not reachable", Some(START_IT.into())).caused_by(e)
    })
}

const START_IT: &str = "start it (`sudo systemctl start docker` or `sudo dockerd &`) and \
                        check `docker info` works for this user";

/// The error for a `docker` that cannot be started: not installed, or another reason.
fn not_installed(e: &std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return Error::runtime(
            format!("`{}` is not installed", docker()),
            Some("install Docker Engine: https://docs.docker.com/engine/install/".into()),
        );
    }
    Error::runtime(format!("cannot run `{}`: {e}", docker()), None)
}

fn check_daemon_cli() -> Result<(), Error> {
    let version = docker_cmd(["version", "--format", "{{.Server.Version}}"])
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run();
    let out = version.map_err(|e| not_installed(&e))?;
    if !out.status.success() {
        return Err(Error::runtime(
            format!("the Docker daemon is not reachable: {}", text(&out.stderr)),
            Some(START_IT.into()),
        ));
    }
    Ok(())
}

/// Checks the Compose v2 plugin answers (a process start: only where compose will run).
pub fn check_compose() -> Result<(), Error> {
    let compose = docker_cmd(strings(&["compose", "version", "--short"]))
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| not_installed(&e))?;
    if !compose.status.success() {
        let v1 = crate::engine::traced(duct::cmd("docker-compose", ["version", "--short"]))
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .is_ok_and(|o| o.status.success());
        let also = if v1 {
            " (only the old `docker-compose` v1 is installed; it lacks `up --wait`)"
        } else {
            ""
        };
        return Err(Error::runtime(
            format!("the Docker Compose v2 plugin (`docker compose`) is missing{also}"),
            Some("run `just tools`, or install the `docker-compose-plugin` package".into()),
        ));
    }
    Ok(())
}
