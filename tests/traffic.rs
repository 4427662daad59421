//! Real traffic drops nothing (issue 25): the shipped stack plus a test-only app
//! (`tests/fixtures/traffic/`: keep-alive GETs, POSTs, a WebSocket echo, an SSE stream)
//! behind the edge, under `wrk` at 64 keep-alive connections as fast as this machine
//! goes (it never retries), with a WebSocket and an SSE stream open, across every kind
//! of deploy: a good one of the app under load, one of another app, one that exits on
//! start, one that never becomes healthy, a route change, an app added and removed.
//!
//! Real engine, real HAProxy, real clients; fails (never skips) without the engine.

mod common;

use std::time::Duration;

use common::traffic::{APP, Stream, StreamReport, Wrk, WrkReport, free_port, write_app};
use common::{E2eStack, assert_exit, docker, http, http_with_host, stderr};

/// wrk's connections: many, kept alive.
const CONNECTIONS: u32 = 64;

struct Case<'a> {
    stack: &'a E2eStack,
    url: String,
}

/// What one deploy under load saw.
struct Seen {
    out: std::process::Output,
    load: WrkReport,
    websocket: StreamReport,
    events: StreamReport,
}

impl Case<'_> {
    /// `stackgen up` under wrk (for `seconds`) against the traffic app, with a WebSocket
    /// and an SSE stream to `streams` opened before it and closed after wrk ends.
    fn up_under_load(&self, streams: &str, seconds: u32) -> Seen {
        let websocket = Stream::websocket(streams);
        let events = Stream::events(streams);
        let load = Wrk::start(&self.url, CONNECTIONS, seconds);
        std::thread::sleep(Duration::from_secs(1));
        let out = self.stack.project.stackgen(&["up"]);
        let load = load.finish();
        Seen {
            out,
            load,
            websocket: websocket.finish(),
            events: events.finish(),
        }
    }
}

#[track_caller]
fn assert_no_failed_request(case: &str, seen: &Seen) {
    let load = &seen.load;
    assert!(
        load.requests > 2_000 && load.posts > 500,
        "{case}: the load ran: {}",
        load.output
    );
    assert_eq!(
        load.failed,
        0,
        "{case}: {} of {} requests failed\n{}\n{}",
        load.failed,
        load.requests,
        load.output,
        stderr(&seen.out)
    );
}

/// A stream that stayed open and kept flowing, all on one container.
#[track_caller]
fn assert_untouched(case: &str, what: &str, report: &StreamReport, container: &str) {
    assert_eq!(report.ended, None, "{case}: the {what} was cut: {report:?}");
    assert_eq!(report.containers, [container], "{case}: the {what}");
    assert!(
        report.received > 20,
        "{case}: the {what} kept flowing: {report:?}"
    );
}

fn container_of(url: &str) -> String {
    let report = Stream::websocket(url);
    std::thread::sleep(Duration::from_millis(300));
    let report = report.finish();
    assert_eq!(report.ended, None, "a WebSocket to {url}: {report:?}");
    report.containers.first().cloned().expect("an echo")
}

