//! The running edge proxy, as stackgen drives it: load a config (Caddy's `/load`, a
//! graceful reload: the listeners stay open and the old config's in-flight requests
//! finish), and ask how many requests an upstream still serves. The admin API listens on
//! localhost inside the edge's own container, so it is reached with `docker exec`, never
//! over a network.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::engine::docker::{self, Container};
use crate::render::edge::DRAIN_TIMEOUT_SECS;
use crate::stack::Stack;
use crate::state::{atomic, layout};

pub struct EdgeProxy {
    /// The edge container's id.
    pub id: String,
    /// Its admin API port (localhost inside the container).
    pub admin: u16,
}

impl EdgeProxy {
    /// The stack's edge, when it has one and its container is ready.
    pub fn find(stack: &Stack, running: &[Container]) -> Option<EdgeProxy> {
        let edge = stack.edge()?;
        let c = running
            .iter()
            .find(|c| c.service == edge.name && c.is_ready())?;
        Some(EdgeProxy {
            id: c.id.clone(),
            admin: edge.port,
        })
    }

    fn admin(&self, method: &str, path: &str, body: &str) -> Result<String> {
        let url = format!("http://localhost:{}{path}", self.admin);
        let mut command = vec!["curl", "-sS", "--fail-with-body", "-X", method, &url];
        if !body.is_empty() {
            command.extend([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
            ]);
        }
        docker::exec(&self.id, &command, body.as_bytes())
    }

    /// Loads `config`, a graceful reload: the listeners stay open, new requests get the
    /// new config at once, requests in flight finish on the old one.
    pub fn load(&self, config: &str) -> Result<()> {
        self.admin("POST", "/load", config)
            .map(|_| ())
            .context("the edge refused its config")
    }

    /// The config the edge runs now, as JSON text.
    pub fn loaded(&self) -> Result<String> {
        self.admin("GET", "/config/", "")
    }

    /// Requests in flight to `address`, an upstream of the loaded config. (Caddy forgets an
    /// upstream the moment a reload drops it, so one being drained stays listed, last.)
    fn in_flight(&self, address: &str) -> Result<u64> {
        let text = self.admin("GET", "/reverse_proxy/upstreams", "")?;
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&text).context("cannot read the edge's upstreams")?;
        Ok(list
            .iter()
            .filter(|u| u["address"] == address)
            .map(|u| u["num_requests"].as_u64().unwrap_or(0))
            .sum())
    }

    /// Waits until no request is in flight to any of `addresses`, at most the drain
    /// timeout. Returns how many were still in flight when it gave up (0: drained).
    pub fn drain(&self, addresses: &[String]) -> Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(DRAIN_TIMEOUT_SECS);
        loop {
            let mut left = 0;
            for a in addresses {
                left += self.in_flight(a)?;
            }
            if left == 0 || Instant::now() >= deadline {
                return Ok(left);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Writes the config the edge should come back with if it restarts:
/// `.stackgen/edge/caddy.json`, readable by the edge's unprivileged user whatever the
/// umask. Written before the edge is created, and each time a steady config is loaded.
pub fn write_runtime(root: &Path, config: &str) -> Result<()> {
    let dir = root.join(layout::EDGE_RUNTIME_DIR);
    let file = dir.join(layout::EDGE_RUNTIME_FILE);
    atomic::write_if_changed(&file, config.as_bytes(), 0o644)?;
    // Set, not asked for: the umask applies to what is asked for at creation.
    for (path, mode) in [(&dir, 0o755), (&file, 0o644)] {
        std::fs::set_permissions(path, atomic::permissions(mode))
            .with_context(|| format!("cannot set the mode of `{}`", path.display()))?;
    }
    Ok(())
}
