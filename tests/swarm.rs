//! Issue 8 end to end, on three nodes (issue 27): the same stack.toml deployed to a
//! three-node Docker Swarm of engines in network namespaces (`scripts/nodes.sh`, the rig of
//! `just nodes up`), the images built on the host's engine and pushed to the rig's
//! registry, the stack deployed through the manager. Fails, never skips, when the engine,
//! root or the registry is missing. The host engine's swarm state is never touched, and a
//! pair of containers on it must still resolve each other afterwards. Everything the test
//! sets up is taken down by `Nodes` when it is dropped, even on failure.

mod common;

use common::nodes::{HostNeighbours, HostProject, Nodes};
use common::{TestProject, answer, assert_exit, docker, require_engine, stderr, stdout};

fn swarm_urls(project: &TestProject, nodes: &Nodes, service: &str) -> Vec<String> {
    let out = nodes.stackgen(project, 1, &["urls", "--target", "swarm"], &[]);
    assert_exit(&out, 0);
    stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{service}\t")).map(str::to_string))
        .collect()
}

/// The rows of the greeter's tables, as one line (a count and a digest of each).
fn rows(nodes: &Nodes, name: &str) -> String {
    let db = db_container(nodes, name);
    let sql = "SELECT (SELECT count(*) || ' ' || md5(string_agg(id || message, ',' ORDER BY id)) \
               FROM greetings) || ' ' || (SELECT count || '' FROM visits WHERE id = 1)";
    nodes.docker(
        2,
        &[
            "exec", &db, "psql", "-qAt", "-U", "app", "-d", "app", "-c", sql,
        ],
    )
}

/// The running container of the stack's database on node 2.
fn db_container(nodes: &Nodes, name: &str) -> String {
    nodes.docker(
        2,
        &[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={name}_db"),
        ],
    )
}

/// Waits up to `secs` for `url` to answer 200; how long it took.
fn answers_again(url: &str, secs: u64, what: &dyn Fn() -> String) -> std::time::Duration {
    let started = std::time::Instant::now();
    while answer(url).0 != 200 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(secs),
            "{url} did not answer again within {secs}s: {}",
            what()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    started.elapsed()
}

