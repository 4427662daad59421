//! A deploy cut short (Ctrl-C, `kill -9`, a lost terminal), made visible and finished.
//!
//! - While a deploy converges, `.stackgen/deploying` names its pid and start time. A
//!   deploy that ends (well or not) removes it; one that was killed leaves it, so
//!   `status` and the no-op proof can say a deploy was interrupted while no stackgen
//!   with that pid runs.
//! - What a start-first replacement cut short leaves: two containers of one app, the
//!   edge's requests on one of them or half way between. The next deploy finishes it
//!   before anything else, start-first: the newest ready container with the file's
//!   config stays, the edge's requests go to it, the others drain and stop. New ones
//!   that never became ready are removed (no request went to them). Plain compose
//!   would remove one of the two whichever the edge was sending to.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::engine::docker::{self, Container};
use crate::error::Error;
use crate::progress;
use crate::stack::Stack;
use crate::state::{atomic, layout};
use crate::targets::compose::rollout::StartFirst;

/// Compose's label numbering a service's containers, the newest highest.
const NUMBER_LABEL: &str = "com.docker.compose.container-number";

/// The marker of a running deploy, project-relative.
const MARKER: &str = ".stackgen/deploying";

/// Marks a deploy as running until the guard is dropped.
pub(super) struct Running<'a> {
    root: &'a Path,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.root.join(MARKER));
    }
}

/// Marks a deploy of `stack` as running, by this process.
pub(super) fn mark(stack: &Stack) -> Result<Running<'_>> {
    let text = format!(
        "pid {}\nstarted {}\n",
        std::process::id(),
        crate::state::generations::now_rfc3339()
    );
    std::fs::create_dir_all(stack.root.join(layout::STATE_DIR))?;
    atomic::write_if_changed(&stack.root.join(MARKER), text.as_bytes(), 0o644)?;
    Ok(Running { root: &stack.root })
}

/// When a deploy was interrupted: `started <time>` of the one whose process is gone.
pub(super) fn interrupted(stack: &Stack) -> Option<String> {
    let text = std::fs::read_to_string(stack.root.join(MARKER)).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let pid = field("pid ")?;
    if Path::new("/proc").join(&pid).exists() && pid != std::process::id().to_string() {
        return None;
    }
    Some(field("started ").unwrap_or_else(|| "at an unknown time".into()))
}

/// Each start-first service of `stack` with more than one container: what an
/// interrupted replacement left.
pub(super) fn doubled<'c>(
    stack: &Stack,
    running: &'c [Container],
) -> BTreeMap<String, Vec<&'c Container>> {
    let mut by_service: BTreeMap<String, Vec<&Container>> = BTreeMap::new();
    for c in running {
        by_service.entry(c.service.clone()).or_default().push(c);
    }
    by_service.retain(|name, cs| {
        cs.len() > 1
            && stack
                .services
                .get(name)
                .is_some_and(|svc| stack.start_first(svc))
    });
    by_service
}

/// Finishes what interrupted replacements left (see the module's words); whether it
/// did anything, so the caller reads the containers again.
pub(super) fn finish(
    stack: &Stack,
    rollout: &StartFirst,
    hashes: &BTreeMap<String, String>,
    running: &[Container],
) -> Result<bool, Error> {
    let doubled = doubled(stack, running);
    for (name, containers) in &doubled {
        let Some(svc) = stack.services.get(name) else {
            continue;
        };
        let want = hashes.get(name).map(String::as_str);
        let number = |c: &Container| -> u64 {
            c.label(NUMBER_LABEL)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let keep = containers
            .iter()
            .filter(|c| c.is_ready() && c.has_config(want))
            .max_by_key(|c| number(c));
        progress::note(format_args!(
            "{name}: an interrupted deploy left {} containers; finishing it",
            containers.len()
        ));
        match keep {
            Some(keep) => {
                let others: Vec<Container> = containers
                    .iter()
                    .filter(|c| c.id != keep.id)
                    .map(|c| (*c).clone())
                    .collect();
                progress::note(format_args!(
                    "{name}: keeping {}, the newest ready one",
                    keep.id
                ));
                rollout.cut_over(svc, keep, &others)?;
            }
            None => {
                // No new one became ready: the edge never sent it a request.
                let newest = containers.iter().max_by_key(|c| number(c));
                if let Some(c) = newest.filter(|c| !c.is_ready()) {
                    progress::note(format_args!(
                        "{name}: removing {}, which never became ready",
                        c.id
                    ));
                    docker::remove_container(&c.id)?;
                }
            }
        }
    }
    Ok(!doubled.is_empty())
}
