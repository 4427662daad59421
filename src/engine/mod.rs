//! The programs stackgen runs: [`docker`] (the only code that talks to the container
//! engine, a folder with a file per concern) and [`git`] (the revision a generation
//! records); [`api`] is the HTTP transport over Unix sockets (the engine's, the edge's);
//! [`logs`] checks what `stackgen logs` passes on to docker; [`signal`] holds the signal
//! handling (and all the engine's `unsafe`). Every command goes through [`traced`], so `-v`
//! shows each one as it starts.

pub mod api;
pub mod docker;
pub mod git;
pub mod logs;
pub mod signal;

use crate::progress::{self, Verbosity};

/// The variable naming the engine that builds and pushes the images when it is not the
/// one that deploys (a CI runner that builds, a remote manager that deploys).
pub const BUILD_HOST_VAR: &str = "STACKGEN_BUILD_HOST";

/// The building engine's address (`DOCKER_HOST` style: `unix:///var/run/docker.sock`,
/// `ssh://ci@builder`), when it is another engine than the one `DOCKER_HOST` names; `None`
/// when unset, empty or the same: the deploying engine builds too.
pub fn build_host() -> Option<String> {
    let build = std::env::var(BUILD_HOST_VAR)
        .ok()
        .filter(|h| !h.is_empty())?;
    let default = "unix:///var/run/docker.sock";
    let deploy = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| default.to_string());
    (build != deploy).then_some(build)
}

/// `expr`, telling the progress sink each command it starts (shown with `-v`) with the
/// variables set for it that differ from stackgen's own (`DOCKER_BUILDKIT=0`).
pub(crate) fn traced(expr: duct::Expression) -> duct::Expression {
    expr.before_spawn(|cmd| {
        let sink = progress::sink();
        if sink.verbosity() != Verbosity::Verbose {
            return Ok(());
        }
        let lossy = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
        let argv: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(lossy)
            .collect();
        // duct hands the child a whole environment; what it set is what differs.
        let env: Vec<(String, String)> = cmd
            .get_envs()
            .filter_map(|(k, v)| {
                let v = v?;
                (std::env::var_os(k).as_deref() != Some(v)).then(|| (lossy(k), lossy(v)))
            })
            .collect();
        sink.command(&env, &argv);
        Ok(())
    })
}
