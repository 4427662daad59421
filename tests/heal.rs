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

/// GETs `url` every 50 ms on a new connection until told to stop; returns how many
/// failed (or took over a second) and when the last such was, relative to the start.
fn request_loop(
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(u32, Option<Duration>)> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let (mut failed, mut last) = (0, None);
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            // An answer that took over a second is the outage too: the edge may hold a
            // request through its connect retries until the container is back.
            let asked = Instant::now();
            if http("GET", &url).0 != 200 || asked.elapsed() > Duration::from_secs(1) {
                failed += 1;
                last = Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (failed, last)
    })
}

/// The log at `path` once it holds `text`, or as it is after `limit`.
fn log_says(path: &std::path::Path, text: &str, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        let said = std::fs::read_to_string(path).expect("the log");
        if said.contains(text) || started.elapsed() > limit {
            return said;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits up to `limit` for `url` to answer 200; how long that took.
fn serves_within(url: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if http("GET", url).0 == 200 {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn watch_heals_within_two_intervals_keeps_off_a_held_lock_and_stops_on_sigterm() {
    use std::process::{Command, Stdio};
    let stack = E2eStack::new("watch");
    let (_, urls) = stack.up();
    let printed = stack
        .project
        .stackgen(&["watch", "--print", "--interval", "2"]);
    assert_exit(&printed, 0);
    let unit = stdout(&printed);
    assert!(
        unit.contains(&format!(
            "--dir \"{}\" watch --interval 2",
            stack.project.path().display()
        )),
        "{unit}"
    );
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(stack.project.path())
        .args(["watch", "--interval", "2"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("the log"))
        .spawn()
        .expect("run stackgen watch");
    std::thread::sleep(Duration::from_secs(1));

    // 1. hello stopped (the edge answers 503 at once): a request loop sees the outage,
    //    and its end within two intervals and the heal.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let requests = request_loop(urls["hello"].clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    docker(&["stop", "--time", "1", &stack.container_ids()["hello"]]);
    std::thread::sleep(Duration::from_millis(500));
    serves_within(&urls["hello"], Duration::from_secs(40)).expect("healed by watch");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (failed, outage) = requests.join().expect("the request loop");
    // The app serves before the heal's deploy has read every service back.
    let said = log_says(log.path(), "is healed", Duration::from_secs(60));
    assert!(failed > 0, "the loop saw the outage: {said}");
    assert!(said.contains("found: `hello` is unreachable"), "{said}");
    assert!(said.contains("is healed"), "{said}");
    let outage = outage.expect("a last failure");
    assert!(
        outage < Duration::from_secs(2 * 2 + 12),
        "the outage ended within two intervals and the heal: the last failure {outage:?} in\n{said}"
    );

    // 2. The lock held by another stackgen: watch sees the fault, says it does not act,
    //    and heals once the lock is free.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(common::lock_file(&stack.name))
        .expect("the lock file");
    lock.lock().expect("take the lock");
    docker(&["pause", &stack.container_ids()["greeter"]]);
    std::thread::sleep(Duration::from_secs(6));
    assert_ne!(
        http("GET", &urls["greeter"]).0,
        200,
        "not healed under a held lock"
    );
    let said = log_says(
        log.path(),
        "another stackgen holds the deploy lock",
        Duration::from_secs(20),
    );
    assert!(
        said.contains("another stackgen holds the deploy lock; not acting"),
        "{said}"
    );
    drop(lock);
    serves_within(&urls["greeter"], Duration::from_secs(30)).expect("healed once the lock is free");

    // 3. SIGTERM: it stops cleanly, exit 0.
    let pid = watch.id().to_string();
    Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .expect("kill");
    let status = watch.wait().expect("wait for watch");
    let said = std::fs::read_to_string(log.path()).expect("the log");
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(said.trim_end().ends_with("watch: stopped"), "{said}");
}
