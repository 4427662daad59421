//! Deploys that drop no request (issue 12): the shipped stack behind its edge proxy, a
//! bounded request loop on loopback against an app through the edge, and every kind of
//! deploy the loop must not notice: a good change of the app, an app that exits on start,
//! one that starts but never passes its health check, and a change of a route. Then the
//! database, which stays stop-first, and its data.
//!
//! Real engine, real HAProxy, real requests; fails (never skips) without the engine.

mod common;

use common::load::{Load, Report};
use common::{E2eStack, assert_exit, docker, http, stderr, stdout};

/// Runs `stackgen up` under the load loop against `url`; returns its output and the
/// loop's report.
fn up_under_load(stack: &E2eStack, url: &str) -> (std::process::Output, Report) {
    let load = Load::start(url);
    let out = stack.project.stackgen(&["up"]);
    // Requests keep coming a moment after the deploy, while the old container stops.
    std::thread::sleep(std::time::Duration::from_secs(2));
    (out, load.finish())
}

#[track_caller]
fn assert_no_failed_request(case: &str, report: &Report, out: &std::process::Output) {
    assert!(report.ok > 20, "{case}: the loop ran ({report:?})");
    assert_eq!(
        report.failed,
        0,
        "{case}: {} of {} requests failed, longest outage {:?}, first errors {:?}\n{}",
        report.failed,
        report.ok + report.failed,
        report.longest_outage,
        report.errors,
        stderr(out)
    );
}

fn generations(stack: &E2eStack) -> usize {
    let out = stack.project.stackgen(&["history"]);
    assert_exit(&out, 0);
    stdout(&out).lines().skip(1).count()
}

/// Appended to the app under test: a request that takes 25 s, longer than the build and
/// the new container's start, so it is still in flight when the edge switches over.
const SLOW: &str = "

