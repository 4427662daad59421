//! The programs stackgen runs: [`docker`] (the only code that talks to the container
//! engine) and [`git`] (the revision a generation records).

pub mod api;
pub mod docker;
pub mod git;
pub mod oneshot;
