//! A swarm stack as the manager's API tells it, in three requests (services, tasks,
//! nodes) over its Unix socket: each service's spec (digested), its running tasks with
//! the node each runs on and the ports it publishes there. What the no-op proof and
//! `status` read; `None` when the manager's API is not on a local socket.

use std::collections::BTreeMap;

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::engine::api::Api;

/// One service of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    /// The stack's name for it (without the `<stack>_` prefix).
    pub service: String,
    /// sha256 of its spec as the manager holds it: any update, a rollback, a
    /// `docker service update` by hand changes it.
    pub spec_digest: String,
    /// The image reference its spec runs (with the registry's digest, as Swarm pins it).
    pub image: String,
    /// Replicated: how many tasks it wants; `None` for a global service (one per node).
    pub replicas: Option<u64>,
    /// Swarm's last update state: empty, `completed`, `updating`, `rollback_completed`...
    pub update_state: String,
    /// The tasks it should run now: its replicas, or for a global service its tasks
    /// meant to run on ready nodes (none on a drained or a down one).
    pub desired: usize,
    /// Its running tasks on ready nodes that run its current spec (after a rollback,
    /// the spec it went back to).
    pub current: usize,
    /// Its running tasks on ready nodes, whatever spec they run (the CLI's count also
    /// has those on a node that is down).
    pub running: usize,
}

impl ServiceState {
    /// Whether Swarm is done with it: no update or rollback under way, and every task it
    /// should run runs its current spec. A global service counts only once it has a task.
    /// A paused update or rollback waits for an operator: done too, as far as waiting goes.
    pub fn settled(&self) -> bool {
        if self.update_state.ends_with("paused") {
            return true;
        }
        let busy = matches!(self.update_state.as_str(), "updating" | "rollback_started");
        let global_unplaced = self.replicas.is_none() && self.desired == 0;
        !busy && !global_unplaced && self.current == self.desired
    }
}

/// One running task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    pub service: String,
    /// The hostname of the node it runs on.
    pub node: String,
    /// The node's address.
    pub address: String,
    /// `(target, published)` ports it publishes in host mode on its node.
    pub ports: Vec<(u16, u16)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackState {
    pub services: Vec<ServiceState>,
    pub tasks: Vec<TaskState>,
    /// Nodes that are ready and active: where a global service runs a task.
    pub ready_nodes: usize,
    /// Their hostnames, sorted.
    pub ready_names: Vec<String>,
}

impl StackState {
    /// `node-address:published` of each running task of `service` publishing `target`.
    pub fn addresses(&self, service: &str, target: u16) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|t| t.service == service)
            .filter_map(|t| {
                let (_, published) = t.ports.iter().find(|(tp, _)| *tp == target)?;
                Some(format!("{}:{published}", t.address))
            })
            .collect()
    }

    /// The nodes the running tasks of `service` are on, in name order.
    pub fn nodes_of(&self, service: &str) -> Vec<&str> {
        let mut nodes: Vec<&str> = self
            .tasks
            .iter()
            .filter(|t| t.service == service)
            .map(|t| t.node.as_str())
            .collect();
        nodes.sort_unstable();
        nodes
    }
}

/// The stack `name` as the manager's API tells it; `None` without a local API socket.
pub fn stack_state(name: &str) -> Result<Option<StackState>> {
    let Some(api) = Api::local() else {
        return Ok(None);
    };
    let services = api.get_json("/services")?;
    let tasks = api.get_json("/tasks")?;
    let nodes = api.get_json("/nodes")?;
    Ok(Some(parse(name, &services, &tasks, &nodes)))
}

