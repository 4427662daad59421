//! Issue 8 end to end: the same stack.toml deployed to a single-node Docker Swarm through
//! a local registry (Debian's `docker-registry` on 127.0.0.1:5000). Fails, never skips,
//! when the engine or the registry is missing. Everything it sets up (swarm, registry,
//! stack, volumes, images) is taken down again by `SwarmGuard`, even on failure.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestProject, assert_exit, docker, http, repo, require_engine, stderr, stdout};

struct SwarmGuard {
    name: String,
    joined_here: bool,
    registry_state: std::path::PathBuf,
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["stack", "rm", &self.name])
            .output();
        // Wait for the stack's containers to go before removing what they used.
        let label = format!("label=com.docker.stack.namespace={}", self.name);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let out = Command::new("docker")
                .args(["ps", "-aq", "--filter", &label])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            if out.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        for list in [["volume", "ls"], ["network", "ls"]] {
            let ids = Command::new("docker")
                .args(list)
                .args(["-q", "--filter", &label])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for id in ids.split_whitespace() {
                let _ = Command::new("docker").args([list[0], "rm", id]).output();
            }
        }
        let _ = Command::new(repo().join("scripts/registry.sh"))
            .arg("stop")
            .arg(&self.registry_state)
            .output();
        if self.joined_here {
            let _ = Command::new("docker")
                .args(["swarm", "leave", "--force"])
                .output();
            // `swarm init` created it; leaving does not remove it.
            let _ = Command::new("docker")
                .args(["network", "rm", "docker_gwbridge"])
                .output();
        }
        common::remove_project(&self.name, &std::path::PathBuf::from("/nonexistent"));
        let _ = std::fs::remove_file(common::lock_file(&self.name));
        let tags = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        for tag in tags
            .lines()
            .filter(|t| t.contains(&format!("/{}/", self.name)))
        {
            let _ = Command::new("docker")
                .args(["rmi", "--force", "--no-prune", tag])
                .output();
        }
    }
}

fn swarm_urls(project: &TestProject, service: &str) -> Vec<String> {
    let out = project.stackgen(&["urls", "--target", "swarm"]);
    assert_exit(&out, 0);
    stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{service}\t")).map(str::to_string))
        .collect()
}

/// Retries a GET until it answers 200 (a task may still be binding its port).
fn answer(url: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = std::panic::catch_unwind(|| http("GET", url)).unwrap_or((0, String::new()));
        if got.0 == 200 || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_same_stack_deploys_to_a_swarm_rolls_forward_and_back() {
    require_engine();
    let name = format!("sgswarm-{}", std::process::id());
    let registry_state = std::env::temp_dir().join(format!("stackgen-registry-{name}"));
    let active = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]) == "active";
    let _guard = SwarmGuard {
        name: name.clone(),
        joined_here: !active,
        registry_state: registry_state.clone(),
    };
    if !active {
        docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    }
    let node = docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    docker(&["node", "update", "--label-add", "stackgen.db=true", &node]);
    let reg = Command::new(repo().join("scripts/registry.sh"))
        .arg("start")
        .arg(&registry_state)
        .output()
        .expect("registry.sh");
    assert!(
        reg.status.success(),
        "the local registry must start: {}",
        stderr(&reg)
    );

    let project = TestProject::shipped();
    project.edit_stack(|t| {
        t.replace("name = \"stackgen\"", &format!("name = \"{name}\""))
            .replace("publish = 8081", "publish = 0\nreplicas = 2")
            .replace("publish = 8082", "publish = 0")
    });

    // Push: everything the first time, nothing the second. Issue 24: building and
    // pushing never run compose, so a docker CLI without the Compose plugin does.
    let (_no_compose_dir, no_compose) = common::docker_without_compose();
    let no_compose = [("STACKGEN_DOCKER", no_compose.as_os_str())];
    let out = project.stackgen_with(&["push"], &no_compose);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("3 pushed, 0 already in 127.0.0.1:5000"),
        "{}",
        stderr(&out)
    );
    let out = project.stackgen(&["push"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("0 pushed, 3 already in 127.0.0.1:5000"),
        "{}",
        stderr(&out)
    );

    // Deploy: replicas as declared, both apps answer from every task.
    let out = project.stackgen(&["up", "--target", "swarm"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("hello        2/2 running"),
        "{}",
        stderr(&out)
    );
    let hellos = swarm_urls(&project, "hello");
    assert_eq!(hellos.len(), 2, "one URL per hello task: {hellos:?}");
    for url in &hellos {
        assert_eq!(answer(url), (200, "Hello, world!".into()), "{url}");
    }
    let greeter = swarm_urls(&project, "greeter");
    assert_eq!(answer(&greeter[0]), (200, "Hello, world!".into()));
    let order = docker(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}}",
        &format!("{name}_hello"),
    ]);
    assert_eq!(order, "start-first rollback");
    let db_order = docker(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.UpdateConfig.Order}}",
        &format!("{name}_db"),
    ]);
    assert_eq!(db_order, "stop-first");

    // status and diff read the swarm stack: all in sync, nothing to do.
    let out = project.stackgen(&["status", "--target", "swarm"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out).matches(" in sync").count(),
        3,
        "{}",
        stdout(&out)
    );
    let out = project.stackgen(&["diff", "--target", "swarm", "--exit-code"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("generated/stack.yml: no changes\n"),
        "{}",
        stdout(&out)
    );

    // A changed app: the plan names it and its file, then it rolls out (start-first)
    // to a new content-tagged image.
    let app = project.read("apps/hello/app.py");
    project.write("apps/hello/app.py", &format!("{app}\n# v2\n"));
    let out = project.stackgen(&["why", "hello", "--target", "swarm"]);
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
    let out = project.stackgen(&["up", "--target", "swarm"]);
    assert_exit(&out, 0);
    let image_of = || {
        docker(&[
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
    assert!(
        v2.starts_with(&format!("127.0.0.1:5000/{tag}")),
        "{v2} runs {tag}"
    );

    // A broken app: Swarm's own rollback brings v2 back, and it keeps answering.
    project.write(
        "apps/hello/app.py",
        &app.replace(
            "return Response(\"Hello, world!\", mimetype=\"text/plain\")",
            "raise RuntimeError(\"broken on purpose\")",
        ),
    );
    let out = project.stackgen(&["up", "--target", "swarm"]);
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
    for url in swarm_urls(&project, "hello") {
        assert_eq!(answer(&url), (200, "Hello, world!".into()), "{url}");
    }

    // Issue 24: `down --target swarm` is `docker stack rm`, so it needs no Compose.
    let out = project.stackgen_with(&["down", "--target", "swarm"], &no_compose);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!("stack `{name}` is removed from the swarm")),
        "{}",
        stderr(&out)
    );
    let label = format!("label=com.docker.stack.namespace={name}");
    assert_eq!(
        docker(&["service", "ls", "-q", "--filter", &label]),
        "",
        "no service of the stack is left"
    );
}
