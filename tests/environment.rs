//! What the environment can get wrong (no docker, no daemon, no Compose v2, no base image,
//! a host port taken) and bad input under `up`: each gives one clear message with a fix,
//! exit 3 (environment) or 2 (input), and leaves files and the engine untouched.

mod common;

use std::process::{Command, Output};

use common::{TestProject, assert_exit, docker, require_engine, stderr};

/// Removes whatever a test's project may have created, even if the test fails midway.
struct Cleanup(String, std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        common::remove_project(&self.0, &self.1);
    }
}

/// A copy of the shipped stack under a unique name, so engine checks can be scoped to it.
fn project(label: &str) -> (TestProject, String) {
    let name = format!("sgenv-{label}-{}", std::process::id());
    let project = TestProject::shipped();
    // Ephemeral host ports, so a stack already running on this host cannot interfere.
    project.edit_stack(|t| {
        t.replace("name = \"stackgen\"", &format!("name = \"{name}\""))
            .replace("publish = 8081", "publish = 0")
            .replace("publish = 8082", "publish = 0")
    });
    (project, name)
}

fn stackgen_with_env(project: &TestProject, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackgen"));
    cmd.arg("--dir").arg(project.path()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run stackgen")
}

/// Nothing of the project exists in the engine: no container, network, volume or image.
#[track_caller]
fn engine_untouched(name: &str) {
    let label = format!("label=com.docker.compose.project={name}");
    assert_eq!(docker(&["ps", "-aq", "--filter", &label]), "", "containers");
    assert_eq!(
        docker(&["network", "ls", "-q", "--filter", &label]),
        "",
        "networks"
    );
    assert_eq!(
        docker(&["volume", "ls", "-q", "--filter", &label]),
        "",
        "volumes"
    );
    let images = docker(&["image", "ls", "--format", "{{.Repository}}"]);
    assert!(
        !images.lines().any(|r| r.starts_with(&format!("{name}/"))),
        "no image was built"
    );
}

/// The whole failure: exit code, exact stderr prefix, no file written, no engine change.
#[track_caller]
fn fails_cleanly(
    project: &TestProject,
    before: &[(String, Vec<u8>)],
    name: &str,
    out: &Output,
    code: i32,
    starts: &str,
) {
    // `up` takes the project's deploy lock before its engine checks: its file goes too.
    if name != "-" {
        let _ = std::fs::remove_file(common::lock_file(name));
    }
    assert_exit(out, code);
    assert!(
        stderr(out).starts_with(starts),
        "expected stderr to start with:\n{starts}\n--- got\n{}",
        stderr(out)
    );
    assert!(!project.file(".stackgen").exists(), "no secret generated");
    // The copy renders differently (another name), so unchanged files prove no write.
    assert_eq!(project.snapshot(), before, "no file written");
    if name != "-" {
        engine_untouched(name);
    }
}

#[test]
fn docker_not_installed() {
    let (project, name) = project("nodocker");
    let before = project.snapshot();
    let out = stackgen_with_env(
        &project,
        &["up"],
        &[("STACKGEN_DOCKER", "/nonexistent/docker")],
    );
    // The daemon answers on its socket, so `up` took the deploy lock before it found
    // no docker CLI to run compose with.
    let _ = std::fs::remove_file(common::lock_file(&name));
    fails_cleanly(
        &project,
        &before,
        "-",
        &out,
        3,
        "error: `/nonexistent/docker` is not installed\n\
         hint: install Docker Engine: https://docs.docker.com/engine/install/\n",
    );
}

#[test]
fn daemon_not_reachable() {
    let (project, _) = project("nodaemon");
    let before = project.snapshot();
    let out = stackgen_with_env(
        &project,
        &["up"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    fails_cleanly(
        &project,
        &before,
        "-",
        &out,
        3,
        "error: the Docker daemon is not reachable: ",
    );
    assert!(
        stderr(&out).contains("hint: start it (`sudo systemctl start docker`"),
        "{}",
        stderr(&out)
    );
}

/// A script can tell "something would change" (1) from "the engine is gone" (3): the
/// checking commands exit 3 when they cannot ask, never 1.
#[test]
fn checks_that_cannot_ask_the_engine_exit_3_not_1() {
    let (project, _) = project("nodaemon-checks");
    let before = project.snapshot();
    for args in [
        &["diff", "--exit-code"][..],
        &["status"],
        &["status", "--json"],
        &["why", "hello"],
        &["logs"],
    ] {
        let out = stackgen_with_env(
            &project,
            args,
            &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        );
        assert_exit(&out, 3);
        assert!(
            stderr(&out).starts_with("error: the Docker daemon is not reachable: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(project.snapshot(), before, "no file written");
}

#[test]
fn compose_v2_missing() {
    require_engine();
    let (project, name) = project("nocompose");
    let _cleanup = Cleanup(name.clone(), project.file("generated/docker-compose.yml"));
    let empty = tempfile::tempdir().expect("tempdir");
    let config = empty.path().display().to_string();
    let before = project.snapshot();
    let out = stackgen_with_env(&project, &["up"], &[("DOCKER_CONFIG", &config)]);
    fails_cleanly(
        &project,
        &before,
        &name,
        &out,
        3,
        "error: the Docker Compose v2 plugin (`docker compose`) is missing",
    );
    assert!(
        stderr(&out)
            .contains("hint: run `just tools`, or install the `docker-compose-plugin` package"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn base_image_missing() {
    require_engine();
    let (project, name) = project("nobase");
    let _cleanup = Cleanup(name.clone(), project.file("generated/docker-compose.yml"));
    project.edit_stack(|t| {
        t.replace(
            "base_image = \"debian:bookworm-slim\"",
            "base_image = \"stackgen-test/absent-base:1\"",
        )
    });
    let before = project.snapshot();
    let out = project.stackgen(&["up"]);
    fails_cleanly(
        &project,
        &before,
        &name,
        &out,
        3,
        "error: the base image `stackgen-test/absent-base:1` is not present locally\n\
         hint: run `just base`: it pulls the image, or builds it from Debian packages\n",
    );
}

#[test]
fn host_port_taken() {
    require_engine();
    let (project, name) = project("porttaken");
    let _cleanup = Cleanup(name.clone(), project.file("generated/docker-compose.yml"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    project.edit_stack(|t| t.replacen("publish = 0", &format!("publish = {port}"), 1));
    let before = project.snapshot();
    let out = project.stackgen(&["up"]);
    fails_cleanly(
        &project,
        &before,
        &name,
        &out,
        3,
        &format!(
            "error: host port {port} on 127.0.0.1 for `hello` is not available: Address already in use (os error 98)\n\
             hint: stop what listens there (`ss -ltnp 'sport = :{port}'` shows it) or change `publish` of `hello` in stack.toml\n"
        ),
    );
    drop(listener);
}

#[test]
fn bad_input_under_up_touches_neither_files_nor_engine() {
    require_engine();
    for (label, edit) in [
        ("dup", ("publish = 0", "publish = 9999")),
        (
            "cycle",
            ("port = 5432", "port = 5432\ndepends_on = [\"greeter\"]"),
        ),
        (
            "key",
            ("wait_timeout = 120", "wait_timeout = 120\nwait = 1"),
        ),
    ] {
        let (project, name) = project(label);
        let _cleanup = Cleanup(name.clone(), project.file("generated/docker-compose.yml"));
        project.edit_stack(|t| t.replace(edit.0, edit.1));
        let before = project.snapshot();
        let out = project.stackgen(&["up"]);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).starts_with("error: stack.toml"),
            "{}",
            stderr(&out)
        );
        assert_eq!(project.snapshot(), before, "{label}: files unchanged");
        engine_untouched(&name);
    }
}

/// Issue 24: what never runs compose does not need it. `gc` works with a docker CLI
/// that has no Compose plugin, while `down` on one host (which runs `docker compose
/// down`) says the plugin is missing, as `up` does. (`push` and `down --target swarm`
/// are shown in tests/swarm.rs, which has a registry and a swarm.)
#[test]
fn gc_needs_no_compose_while_down_on_one_host_does() {
    require_engine();
    let (project, name) = project("gc-nocompose");
    let _cleanup = Cleanup(name.clone(), project.file("generated/docker-compose.yml"));
    let (_dir, docker) = common::docker_without_compose();
    let env = [("STACKGEN_DOCKER", docker.as_os_str())];
    let out = project.stackgen_with(&["gc", "--keep", "1"], &env);
    assert_exit(&out, 0);
    assert!(
        stderr(&out)
            .contains("kept 0 generations (); removed 0 generations, 0 images and 0 backups"),
        "{}",
        stderr(&out)
    );
    let out = project.stackgen_with(&["down"], &env);
    assert_exit(&out, 3);
    assert!(
        stderr(&out)
            .starts_with("error: the Docker Compose v2 plugin (`docker compose`) is missing"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_file(common::lock_file(&name));
    engine_untouched(&name);
}
