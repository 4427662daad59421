//! `status` on a swarm: each service as the manager tells it (replicas, image, the last
//! update, the node of each task), and whether users reach it, asked the way they are
//! served: every URL (through every node's edge for a routed app) with one GET, all at
//! once, in about [`probe::STATUS_TIMEOUT`] at most (a URL that fails is asked again a
//! second later, and counts only if it fails again). A URL that is refused, times out or
//! answers 5xx makes its service unreachable, as a service with no task running on a
//! ready node is.

use anyhow::Result;

use crate::document::Document;
use crate::engine::docker;
use crate::stack::Stack;
use crate::targets::interface::{Probe, StatusRow, SyncState, Target};
use crate::targets::probe;
use crate::targets::swarm::Swarm;

impl Swarm<'_> {
    pub(super) fn status_rows(&self) -> Result<Vec<StatusRow>> {
        let generated =
            std::fs::read_to_string(self.stack.root.join(self.file())).unwrap_or_default();
        let doc = Document::parse_lenient(&generated);
        let running = docker::stack_services(&self.stack.name)?;
        // Each task's node (and the URLs), when the manager's API is on a local socket.
        let tasks = docker::swarm_state::stack_state(&self.stack.name)?;
        let mut rows = Vec::new();
        for name in doc.services().keys() {
            let want = doc.image(name).unwrap_or("");
            let Some(have) = running.iter().find(|r| &r.service == name) else {
                rows.push(StatusRow::missing(
                    name,
                    want,
                    "no service; `stackgen up --target swarm` creates it",
                ));
                continue;
            };
            // The API's count has only tasks on ready nodes; without it, the CLI's.
            let (run, desired) = tasks
                .as_ref()
                .and_then(|st| st.services.iter().find(|s| &s.service == name))
                .map_or((have.running as usize, have.desired as usize), |s| {
                    (s.running, s.desired)
                });
            let mut detail = Vec::new();
            if have.image != want {
                detail.push(format!(
                    "runs `{}`, the generated file says `{want}`",
                    have.image
                ));
            }
            if run < desired {
                detail.push(format!("{run}/{desired} replicas running"));
            }
            if !have.update_state.is_empty() && have.update_state != "completed" {
                detail.push(format!("last update: {}", have.update_state));
            }
            let (url, on) = match &tasks {
                Some(state) => {
                    let urls = self.urls_in(state);
                    let urls = urls
                        .iter()
                        .filter(|(s, _)| s == name)
                        .map(|(_, u)| u.as_str());
                    let nodes = state.nodes_of(name);
                    let on = if nodes.is_empty() {
                        String::new()
                    } else {
                        format!(" on {}", nodes.join(", "))
                    };
                    (urls.collect::<Vec<_>>().join(" "), on)
                }
                None => (self.service_urls(name)?.join(" "), String::new()),
            };
            let state = format!("{run}/{desired} running{on}");
            let mut row =
                StatusRow::observed(name, state, String::new(), have.image.clone(), url, detail);
            if run == 0 && desired > 0 {
                row.fault(
                    SyncState::Unreachable,
                    "no task of it runs on a ready node".into(),
                );
            }
            rows.push(row);
        }
        for orphan in running
            .iter()
            .filter(|r| !doc.services().contains_key(&r.service))
        {
            rows.push(StatusRow::orphan(
                &orphan.service,
                format!("{}/{} running", orphan.running, orphan.desired),
                String::new(),
                orphan.image.clone(),
                "not in the generated file; `stackgen up --target swarm` removes it (--prune)",
            ));
        }
        ask_urls(self.stack, &mut rows);
        Ok(rows)
    }
}

/// Asks every row's URLs (space-separated in its `url`) in parallel, records the probes,
/// and marks a row whose URL does not answer unreachable, naming the address.
fn ask_urls(stack: &Stack, rows: &mut [StatusRow]) {
    let asks: Vec<(usize, String, Option<String>)> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            let host = stack
                .services
                .get(&row.service)
                .and_then(|s| s.hosts.first().cloned());
            row.url
                .split_whitespace()
                .filter_map(|u| u.strip_prefix("http://")?.split('/').next())
                .map(move |addr| (i, addr.to_string(), host.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut probes = ask_all(&asks.iter().collect::<Vec<_>>());
    // An edge takes a server out for one check interval (500 ms) after a single
    // failed check, and a probe can land in that window: a URL counts as unreachable
    // only when it fails again a second later.
    let failed: Vec<usize> = (0..asks.len())
        .filter(|k| !probes[*k].as_ref().is_some_and(|p| p.ok))
        .collect();
    if !failed.is_empty() {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let again = ask_all(&failed.iter().map(|k| &asks[*k]).collect::<Vec<_>>());
        for (k, probe) in failed.into_iter().zip(again) {
            probes[k] = probe;
        }
    }
    for ((i, addr, _), probe) in asks.iter().zip(probes) {
        let row = &mut rows[*i];
        let Some(probe) = probe else {
            row.fault(
                SyncState::Unreachable,
                format!("the probe of {addr} panicked"),
            );
            continue;
        };
        if !probe.ok && row.sync.serves() {
            row.fault(
                SyncState::Unreachable,
                format!("{addr} answers {}", probe.answer),
            );
        }
        row.probes.push(probe);
    }
}

/// One GET to each `(row, address, host)` of `asks`, all at once.
fn ask_all(asks: &[&(usize, String, Option<String>)]) -> Vec<Option<Probe>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = asks
            .iter()
            .map(|(_, addr, host)| {
                s.spawn(move || probe::ask("the URL", addr, host.as_deref(), "/", true))
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    })
}
