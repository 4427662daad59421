//! The running edge proxy (HAProxy), as stackgen drives it, over two Unix sockets in
//! `.stackgen/edge-admin/` (bind-mounted into the edge; no network reaches them):
//! - the runtime API (`admin.sock`): which config runs (`show info`), each backend's
//!   servers and the connections each one holds, and the start-first switch: a server
//!   added for the new container, the old ones drained, then retired; no reload, so no
//!   connection of any other app is touched;
//! - the master CLI (`master.sock`): a seamless reload for a change of the routes. The
//!   new worker takes the listening sockets over; the old one keeps every connection it
//!   has (a WebSocket, a stream, a keep-alive client, which it tells `Connection: close`
//!   on its next answer) until it closes, at most `hard-stop-after`.
//!
//! Each line protocol exchange is one connection: a command, the answer, closed by the
//! edge. Well under a millisecond from the host; no process is started.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::engine::docker::Container;
use crate::render::edge::{ADMIN_SOCKET, MASTER_SOCKET, backend, fingerprint};
use crate::stack::Stack;
use crate::state::{atomic, layout};

/// How long one exchange with a socket may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a reload may take before stackgen calls it failed.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Bits of `srv_admin_state` (HAProxy's `enum srv_admin`) that keep a server from new
/// requests: forced, inherited, config and resolution maintenance, forced and
/// inherited drain.
const MAINT: u32 = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const DRAIN: u32 = 0x08 | 0x10;

pub struct EdgeProxy {
    /// `.stackgen/edge-admin/` on the host.
    dir: PathBuf,
    /// The edge's container.
    pub container: String,
}

/// One server of a backend, as the runtime API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    /// `ip:port`; empty when its name does not resolve.
    pub address: String,
    admin: u32,
    /// Connections it serves now: requests in flight, WebSockets, streams.
    pub sessions: u64,
}

impl Server {
    /// Whether new requests may go to it.
    pub fn takes_requests(&self) -> bool {
        self.admin & (MAINT | DRAIN) == 0 && !self.address.is_empty()
    }

    fn in_maintenance(&self) -> bool {
        self.admin & MAINT != 0
    }
}

impl EdgeProxy {
    /// The stack's edge, when it has one and its container is ready.
    pub fn find(stack: &Stack, running: &[Container]) -> Option<EdgeProxy> {
        let edge = stack.edge()?;
        running
            .iter()
            .find(|c| c.service == edge.name && c.is_ready())
            .map(|c| EdgeProxy {
                dir: stack.root.join(layout::EDGE_ADMIN_DIR),
                container: c.id.clone(),
            })
    }

    fn exchange(&self, socket: &str, command: &str) -> Result<String> {
        let path = self.dir.join(socket);
        let talk = || -> std::io::Result<String> {
            let mut stream = UnixStream::connect(&path)?;
            stream.set_read_timeout(Some(TIMEOUT))?;
            stream.set_write_timeout(Some(TIMEOUT))?;
            stream.write_all(format!("{command}\n").as_bytes())?;
            let mut answer = String::new();
            match stream.read_to_string(&mut answer) {
                Ok(_) => Ok(answer),
                // The master closes the connection under a `reload` it acts on.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(answer),
                Err(e) => Err(e),
            }
        };
        talk().with_context(|| format!("the edge's `{command}` at `{}`", path.display()))
    }

    /// A runtime API command whose answer is a message; an error when it reports one.
    fn act(&self, command: &str) -> Result<String> {
        let answer = self.exchange(ADMIN_SOCKET, command)?;
        let said = answer.trim();
        let refused = [
            "Unknown",
            "No such",
            "Require",
            "cannot",
            "failed",
            "not found",
        ];
        if refused.iter().any(|r| said.contains(r)) && !said.ends_with("registered.") {
            bail!("the edge refused `{command}`: {said}");
        }
        Ok(said.to_string())
    }

    /// The fingerprint of the config the edge runs (its node name).
    pub fn loaded(&self) -> Result<String> {
        Ok(self.worker()?.0)
    }

    /// The worker answering the runtime API: its config's fingerprint and its pid.
    fn worker(&self) -> Result<(String, String)> {
        let info = self.exchange(ADMIN_SOCKET, "show info")?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let node =
            field("node: stackgen-").context("the edge runs a config stackgen did not write")?;
        Ok((node, field("Pid:").unwrap_or_default()))
    }