fn parse(
    name: &str,
    services: &serde_json::Value,
    tasks: &serde_json::Value,
    nodes: &serde_json::Value,
) -> StackState {
    let mut out = StackState::default();
    // Service ID -> (its index in `out.services`, its task template).
    let mut by_id = BTreeMap::new();
    for s in list(services) {
        if s["Spec"]["Labels"]["com.docker.stack.namespace"].as_str() != Some(name) {
            continue;
        }
        let id = s["ID"].as_str().unwrap_or("").to_string();
        let template = comparable(&s["Spec"]["TaskTemplate"]);
        by_id.insert(id, (out.services.len(), template));
        out.services.push(service_state(name, &s));
    }
    let node_info = node_info(nodes);
    out.ready_names = node_info
        .values()
        .filter(|n| n.ready)
        .map(|n| n.host.clone())
        .collect();
    out.ready_names.sort();
    out.ready_nodes = out.ready_names.len();
    for t in list(tasks) {
        let Some((index, template)) = by_id.get(t["ServiceID"].as_str().unwrap_or("")) else {
            continue;
        };
        let Some(node) = node_info.get(t["NodeID"].as_str().unwrap_or("")) else {
            continue;
        };
        let meant = t["DesiredState"] == "running";
        let running = meant && t["Status"]["State"] == "running";
        let svc = &mut out.services[*index];
        if node.ready && meant && svc.replicas.is_none() {
            svc.desired += 1;
        }
        if node.ready && running {
            svc.running += 1;
            if comparable(&t["Spec"]) == *template {
                svc.current += 1;
            }
        }
        if !running {
            continue;
        }
        let ports = list(&t["Status"]["PortStatus"]["Ports"])
            .iter()
            .filter_map(|p| {
                let target = u16::try_from(p["TargetPort"].as_u64()?).ok()?;
                Some((target, u16::try_from(p["PublishedPort"].as_u64()?).ok()?))
            })
            .collect();
        out.tasks.push(TaskState {
            service: svc.service.clone(),
            node: node.host.clone(),
            address: node.address.clone(),
            ports,
        });
    }
    out.services.sort_by(|a, b| a.service.cmp(&b.service));
    out
}

/// A task template as a task's copy of it compares: the manager fills in `Runtime`
/// (`container`) in the service's, not in the task's.
fn comparable(template: &serde_json::Value) -> serde_json::Value {
    let mut out = template.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("Runtime");
    }
    out
}