@app.get(\"/slow\")
def slow():
    import time

    time.sleep(25)
    return Response(\"slow done\", mimetype=\"text/plain\")
";

/// An app that starts and answers, but never healthy: 503 on every path.
const NEVER_HEALTHY: &str = "from flask import Flask, Response

app = Flask(__name__)


@app.get(\"/\")
def index():
    return Response(\"not yet\", status=503)
";

#[test]
fn app_deploys_and_route_changes_drop_no_request() {
    let stack = E2eStack::new("zero");
    // A health check that gives up soon, so the never-healthy case fails in seconds.
    stack.project.edit_stack(|t| {
        t.replace(
            "build = \"apps/hello\"",
            "build = \"apps/hello\"\nhealthcheck = { start_period = \"2s\" }",
        )
    });
    // A slow endpoint beside the app's own, to see an in-flight request drained.
    let app = format!("{}{SLOW}", stack.project.read("apps/hello/app.py"));
    stack.project.write("apps/hello/app.py", &app);
    let (_, urls) = stack.up();
    let url = urls["hello"].clone();
    assert_eq!(http("GET", &url), (200, "Hello, world!".into()));

    // The apps publish nothing; the edge publishes their ports and not its admin API.
    let ids = stack.container_ids();
    for app in ["hello", "greeter"] {
        let ports = docker(&[
            "inspect",
            "--format",
            "{{json .NetworkSettings.Ports}}",
            &ids[app],
        ]);
        assert!(
            !ports.contains("HostPort"),
            "{app} publishes nothing: {ports}"
        );
    }
    let edge_ports = docker(&["port", &ids["edge"]]);
    assert_eq!(
        edge_ports.lines().count(),
        2,
        "one host port per app: {edge_ports}"
    );
    assert!(
        !edge_ports.contains("2019"),
        "the admin API is not published: {edge_ports}"
    );

    // 1. A good change of the app: replaced start-first, said so before the deploy.
    stack
        .project
        .write("apps/hello/app.py", &format!("{app}# v2\n"));
    let diff = stack.project.stackgen(&["why", "hello"]);
    assert!(
        stdout(&diff).contains("rebuild: replace (start-first)"),
        "{}",
        stdout(&diff)
    );
    // A request that is in flight when the edge switches over: the old container is
    // stopped only once it is answered.
    let slow_url = format!("{url}slow");
    let slow = std::thread::spawn(move || http("GET", &slow_url));
    let (out, report) = up_under_load(&stack, &url);
    assert_exit(&out, 0);
    assert_no_failed_request("a good deploy", &report, &out);
    assert_eq!(
        slow.join().unwrap(),
        (200, "slow done".into()),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("drain timeout"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 replaced start-first"),
        "{}",
        stderr(&out)
    );
    let serving = stack.container_ids()["hello"].clone();
    assert_ne!(serving, ids["hello"], "hello runs a new container");
    assert_eq!(stack.container_ids().len(), 4, "the old container is gone");
    // The compose file describes what runs: plain compose on it changes nothing.
    let file = stack.compose_file().display().to_string();
    let compose = [
        "compose",
        "-p",
        &stack.name,
        "-f",
        &file,
        "up",
        "-d",
        "--wait",
    ];
    docker(&compose);
    assert_eq!(
        stack.container_ids()["hello"],
        serving,
        "compose agrees with what runs"
    );
    let recorded = generations(&stack);

    // 2. A version that exits on start, and 3. one that never passes its health check:
    // each is removed, the old container keeps serving, nothing is recorded. The same
    // deploy also changes hello's route to a host name the load does not send: had the
    // failed deploy left the new routes on the edge, the load would see 404s.
    let stack_before = stack.project.read("stack.toml");
    let never_ready = [
        ("exits on start", "import sys\nsys.exit(3)\n".to_string()),
        ("never healthy", NEVER_HEALTHY.to_string()),
    ];
    for (case, text) in never_ready {
        stack.project.write("apps/hello/app.py", &text);
        stack.project.write(
            "stack.toml",
            &stack_before.replace(
                "build = \"apps/hello\"",
                "build = \"apps/hello\"\nhosts = [\"hello.test\"]",
            ),
        );
        let (out, report) = up_under_load(&stack, &url);
        assert_exit(&out, 3);
        assert_no_failed_request(case, &report, &out);
        let err = stderr(&out);
        assert!(
            err.contains("the new `hello` is not ready")
                && err.contains("the old container kept serving"),
            "{case}: {err}"
        );
        assert!(
            !err.contains("rolling back"),
            "{case}: nothing to roll back: {err}"
        );
        assert_eq!(
            stack.container_ids()["hello"],
            serving,
            "{case}: the old container serves"
        );
        assert_eq!(
            stack.container_ids().len(),
            4,
            "{case}: the new container is removed"
        );
        assert_eq!(
            generations(&stack),
            recorded,
            "{case}: no generation is recorded"
        );
    }
    stack.project.write("stack.toml", &stack_before);
    stack
        .project
        .write("apps/hello/app.py", &format!("{app}# v2\n"));
    // Reverted and rendered (the failed deploys wrote their generated/), the files are
    // what runs again: `up` proves it without compose. The failed deploys wrote their
    // routes for the edge to read at start, and put the running ones back.
    assert_exit(&stack.project.stackgen(&["render"]), 0);
    let noop = stack.project.stackgen(&["up"]);
    assert_exit(&noop, 0);
    assert!(
        stderr(&noop).contains("nothing changed"),
        "after the failed deploys are reverted, `up` is a no-op: {}",
        stderr(&noop)
    );

    // 4. A change of a route: a graceful reload of the edge, no container replaced.
    stack.project.edit_stack(|t| {
        t.replace(
            "build = \"apps/hello\"",
            "build = \"apps/hello\"\nhosts = [\"127.0.0.1\", \"hello.test\"]",
        )
    });
    let plan = stack.project.stackgen(&["diff"]);
    assert!(
        stdout(&plan).contains("~ edge         reload"),
        "{}",
        stdout(&plan)
    );
    let before = stack.container_ids();
    let (out, report) = up_under_load(&stack, &url);
    assert_exit(&out, 0);
    assert_no_failed_request("a route change", &report, &out);
    assert_eq!(
        stack.container_ids(),
        before,
        "a route change replaces no container"
    );
    // The route took: a host name that no route names gets the edge's 404.
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let other = common::http_with_host(&format!("127.0.0.1:{port}"), "nobody.test");
    assert_eq!(other.0, 404, "{other:?}");
    let status = stack.project.stackgen(&["status"]);
    assert_exit(&status, 0);
}

#[test]
fn the_database_is_still_replaced_stop_first_and_keeps_its_data() {
    let stack = E2eStack::new("dbstop");
    let (_, urls) = stack.up();
    let visits = format!("{}visits", urls["greeter"]);
    assert_eq!(http("POST", &visits), (200, "1".into()));
    let db = stack.container_ids()["db"].clone();

    stack.project.edit_stack(|t| {
        t.replace(
            "POSTGRES_DB = \"app\",",
            "POSTGRES_DB = \"app\", TZ = \"UTC\",",
        )
    });
    let why = stack.project.stackgen(&["why", "db"]);
    assert!(
        stdout(&why).contains("recreate: recreate (stop-first: downtime expected)"),
        "{}",
        stdout(&why)
    );
    let (out, _) = stack.up();
    assert!(
        !stderr(&out).contains("replaced start-first"),
        "{}",
        stderr(&out)
    );
    assert_ne!(stack.container_ids()["db"], db, "db has a new container");
    assert_eq!(
        http("GET", &visits),
        (200, "1".into()),
        "the row written before survives"
    );
}
