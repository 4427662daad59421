//! The no-op proof, end to end on the real engine: a `up` of a stack that runs as
//! deployed starts no process at all (a recording `docker` shim first in line sees
//! nothing), nor do `status` and `diff`; and each kind of drift makes `up` take the full
//! path (the shim sees compose run) and converge, after which `up` is a no-op again.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{E2eStack, assert_exit, docker, http, stderr};

/// A `docker` that appends its arguments to a log, then runs the real one.
struct Shim {
    _dir: tempfile::TempDir,
    script: PathBuf,
    log: PathBuf,
}

impl Shim {
    fn new() -> Shim {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("docker");
        let log = dir.path().join("calls.log");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec docker \"$@\"\n",
                log.display()
            ),
        )
        .expect("write shim");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Shim {
            _dir: dir,
            script,
            log,
        }
    }

    /// Runs stackgen with the shim as its docker; its output and the docker calls it made.
    fn run(&self, stack: &E2eStack, args: &[&str]) -> (Output, Vec<String>) {
        let _ = std::fs::remove_file(&self.log);
        let out = Command::new(env!("CARGO_BIN_EXE_stackgen"))
            .arg("--dir")
            .arg(stack.project.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("STACKGEN_DOCKER", &self.script)
            .output()
            .expect("run stackgen");
        let calls = std::fs::read_to_string(&self.log).unwrap_or_default();
        (out, calls.lines().map(str::to_string).collect())
    }
}

/// `up`, asserted to be the no-op: exit 0, said so, and not one docker process.
#[track_caller]
fn assert_noop(shim: &Shim, stack: &E2eStack) {
    let (out, calls) = shim.run(stack, &["up"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("nothing changed"),
        "a no-op says so: {}",
        stderr(&out)
    );
    assert!(
        calls.is_empty(),
        "a no-op up starts no docker process: {calls:?}"
    );
}

/// `up` after a drift: the full path (compose ran), exit 0, and `status` in sync.
#[track_caller]
fn assert_converges(shim: &Shim, stack: &E2eStack, drift: &str) -> Vec<String> {
    let (out, calls) = shim.run(stack, &["up"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("deploying: "),
        "{drift}: up says why it deploys: {}",
        stderr(&out)
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("compose ") && c.contains(" up ")),
        "{drift}: up runs compose: {calls:?}"
    );
    let status = stack.project.stackgen(&["status"]);
    assert_exit(&status, 0);
    assert_noop(shim, stack);
    calls
}

/// Compose's config hash label of each service's container.
fn config_hashes(stack: &E2eStack) -> BTreeMap<String, String> {
    stack
        .container_ids()
        .into_iter()
        .map(|(svc, id)| {
            let hash = docker(&[
                "inspect",
                "--format",
                "{{index .Config.Labels \"com.docker.compose.config-hash\"}}",
                &id,
            ]);
            (svc, hash)
        })
        .collect()
}

/// `mem_limit: 256m` -> `300m` in hello's section of a compose text.
fn edit_hello(compose: &str) -> String {
    let at = compose.find("\n  \"hello\":\n").expect("hello's section");
    let (head, tail) = compose.split_at(at);
    format!(
        "{head}{}",
        tail.replacen("mem_limit: 256m", "mem_limit: 300m", 1)
    )
}

fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
}

