//! What stackgen keeps on disk besides the rendered files, and how it writes: [`atomic`]
//! writes, the [`generations`] of past deploys, the per-project deploy [`lock`],
//! generated [`secrets`], data [`backups`], and [`layout`], which names every path once. Nothing here knows
//! what a stack or a rendered file means: callers hand over names and bytes.

pub mod atomic;
pub mod backups;
pub mod ca;
pub mod generations;
pub mod layout;
pub mod lock;
pub mod secrets;
