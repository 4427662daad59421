//! Three Docker engines in network namespaces, joined into a swarm, with a registry on
//! `127.0.0.1:<port>` for the host engine and every node: `scripts/nodes.sh` (the rig of
//! `just nodes up`) under a prefix, subnet and registry port of the test's own, so a
//! user's own `just nodes up` is left alone. Dropping it takes the nodes down and removes
//! the images the test pushed from the host engine, even when the test fails.

use std::ffi::OsString;
use std::process::{Command, Output};

use super::repo;

pub struct Nodes {
    prefix: String,
    net: String,
    pub registry: String,
    port: u16,
    /// `DOCKER_HOST` of the manager (node 1).
    pub manager: String,
    /// Held while the rig is ours: another run of the same test (another checkout, CI)
    /// waits for it instead of taking the rig down under this one.
    _lock: std::fs::File,
}

impl Nodes {
    /// The rig under `prefix` (a few letters: it names interfaces), on `10.<octet>.0.0/16`,
    /// its registry on `127.0.0.1:<port>`. Whatever a crashed run of the same test left is
    /// taken down first.
    pub fn up(prefix: &str, octet: u8, port: u16) -> Nodes {
        let lock = std::fs::File::create(format!("/run/stackgen-nodes-{prefix}.lock"))
            .expect("the rig's lock file (the nodes need root)");
        lock.lock().expect("lock the rig");
        let nodes = Nodes {
            _lock: lock,
            prefix: prefix.to_string(),
            net: format!("10.{octet}.0"),
            registry: format!("127.0.0.1:{port}"),
            port,
            manager: format!("unix:///run/{prefix}1.sock"),
        };
        let down = nodes.script(&["down"]);
        assert!(down.status.success(), "nodes down: {}", text(&down.stderr));
        let up = nodes.script(&["up"]);
        assert!(
            up.status.success(),
            "nodes up: {}{}",
            text(&up.stdout),
            text(&up.stderr)
        );
        let exports = text(&up.stdout);
        assert!(
            exports.contains(&format!("export DOCKER_HOST={}", nodes.manager)),
            "`nodes up` ends with the exports: {exports}"
        );
        nodes
    }

    pub fn script(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(repo().join("scripts/nodes.sh"))
            .args(args)
            .env("STACKGEN_NODES_PREFIX", &self.prefix)
            .env("STACKGEN_NODES_NET", &self.net)
            .env("STACKGEN_NODES_REGISTRY_PORT", self.port.to_string())
            .env_remove("DOCKER_HOST")
            .output()
            .expect("run scripts/nodes.sh")
    }

    /// `DOCKER_HOST` of node `i` (1-based).
    pub fn host(&self, i: u8) -> String {
        format!("unix:///run/{}{i}.sock", self.prefix)
    }

    /// Node `i`'s address, where it publishes host-mode ports.
    pub fn address(&self, i: u8) -> String {
        format!("{}.1{i}", self.net)
    }

    /// Node `i`'s hostname, as the swarm names it.
    pub fn name(&self, i: u8) -> String {
        format!("{}{i}", self.prefix)
    }