    /// Whether the edge runs `config` (a config text this program rendered).
    pub fn runs(&self, config: &str) -> bool {
        let want = fingerprint(config);
        want.is_some() && self.loaded().ok().as_deref() == want
    }

    /// Reloads the edge with the config file now on disk, `config`: a seamless reload,
    /// waited for until a new worker answers with its fingerprint (a reload of the same
    /// config, which puts back what a runtime command changed, has the old fingerprint:
    /// the worker's pid tells the new one).
    pub fn reload(&self, config: &str) -> Result<()> {
        let want = fingerprint(config).context("the edge's config has no fingerprint")?;
        let old = self.worker().map(|(_, pid)| pid).unwrap_or_default();
        self.exchange(MASTER_SOCKET, "reload")?;
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        loop {
            if let Ok((node, pid)) = self.worker()
                && node == want
                && pid != old
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the edge did not load its new config within {}s (its log: `docker logs {}`)",
                    RELOAD_TIMEOUT.as_secs(),
                    self.container
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Why some routed service's requests may not all go to its ready containers, if
    /// they may not: no server of its backend takes requests, or one that does points
    /// elsewhere (a container gone, a server set by hand).
    pub fn misrouted(&self, stack: &Stack, running: &[Container]) -> Option<String> {
        let Ok(servers) = self.servers() else {
            return Some("the edge's runtime API does not list its servers".into());
        };
        for svc in stack.services.values().filter(|s| stack.routed(s)) {
            let backend = backend(&svc.name);
            let ready: Vec<String> = running
                .iter()
                .filter(|c| c.service == svc.name && c.is_ready())
                .filter_map(|c| address(stack, c))
                .collect();
            let serving: Vec<&str> = servers
                .iter()
                .filter(|(b, s)| *b == backend && s.takes_requests())
                .map(|(_, s)| s.address.as_str())
                .collect();
            if serving.is_empty() || serving.iter().any(|a| !ready.iter().any(|r| r == a)) {
                return Some(format!(
                    "the edge does not send `{}`'s requests to its running container",
                    svc.name
                ));
            }
        }
        None
    }

    /// Every backend's servers, by backend name.
    pub fn servers(&self) -> Result<Vec<(String, Server)>> {
        let state = self.exchange(ADMIN_SOCKET, "show servers state")?;
        let stat = self.exchange(ADMIN_SOCKET, "show stat")?;
        Ok(parse_servers(&state, &stat))
    }

    /// `service`'s servers.
    pub fn servers_of(&self, service: &str) -> Result<Vec<Server>> {
        let backend = backend(service);
        Ok(self
            .servers()?
            .into_iter()
            .filter(|(b, _)| *b == backend)
            .map(|(_, s)| s)
            .collect())
    }

    /// The start-first switch: `address` (the new container's, `ip:port`) gets the
    /// service's new requests as server `name`; every other server of it drains, keeping
    /// what it serves. Returns the drained servers' names.
    pub fn switch(&self, service: &str, name: &str, address: &str) -> Result<Vec<String>> {
        let backend = backend(service);
        let before = self.servers_of(service)?;
        // An app routed only from this deploy on has no backend on the running edge
        // yet: nothing to switch; the deploy's reload brings its route.
        if before.is_empty() {
            return Ok(Vec::new());
        }
        if !before.iter().any(|s| s.name == name) {
            self.act(&format!("add server {backend}/{name} {address}"))?;
        }
        self.act(&format!("set server {backend}/{name} state ready"))?;
        let mut drained = Vec::new();
        for s in before
            .iter()
            .filter(|s| s.name != name && !s.in_maintenance())
        {
            self.act(&format!("set server {backend}/{} state drain", s.name))?;
            drained.push(s.name.clone());
        }
        Ok(drained)
    }

    /// Waits until `names` (servers of `service`) serve nothing, at most `timeout`.
    /// Returns how many connections they still held then.
    pub fn drain(&self, service: &str, names: &[String], timeout: Duration) -> Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            let left: u64 = self
                .servers_of(service)?
                .iter()
                .filter(|s| names.contains(&s.name))
                .map(|s| s.sessions)
                .sum();
            if left == 0 || Instant::now() >= deadline {
                return Ok(left);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Takes drained servers out once their containers are gone: each in maintenance;
    /// one added at a switch deleted, the one the config names kept (in maintenance
    /// until the next reload). A delete refused while a connection to it lingers leaves
    /// it in maintenance, which is harmless.
    pub fn retire(&self, service: &str, names: &[String]) -> Result<()> {
        let backend = backend(service);
        for name in names {
            self.act(&format!("set server {backend}/{name} state maint"))?;
            if name != service {
                let _ = self.act(&format!("del server {backend}/{name}"));
            }
        }
        Ok(())
    }
}

/// The `ip:port` the edge reaches `c` at: its address on the stack's frontend network
/// and its service's port.
pub fn address(stack: &Stack, c: &Container) -> Option<String> {
    let port = stack.services.get(&c.service)?.port;
    let ip = c.addresses.get(&format!("{}_frontend", stack.name))?;
    Some(format!("{ip}:{port}"))
}

/// `show servers state` (names, addresses, admin states) joined with `show stat`
/// (current sessions), by backend.
fn parse_servers(state: &str, stat: &str) -> Vec<(String, Server)> {
    let sessions = |backend: &str, name: &str| -> u64 {
        stat.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.len() > 4 && f[0] == backend && f[1] == name)
            .and_then(|f| f[4].parse().ok())
            .unwrap_or(0)
    };
    state
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 18).then_some(f)
        })
        .map(|f| {
            let (backend, name, ip, port) = (f[1], f[3], f[4], f[18]);
            let address = if ip == "-" || ip == "0.0.0.0" || port == "0" {
                String::new()
            } else {
                format!("{ip}:{port}")
            };
            let server = Server {
                name: name.to_string(),
                address,
                admin: f[6].parse().unwrap_or(0),
                sessions: sessions(backend, name),
            };
            (backend.to_string(), server)
        })
        .collect()
}

