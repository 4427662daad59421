//! End-to-end tests against the real Docker engine: each deploys a copy of the shipped
//! stack under its own compose project name with ephemeral host ports, queries it over
//! real HTTP, and removes everything it created when it ends, pass or fail.
//!
//! They fail (never skip) when the engine is unreachable.

mod common;

use common::{E2eStack, assert_exit, docker, http, stderr, stdout};

#[test]
fn shipped_stack_deploys_answers_and_keeps_data_across_redeploys() {
    let stack = E2eStack::new("life");
    let (out, urls) = stack.up();
    assert_eq!(
        urls.keys().collect::<Vec<_>>(),
        ["greeter", "hello"],
        "up prints each published URL:\n{}",
        stdout(&out)
    );

    // Both apps answer, and the greeter's answer comes out of PostgreSQL.
    assert_eq!(http("GET", &urls["hello"]), (200, "Hello, world!".into()));
    assert_eq!(http("GET", &urls["greeter"]), (200, "Hello, world!".into()));
    let visits = format!("{}visits", urls["greeter"]);
    assert_eq!(http("POST", &visits), (200, "1".into()));
    assert_eq!(http("POST", &visits), (200, "2".into()));

    // Compose itself accepts the generated file.
    docker(&[
        "compose",
        "--file",
        &stack.compose_file().display().to_string(),
        "config",
        "--quiet",
    ]);

    // The database is on the internal network only and not published.
    let ids = stack.container_ids();
    assert_eq!(ids.keys().collect::<Vec<_>>(), ["db", "greeter", "hello"]);
    let db_ports = docker(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Ports}}",
        &ids["db"],
    ]);
    assert!(
        !db_ports.contains("HostPort"),
        "db must not be published: {db_ports}"
    );

    // The password: generated, kept out of env, the compose file and inspect output.
    let secret_dir = stack.project.file(".stackgen/secrets");
    let password = std::fs::read_to_string(secret_dir.join("db_password")).expect("secret");
    assert_eq!(password.len(), 32);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret_dir)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode, 0o700,
        "secrets folder is private to the deploying user"
    );
    for id in ids.values() {
        let inspect = docker(&["inspect", id]);
        assert!(
            !inspect.contains(&password),
            "password leaked into docker inspect"
        );
        let logs = std::process::Command::new("docker")
            .args(["logs", id])
            .output()
            .expect("logs");
        assert!(!String::from_utf8_lossy(&logs.stdout).contains(&password));
        assert!(!String::from_utf8_lossy(&logs.stderr).contains(&password));
    }
    for file in ["generated/docker-compose.yml", "generated/stack.lock"] {
        assert!(
            !stack.project.read(file).contains(&password),
            "password in {file}"
        );
    }

    // A second `up` with no change builds nothing and recreates nothing.
    let images = stack.images();
    let again = stack.project.stackgen(&["up"]);
    assert_exit(&again, 0);
    assert!(
        stderr(&again).contains("images: 0 to build, 3 up to date"),
        "{}",
        stderr(&again)
    );
    assert_eq!(stack.container_ids(), ids, "no container was recreated");
    assert_eq!(stack.images(), images, "no image was built");
    assert_eq!(
        std::fs::read_to_string(secret_dir.join("db_password")).expect("secret"),
        password,
        "the secret is generated once"
    );

    // `down` keeps the volume; `up` brings the same data back.
    let down = stack.project.stackgen(&["down"]);
    assert_exit(&down, 0);
    assert!(
        stack.container_ids().is_empty(),
        "down removes the containers"
    );
    let volume = format!("{}_db-data", stack.name);
    docker(&["volume", "inspect", &volume]);
    let (_, urls) = stack.up();
    assert_eq!(
        http("GET", &format!("{}visits", urls["greeter"])),
        (200, "2".into()),
        "the visit count survived down/up"
    );

    // `down --volumes` is the one way to delete the data.
    assert_exit(&stack.project.stackgen(&["down", "--volumes"]), 0);
    let gone = std::process::Command::new("docker")
        .args(["volume", "inspect", &volume])
        .output()
        .expect("docker");
    assert!(
        !gone.status.success(),
        "down --volumes deletes the data volume"
    );
}

#[test]
fn changing_one_app_rebuilds_and_recreates_only_that_service() {
    let stack = E2eStack::new("change");
    stack.up();
    let ids = stack.container_ids();
    let tags = stack.image_tags();

    // One byte of the hello app changes.
    let app = stack.project.read("apps/hello/app.py");
    stack.project.write("apps/hello/app.py", &format!("{app}#"));

    let (out, urls) = stack.up();
    assert!(
        stderr(&out).contains("images: 1 to build, 2 up to date"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("building hello"), "{}", stderr(&out));
    let new_ids = stack.container_ids();
    let new_tags = stack.image_tags();
    assert_ne!(new_ids["hello"], ids["hello"], "hello is recreated");
    assert_ne!(
        new_tags["hello"], tags["hello"],
        "hello has a new image tag"
    );
    for svc in ["db", "greeter"] {
        assert_eq!(new_ids[svc], ids[svc], "{svc} keeps its container");
        assert_eq!(new_tags[svc], tags[svc], "{svc} keeps its image");
    }
    assert_eq!(http("GET", &urls["hello"]), (200, "Hello, world!".into()));
}

#[test]
fn an_unhealthy_service_fails_the_deploy_naming_it_with_its_logs() {
    let stack = E2eStack::new("sick");
    // hello's health check now probes a path the app does not have: 404, unhealthy.
    stack.project.edit_stack(|text| {
        text.replace("wait_timeout = 120", "wait_timeout = 60").replace(
            "build = \"apps/hello\"",
            "build = \"apps/hello\"\nhealthcheck = { path = \"/missing\", start_period = \"1s\" }",
        )
    });
    let out = stack.project.stackgen(&["up"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("service `hello` is not ready"), "{err}");
    assert!(
        err.contains("GET /missing"),
        "the last log lines are shown:\n{err}"
    );
    assert!(
        err.contains("error: deploy failed: not ready: hello"),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "no URLs on failure");
}
