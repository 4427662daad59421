//! The programs stackgen runs: [`docker`] (the only code that talks to the container
//! engine) and [`git`] (the revision a generation records); [`logs`] checks what
//! `stackgen logs` passes on to docker.

pub mod api;
pub mod docker;
pub mod git;
pub mod logs;
pub mod oneshot;