fn list(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn service_state(stack: &str, s: &serde_json::Value) -> ServiceState {
    let full = s["Spec"]["Name"].as_str().unwrap_or("");
    let field = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let replicas = s["Spec"]["Mode"]["Replicated"]["Replicas"].as_u64();
    ServiceState {
        service: full
            .strip_prefix(&format!("{stack}_"))
            .unwrap_or(full)
            .to_string(),
        spec_digest: Sha256::digest(s["Spec"].to_string().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        image: field(&s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]),
        replicas,
        update_state: field(&s["UpdateStatus"]["State"]),
        desired: replicas.map_or(0, |r| r as usize),
        current: 0,
        running: 0,
    }
}

struct NodeInfo {
    host: String,
    address: String,
    /// Ready and active: where tasks run.
    ready: bool,
}

fn node_info(nodes: &serde_json::Value) -> BTreeMap<String, NodeInfo> {
    list(nodes)
        .iter()
        .map(|n| {
            let addr = n["Status"]["Addr"].as_str().unwrap_or("");
            let address = if addr.is_empty() || addr == "0.0.0.0" {
                "127.0.0.1"
            } else {
                addr
            };
            let info = NodeInfo {
                host: n["Description"]["Hostname"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                address: address.to_string(),
                ready: n["Status"]["State"] == "ready" && n["Spec"]["Availability"] == "active",
            };
            (n["ID"].as_str().unwrap_or("").to_string(), info)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stacks_running_tasks_are_found_with_their_nodes_and_ports() {
        let services = serde_json::json!([
            {"ID": "s1", "Spec": {"Name": "demo_hello", "Labels": {"com.docker.stack.namespace": "demo"},
             "Mode": {"Replicated": {"Replicas": 2}},
             "TaskTemplate": {"ContainerSpec": {"Image": "r/demo/hello:1@sha256:ab"}}}},
            {"ID": "s2", "Spec": {"Name": "other_x", "Labels": {"com.docker.stack.namespace": "other"}}}
        ]);
        let tasks = serde_json::json!([
            {"ServiceID": "s1", "NodeID": "n2", "DesiredState": "running",
             "Status": {"State": "running", "PortStatus": {"Ports": [{"TargetPort": 8000, "PublishedPort": 30001}]}}},
            {"ServiceID": "s1", "NodeID": "n1", "DesiredState": "shutdown", "Status": {"State": "shutdown"}},
            {"ServiceID": "s2", "NodeID": "n1", "DesiredState": "running", "Status": {"State": "running"}}
        ]);
        let nodes = serde_json::json!([
            {"ID": "n1", "Description": {"Hostname": "one"}, "Status": {"State": "ready", "Addr": "10.0.0.1"}, "Spec": {"Availability": "active"}},
            {"ID": "n2", "Description": {"Hostname": "two"}, "Status": {"State": "down", "Addr": "10.0.0.2"}, "Spec": {"Availability": "active"}}
        ]);
        let state = parse("demo", &services, &tasks, &nodes);
        assert_eq!(state.services.len(), 1);
        assert_eq!(state.services[0].replicas, Some(2));
        assert_eq!(state.addresses("hello", 8000), ["10.0.0.2:30001"]);
        assert_eq!(state.nodes_of("hello"), ["two"]);
        assert_eq!(state.ready_nodes, 1);
        assert_eq!(state.ready_names, ["one"]);
    }

    #[test]
    fn a_service_settles_when_its_tasks_on_ready_nodes_run_its_current_spec() {
        let spec = |image: &str| serde_json::json!({"ContainerSpec": {"Image": image}});
        // As the manager tells it: `Runtime` in the service's template only.
        let template = |image: &str| serde_json::json!({"ContainerSpec": {"Image": image}, "Runtime": "container"});
        let services = serde_json::json!([
            {"ID": "e", "Spec": {"Name": "demo_edge", "Labels": {"com.docker.stack.namespace": "demo"},
             "Mode": {"Global": {}}, "TaskTemplate": template("edge:2")}},
            {"ID": "h", "Spec": {"Name": "demo_hello", "Labels": {"com.docker.stack.namespace": "demo"},
             "Mode": {"Replicated": {"Replicas": 2}}, "TaskTemplate": template("hello:2")},
             "UpdateStatus": {"State": "completed"}}
        ]);
        let task = |svc: &str, node: &str, desired: &str, state: &str, image: &str| {
            serde_json::json!({"ServiceID": svc, "NodeID": node, "DesiredState": desired,
                               "Status": {"State": state}, "Spec": spec(image)})
        };
        let nodes = serde_json::json!([
            {"ID": "n1", "Description": {"Hostname": "one"}, "Status": {"State": "ready"}, "Spec": {"Availability": "active"}},
            {"ID": "n2", "Description": {"Hostname": "two"}, "Status": {"State": "ready"}, "Spec": {"Availability": "drain"}}
        ]);
        // The edge's task on the drained node is shutting down: it is not waited for.
        // One of hello's two running tasks still runs the old spec.
        let tasks = serde_json::json!([
            task("e", "n1", "running", "running", "edge:2"),
            task("e", "n2", "shutdown", "running", "edge:2"),
            task("h", "n1", "running", "running", "hello:2"),
            task("h", "n1", "running", "running", "hello:1"),
        ]);
        let state = parse("demo", &services, &tasks, &nodes);
        let (edge, hello) = (&state.services[0], &state.services[1]);
        assert_eq!((edge.current, edge.desired, edge.settled()), (1, 1, true));
        assert_eq!(
            (hello.current, hello.desired, hello.settled()),
            (1, 2, false)
        );

        let tasks = serde_json::json!([
            task("e", "n1", "running", "running", "edge:2"),
            task("h", "n1", "running", "running", "hello:2"),
            task("h", "n1", "running", "running", "hello:2"),
        ]);
        assert!(parse("demo", &services, &tasks, &nodes).services[1].settled());
        // A global service with no task yet, and an update under way, are not settled.
        let state = parse("demo", &services, &serde_json::json!([]), &nodes);
        assert!(!state.services[0].settled());
        let mut updating = services.clone();
        updating[1]["UpdateStatus"]["State"] = "updating".into();
        assert!(!parse("demo", &updating, &tasks, &nodes).services[1].settled());
    }
}
