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
    assert_eq!(
        ids.keys().collect::<Vec<_>>(),
        ["db", "edge", "greeter", "hello"]
    );
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

    // A second `up` with no change builds nothing and recreates nothing: it proves
    // the no-op; and with `--force`, compose runs and still changes nothing.
    let images = stack.images();
    let again = stack.project.stackgen(&["up"]);
    assert_exit(&again, 0);
    assert!(
        stderr(&again).contains("nothing changed (4 services checked in"),
        "{}",
        stderr(&again)
    );
    let forced = stack.project.stackgen(&["up", "--force"]);
    assert_exit(&forced, 0);
    assert!(
        stderr(&forced).contains("images: 0 to build, 4 up to date"),
        "{}",
        stderr(&forced)
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
    // Issue 16: `-q up` prints nothing but the URLs when it succeeds.
    let (quiet, urls) = stack.up_with(&["-q", "up"]);
    assert_eq!(stderr(&quiet), "", "-q up says nothing on success");
    assert_eq!(urls.keys().collect::<Vec<_>>(), ["greeter", "hello"]);
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
    let (first, _) = stack.up();
    // Issue 16: each build says when it starts and how long it took; compose's lines
    // come once each.
    common::assert_build_and_compose_lines(&stderr(&first), &["db", "edge", "greeter", "hello"]);
    let ids = stack.container_ids();
    let tags = stack.image_tags();

    // One byte of the hello app changes.
    let app = stack.project.read("apps/hello/app.py");
    stack.project.write("apps/hello/app.py", &format!("{app}#"));

    // Issue 16: `-v` shows each command as it starts, and the build's own lines.
    let (out, urls) = stack.up_with(&["-v", "up"]);
    let err = stderr(&out);
    assert!(err.contains("images: 1 to build, 3 up to date"), "{err}");
    assert!(err.contains("\nbuilding hello\n"), "{err}");
    let build = format!(
        "\n+ DOCKER_BUILDKIT=0 docker build --force-rm --tag {}/hello:",
        stack.name
    );
    assert!(err.contains(&build), "{err}");
    assert!(err.contains("\nhello | Step 1/"), "{err}");
    let compose = format!("\n+ docker compose --project-name {} ", stack.name);
    assert!(err.contains(&compose), "{err}");
    let new_ids = stack.container_ids();
    let new_tags = stack.image_tags();
    assert_ne!(new_ids["hello"], ids["hello"], "hello is recreated");
    assert_ne!(
        new_tags["hello"], tags["hello"],
        "hello has a new image tag"
    );
    for svc in ["db", "edge", "greeter"] {
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
    // Issue 16: with `-q` a failure is reported as without it, compose's lines included.
    let out = stack.project.stackgen(&["-q", "up"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(!err.contains("deploying: "), "-q drops the notes:\n{err}");
    let compose = format!(" Container {}-hello-1 ", stack.name);
    assert!(err.contains(&compose), "compose's lines are shown:\n{err}");
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

/// Issue 3: the properties the policy promises, read back from the running containers.
#[test]
fn running_stack_is_hardened_and_keeps_its_password_secret() {
    let stack = E2eStack::new("hard");
    stack.up();
    let ids = stack.container_ids();
    assert_eq!(ids.len(), 4);

    for (service, id) in &ids {
        let json = docker(&["inspect", "--format", "{{json .}}", id]);
        let c: serde_json::Value = serde_json::from_str(&json).expect("inspect json");
        let host = &c["HostConfig"];
        let user = c["Config"]["User"].as_str().unwrap_or("");
        assert!(
            !user.is_empty() && !user.starts_with("0") && !user.starts_with("root"),
            "{service} runs as `{user}`"
        );
        assert_eq!(host["ReadonlyRootfs"], true, "{service} read-only root");
        assert_eq!(
            host["CapDrop"],
            serde_json::json!(["ALL"]),
            "{service} caps dropped"
        );
        assert!(
            host["CapAdd"].is_null() || host["CapAdd"] == serde_json::json!([]),
            "{service} adds no capability: {}",
            host["CapAdd"]
        );
        assert_eq!(
            host["SecurityOpt"],
            serde_json::json!(["no-new-privileges:true"])
        );
        assert_eq!(host["Privileged"], false);
        assert!(
            host["Memory"].as_i64().unwrap_or(0) > 0,
            "{service} memory limit"
        );
        assert!(
            host["NanoCpus"].as_i64().unwrap_or(0) > 0,
            "{service} cpu limit"
        );
        assert!(
            host["PidsLimit"].as_i64().unwrap_or(0) > 0,
            "{service} pids limit"
        );
        assert_eq!(host["RestartPolicy"]["Name"], "unless-stopped");
        assert_eq!(host["LogConfig"]["Config"]["max-size"], "10m");
        assert!(
            c["Config"]["Healthcheck"]["Test"].is_array(),
            "{service} health check"
        );
        let ports = &host["PortBindings"];
        if service == "db" {
            assert!(
                ports.is_null() || ports.as_object().is_some_and(|m| m.is_empty()),
                "db is not published: {ports}"
            );
            for net in c["NetworkSettings"]["Networks"]
                .as_object()
                .expect("networks")
                .keys()
            {
                let internal = docker(&["network", "inspect", "--format", "{{.Internal}}", net]);
                assert_eq!(internal, "true", "db's network {net} is internal");
            }
        } else if service == "edge" {
            // The edge publishes the apps' ports, each on 127.0.0.1 only.
            let bindings = ports.as_object().expect("the edge publishes ports");
            assert_eq!(bindings.len(), 2, "one port per app: {ports}");
            for b in bindings.values() {
                assert_eq!(b[0]["HostIp"], "127.0.0.1", "edge binds 127.0.0.1: {ports}");
            }
        } else {
            assert!(
                ports.is_null() || ports.as_object().is_some_and(|m| m.is_empty()),
                "{service} publishes nothing: the edge does: {ports}"
            );
        }
        if service != "db" {
            // The root filesystem is read-only for the apps and the edge.
            let path = if service == "edge" {
                "/etc/intruder"
            } else {
                "/app/intruder"
            };
            let write = std::process::Command::new("docker")
                .args(["exec", id, "touch", path])
                .output()
                .expect("docker exec");
            assert!(
                !write.status.success(),
                "{service} could write its root filesystem"
            );
            assert!(
                String::from_utf8_lossy(&write.stderr).contains("Read-only file system"),
                "{}",
                String::from_utf8_lossy(&write.stderr)
            );
        }
    }

    // The database answers a PostgreSQL handshake on its network, and not from the host.
    let db_ip = docker(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &ids["db"],
    ]);
    let probe = format!(
        "import socket; s = socket.create_connection(('{db_ip}', 5432), timeout=3); \
         s.sendall(bytes([0, 0, 0, 8, 4, 210, 22, 47])); print(s.recv(1).decode())"
    );
    let inside = docker(&["exec", &ids["greeter"], "python3", "-c", &probe]);
    assert_eq!(
        inside, "N",
        "the handshake works from the greeter (SSL not offered)"
    );
    assert!(
        !postgres_answers(&db_ip),
        "the database must not answer from the host"
    );

    // The password appears nowhere it could leak from.
    let password = std::fs::read_to_string(stack.project.file(".stackgen/secrets/db_password"))
        .expect("secret");
    let file = stack.compose_file().display().to_string();
    let mut places = vec![(
        "docker compose config".to_string(),
        docker(&[
            "compose",
            "--project-name",
            &stack.name,
            "--file",
            &file,
            "config",
        ]),
    )];
    for (service, id) in &ids {
        places.push((
            format!("docker inspect {service}"),
            docker(&["inspect", id]),
        ));
        let logs = std::process::Command::new("docker")
            .args(["logs", id])
            .output()
            .expect("logs");
        places.push((
            format!("logs of {service}"),
            format!("{}{}", stdout(&logs), stderr(&logs)),
        ));
    }
    for image in stack.images() {
        let tag = image.split_whitespace().next().unwrap_or("").to_string();
        places.push((
            format!("docker history {tag}"),
            docker(&["history", "--no-trunc", &tag]),
        ));
        places.push((
            format!("docker image inspect {tag}"),
            docker(&["image", "inspect", &tag]),
        ));
    }
    for rel in ["generated/docker-compose.yml", "generated/stack.lock"] {
        places.push((rel.to_string(), stack.project.read(rel)));
    }
    assert!(places.len() >= 11);
    for (place, text) in places {
        assert!(
            !text.contains(password.trim()),
            "the password leaked into {place}"
        );
    }
}

/// Sends a PostgreSQL SSLRequest from the host; true when a PostgreSQL server answers it
/// (`N` or `S`). A bare TCP connect is not enough here: this machine's network accepts
/// connections to any address it routes out, and something there answers `HTTP/...`.
fn postgres_answers(ip: &str) -> bool {
    postgres_handshake(ip).is_some_and(|b| b == b'N' || b == b'S')
}

fn postgres_handshake(ip: &str) -> Option<u8> {
    use std::io::{Read, Write};
    use std::time::Duration;
    let addr: std::net::SocketAddr = format!("{ip}:5432").parse().expect("address");
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(&[0, 0, 0, 8, 4, 210, 22, 47]).ok()?;
    let mut answer = [0u8; 1];
    match s.read(&mut answer) {
        Ok(1) => Some(answer[0]),
        _ => None,
    }
}

/// `stackgen diff --json`, parsed: (exit code, service -> (action, reasons)).
fn plan_of(
    stack: &E2eStack,
) -> (
    i32,
    std::collections::BTreeMap<String, (String, Vec<String>)>,
) {
    let out = stack.project.stackgen(&["diff", "--exit-code", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("diff --json: {e}\n{}\n{}", stdout(&out), stderr(&out)));
    let services = report["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            let reasons = s["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|r| r.as_str().unwrap_or("").to_string())
                .collect();
            (
                s["service"].as_str().unwrap_or("").to_string(),
                (s["action"].as_str().unwrap_or("").to_string(), reasons),
            )
        })
        .collect();
    (out.status.code().unwrap_or(-1), services)
}

fn unchanged() -> (String, Vec<String>) {
    ("unchanged".into(), vec![])
}

/// Issue 5: the plan against what really runs, and status, changing nothing.
#[test]
fn diff_and_status_explain_every_change_and_touch_nothing() {
    let stack = E2eStack::new("plan");
    stack.up();
    let ids = stack.container_ids();
    let original_stack = stack.project.read("stack.toml");
    let original_app = stack.project.read("apps/hello/app.py");

    // Deployed as rendered: all unchanged, exit 0.
    let (code, plan) = plan_of(&stack);
    assert_eq!(code, 0);
    assert!(plan.values().all(|p| *p == unchanged()), "{plan:?}");
    let out = stack.project.stackgen(&["diff"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("generated/docker-compose.yml: no changes\n"),
        "{}",
        stdout(&out)
    );

    // One app file edited: that service, that file, a rebuild.
    stack
        .project
        .write("apps/hello/app.py", &format!("{original_app}\n# edited\n"));
    let before = stack.project.snapshot();
    let (code, plan) = plan_of(&stack);
    assert_eq!(code, 1);
    assert_eq!(
        plan["hello"],
        ("rebuild".to_string(), vec!["~ app.py".to_string()])
    );
    assert_eq!(plan["greeter"], unchanged());
    assert_eq!(plan["db"], unchanged());
    let why = stack.project.stackgen(&["why", "hello"]);
    assert_exit(&why, 0);
    assert!(
        stdout(&why).starts_with("~ hello        rebuild: replace (start-first)  "),
        "{}",
        stdout(&why)
    );
    assert!(
        stdout(&why).ends_with("\n    ~ app.py\n"),
        "{}",
        stdout(&why)
    );
    assert_eq!(
        stack.project.snapshot(),
        before,
        "diff and why write nothing"
    );
    stack.project.write("apps/hello/app.py", &original_app);

    // An environment variable changed: a recreate naming the key.
    stack.project.edit_stack(|t| {
        t.replace(
            "PGDATABASE = \"app\",",
            "PGDATABASE = \"app\", GREETER_MODE = \"loud\",",
        )
    });
    let (_, plan) = plan_of(&stack);
    assert_eq!(
        plan["greeter"],
        (
            "recreate".to_string(),
            vec!["environment.GREETER_MODE".to_string()]
        )
    );
    assert_eq!(plan["hello"], unchanged());

    // A service added and one removed.
    stack.project.write("stack.toml", &original_stack);
    stack
        .project
        .edit_stack(|t| t.replace("[services.hello]", "[services.hi]"));
    let (_, plan) = plan_of(&stack);
    assert_eq!(plan["hi"].0, "create");
    assert_eq!(plan["hello"].0, "remove");
    assert_eq!(plan["db"], unchanged());
    stack.project.write("stack.toml", &original_stack);
    assert_eq!(stack.container_ids(), ids, "diff touched no container");

    // A container stopped by hand: status and the plan both say so.
    docker(&["stop", "--time", "5", &ids["hello"]]);
    let status = stack.project.stackgen(&["status", "--json"]);
    assert_exit(&status, 4);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&status)).expect("status json");
    let hello = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["service"] == "hello")
        .expect("hello row");
    assert_eq!(hello["state"], "exited");
    assert_eq!(hello["sync"], "unreachable", "it does not serve: exit 4");
    let (_, plan) = plan_of(&stack);
    assert_eq!(plan["hello"].0, "start");

    // A container started outside stackgen under the stack's project: an orphan.
    let image = stack.image_tags()["hello"].clone();
    docker(&[
        "run",
        "--detach",
        "--label",
        &format!("com.docker.compose.project={}", stack.name),
        "--label",
        "com.docker.compose.service=rogue",
        "--entrypoint",
        "sleep",
        &image,
        "300",
    ]);
    let status = stack.project.stackgen(&["status"]);
    assert_exit(&status, 4);
    let text = stdout(&status);
    let rogue = text
        .lines()
        .find(|l| l.starts_with("rogue "))
        .expect("rogue row");
    assert!(rogue.contains(" orphan "), "{rogue}");
    let (_, plan) = plan_of(&stack);
    assert_eq!(plan["rogue"].0, "remove");

    // `up` converges: the stopped one starts, the orphan goes; status is all in sync.
    stack.up();
    let status = stack.project.stackgen(&["status"]);
    assert_exit(&status, 0);
    assert_eq!(
        stdout(&status)
            .lines()
            .filter(|l| l.contains(" in sync"))
            .count(),
        4,
        "{}",
        stdout(&status)
    );
}