#[test]
fn every_kind_of_deploy_drops_no_request_and_cuts_no_stream_it_should_keep() {
    let stack = E2eStack::new("traffic");
    let shared = free_port();
    write_app(&stack.project);
    stack.project.edit_stack(|text| {
        text.replace("wait_timeout = 120", "wait_timeout = 25")
            + &format!(
                "\n[services.traffic]\nkind = \"python-web\"\nbuild = \"traffic\"\nport = 8000\n\
                 publish = {shared}\ndrain_timeout = 6\nenvironment = {{ RELEASE = \"1\" }}\n"
            )
    });
    let (_, urls) = stack.up();
    let url = urls["traffic"].clone();
    assert_eq!(url, format!("http://127.0.0.1:{shared}/"));
    let hello = urls["hello"].clone();
    let case = Case {
        stack: &stack,
        url: url.clone(),
    };
    let first = container_of(&url);

    // 1. A good deploy of the app under load, with its own streams open: not one request
    //    fails; the old container keeps its WebSocket and stream until the drain timeout
    //    (6 s), then its stop closes them cleanly, and `up` says how many.
    stack
        .project
        .edit_stack(|t| t.replace("RELEASE = \"1\"", "RELEASE = \"2\""));
    let seen = case.up_under_load(&url, 16);
    assert_exit(&seen.out, 0);
    assert_no_failed_request("good deploy", &seen);
    assert!(
        stderr(&seen.out).contains("traffic: drain timeout (6s): 2 connections still open"),
        "up reports what the timeout closed: {}",
        stderr(&seen.out)
    );
    // A clean end: a close frame (1000 normal or 1001 going away), the stream's last event.
    for (what, report, ends) in [
        (
            "WebSocket",
            &seen.websocket,
            &["closed by the server: 1000", "closed by the server: 1001"][..],
        ),
        (
            "SSE stream",
            &seen.events,
            &["ended by the server (event: end)"][..],
        ),
    ] {
        assert_eq!(
            report.containers,
            [first.as_str()],
            "the old {what} stayed on the old container"
        );
        assert!(
            report.ended.as_deref().is_some_and(|e| ends.contains(&e)),
            "the {what} ended cleanly: {report:?}"
        );
        let after = report.ended_after.expect("when");
        assert!(
            after > Duration::from_secs(6),
            "not cut at the switch: {what} {after:?}"
        );
    }
    let second = container_of(&url);
    assert_ne!(second, first, "new connections go to the new container");

    // 2. A deploy of another app (hello): the traffic app's streams never notice.
    stack.project.write(
        "apps/hello/app.py",
        &(stack.project.read("apps/hello/app.py") + "\n# 2\n"),
    );
    let seen = case.up_under_load(&url, 14);
    assert_exit(&seen.out, 0);
    assert_no_failed_request("deploy of another app", &seen);
    assert_untouched(
        "deploy of another app",
        "WebSocket",
        &seen.websocket,
        &second,
    );
    assert_untouched("deploy of another app", "SSE stream", &seen.events, &second);
    assert_eq!(http("GET", &hello), (200, "Hello, world!".to_string()));

    // 3. and 4. Failed deploys of the app under load touch no connection at all.
    for (case_name, app, seconds) in [
        ("a deploy that exits on start", "raise SystemExit(3)\n", 14),
        (
            "a deploy that never becomes healthy",
            "from aiohttp import web\n\nasync def no(_r):\n    return web.Response(status=503)\n\n\
             app = web.Application()\napp.router.add_get(\"/\", no)\nweb.run_app(app, port=8000)\n",
            40,
        ),
    ] {
        stack.project.write("traffic/app.py", app);
        let seen = case.up_under_load(&url, seconds);
        assert_exit(&seen.out, 3);
        assert_no_failed_request(case_name, &seen);
        assert_untouched(case_name, "WebSocket", &seen.websocket, &second);
        assert_untouched(case_name, "SSE stream", &seen.events, &second);
    }
    stack.project.write("traffic/app.py", APP);
    let seen = case.up_under_load(&url, 12);
    assert_exit(&seen.out, 0);
    let third = container_of(&url);

    // 5. A route change (greeter answers only its host name now): a seamless reload.
    stack.project.edit_stack(|t| {
        t.replacen(
            "publish = 0\ndepends_on",
            "publish = 0\nhosts = [\"greeter.test\"]\ndepends_on",
            1,
        )
    });
    assert!(
        stack.project.read("stack.toml").contains("greeter.test"),
        "the edit took"
    );
    let seen = case.up_under_load(&url, 10);
    assert_exit(&seen.out, 0);
    assert_no_failed_request("route change", &seen);
    assert_untouched("route change", "WebSocket", &seen.websocket, &third);
    assert_untouched("route change", "SSE stream", &seen.events, &third);

    // 6. An app added on the traffic app's port, by host name; 7. and removed again.
    let extra = format!(
        "\n[services.extra]\nkind = \"python-web\"\nbuild = \"apps/hello\"\nport = 8000\n\
         publish = {shared}\nhosts = [\"extra.test\"]\n"
    );
    stack.project.edit_stack(|t| t.to_string() + &extra);
    let seen = case.up_under_load(&url, 14);
    assert_exit(&seen.out, 0);
    assert_no_failed_request("app added", &seen);
    assert_untouched("app added", "WebSocket", &seen.websocket, &third);
    assert_untouched("app added", "SSE stream", &seen.events, &third);
    let addr = format!("127.0.0.1:{shared}");
    assert_eq!(
        http_with_host(&addr, "extra.test"),
        (200, "Hello, world!".to_string())
    );
    // HAProxy itself finds the file it runs (shared ports, host names, a 404) valid.
    let edge = &stack.container_ids()["edge"];
    let checked = docker(&[
        "exec",
        edge,
        "haproxy",
        "-c",
        "-f",
        "/etc/stackgen-edge/haproxy.cfg",
    ]);
    assert!(checked.contains("Configuration file is valid"), "{checked}");
    assert!(
        stack
            .project
            .read("generated/edge.cfg")
            .contains("backend no-route")
    );
    stack.project.edit_stack(|t| t.replace(&extra, ""));
    let seen = case.up_under_load(&url, 10);
    assert_exit(&seen.out, 0);
    assert_no_failed_request("app removed", &seen);
    assert_untouched("app removed", "WebSocket", &seen.websocket, &third);
    assert_untouched("app removed", "SSE stream", &seen.events, &third);
    assert_eq!(http("GET", &url), (200, "Hello, world!".to_string()));
}
