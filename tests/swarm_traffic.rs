//! Issue 27, section 2: a swarm deploy keeps the promise of one host. On three namespaced
//! nodes (`scripts/nodes.sh`), the edge runs on every node and the apps publish nothing;
//! `wrk` (never retries; keep-alive connections, GETs and POSTs, every body checked)
//! runs against every node's edge while the traffic app is deployed start-first with two
//! replicas, while a deploy of it that never becomes healthy is rolled back by Swarm
//! and by stackgen, and while a node running one of its tasks is drained in the middle of
//! a deploy of it (through the other nodes' edges): no request fails. While a node running one of its tasks loses power
//! (every process of it killed), through the other nodes' edges only the requests already
//! sent to that task may fail (at most one per connection), and the app is back at full
//! replicas elsewhere. Everything is removed by `Nodes` when it is dropped,
//! even on failure.

mod common;

use std::time::{Duration, Instant};

use common::nodes::{HostProject, Nodes};
use common::traffic::{Wrk, WrkReport, write_app};
use common::{answer, assert_exit, require_engine, stderr, stdout};

/// Per node's edge: three edges, so three times this many connections in all.
const CONNECTIONS: u32 = 16;

/// `up --target swarm` with wrk on every URL from a second before it starts to two
/// seconds after it ends; its output and each node's report.
fn up_under_load(
    nodes: &Nodes,
    urls: &[String],
    sg: &dyn Fn(&[&str]) -> std::process::Output,
) -> (std::process::Output, Vec<WrkReport>) {
    let loads: Vec<Wrk> = urls
        .iter()
        .map(|u| Wrk::start_on_node(nodes, u, CONNECTIONS))
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let out = sg(&["up", "--target", "swarm"]);
    std::thread::sleep(Duration::from_secs(2));
    (out, loads.into_iter().map(Wrk::stop).collect())
}

#[track_caller]
fn assert_no_failed_request(case: &str, urls: &[String], reports: &[WrkReport]) {
    assert_failed_at_most(case, urls, reports, 0);
}

/// Every run ran, and at most `bound` of its requests failed.
#[track_caller]
fn assert_failed_at_most(case: &str, urls: &[String], reports: &[WrkReport], bound: u64) {
    for (url, load) in urls.iter().zip(reports) {
        eprintln!(
            "{case}, {url}: {} requests ({} POSTs), {} failed, p99 {:?}",
            load.requests, load.posts, load.failed, load.p99
        );
        assert!(
            load.requests > 1_000 && load.posts > 200,
            "{case}, {url}: the load ran: {}",
            load.output
        );
        assert!(
            load.failed <= bound,
            "{case}, {url}: {} of {} requests failed (at most {bound} may)\n{}",
            load.failed,
            load.requests,
            load.output
        );
    }
}

/// A deploy of the traffic app (its good code again, a new release) under load through the edges of `others`,
/// with node `drained` drained 8 s into it: the deploy converges (exit 0) and no request
/// fails. The traffic URLs after it (its edge is still listed until it stopped).
fn drain_mid_deploy(
    nodes: &Nodes,
    project: &common::TestProject,
    drained: u8,
    others: &[String],
    sg: &(dyn Fn(&[&str]) -> std::process::Output + Sync),
) -> Vec<String> {
    project.write("traffic/app.py", common::traffic::APP);
    project.edit_stack(|t| t.replace("RELEASE = \"2\"", "RELEASE = \"3\""));
    let loads: Vec<Wrk> = others
        .iter()
        .map(|u| Wrk::start_on_node(nodes, u, CONNECTIONS))
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let out = std::thread::scope(|scope| {
        let deploy = scope.spawn(|| sg(&["up", "--target", "swarm"]));
        std::thread::sleep(Duration::from_secs(8));
        nodes.docker(
            1,
            &[
                "node",
                "update",
                "--availability",
                "drain",
                &nodes.name(drained),
            ],
        );
        deploy.join().expect("the deploy thread")
    });
    eprintln!(
        "drained mid-deploy: the deploy took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(2));
    let reports: Vec<WrkReport> = loads.into_iter().map(Wrk::stop).collect();
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("traffic      2/2 running"),
        "{}",
        stderr(&out)
    );
    assert_no_failed_request("a node drained mid-deploy", others, &reports);
    traffic_urls(sg)
}

fn traffic_urls(sg: &dyn Fn(&[&str]) -> std::process::Output) -> Vec<String> {
    let out = sg(&["urls", "--target", "swarm"]);
    assert_exit(&out, 0);
    stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("traffic\t").map(str::to_string))
        .collect()
}

