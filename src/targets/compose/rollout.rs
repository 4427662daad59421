//! Start-first replacement of one stateless service on one host:
//! 1. compose starts one new container beside the old ones (`--scale n+1 --no-recreate`);
//!    the edge knows nothing of it yet;
//! 2. it is gated on readiness: stackgen's own HTTP probe and the engine's health;
//! 3. the edge gets it as a new server of the service's backend, and the old servers
//!    drain (runtime API, no reload): every new request goes to the new container, what
//!    the old ones serve (requests in flight, WebSockets, streams) stays with them;
//! 4. once that is done, or after the service's `drain_timeout` (the edge then closes
//!    what is left, and `up` says how many), the old containers are stopped (SIGTERM:
//!    gunicorn finishes what it serves) and removed.
//!
//! A new container that never becomes ready is removed: the old containers and the edge
//! were never touched, nor any connection. The compose file is not changed by any of
//! this: once the old container is gone, what runs is exactly what the file says.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::engine::docker::{self, Container, Health, Project, State};
use crate::error::Error;
use crate::progress;
use crate::stack::{Service, Stack};
use crate::targets::compose::edge::{self, EdgeProxy};
use crate::targets::probe;

/// How long the old container gets to finish after SIGTERM before it is killed.
const STOP_GRACE_SECS: u64 = 30;

pub struct StartFirst<'a> {
    pub stack: &'a Stack,
    pub project: &'a Project,
    pub edge: Option<&'a EdgeProxy>,
}

/// What a replacement does between starting the new container and gating it.
#[derive(Default)]
pub struct Gate<'h> {
    /// Runs once the new container answers HTTP at all (any status), before the gate:
    /// what its readiness depends on is set here (a password the database must accept
    /// from now on). An `Err` abandons the new container.
    pub before: Option<&'h dyn Fn() -> Result<(), String>>,
    /// Gate on stackgen's own probe alone, not on the engine's health check too: for a
    /// new container of the very config and image that already runs, so the switch
    /// follows the first good answer by milliseconds, not by a health-check interval.
    pub probe_only: bool,
}

