//! Issue 6 end to end: generations, rollback, automatic rollback, the deploy lock, crash
//! safety, restart policies, and the data surviving all of it. Real engine, each test
//! under its own compose project, cleaned up by `E2eStack`'s drop.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{E2eStack, assert_exit, docker, http, stderr};

fn history(stack: &E2eStack) -> Vec<(u64, bool)> {
    let out = stack.project.stackgen(&["history", "--json"]);
    assert_exit(&out, 0);
    let rows: serde_json::Value = serde_json::from_str(&common::stdout(&out)).expect("json");
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["generation"].as_u64().expect("n"), r["current"] == true))
        .collect()
}

fn hello_url(stack: &E2eStack) -> String {
    let out = stack.project.stackgen(&["urls"]);
    assert_exit(&out, 0);
    common::stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("hello\t").map(str::to_string))
        .expect("hello url")
}

fn visits(url: &str) -> String {
    http("GET", &format!("{url}visits")).1
}

#[test]
fn a_failing_deploy_rolls_back_by_itself_and_keeps_the_data() {
    let stack = E2eStack::new("autorb");
    let (_, urls) = stack.up();
    http("POST", &format!("{}visits", urls["greeter"]));
    http("POST", &format!("{}visits", urls["greeter"]));
    assert_eq!(history(&stack), [(1, true)]);

    // Break the database's health check. A stateful service is replaced stop-first (a
    // broken app would be replaced start-first and simply removed, tests/zero_downtime.rs),
    // so this deploy switches something over and the automatic rollback is what saves it.
    stack.project.edit_stack(|t| {
        t.replace(
            "healthcheck = { interval = \"500ms\", start_period = \"120s\" }",
            "healthcheck = { command = [\"CMD\", \"false\"], interval = \"500ms\", start_period = \"1s\" }",
        )
    });
    let out = stack.project.stackgen(&["up"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("service `db` is not ready"), "{err}");
    assert!(
        err.contains("rolling back to generation 1 (the last good deploy)"),
        "{err}"
    );
    assert!(
        err.contains("rolled back to generation 1, which is healthy again"),
        "{err}"
    );
    assert!(
        err.contains("the rollback is done: generation 1 runs")
            && err.contains("revert or fix the change first"),
        "what to do next: {err}"
    );

    // The previous version answers, no new generation, the data is there.
    assert_eq!(
        http("GET", &hello_url(&stack)),
        (200, "Hello, world!".into())
    );
    assert_eq!(history(&stack), [(1, true)]);
    assert_eq!(visits(&urls["greeter"]), "2");
}

#[test]
fn the_first_deploy_has_nothing_to_roll_back_to() {
    let stack = E2eStack::new("firstrb");
    stack.project.edit_stack(|t| {
        t.replace(
            "build = \"apps/hello\"",
            "build = \"apps/hello\"\nhealthcheck = { path = \"/missing\", start_period = \"1s\" }",
        )
    });
    let out = stack.project.stackgen(&["up"]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("nothing to roll back to: this was the stack's first deploy"),
        "{}",
        stderr(&out)
    );
    assert!(history(&stack).is_empty());
}

#[test]
fn rollback_and_forward_again_build_nothing_and_keep_the_data() {
    let stack = E2eStack::new("rollback");
    let (_, urls) = stack.up();
    let app = stack.project.read("apps/hello/app.py");
    stack
        .project
        .write("apps/hello/app.py", &format!("{app}\n# version 2\n"));
    stack.up();
    assert_eq!(history(&stack), [(1, false), (2, true)]);
    let v2 = stack.image_tags()["hello"].clone();
    http("POST", &format!("{}visits", urls["greeter"]));
    let images = stack.images();

    let out = stack.project.stackgen(&["rollback"]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("building"), "{}", stderr(&out));
    assert_eq!(stack.images(), images, "rollback built nothing");
    assert_eq!(history(&stack), [(1, true), (2, false)]);
    let v1 = stack.image_tags()["hello"].clone();
    assert_ne!(v1, v2, "generation 1 runs its own image");
    assert_eq!(
        http("GET", &hello_url(&stack)),
        (200, "Hello, world!".into())
    );
    assert_eq!(visits(&urls["greeter"]), "1", "rows survive a rollback");

    let out = stack.project.stackgen(&["rollback", "2"]);
    assert_exit(&out, 0);
    assert_eq!(stack.image_tags()["hello"], v2);
    assert_eq!(stack.images(), images, "rolling forward built nothing");
    assert_eq!(history(&stack), [(1, false), (2, true)]);

    // down/up keeps the rows too.
    assert_exit(&stack.project.stackgen(&["down"]), 0);
    let (_, urls) = stack.up();
    assert_eq!(visits(&urls["greeter"]), "1");

    // No such generation: bad input.
    let out = stack.project.stackgen(&["rollback", "9"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).starts_with("error: rollback: there is no generation 9"));
}

fn spawn_up(stack: &E2eStack) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(stack.project.path())
        .arg("up")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stackgen")
}

