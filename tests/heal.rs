//! Real faults on the real engine, under a running stack: an app container taken off its
//! network, an app container paused, an app's main process killed, the database
//! stopped. For each, `status` exits 4 naming the service and the reason (asked the way
//! users reach it, not the way the container's own health check asks), `up` or `heal`
//! brings every URL back to `Hello, world!` without `down`, and the next `up` is the
//! no-op again.

mod common;

use std::time::{Duration, Instant};

use common::{E2eStack, assert_exit, docker, http, stderr, stdout};

/// `status --json`: its exit code and the rows by service.
fn status(stack: &E2eStack) -> (i32, serde_json::Value) {
    let out = stack.project.stackgen(&["status", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("status json");
    (out.status.code().unwrap_or(-1), rows)
}

fn row<'a>(rows: &'a serde_json::Value, service: &str) -> &'a serde_json::Value {
    rows.as_array()
        .expect("rows")
        .iter()
        .find(|r| r["service"] == service)
        .unwrap_or_else(|| panic!("no row for {service}: {rows}"))
}

/// `status` says `service` does not serve, in state `state` with `reason` in its detail,
/// exits 4, and its table names both.
#[track_caller]
fn assert_reported(stack: &E2eStack, service: &str, state: &str, reason: &str) {
    let (code, rows) = status(stack);
    let r = row(&rows, service);
    assert_eq!(code, 4, "status exits 4: {rows:#}");
    assert_eq!(r["sync"], state, "{r:#}");
    let detail = r["detail"].as_str().unwrap_or("");
    assert!(detail.contains(reason), "`{reason}` in: {detail}");
    let table = stdout(&stack.project.stackgen(&["status"]));
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{service} ")))
        .expect("a table row");
    assert!(line.contains(state) && line.contains(reason), "{line}");
}

/// Both apps answer `Hello, world!` at their URLs, and `up` is a no-op.
#[track_caller]
fn assert_serves(stack: &E2eStack, urls: &std::collections::BTreeMap<String, String>) {
    for app in ["hello", "greeter"] {
        assert_eq!(
            http("GET", &urls[app]),
            (200, "Hello, world!".to_string()),
            "{app} at {}",
            urls[app]
        );
    }
    let out = stack.project.stackgen(&["up"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("nothing changed"),
        "the next up is the no-op: {}",
        stderr(&out)
    );
    let (code, rows) = status(stack);
    assert_eq!(code, 0, "status is clean again: {rows:#}");
}

/// `cmd` (`up` or `heal`), asserted to succeed, and what it said.
#[track_caller]
fn heal_with(stack: &E2eStack, cmd: &str) -> String {
    let out = stack.project.stackgen(&[cmd]);
    assert_exit(&out, 0);
    stderr(&out)
}

#[test]
fn each_fault_is_reported_by_status_and_healed_by_up_or_heal_without_down() {
    let stack = E2eStack::new("heal");
    let (_, urls) = stack.up();
    let ids = stack.container_ids();
    let (code, rows) = status(&stack);
    assert_eq!(code, 0, "{rows:#}");
    let probes = row(&rows, "hello")["probes"]
        .as_array()
        .expect("probes")
        .clone();
    assert_eq!(probes.len(), 2, "the URL and the container: {probes:?}");
    assert!(
        probes
            .iter()
            .all(|p| p["ok"] == true && p["ms"].is_number())
    );
    let said = heal_with(&stack, "heal");
    assert!(said.contains("nothing to heal"), "{said}");

    // 1. hello taken off the edge's network: its health check (inside) still passes.
    let frontend = format!("{}_frontend", stack.name);
    docker(&["network", "disconnect", &frontend, &ids["hello"]]);
    assert_reported(
        &stack,
        "hello",
        "unreachable",
        "not on the `frontend` network",
    );
    let said = heal_with(&stack, "up");
    assert!(
        said.contains("starting a new container"),
        "healed start-first: {said}"
    );
    assert_serves(&stack, &urls);
    assert_ne!(
        stack.container_ids()["hello"],
        ids["hello"],
        "a new container"
    );

    // 2. greeter paused: `heal` unpauses it, and only it.
    let ids = stack.container_ids();
    docker(&["pause", &ids["greeter"]]);
    assert_reported(&stack, "greeter", "unreachable", "is paused");
    let said = heal_with(&stack, "heal");
    assert!(said.contains("unpausing"), "{said}");
    assert_serves(&stack, &urls);
    assert_eq!(stack.container_ids(), ids, "nothing was replaced: {said}");

    // 3. hello's main process killed: the engine restarts it (a new process, perhaps a new
    //    address); while it comes back status says so; `up` heals what is left.
    docker(&["kill", "--signal", "KILL", &ids["hello"]]);
    let (code, rows) = status(&stack);
    let hello = row(&rows, "hello");
    assert_eq!(code, 4, "{rows:#}");
    assert!(
        ["restarting", "unreachable", "unhealthy"].contains(&hello["sync"].as_str().unwrap_or("")),
        "{hello:#}"
    );
    wait_until_running(&stack, "hello");
    heal_with(&stack, "up");
    assert_serves(&stack, &urls);

    // 4. The database stopped: the greeter cannot answer, status names the database.
    let ids = stack.container_ids();
    docker(&["stop", &ids["db"]]);
    assert_reported(&stack, "db", "unreachable", "is exited");
    let said = heal_with(&stack, "heal");
    assert!(said.contains("healing:"), "{said}");
    assert_serves(&stack, &urls);

    // 5. The database off its network, still healthy inside: attached again (a new
    //    container would be stop-first), and every row is still there.
    let visits = format!("{}visits", urls["greeter"]);
    let before = http("POST", &visits).1;
    let ids = stack.container_ids();
    let backend = format!("{}_backend", stack.name);
    docker(&["network", "disconnect", &backend, &ids["db"]]);
    assert_reported(&stack, "db", "unreachable", "not on the `backend` network");
    let said = heal_with(&stack, "heal");
    assert!(said.contains("attaching it again"), "{said}");
    assert_serves(&stack, &urls);
    assert_eq!(
        stack.container_ids()["db"],
        ids["db"],
        "the same database container"
    );
    let after: u64 = http("POST", &visits).1.parse().expect("a count");
    assert_eq!(
        after,
        before.parse::<u64>().expect("a count") + 1,
        "no row lost"
    );
}

/// Waits (up to 30 s) until the engine has `service`'s container running again.
fn wait_until_running(stack: &E2eStack, service: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let id = stack.container_ids()[service].clone();
        let state = docker(&["inspect", "--format", "{{.State.Status}}", &id]);
        if state.trim() == "running" || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