    /// `docker` on node `i`; stdout, panicking with stderr on failure.
    #[track_caller]
    pub fn docker(&self, i: u8, args: &[&str]) -> String {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", self.host(i))
            .output()
            .expect("run docker");
        assert!(
            out.status.success(),
            "docker -H {} {}: {}",
            self.host(i),
            args.join(" "),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// stackgen in `project`, deploying through node `i` while the host's engine builds
    /// and pushes, with `extra` set too.
    pub fn stackgen(
        &self,
        project: &super::TestProject,
        i: u8,
        args: &[&str],
        extra: &[(&str, &std::ffi::OsStr)],
    ) -> Output {
        let host: OsString = self.host(i).into();
        let builder: OsString = "unix:///var/run/docker.sock".into();
        let mut env: Vec<(&str, &std::ffi::OsStr)> =
            vec![("DOCKER_HOST", &host), ("STACKGEN_BUILD_HOST", &builder)];
        env.extend_from_slice(extra);
        project.stackgen_with(args, &env)
    }
}

impl Nodes {
    /// The shipped project as a swarm on these nodes deploys it: named `name`, the rig's
    /// registry, both apps on ephemeral ports, a longer wait (five images pulled by three
    /// nodes and a first initdb are slower than one host), `edit` applied to stack.toml
    /// first; node 2 labelled for the database.
    pub fn swarm_project(
        &self,
        name: &str,
        edit: impl FnOnce(&str) -> String,
    ) -> super::TestProject {
        self.docker(
            1,
            &[
                "node",
                "update",
                "--label-add",
                "stackgen.db=true",
                &self.name(2),
            ],
        );
        let project = super::TestProject::shipped();
        project.edit_stack(|t| {
            edit(t)
                .replace("name = \"stackgen\"", &format!("name = \"{name}\""))
                .replace("wait_timeout = 120", "wait_timeout = 300")
                .replace(
                    "registry = \"127.0.0.1:5000\"",
                    &format!("registry = \"{}\"", self.registry),
                )
                .replace("publish = 8081", "publish = 0")
                .replace("publish = 8082", "publish = 0")
        });
        project
    }
}

/// What a test built on the host's engine under the project `name` (its images, its
/// lock), removed when dropped.
pub struct HostProject(pub String);

impl Drop for HostProject {
    fn drop(&mut self) {
        super::remove_project(&self.0, std::path::Path::new("/nonexistent"));
        let _ = std::fs::remove_file(super::lock_file(&self.0));
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        let down = self.script(&["down"]);
        if !down.status.success() {
            eprintln!("nodes down: {}", text(&down.stderr));
        }
        // The host engine's tags of what the test pushed.
        let tags = Command::new("docker")
            .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
            .env_remove("DOCKER_HOST")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for tag in tags
            .lines()
            .filter(|t| t.starts_with(&format!("{}/", self.registry)))
        {
            let _ = Command::new("docker")
                .args(["rmi", "--force", "--no-prune", tag])
                .env_remove("DOCKER_HOST")
                .output();
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

/// Two containers on a user-defined network of the host's own engine: after the swarm
/// tests, each must still resolve the other by name (issue 27: `swarm leave --force` on
/// this engine broke the embedded DNS of every such container).
pub struct HostNeighbours {
    name: String,
}

impl HostNeighbours {
    pub fn start(name: &str, image: &str) -> HostNeighbours {
        let n = HostNeighbours {
            name: name.to_string(),
        };
        n.cleanup();
        super::docker(&["network", "create", name]);
        for who in ["a", "b"] {
            super::docker(&[
                "run",
                "-d",
                "--name",
                &format!("{name}-{who}"),
                "--network",
                name,
                "--network-alias",
                &format!("{name}-{who}"),
                image,
                "sleep",
                "infinity",
            ]);
        }
        assert!(n.resolve().is_ok(), "neighbours resolve at the start");
        n
    }

    /// `getent hosts <b>` inside `a`: Ok with the address, or Err with what failed.
    pub fn resolve(&self) -> Result<String, String> {
        let out = Command::new("docker")
            .args(["exec", &format!("{}-a", self.name)])
            .args(["getent", "hosts", &format!("{}-b", self.name)])
            .env_remove("DOCKER_HOST")
            .output()
            .expect("run docker exec");
        if out.status.success() {
            Ok(text(&out.stdout))
        } else {
            Err(format!("{}{}", text(&out.stdout), text(&out.stderr)))
        }
    }

    fn cleanup(&self) {
        for who in ["a", "b"] {
            let _ = Command::new("docker")
                .args(["rm", "-f", &format!("{}-{who}", self.name)])
                .env_remove("DOCKER_HOST")
                .output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.name])
            .env_remove("DOCKER_HOST")
            .output();
    }
}

impl Drop for HostNeighbours {
    fn drop(&mut self) {
        self.cleanup();
    }
}
