//! The shipped stack and containers made up for it, for the unit tests of the compose
//! target's decisions that need no engine.

use std::collections::BTreeMap;

use crate::engine::docker::{CONFIG_HASH_LABEL, Container, Health, State};
use crate::stack::Stack;

/// The repository's own stack: `db` (data), `edge`, `hello` and `greeter` (routed).
pub fn stack() -> Stack {
    Stack::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("the shipped stack")
}

/// A ready container of `service` created from config `hash`.
pub fn container(service: &str, hash: &str) -> Container {
    Container {
        service: service.into(),
        id: format!("{service}-{hash}"),
        state: State::Running,
        health: Health::Healthy,
        image: format!("stackgen/{service}:1"),
        image_id: format!("sha256:{service}"),
        exit_code: 0,
        restarts: 0,
        ports: BTreeMap::new(),
        labels: BTreeMap::from([(CONFIG_HASH_LABEL.to_string(), hash.to_string())]),
        addresses: BTreeMap::new(),
    }
}

/// Config hashes: each named service at `hash`.
pub fn hashes(services: &[(&str, &str)]) -> BTreeMap<String, String> {
    services
        .iter()
        .map(|(s, h)| (s.to_string(), h.to_string()))
        .collect()
}
