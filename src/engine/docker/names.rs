//! The engine's embedded DNS, asked from inside a container: whether a name resolves on
//! the container's networks, and re-registering a container's name on a network. Only the
//! heal asks (a process per question), after a service was found not to serve.

use anyhow::Result;

use crate::engine::docker::process::{run, strings, text};

/// Whether `name` resolves inside container `id` (`getent hosts`); `None` when the
/// container cannot tell (no `getent` in its image, not running).
pub fn resolves(id: &str, name: &str) -> Result<Option<bool>> {
    let out = run(&strings(&["exec", id, "getent", "hosts", name]))?;
    Ok(match out.status.code() {
        Some(0) => Some(true),
        // getent: 2 = not found
        Some(2) => Some(false),
        _ => None,
    })
}

/// Takes container `id` off `network` and attaches it again under `alias`: the engine
/// registers its name there anew (what `docker swarm leave --force` makes the engine of
/// Docker 20.10 forget for every container running then).
pub fn reattach(network: &str, id: &str, alias: &str) -> Result<()> {
    for args in [
        strings(&["network", "disconnect", network, id]),
        strings(&["network", "connect", "--alias", alias, network, id]),
    ] {
        let out = run(&args)?;
        if !out.status.success() {
            anyhow::bail!("`docker {}` failed: {}", args.join(" "), text(&out.stderr));
        }
    }
    Ok(())
}