/// Loads `config` into the edge through its admin socket, as someone with access could.
/// One command to the edge's runtime API (HAProxy's line protocol); its answer.
fn edge_command(admin: &Path, command: &str) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::os::unix::net::UnixStream::connect(admin).expect("the edge's admin socket");
    stream
        .write_all(format!("{command}\n").as_bytes())
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn a_no_op_up_starts_no_process_and_every_drift_takes_the_full_path_and_converges() {
    let stack = E2eStack::new("noop");
    let (_, urls) = stack.up();
    let hello = urls["hello"].clone();
    let shim = Shim::new();
    assert_noop(&shim, &stack);
    for cmd in [&["status"][..], &["diff", "--exit-code"]] {
        let (out, calls) = shim.run(&stack, cmd);
        assert_exit(&out, 0);
        assert!(
            calls.is_empty(),
            "{cmd:?} starts no docker process: {calls:?}"
        );
    }
    let (out, calls) = shim.run(&stack, &["up", "--force"]);
    assert_exit(&out, 0);
    assert!(
        calls.iter().any(|c| c.starts_with("compose ")),
        "--force runs compose"
    );
    let ids = stack.container_ids();
    let hashes = config_hashes(&stack);

    // 1. A container stopped, and one removed: both come back.
    docker(&["stop", &ids["hello"]]);
    assert_converges(&shim, &stack, "stopped");
    docker(&["rm", "--force", &stack.container_ids()["greeter"]]);
    assert_converges(&shim, &stack, "removed");
    assert_eq!(http("GET", &urls["greeter"]).0, 200);

    // 2. A container recreated by hand from another config: recreated from the file.
    let compose = stack.project.read("generated/docker-compose.yml");
    stack
        .project
        .write("generated/by-hand.yml", &edit_hello(&compose));
    let by_hand = stack.project.file("generated/by-hand.yml");
    let generated = stack.project.file("generated");
    let args = [
        "compose",
        "--project-name",
        &stack.name,
        "--project-directory",
    ];
    let mut args: Vec<&str> = args.to_vec();
    let (by_hand, generated) = (
        by_hand.display().to_string(),
        generated.display().to_string(),
    );
    args.extend([
        &generated[..],
        "--file",
        &by_hand,
        "up",
        "-d",
        "--no-deps",
        "hello",
    ]);
    docker(&args);
    std::fs::remove_file(&by_hand).expect("rm");
    assert_ne!(config_hashes(&stack)["hello"], hashes["hello"]);
    assert_converges(&shim, &stack, "recreated by hand");
    assert_eq!(
        config_hashes(&stack),
        hashes,
        "every container is the file's again"
    );

    // 3. An image re-tagged: the tag names another image; up rebuilds it (the cache
    //    gives back the same image) and hello runs its own image again.
    let tag = stack.image_tags()["hello"].clone();
    let own = image_id(&tag);
    docker(&["tag", &stack.image_tags()["greeter"], &tag]);
    assert_ne!(image_id(&tag), own);
    let calls = assert_converges(&shim, &stack, "re-tagged");
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("build ") && c.contains(&tag)),
        "the moved tag is rebuilt: {calls:?}"
    );
    assert_eq!(image_id(&tag), own, "the tag names hello's own image again");
    let running = docker(&[
        "inspect",
        "--format",
        "{{.Image}}",
        &stack.container_ids()["hello"],
    ]);
    assert_eq!(running, own);

    // 4. The compose file edited by hand: written back; nothing recreated for it.
    let before = stack.container_ids();
    stack
        .project
        .write("generated/docker-compose.yml", &edit_hello(&compose));
    assert_converges(&shim, &stack, "compose file edited");
    assert_eq!(stack.project.read("generated/docker-compose.yml"), compose);
    assert_eq!(
        stack.container_ids(),
        before,
        "the running containers were the file's"
    );

    // 5. The edge's server for hello put in maintenance through its runtime API (the
    //    routes are the file's, the requests go nowhere): a seamless reload puts back
    //    what the file says.
    let admin = stack.project.file(".stackgen/edge-admin/admin.sock");
    let said = edge_command(&admin, "set server app-hello/hello state maint");
    assert_eq!(said.trim(), "", "the edge took the command");
    assert_eq!(http("GET", &hello).0, 503);
    let calls = assert_converges(&shim, &stack, "edge server in maintenance");
    assert!(
        calls.iter().all(|c| !c.starts_with("build ")),
        "nothing built: {calls:?}"
    );
    assert_eq!(http("GET", &hello), (200, "Hello, world!".to_string()));
}