/// Writes the config the edge reads when it starts or reloads:
/// `.stackgen/edge/haproxy.cfg`, readable by the edge's unprivileged user whatever the
/// umask, and makes the folder for its admin sockets, which that user creates.
pub fn write_runtime(root: &Path, config: &str) -> Result<()> {
    let dir = root.join(layout::EDGE_RUNTIME_DIR);
    let file = root.join(layout::EDGE_RUNTIME_CONFIG);
    atomic::write_if_changed(&file, config.as_bytes(), 0o644)?;
    let admin = root.join(layout::EDGE_ADMIN_DIR);
    std::fs::create_dir_all(&admin)
        .with_context(|| format!("cannot create `{}`", admin.display()))?;
    let state = root.join(layout::STATE_DIR);
    // Set, not asked for: the umask applies to what is asked for at creation. The admin
    // folder is writable by everyone (the edge's uid 10002 creates its sockets there),
    // so `.stackgen/` is private to the deploying user: no one else on the host reaches it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_join_their_state_and_sessions() {
        let state = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n\
            4 app-hello 1 hello 172.18.0.2 2 8 1 1 6 1 0 2 0 0 0 0 hello 8000 - 0 0 - - 0\n\
            4 app-hello 2 hello-abc 172.18.0.5 2 0 1 1 6 1 0 2 0 0 0 0 - 8000 - 0 0 - - 0\n\
            5 app-greeter 1 greeter - 0 32 1 1 6 1 0 2 0 0 0 0 greeter 0 - 0 0 - - 0\n";
        let stat = "# pxname,svname,qcur,qmax,scur,smax\n\
            app-hello,hello,0,0,2,66\napp-hello,hello-abc,0,0,64,64\napp-hello,BACKEND,0,0,66,66\n";
        let servers = parse_servers(state, stat);
        assert_eq!(servers.len(), 3);
        let (backend, drained) = &servers[0];
        assert_eq!(backend, "app-hello");
        assert_eq!(drained.address, "172.18.0.2:8000");
        assert_eq!(drained.sessions, 2);
        assert!(!drained.takes_requests(), "admin state 8 is a drain");
        assert!(servers[1].1.takes_requests());
        assert_eq!(servers[1].1.sessions, 64);
        let unresolved = &servers[2].1;
        assert_eq!(unresolved.address, "");
        assert!(!unresolved.takes_requests() && unresolved.in_maintenance());
    }
}
