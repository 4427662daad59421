//! The running edge proxy, as stackgen drives it: load a config (Caddy's `/load`, a
//! graceful reload: the listeners stay open and the old config's in-flight requests
//! finish), and ask how many requests an upstream still serves. The admin API listens on
//! a Unix socket only, in `.stackgen/edge-admin/` (bind-mounted into the edge): stackgen
//! reaches it from the host in well under a millisecond, and no network reaches it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::engine::api;
use crate::engine::docker::Container;
use crate::render::edge::{ADMIN_ORIGIN, ADMIN_SOCKET, DRAIN_TIMEOUT_SECS};
use crate::stack::Stack;
use crate::state::{atomic, layout};

pub struct EdgeProxy {
    /// Its admin API's socket, on the host.
    pub socket: PathBuf,
}

impl EdgeProxy {
    /// The stack's edge, when it has one and its container is ready.
    pub fn find(stack: &Stack, running: &[Container]) -> Option<EdgeProxy> {
        let edge = stack.edge()?;
        running
            .iter()
            .any(|c| c.service == edge.name && c.is_ready())
            .then(|| EdgeProxy {
                socket: admin_socket(&stack.root),
            })
    }

    fn admin(&self, method: &str, path: &str, body: &str) -> Result<String> {
        let body = (!body.is_empty()).then_some(body.as_bytes());
        let (status, answer) = api::unix_request(&self.socket, method, path, ADMIN_ORIGIN, body)
            .with_context(|| format!("the edge's admin API at `{}`", self.socket.display()))?;
        let answer = String::from_utf8_lossy(&answer).trim_end().to_string();
        if !(200..300).contains(&status) {
            bail!("the edge's admin API answered `{method} {path}` with {status}: {answer}");
        }
        Ok(answer)
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

/// The edge's admin socket as the host sees it.
pub fn admin_socket(root: &Path) -> PathBuf {
    root.join(layout::EDGE_ADMIN_DIR).join(ADMIN_SOCKET)
}

/// Writes the config the edge should come back with if it restarts:
/// `.stackgen/edge/caddy.json`, readable by the edge's unprivileged user whatever the
/// umask, and makes the folder for its admin socket, which that user creates. Written
/// before the edge is created, and each time a steady config is loaded.
pub fn write_runtime(root: &Path, config: &str) -> Result<()> {
    let dir = root.join(layout::EDGE_RUNTIME_DIR);
    let file = root.join(layout::EDGE_RUNTIME_CONFIG);
    atomic::write_if_changed(&file, config.as_bytes(), 0o644)?;
    let admin = root.join(layout::EDGE_ADMIN_DIR);
    std::fs::create_dir_all(&admin)
        .with_context(|| format!("cannot create `{}`", admin.display()))?;
    let state = root.join(layout::STATE_DIR);
    // Set, not asked for: the umask applies to what is asked for at creation. The admin
    // folder is writable by everyone (the edge's uid 10002 creates its socket there), so
    // `.stackgen/` is private to the deploying user: no one else on the host reaches it.
    for (path, mode) in [
        (&state, 0o700),
        (&dir, 0o755),
        (&file, 0o644),
        (&admin, 0o777),
    ] {
        std::fs::set_permissions(path, atomic::permissions(mode))
            .with_context(|| format!("cannot set the mode of `{}`", path.display()))?;
    }
    Ok(())
}
