//! The only code that runs `docker` or talks to the engine, one file per concern. It
//! speaks the engine's own terms (containers, labels, images, compose projects, swarm
//! services); what they mean to a stack is the targets' business.
//!
//! - [`process`]: running the CLI (captured, relayed to the progress sink, streamed);
//! - [`signal`]: children that die with stackgen, Ctrl-C passed on (the `unsafe` code);
//! - [`checks`]: the CLI, the daemon, the Compose plugin, each with a fix;
//! - [`containers`]: a project's containers, one reader for both of the engine's shapes,
//!   typed states; volumes;
//! - [`images`]: local tags, builds, removal, shipping between engines;
//! - [`one_shot`]: a one-shot container on a swarm stack's network (backups);
//! - [`names`]: the embedded DNS as a container sees it, a name registered again;
//! - [`compose`]: a compose project's commands, its config hashes, one-shot scripts;
//! - [`swarm`]: swarm state, the registry, stack deploy and its services;
//! - [`swarm_state`]: a stack's services, tasks and nodes in three API requests.
//!
//! Argument vectors are built by pure functions, tested beside them.

pub mod checks;
pub mod compose;
pub mod containers;
pub mod images;
pub mod names;
pub mod one_shot;
mod process;
pub mod swarm;
pub mod swarm_state;

pub use checks::{check_compose, check_daemon};
pub use compose::{Input, Project, compose_identity, config_hashes};
pub use containers::{
    CONFIG_HASH_LABEL, Container, Health, State, connect, container_logs, containers,
    containers_resolve_tags, inspect, published_host_ports, remove_container, stop_and_remove,
    unpause, volume_exists,
};
pub use images::{
    BuildRequest, INPUTS_LABEL, LocalImage, On, build, image_exists, local_images, local_tags,
    remove_image, ship,
};
pub use process::{Streamed, stream};
pub use swarm::{
    SwarmService, push, registry_has, service_logs_args, stack_deploy, stack_rm,
    stack_service_names, stack_services, swarm_active, task_addresses,
};
