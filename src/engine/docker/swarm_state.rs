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
    let list = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    let ours = |s: &serde_json::Value| {
        s["Spec"]["Labels"]["com.docker.stack.namespace"].as_str() == Some(name)
    };
    let mut by_id = BTreeMap::new();
    let mut out = StackState::default();
    for s in list(services).iter().filter(|s| ours(s)) {
        let full = s["Spec"]["Name"].as_str().unwrap_or("");
        let service = full.strip_prefix(&format!("{name}_")).unwrap_or(full);
        by_id.insert(
            s["ID"].as_str().unwrap_or("").to_string(),
            service.to_string(),
        );
        out.services.push(ServiceState {
            service: service.to_string(),
            spec_digest: Sha256::digest(s["Spec"].to_string().as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            image: s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            replicas: s["Spec"]["Mode"]["Replicated"]["Replicas"].as_u64(),
            update_state: s["UpdateStatus"]["State"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        });
    }
    out.services.sort_by(|a, b| a.service.cmp(&b.service));
    let mut node_info = BTreeMap::new();
    for n in list(nodes) {
        let ready = n["Status"]["State"] == "ready" && n["Spec"]["Availability"] == "active";
        out.ready_nodes += usize::from(ready);
        let host = n["Description"]["Hostname"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let addr = n["Status"]["Addr"].as_str().unwrap_or("");
        let addr = if addr.is_empty() || addr == "0.0.0.0" {
            "127.0.0.1"
        } else {
            addr
        };
        node_info.insert(
            n["ID"].as_str().unwrap_or("").to_string(),
            (host, addr.to_string()),
        );
    }
    for t in list(tasks) {
        let Some(service) = by_id.get(t["ServiceID"].as_str().unwrap_or("")) else {
            continue;
        };
        if t["DesiredState"] != "running" || t["Status"]["State"] != "running" {
            continue;
        }
        let (node, address) = node_info
            .get(t["NodeID"].as_str().unwrap_or(""))
            .cloned()
            .unwrap_or_default();
        let ports = list(&t["Status"]["PortStatus"]["Ports"])
            .iter()
            .filter_map(|p| {
                let target = u16::try_from(p["TargetPort"].as_u64()?).ok()?;
                Some((target, u16::try_from(p["PublishedPort"].as_u64()?).ok()?))
            })
            .collect();
        out.tasks.push(TaskState {
            service: service.clone(),
            node,
            address,
            ports,
        });
    }
    out
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
    }
}
