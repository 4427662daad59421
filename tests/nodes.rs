//! Issue 27, the fault that started it, on an engine of its own: the shipped stack
//! deployed with the compose target on a namespaced node (built on the host's engine,
//! copied over), then `docker swarm init` + `docker swarm leave --force` under it, which
//! on Docker 20.10 makes the engine's DNS forget the name of every running container.
//! `status` must say the greeter is unreachable (exit 4), and `up` must heal it. The host's
//! own engine is never touched; `Nodes` and `HostImages` remove everything, even on failure.

mod common;

use common::nodes::{HostProject, Nodes};
use common::{TestProject, answer, assert_exit, require_engine, stderr, stdout};

#[test]
fn a_swarm_left_under_a_compose_stack_is_reported_unreachable_and_healed() {
    require_engine();
    let name = format!("sgdns-{}", std::process::id());
    let _images = HostProject(name.clone());
    let nodes = Nodes::up("sgu", 96, 5003);
    // Node 3 starts out of any swarm, as a plain engine of its own would.
    nodes.docker(3, &["swarm", "leave", "--force"]);
    let address = nodes.address(3);
    let project = TestProject::shipped();
    project.edit_stack(|t| {
        t.replace("name = \"stackgen\"", &format!("name = \"{name}\""))
            .replace("publish = 8081", "publish = 0")
            .replace("publish = 8082", "publish = 0")
            .replace(
                "bind_address = \"127.0.0.1\"",
                &format!("bind_address = \"{address}\""),
            )
    });
    let sg = |args: &[&str]| nodes.stackgen(&project, 3, args, &[]);

    let out = sg(&["up"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("copied the images from the building engine"),
        "built on the host's engine, copied to the node: {}",
        stderr(&out)
    );
    let out = sg(&["urls"]);
    assert_exit(&out, 0);
    let greeter = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("greeter\t").map(str::to_string))
        .expect("greeter's URL");
    assert!(
        greeter.starts_with(&format!("http://{address}:")),
        "{greeter}"
    );
    assert_eq!(answer(&greeter), (200, "Hello, world!".into()));
    assert_exit(&sg(&["status"]), 0);

    nodes.docker(3, &["swarm", "init", "--advertise-addr", &address]);
    nodes.docker(3, &["swarm", "leave", "--force"]);
    let out = sg(&["status"]);
    assert_exit(&out, 4);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("greeter "))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(line.contains("unreachable"), "{}", stdout(&out));

    let out = sg(&["up"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("db: the engine's DNS lost its name on"),
        "{}",
        stderr(&out)
    );
    assert_eq!(answer(&greeter), (200, "Hello, world!".into()));
    let out = sg(&["status"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out).matches(" in sync").count(),
        4,
        "{}",
        stdout(&out)
    );
}