#[test]
fn two_ups_at_once_take_turns_and_the_stack_ends_consistent() {
    let stack = E2eStack::new("lock");
    let a = spawn_up(&stack);
    let b = spawn_up(&stack);
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    assert_exit(&a, 0);
    assert_exit(&b, 0);
    let waited = [&a, &b]
        .iter()
        .filter(|o| stderr(o).contains("for the deploy lock, held by stackgen pid "))
        .count();
    assert_eq!(
        waited,
        1,
        "exactly one waited:\n{}\n---\n{}",
        stderr(&a),
        stderr(&b)
    );
    let status = stack.project.stackgen(&["status"]);
    assert_exit(&status, 0);
    assert_eq!(stack.container_ids().len(), 4);
    assert_eq!(
        history(&stack),
        [(1, true)],
        "the second up deployed the same thing: no new generation"
    );

    // A lock held elsewhere: `--lock-timeout 0` fails at once naming the holder, and
    // touches nothing; with a timeout it waits for the release, then deploys.
    let lock_path = common::lock_file(&stack.name);
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .expect("lock file");
    lock.lock().expect("take the lock");
    std::fs::write(&lock_path, "4242\n").expect("holder pid");
    let before = history(&stack);
    let out = stack.project.stackgen(&["up", "--lock-timeout", "0"]);
    assert_exit(&out, 3);
    assert_eq!(
        stderr(&out),
        "error: another stackgen (pid 4242) is deploying this stack; gave up waiting after 0s\n\
         hint: wait for it to finish, or raise `--lock-timeout`; a killed holder releases the lock by itself\n"
    );
    assert_eq!(history(&stack), before, "no generation recorded");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(lock);
    });
    let out = stack.project.stackgen(&["up", "--lock-timeout", "30"]);
    release.join().expect("release");
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("waiting up to 30s for the deploy lock, held by stackgen pid 4242"),
        "{}",
        stderr(&out)
    );
}

/// Issue 11: the lock belongs to the compose project, not the folder. Two checkouts of
/// one stack (same stack.toml, same secret) deploying at once take turns: exactly one
/// waits, for the other's pid, and both end up deployed.
#[test]
fn two_checkouts_of_one_stack_take_turns_for_the_lock() {
    let stack = E2eStack::new("twodirs");
    let other = common::TestProject::shipped();
    other.write("stack.toml", &stack.project.read("stack.toml"));
    let password = "samepasswordinbothcheckouts0123";
    for project in [&stack.project, &other] {
        project.write(".stackgen/secrets/db_password", password);
    }
    let spawn = |dir: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_stackgen"))
            .arg("--dir")
            .arg(dir)
            .arg("up")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stackgen")
    };
    let (a, b) = (spawn(stack.project.path()), spawn(other.path()));
    let (a_pid, b_pid) = (a.id(), b.id());
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    assert_exit(&a, 0);
    assert_exit(&b, 0);
    let waited_for = |out: &std::process::Output, pid: u32| {
        stderr(out).contains(&format!("for the deploy lock, held by stackgen pid {pid}"))
    };
    assert!(
        waited_for(&a, b_pid) ^ waited_for(&b, a_pid),
        "exactly one checkout waited for the other:\n{}\n---\n{}",
        stderr(&a),
        stderr(&b)
    );
    assert_eq!(stack.container_ids().len(), 4, "one stack, not two");
}

#[test]
fn kill_9_in_the_middle_of_a_deploy_then_up_converges() {
    let stack = E2eStack::new("crash");
    stack.up();
    let password = stack.project.read(".stackgen/secrets/db_password");
    for (round, delay_ms) in [(1, 300u64), (2, 1500), (3, 4000)] {
        let app = stack.project.read("apps/hello/app.py");
        stack
            .project
            .write("apps/hello/app.py", &format!("{app}\n# round {round}\n"));
        let mut child = spawn_up(&stack);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Every file is old or new, never partial: the next up converges.
        let (_, urls) = stack.up();
        assert_eq!(http("GET", &urls["hello"]), (200, "Hello, world!".into()));
        assert_exit(&stack.project.stackgen(&["render", "--check"]), 0);
        assert_eq!(
            stack.project.read(".stackgen/secrets/db_password"),
            password
        );
        assert_exit(&stack.project.stackgen(&["status"]), 0);
        let gens = history(&stack);
        assert!(
            gens.last().is_some_and(|g| g.1),
            "the newest generation is current"
        );
    }
}

#[test]
fn a_killed_app_container_is_restarted_by_its_restart_policy() {
    let stack = E2eStack::new("restart");
    stack.up();
    let id = stack.container_ids()["hello"].clone();
    let pid = docker(&["inspect", "--format", "{{.State.Pid}}", &id]);
    let killed = Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = docker(&[
            "inspect",
            "--format",
            "{{.RestartCount}} {{.State.Status}} {{.State.Health.Status}}",
            &id,
        ]);
        if state.starts_with("1 running healthy") || state.starts_with("2 running healthy") {
            break;
        }
        assert!(Instant::now() < deadline, "not back healthy: {state}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // An ephemeral host port is assigned afresh on restart: ask for the URL again.
    assert_eq!(
        http("GET", &hello_url(&stack)),
        (200, "Hello, world!".into())
    );
}