/// The traffic URLs once every node's edge answers again (the one of a node made active
/// again is a new task, on a new ephemeral port: `publish = 0`).
fn edges_back(before: &[String], sg: &dyn Fn(&[&str]) -> std::process::Output) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = traffic_urls(sg);
        if now.len() == 3 && now.iter().all(|u| answer(u).0 == 200) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the edges are not all back: {now:?} (before: {before:?})"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn app_deploys_on_a_swarm_drop_no_request_through_any_nodes_edge() {
    require_engine();
    let name = format!("sgswt-{}", std::process::id());
    let _cleanup = HostProject(name.clone());
    let nodes = Nodes::up("sgv", 95, 5004);
    let project = nodes.swarm_project(&name, str::to_string);
    write_app(&project);
    project.edit_stack(|t| {
        t.to_string()
            + "\n[services.traffic]\nkind = \"python-web\"\nbuild = \"traffic\"\nport = 8000\n\
               publish = 0\nreplicas = 2\nenvironment = { RELEASE = \"1\" }\n"
    });
    let sg = |args: &[&str]| nodes.stackgen(&project, 1, args, &[]);

    let out = sg(&["up", "--target", "swarm"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("edge         3/3 running"),
        "the edge runs on every node: {}",
        stderr(&out)
    );
    let stack_file = project.read("generated/stack.yml");
    let traffic = stack_file
        .split("\n  \"traffic\":\n")
        .nth(1)
        .expect("the traffic service");
    assert!(
        !traffic.contains("ports:") && traffic.contains("order: \"start-first\""),
        "behind the edge an app publishes nothing and updates start-first:\n{traffic}"
    );
    let urls = traffic_urls(&sg);
    assert_eq!(urls.len(), 3, "one URL per node's edge: {urls:?}");
    for url in &urls {
        assert_eq!(answer(url), (200, "Hello, world!".into()), "{url}");
    }
    let tasks = nodes.docker(
        1,
        &[
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}}",
            &format!("{name}_traffic"),
        ],
    );
    assert_eq!(tasks.lines().count(), 2, "two replicas: {tasks}");

    // A good deploy of the app: start-first, task by task, behind every node's edge.
    project.edit_stack(|t| t.replace("RELEASE = \"1\"", "RELEASE = \"2\""));
    let (out, reports) = up_under_load(&nodes, &urls, &sg);
    assert_exit(&out, 0);
    assert_no_failed_request("good deploy", &urls, &reports);
    let release = nodes.docker(
        1,
        &[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Env}}",
            &format!("{name}_traffic"),
        ],
    );
    assert!(release.contains("RELEASE=2"), "{release}");

    // A deploy that never becomes healthy: Swarm rolls it back, then stackgen deploys the
    // last good generation again; the old tasks serve throughout.
    project.write(
        "traffic/app.py",
        "from aiohttp import web\n\nasync def no(_r):\n    return web.Response(status=503)\n\n\
         app = web.Application()\napp.router.add_get(\"/\", no)\nweb.run_app(app, port=8000)\n",
    );
    let (out, reports) = up_under_load(&nodes, &urls, &sg);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("Swarm rolled `traffic` back"),
        "{}",
        stderr(&out)
    );
    assert_no_failed_request("failed deploy", &urls, &reports);
    for url in &urls {
        assert_eq!(answer(url), (200, "Hello, world!".into()), "{url}");
    }

    let running_on = || {
        nodes.docker(
            1,
            &[
                "service",
                "ps",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}} {{.CurrentState}}",
                &format!("{name}_traffic"),
            ],
        )
    };
    // A node of `candidates` that runs a task of the app, and the URLs of the others.
    let pick = |candidates: &[u8], running: &str, urls: &[String]| -> (u8, Vec<String>) {
        let victim: u8 = candidates
            .iter()
            .copied()
            .find(|i| {
                running
                    .lines()
                    .any(|l| l.starts_with(&format!("{} ", nodes.name(*i))))
            })
            .expect("a task of the app on a candidate node (two replicas spread over three)");
        let others: Vec<String> = urls
            .iter()
            .filter(|u| !u.contains(&format!("//{}:", nodes.address(victim))))
            .cloned()
            .collect();
        assert_eq!(others.len(), 2, "{urls:?}");
        (victim, others)
    };

    // A node that runs a task of the app is drained in the middle of a deploy of it: the
    // deploy converges, and the other nodes' edges drop nothing. Not node 2: the
    // database is placed there and nowhere else, so draining it stops the database.
    let (drained, others) = pick(&[3, 1], &running_on(), &urls);
    let urls = drain_mid_deploy(&nodes, &project, drained, &others, &sg);
    assert!(
        !running_on().contains(&format!("{} ", nodes.name(drained))),
        "the app's tasks left the drained node"
    );
    nodes.docker(
        1,
        &[
            "node",
            "update",
            "--availability",
            "active",
            &nodes.name(drained),
        ],
    );
    let urls = edges_back(&urls, &sg);

    // A node that runs a task of the app loses power (every process of it killed): the
    // other nodes' edges drop nothing, and Swarm runs the app at full replicas elsewhere.
    let (victim, survivors) = pick(&[2, 3], &running_on(), &urls);
    let loads: Vec<Wrk> = survivors
        .iter()
        .map(|u| Wrk::start_on_node(&nodes, u, CONNECTIONS))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    let out = nodes.script(&["kill", &victim.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gone = format!("{} ", nodes.name(victim));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = running_on();
        let elsewhere = now
            .lines()
            .filter(|l| !l.starts_with(&gone) && l.contains("Running"))
            .count();
        if elsewhere == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "not back at 2 replicas:\n{now}");
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "node {victim} killed: the app at full replicas on the others after {:.1}s",
        killed.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(3));
    let reports: Vec<WrkReport> = loads.into_iter().map(Wrk::stop).collect();
    // A request the edge had already sent to a task on the dead node cannot be tried
    // again (it may have run there): it is lost. Each connection waits for its answer, so
    // at most one per connection; everything sent after is served (by a retry of a
    // connection that fails, and by the health check taking the dead task out at once).
    assert_failed_at_most(
        "a node killed",
        &survivors,
        &reports,
        u64::from(CONNECTIONS),
    );
}