impl StartFirst<'_> {
    /// Replaces `old` (the service's ready containers) with one new container. On
    /// failure the old containers and the edge are as they were.
    pub fn replace(&self, svc: &Service, old: &[Container]) -> Result<Container, Error> {
        self.replace_gated(svc, old, &Gate::default())
    }

    /// [`replace`](Self::replace), with `gate` between the start and the switch.
    pub fn replace_gated(
        &self,
        svc: &Service,
        old: &[Container],
        gate: &Gate,
    ) -> Result<Container, Error> {
        let routed = self.stack.routed(svc);
        progress::note(format_args!(
            "{}: starting a new container beside the old one",
            svc.name
        ));
        let started = Instant::now();
        if !self.project.add_container(&svc.name, old.len())? {
            return Err(self.abandon(svc, None, "compose could not start it".into()));
        }
        let new = docker::containers(&self.project.name)?
            .into_iter()
            .find(|c| c.service == svc.name && old.iter().all(|o| o.id != c.id));
        let Some(new) = new else {
            return Err(self.abandon(svc, None, "compose started no new container".into()));
        };
        let mut new = new;
        if let Some(before) = gate.before {
            let prepared = self
                .wait_answering(svc, &mut new, routed)
                .and_then(|()| before());
            if let Err(why) = prepared {
                return Err(self.abandon(svc, Some(&new), why));
            }
        }
        if let Err(why) = self.wait_ready(svc, &mut new, routed, gate.probe_only) {
            return Err(self.abandon(svc, Some(&new), why));
        }
        progress::note(format_args!(
            "{}: new container {} ready in {:.1}s; switching over",
            svc.name,
            new.id,
            started.elapsed().as_secs_f64()
        ));
        self.cut_over(svc, &new, old)?;
        Ok(new)
    }

    /// Steps 3 and 4: the edge's requests for `svc` go to `new` (ready), the `old`
    /// containers drain, stop and go. Also how an interrupted replacement is finished.
    pub fn cut_over(&self, svc: &Service, new: &Container, old: &[Container]) -> Result<(), Error> {
        let drained = match (self.stack.routed(svc), self.edge) {
            (true, Some(edge)) => self.switch(edge, svc, new)?,
            _ => Vec::new(),
        };
        // SIGTERM: the app finishes what it serves and closes its long-lived
        // connections its own way (a WebSocket close frame, the end of a stream).
        for o in old {
            docker::stop_and_remove(&o.id, STOP_GRACE_SECS)?;
            progress::note(format_args!(
                "{}: old container {} drained and removed",
                svc.name, o.id
            ));
        }
        if let (false, Some(edge)) = (drained.is_empty(), self.edge) {
            edge.retire(&svc.name, &drained)?;
        }
        Ok(())
    }

    /// The edge sends `svc`'s new requests to `new` and drains the old servers; returns
    /// them once they serve nothing, or after the drain timeout, saying how many
    /// connections they still held (their container's stop closes them).
    fn switch(
        &self,
        edge: &EdgeProxy,
        svc: &Service,
        new: &Container,
    ) -> Result<Vec<String>, Error> {
        let address = edge::address(self.stack, new).ok_or_else(|| {
            Error::runtime(
                format!(
                    "the new `{}` has no address on the edge's network",
                    svc.name
                ),
                None,
            )
        })?;
        let name = format!("{}-{}", svc.name, &new.id[..new.id.len().min(12)]);
        let drained = edge.switch(&svc.name, &name, &address)?;
        let started = Instant::now();
        let closed = edge.drain(&svc.name, &drained, svc.drain_timeout)?;
        if closed > 0 {
            progress::warn(format_args!(
                "{}: drain timeout ({}s): {closed} connection{} still open to the old container, closed as it stops",
                svc.name,
                svc.drain_timeout.as_secs(),
                if closed == 1 { "" } else { "s" }
            ));
        } else if started.elapsed() > Duration::from_millis(500) {
            progress::note(format_args!(
                "{}: the old container finished what it served in {:.1}s",
                svc.name,
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(drained)
    }

    /// Polls the new container (updating `new`) until it answers the probe and the
    /// engine calls it healthy; the reason when it exits, restarts, turns unhealthy or
    /// runs out of time.
    fn wait_ready(
        &self,
        svc: &Service,
        new: &mut Container,
        probe_http: bool,
        probe_only: bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(u64::from(self.stack.wait_timeout));
        let mut answered = !probe_http;
        loop {
            if new.restarts > 0 || new.state.has_stopped() {
                return Err(format!("it {}", crashed(new)));
            }
            if new.health == Health::Unhealthy {
                return Err("its health check failed".into());
            }
            if !answered {
                answered = edge::address(self.stack, new).is_some_and(|a| {
                    probe::http_ok(&a, &svc.healthcheck.path, Duration::from_secs(2)).is_ok()
                });
            }
            if answered && (new.is_ready() || (probe_only && probe_http)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let why = format!(
                    "not ready within {}s ({})",
                    self.stack.wait_timeout,
                    new.describe()
                );
                return Err(why);
            }
            std::thread::sleep(probe::INTERVAL);
            match docker::inspect(&[&new.id]) {
                Ok(mut found) if !found.is_empty() => *new = found.remove(0),
                _ => return Err("its container disappeared".into()),
            }
        }
    }

    /// Polls the new container until it answers HTTP with any status (or, unprobed,
    /// until it runs); the reason when it exits first or runs out of time.
    fn wait_answering(
        &self,
        svc: &Service,
        new: &mut Container,
        probe_http: bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(u64::from(self.stack.wait_timeout));
        loop {
            if new.state.has_stopped() {
                return Err(format!("it {}", crashed(new)));
            }
            let answers = !probe_http
                || edge::address(self.stack, new).is_some_and(|a| {
                    match probe::http_ok(&a, &svc.healthcheck.path, Duration::from_secs(2)) {
                        Ok(()) => true,
                        Err(why) => why.starts_with("answered"),
                    }
                });
            if answers && new.is_running() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("no answer within {}s", self.stack.wait_timeout));
            }
            std::thread::sleep(Duration::from_millis(50));
            match docker::inspect(&[&new.id]) {
                Ok(mut found) if !found.is_empty() => *new = found.remove(0),
                _ => return Err("its container disappeared".into()),
            }
        }
    }

    /// A new container that will not do: its logs shown, it removed. The old containers
    /// and the edge were never touched.
    fn abandon(&self, svc: &Service, new: Option<&Container>, why: String) -> Error {
        progress::warn(format_args!(
            "\nservice `{}`: the new container is not ready: {why}",
            svc.name
        ));
        if let Some(new) = new {
            progress::warn(format_args!("its last log lines:"));
            for line in docker::container_logs(&new.id, 20)
                .unwrap_or_default()
                .lines()
            {
                progress::warn(format_args!("  {line}"));
            }
            if let Err(e) = docker::remove_container(&new.id) {
                progress::warn(format_args!("could not remove it: {e}"));
            }
        }
        Error::runtime(
            format!(
                "deploy failed: the new `{}` is not ready ({why}); it was removed and the old container kept serving",
                svc.name
            ),
            Some(
                "read the logs above, fix the service and run `stackgen up` again; nothing was rolled back because nothing was switched over".into(),
            ),
        )
    }
}

fn crashed(c: &Container) -> String {
    if c.state == State::Exited || c.exit_code != 0 {
        format!("exited with code {}", c.exit_code)
    } else {
        format!("restarted {} times", c.restarts)
    }
}
