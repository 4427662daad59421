//! Shared test harness: a copy of the shipped project in a temp folder, the real
//! `stackgen` binary run against it, and (for end-to-end tests) a guard that removes the
//! test's containers, networks, volumes and images even when the test fails.

#![allow(dead_code)]

pub mod load;
pub mod nodes;
pub mod traffic;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The repository root: the shipped project.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the shipped project consists of; tests copy exactly this.
const PROJECT_ITEMS: &[&str] = &[
    "stack.toml",
    "templates",
    "apps",
    "images",
    "db",
    "generated",
];

/// A copy of the shipped project in a temp folder.
pub struct TestProject {
    pub dir: tempfile::TempDir,
}

impl TestProject {
    /// Copies the shipped project as it is.
    pub fn shipped() -> TestProject {
        let dir = tempfile::Builder::new()
            .prefix("stackgen-test-")
            .tempdir()
            .expect("tempdir");
        for item in PROJECT_ITEMS {
            copy(&repo().join(item), &dir.path().join(item));
        }
        TestProject { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.file(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.file(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    /// Edits `stack.toml` in place.
    pub fn edit_stack(&self, f: impl FnOnce(&str) -> String) {
        let text = self.read("stack.toml");
        self.write("stack.toml", &f(&text));
    }

    /// Runs the real binary in this project.
    pub fn stackgen(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_stackgen"))
            .arg("--dir")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .expect("run stackgen")
    }

    /// Runs the real binary in this project with `env` set.
    pub fn stackgen_with(&self, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackgen"));
        cmd.arg("--dir")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run stackgen")
    }

    /// Every file below the project with its bytes, for "nothing was written" checks.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = walkdir::WalkDir::new(self.path())
            .into_iter()
            .map(|e| e.expect("walk"))
            .filter(|e| !e.file_type().is_dir())
            .map(|e| {
                let rel = e.path().strip_prefix(self.path()).expect("prefix");
                // A symlink is its target, never followed: one may point at /dev/zero.
                let bytes = if e.path_is_symlink() {
                    let target = std::fs::read_link(e.path()).unwrap_or_default();
                    format!("-> {}", target.display()).into_bytes()
                } else {
                    std::fs::read(e.path()).unwrap_or_default()
                };
                (rel.display().to_string(), bytes)
            })
            .collect();
        files.sort();
        files
    }
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        // fs::copy keeps the permission bits, so exec bits (and hashes) stay the same.
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// Issue 16: what stackgen prints about its builds off a terminal: `building <svc>`
/// when one starts and `built <svc> in <n>s` when it is done, for each of `services`;
/// and no line twice in a row (compose repeats some; stackgen drops those).
#[track_caller]
pub fn assert_build_and_compose_lines(stderr: &str, services: &[&str]) {
    let lines: Vec<&str> = stderr.lines().collect();
    for svc in services {
        assert!(
            lines.contains(&format!("building {svc}").as_str()),
            "no `building {svc}` line:\n{stderr}"
        );
        let built = format!("built {svc} in ");
        let done = lines.iter().find_map(|l| l.strip_prefix(&built));
        let secs = done
            .and_then(|d| d.strip_suffix('s'))
            .map(str::parse::<f64>);
        assert!(
            matches!(secs, Some(Ok(_))),
            "no `built {svc} in <n>s` line:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "escape codes or redraws off a terminal:\n{stderr}"
    );
    for pair in lines.windows(2) {
        assert_ne!(pair[0], pair[1], "a line twice in a row:\n{stderr}");
    }
    let compose: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with(" Network ") || l.starts_with(" Container "))
        .collect();
    assert!(!compose.is_empty(), "compose's lines are shown:\n{stderr}");
    let unique: std::collections::BTreeSet<&str> = compose.iter().copied().collect();
    assert_eq!(
        unique.len(),
        compose.len(),
        "a compose line repeated:\n{stderr}"
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it is not the expected one.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

// ---------------------------------------------------------------------------------------
// End-to-end: the real engine.

/// Runs `docker` and returns stdout; panics with stderr on failure.
#[track_caller]
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Fails (never skips) when the engine is not reachable: a green run must mean the
/// end-to-end tests really deployed containers.
pub fn require_engine() {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the Docker engine is not reachable: end-to-end tests need it and fail rather than skip \
         (start dockerd, then run `just test`)"
    );
}

/// A deployable copy of the shipped stack under a unique compose project name, with every
/// published port made ephemeral. Dropping it removes everything the test created.
pub struct E2eStack {
    pub project: TestProject,
    pub name: String,
}

impl E2eStack {
    pub fn new(label: &str) -> E2eStack {
        static N: AtomicU32 = AtomicU32::new(0);
        require_engine();
        let name = format!(
            "sgtest-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let project = TestProject::shipped();
        project.edit_stack(|text| {
            text.lines()
                .map(|line| {
                    if line.starts_with("name = ") {
                        format!("name = \"{name}\"")
                    } else if line.starts_with("publish = ") {
                        "publish = 0".to_string()
                    } else {
                        line.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        });
        E2eStack { project, name }
    }

    pub fn compose_file(&self) -> PathBuf {
        self.project.file("generated/docker-compose.yml")
    }

    /// `stackgen up`, asserted to succeed; returns service -> URL.
    #[track_caller]
    pub fn up(&self) -> (Output, std::collections::BTreeMap<String, String>) {
        self.up_with(&["up"])
    }

    /// `stackgen <args>` (an `up` with flags), asserted to succeed; returns service -> URL.
    #[track_caller]
    pub fn up_with(&self, args: &[&str]) -> (Output, std::collections::BTreeMap<String, String>) {
        let out = self.project.stackgen(args);
        assert_exit(&out, 0);
        let urls = stdout(&out)
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(s, u)| (s.to_string(), u.to_string()))
            .collect();
        (out, urls)
    }

    /// service -> container id, for the project's containers.
    pub fn container_ids(&self) -> std::collections::BTreeMap<String, String> {
        self.by_service("{{.ID}}")
    }

    /// service -> image tag, as the running containers use them.
    pub fn image_tags(&self) -> std::collections::BTreeMap<String, String> {
        self.by_service("{{.Image}}")
    }

    /// service -> one `docker ps` field, for the project's containers.
    fn by_service(&self, field: &str) -> std::collections::BTreeMap<String, String> {
        let out = docker(&[
            "ps",
            "--all",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            &format!("{{{{.Label \"com.docker.compose.service\"}}}} {field}"),
        ]);
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(s, v)| (s.to_string(), v.to_string()))
            .collect()
    }

    /// The project's images (every tag under `<name>/`) with their ids, sorted: `docker
    /// image ls` orders by creation time, which ties when images share a build.
    pub fn images(&self) -> Vec<String> {
        let mut images: Vec<String> = docker(&[
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
        ])
        .lines()
        .filter(|t| t.starts_with(&format!("{}/", self.name)))
        .map(str::to_string)
        .collect();
        images.sort();
        images
    }
}

impl Drop for E2eStack {
    fn drop(&mut self) {
        remove_project(&self.name, &self.compose_file());
        let _ = std::fs::remove_file(lock_file(&self.name));
    }
}

/// Where stackgen keeps a compose project's deploy lock (see `state/lock.rs`).
pub fn lock_file(project: &str) -> PathBuf {
    std::env::var_os("STACKGEN_LOCK_DIR")
        .map_or_else(|| PathBuf::from("/tmp/stackgen-locks"), PathBuf::from)
        .join(format!("{project}.lock"))
}

/// Removes everything a compose project left in the engine: containers, networks,
/// volumes, and the images tagged under `<name>/`. Safe to call when nothing exists.
pub fn remove_project(name: &str, compose_file: &Path) {
    let _ = Command::new("docker")
        .args(["compose", "--project-name", name, "--file"])
        .arg(compose_file)
        .args(["down", "--volumes", "--remove-orphans", "--timeout", "5"])
        .output();
    // Belt and braces: anything labelled with the project that `down` missed.
    let label = format!("label=com.docker.compose.project={name}");
    for (kind, list) in [
        ("container", vec!["ps", "-aq", "--filter", &label]),
        ("network", vec!["network", "ls", "-q", "--filter", &label]),
        ("volume", vec!["volume", "ls", "-q", "--filter", &label]),
    ] {
        let ids = Command::new("docker").args(&list).output();
        if let Ok(ids) = ids {
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                let rm: &[&str] = match kind {
                    "container" => &["rm", "-f", "-v"],
                    "network" => &["network", "rm"],
                    _ => &["volume", "rm", "-f"],
                };
                let _ = Command::new("docker").args(rm).arg(id).output();
            }
        }
    }
    let tags = Command::new("docker")
        .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // `--no-prune`: removing the last tag would also delete the untagged parent layers,
    // which the classic builder shares as cache between tests. A test building at the same
    // moment would lose the layer under its next step ("failed to get digest").
    for tag in tags.lines().filter(|t| t.starts_with(&format!("{name}/"))) {
        let _ = Command::new("docker")
            .args(["rmi", "--force", "--no-prune", tag])
            .output();
    }
}

/// A GET retried until it answers 200 or 30 s passed (a task or container may still be
/// binding its port); the last answer, `(0, "")` when none came.
pub fn answer(url: &str) -> (u16, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got = std::panic::catch_unwind(|| http("GET", url)).unwrap_or((0, String::new()));
        if got.0 == 200 || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// A minimal HTTP/1.1 client over a real TCP connection: returns (status, body).
pub fn http(method: &str, url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    request(method, host, host, path)
}

/// `GET /` at `addr` with the given Host header: (status, body).
pub fn http_with_host(addr: &str, host: &str) -> (u16, String) {
    request("GET", addr, host, "/")
}

fn request(method: &str, addr: &str, host: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A `docker` CLI without the Compose plugin, for `STACKGEN_DOCKER`: the real one for
/// everything but `docker compose`, which fails as a CLI without the plugin does. It
/// works wherever the plugin is installed; the folder holding it goes with the value.
pub fn docker_without_compose() -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("docker");
    std::fs::write(
        &script,
        "#!/bin/sh\n\
         if [ \"$1\" = compose ]; then\n\
         \x20 echo \"docker: 'compose' is not a docker command.\" >&2\n\
         \x20 exit 1\n\
         fi\n\
         exec docker \"$@\"\n",
    )
    .expect("write the docker wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, script)
}