/// Issue 27, section 3: the database goes away, twice. First its container is killed
/// (Swarm starts a new one on its node): the greeter's task is not replaced meanwhile
/// (its check is "ready once, then alive") and answers again by itself. Then its node
/// (node 2) loses power: `status` says the database and the greeter are unreachable;
/// when the node boots again, every row is there and the greeter answers again without
/// a deploy.
fn database_node_dies(nodes: &Nodes, project: &TestProject, name: &str) {
    let sg = |args: &[&str]| nodes.stackgen(project, 1, args, &[]);
    let insert =
        "INSERT INTO greetings (message) SELECT 'row ' || g FROM generate_series(1, 1000) g";
    nodes.docker(
        2,
        &[
            "exec",
            &db_container(nodes, name),
            "psql",
            "-q",
            "-U",
            "app",
            "-d",
            "app",
            "-c",
            insert,
        ],
    );
    let through = format!("//{}:", nodes.address(1));
    let greeter = swarm_urls(project, nodes, "greeter")
        .into_iter()
        .find(|u| u.contains(&through))
        .expect("the greeter through node 1's edge");
    assert_eq!(common::http("POST", &format!("{greeter}visits")).0, 200);
    let before = rows(nodes, name);
    let greeter_tasks = || {
        nodes.docker(
            1,
            &[
                "service",
                "ps",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.ID}} {{.Node}}",
                &format!("{name}_greeter"),
            ],
        )
    };
    let tasks = greeter_tasks();

    // The database's container dies; Swarm runs a new one on its node.
    let old_db = db_container(nodes, name);
    nodes.docker(2, &["kill", &old_db]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let took = answers_again(&greeter, 120, &greeter_tasks);
    assert_ne!(
        db_container(nodes, name),
        old_db,
        "a new database container"
    );
    eprintln!("database container killed: the greeter answers again after {took:?}");
    assert_eq!(
        greeter_tasks(),
        tasks,
        "no task of the greeter was replaced"
    );
    assert_eq!(rows(nodes, name), before, "every row is there");

    // The database's node loses power.
    let out = nodes.script(&["kill", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(std::time::Duration::from_secs(25));
    let out = sg(&["status", "--target", "swarm"]);
    assert_exit(&out, 4);
    let line = |svc: &str| {
        stdout(&out)
            .lines()
            .find(|l| l.starts_with(&format!("{svc} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("db").contains("unreachable"), "{}", stdout(&out));
    assert!(line("greeter").contains("unreachable"), "{}", stdout(&out));
    // hello serves on the other nodes (it is drifted: `generated/` still holds the
    // broken change that was rolled back above).
    assert!(!line("hello").contains("unreachable"), "{}", stdout(&out));
    let out = nodes.script(&["restart", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let took = answers_again(&greeter, 180, &greeter_tasks);
    eprintln!("database node booted again: the greeter answers again after {took:?}");
    assert_eq!(rows(nodes, name), before, "every row is there");
}

#[test]
fn the_same_stack_deploys_to_three_nodes_rolls_forward_and_back() {
    require_engine();
    let name = format!("sgswarm-{}", std::process::id());
    // The images it builds on the host's engine, removed when the test ends.
    let _host_images = HostProject(name.clone());
    let host_swarm = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    let neighbours = HostNeighbours::start(&format!("{name}-dns"), "debian:bookworm-slim");
    let nodes = Nodes::up("sgt", 98, 5001);
    let reg = nodes.registry.clone();
    // The greeter keeps off the database's node, which loses power at the end.
    let project = nodes.swarm_project(&name, |t| {
        t.replace("publish = 8081", "publish = 8081\nreplicas = 2")
            .replace(
                "publish = 8082",
                "publish = 8082\nplacement = [\"node.labels.stackgen.db != true\"]",
            )
    });
    let sg = |args: &[&str]| nodes.stackgen(&project, 1, args, &[]);
    let manager = |args: &[&str]| nodes.docker(1, args);

    // Push: everything the first time, nothing the second. Issue 24: building and
    // pushing never run compose, so a docker CLI without the Compose plugin does.
    let (_no_compose_dir, no_compose) = common::docker_without_compose();
    let no_compose = [("STACKGEN_DOCKER", no_compose.as_os_str())];
    let out = nodes.stackgen(&project, 1, &["push"], &no_compose);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!("4 pushed, 0 already in {reg}")),
        "{}",
        stderr(&out)
    );
    let out = sg(&["push"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!("0 pushed, 4 already in {reg}")),
        "{}",
        stderr(&out)
    );

    // Deploy: replicas as declared, the edge on every node; both apps answer through
    // each node's edge, at the node's address; the database on its labelled node.
    let out = sg(&["up", "--target", "swarm"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("hello        2/2 running"),
        "{}",
        stderr(&out)
    );
    let hellos = swarm_urls(&project, &nodes, "hello");
    assert_eq!(hellos.len(), 3, "one URL per node's edge: {hellos:?}");
    let node_addresses: Vec<String> = (1..=3).map(|i| nodes.address(i)).collect();
    for url in &hellos {
        assert!(
            node_addresses
                .iter()
                .any(|a| url.starts_with(&format!("http://{a}:"))),
            "{url} is a node's address"
        );
        assert_eq!(answer(url), (200, "Hello, world!".into()), "{url}");
    }
    let db_node = manager(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}}",
        &format!("{name}_db"),
    ]);
    assert_eq!(
        db_node,
        nodes.name(2),
        "the database runs on its labelled node"
    );
    // Its init SQL is a swarm config, not a host path (the greeter's answer comes from
    // the table it makes).
    let stack_file = project.read("generated/stack.yml");
    assert!(
        !stack_file.contains("type: bind")
            && stack_file.contains("target: \"/docker-entrypoint-initdb.d/01-schema.sql\""),
        "no host path on a node:\n{stack_file}"
    );
    let greeter = swarm_urls(&project, &nodes, "greeter");
    assert_eq!(answer(&greeter[0]), (200, "Hello, world!".into()));
    let order = manager(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}}",
        &format!("{name}_hello"),
    ]);
    assert_eq!(order, "start-first rollback");
    let db_order = manager(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.UpdateConfig.Order}}",
        &format!("{name}_db"),
    ]);
    assert_eq!(db_order, "stop-first");

    // A no-op `up` is proven from the services' specs and the generation, through the
    // manager's API, without `docker stack deploy`.
    let out = sg(&["up", "--target", "swarm"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(": nothing changed (4 services checked in ")
            && !stderr(&out).contains("Updating service"),
        "{}",
        stderr(&out)
    );

    // status and diff read the swarm stack: all in sync, each task's node shown,
    // nothing to do.
    let out = sg(&["status", "--target", "swarm"]);
    assert_exit(&out, 0);
    let db_row = stdout(&out)
        .lines()
        .find(|l| l.starts_with("db "))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        db_row.contains(&format!("1/1 running on {}", nodes.name(2))),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        stdout(&out).matches(" in sync").count(),
        4,
        "{}",
        stdout(&out)
    );
    let out = sg(&["diff", "--target", "swarm", "--exit-code"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("generated/stack.yml: no changes\n"),
        "{}",
        stdout(&out)
    );

    // backup and restore on the swarm, with the database on node 2: a one-shot
    // container on the stack's network, from the manager.
    let out = sg(&["backup", "--target", "swarm"]);
    assert_exit(&out, 0);
    let backup = stdout(&out).trim().to_string();
    assert!(backup.ends_with("-gen1.sql.gz"), "{backup}");
    let db = nodes.docker(
        2,
        &[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={name}_db"),
        ],
    );
    let change = "UPDATE greetings SET message = 'changed'";
    nodes.docker(
        2,
        &[
            "exec", &db, "psql", "-q", "-U", "app", "-d", "app", "-c", change,
        ],
    );
    assert_eq!(answer(&greeter[0]).1, "changed");
    let out = sg(&["restore", "--target", "swarm", "--yes", &backup]);
    assert_exit(&out, 0);
    assert_eq!(
        answer(&greeter[0]),
        (200, "Hello, world!".into()),
        "{}",
        stderr(&out)
    );

    // A changed app: the plan names it and its file, then it rolls out (start-first)
    // to a new content-tagged image.
    let app = project.read("apps/hello/app.py");
    project.write("apps/hello/app.py", &format!("{app}\n# v2\n"));
    let out = sg(&["why", "hello", "--target", "swarm"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("~ hello        rebuild  "),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).ends_with("\n    ~ app.py\n"),
        "{}",
        stdout(&out)
    );
    let out = sg(&["up", "--target", "swarm"]);
    assert_exit(&out, 0);
    let image_of = || {
        manager(&[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            &format!("{name}_hello"),
        ])
    };
    let v2 = image_of();
    let lock = project.read("generated/stack.lock");
    let v2_hash: serde_json::Value = serde_json::from_str(&lock).expect("lock");
    let tag = v2_hash["services"]["hello"]["image"].as_str().expect("tag");
    assert!(v2.starts_with(&format!("{reg}/{tag}")), "{v2} runs {tag}");

    // A broken app: Swarm's own rollback brings v2 back, and it keeps answering.
    project.write(
        "apps/hello/app.py",
        &app.replace(
            "return Response(\"Hello, world!\", mimetype=\"text/plain\")",
            "raise RuntimeError(\"broken on purpose\")",
        ),
    );
    let out = sg(&["up", "--target", "swarm"]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("Swarm rolled `hello` back"),
        "{}",
        stderr(&out)
    );
    // ...and stackgen deploys the last good generation again, as on one host.
    assert!(
        stderr(&out).contains("; rolled back to generation 2, which is healthy again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(image_of(), v2, "the previous image runs again");
    for url in swarm_urls(&project, &nodes, "hello") {
        assert_eq!(answer(&url), (200, "Hello, world!".into()), "{url}");
    }

    database_node_dies(&nodes, &project, &name);

    // Issue 24: `down --target swarm` is `docker stack rm`, so it needs no Compose.
    let out = nodes.stackgen(&project, 1, &["down", "--target", "swarm"], &no_compose);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!("stack `{name}` is removed from the swarm")),
        "{}",
        stderr(&out)
    );
    let label = format!("label=com.docker.stack.namespace={name}");
    assert_eq!(
        manager(&["service", "ls", "-q", "--filter", &label]),
        "",
        "no service of the stack is left"
    );

    // The host's engine: its swarm state as before, its containers still resolve their
    // neighbours once the nodes are gone.
    drop(nodes);
    let _ = std::fs::remove_file(common::lock_file(&name));
    assert_eq!(
        docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]),
        host_swarm,
        "the host engine's swarm state is untouched"
    );
    assert!(
        neighbours.resolve().is_ok(),
        "a host container resolves its neighbour after the swarm test: {:?}",
        neighbours.resolve()
    );
}
