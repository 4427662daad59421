//! A one-shot container on the deploying engine, joined to a swarm stack's attachable
//! overlay network: how `backup` and `restore` reach a swarm's database on whichever
//! node it runs. Hardened as the services are (read-only root, no capabilities, no new
//! privileges, a tmpfs `/tmp`); its secrets are the project's secret files, mounted
//! read-only where Swarm would mount them (`/run/secrets/<name>`), so the engine must
//! see this host's files (a local manager).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use crate::engine::docker::process::{docker, docker_cmd, script_failed, strings};
use crate::error::Error;

/// What to run.
#[derive(Debug, Clone)]
pub struct OneShot {
    pub image: String,
    pub network: String,
    pub user: Option<String>,
    pub env: Vec<(String, String)>,
    /// `(host file, secret name)`.
    pub secrets: Vec<(PathBuf, String)>,
    pub script: String,
}

pub fn args(o: &OneShot) -> Vec<String> {
    let mut args = strings(&[
        "run",
        "--rm",
        "--interactive",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--network",
    ]);
    args.push(o.network.clone());
    if let Some(user) = &o.user {
        args.extend(["--user".into(), user.clone()]);
    }
    for (k, v) in &o.env {
        args.extend(["--env".into(), format!("{k}={v}")]);
    }
    for (file, name) in &o.secrets {
        args.extend([
            "--mount".into(),
            format!(
                "type=bind,source={},target=/run/secrets/{name},readonly",
                file.display()
            ),
        ]);
    }
    args.extend([
        o.image.clone(),
        "/bin/sh".into(),
        "-c".into(),
        o.script.clone(),
    ]);
    args
}

/// Runs it, its stdout streamed into `out`; the bytes written.
pub fn run_to(o: &OneShot, out: &mut dyn Write) -> Result<u64, Error> {
    let cannot =
        |e: std::io::Error| Error::runtime(format!("cannot run `{} run`: {e}", docker()), None);
    let mut reader = docker_cmd(args(o))
        .stdin_null()
        .stderr_capture()
        .unchecked()
        .reader()
        .map_err(cannot)?;
    let copied = std::io::copy(&mut reader, out).map_err(cannot)?;
    match reader.try_wait().map_err(cannot)? {
        Some(done) if done.status.success() => Ok(copied),
        Some(done) => Err(failed(o, done.status.code(), &done.stderr)),
        None => Err(Error::runtime(
            "the one-shot container did not finish",
            None,
        )),
    }
}

/// Runs it with `input` as its stdin.
pub fn run_with(o: &OneShot, input: File) -> Result<(), Error> {
    let out = docker_cmd(args(o))
        .stdin_file(input)
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| Error::runtime(format!("cannot run `{} run`: {e}", docker()), None))?;
    if out.status.success() {
        return Ok(());
    }
    Err(failed(o, out.status.code(), &out.stderr))
}

fn failed(o: &OneShot, code: Option<i32>, stderr: &[u8]) -> Error {
    let what = format!("a one-shot container of `{}` on `{}`", o.image, o.network);
    script_failed(&what, code, stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_shot_is_hardened_and_gets_its_secrets_as_files() {
        let o = OneShot {
            image: "r/demo/db:1".into(),
            network: "demo_backend".into(),
            user: Some("999:999".into()),
            env: vec![("STACKGEN_SERVICE".into(), "db".into())],
            secrets: vec![(PathBuf::from("/p/.stackgen/secrets/pw"), "pw".into())],
            script: "pg_dump".into(),
        };
        assert_eq!(
            args(&o).join(" "),
            "run --rm --interactive --read-only --tmpfs /tmp --cap-drop ALL --security-opt \
             no-new-privileges --network demo_backend --user 999:999 --env STACKGEN_SERVICE=db \
             --mount type=bind,source=/p/.stackgen/secrets/pw,target=/run/secrets/pw,readonly \
             r/demo/db:1 /bin/sh -c pg_dump"
        );
    }
}
