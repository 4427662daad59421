//! The one [`Sink`]: what the lower layers report, shown on stderr as `-q`, `-v` and
//! the terminal decide, once.
//!
//! - builds: on a terminal a live line each (`⠋ building hello  12s`, side by side for
//!   concurrent builds), replaced by `built hello in 34.2s` when done; elsewhere (CI, a
//!   pipe, a file, `TERM=dumb`) the plain lines `building hello` and `built hello in
//!   34.2s`, no escape codes. `-v` prints every line a build writes, as `hello | ...`;
//!   `-q` only `build of hello failed after 3.1s`.
//! - compose's progress: on a terminal compose draws its own live view (which shows no
//!   repeats: it redraws each line in place); elsewhere its lines are passed on as they
//!   come, the ones it repeats dropped. `-v` passes everything; `-q` keeps it for the
//!   failure report, shown only when the command failed.
//!
//! The live lines come from `indicatif`, the Rust convention for terminal progress
//! (console-rs's, well kept; uv draws its progress with it).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::output::text::{self, Dedup};
use crate::progress::{Build, Builds, Relay, Sink, Verbosity};

pub struct Printer {
    verbosity: Verbosity,
    /// stderr is a terminal that can redraw a line (`TERM` is not `dumb`).
    live: bool,
}

impl Printer {
    pub fn new(verbosity: Verbosity) -> Printer {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Printer {
            verbosity,
            live: std::io::stderr().is_terminal() && !dumb,
        }
    }
}

impl Sink for Printer {
    fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    fn note(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{line}");
        }
    }

    fn warn(&self, line: &str) {
        eprintln!("{line}");
    }

    fn command(&self, env: &[(String, String)], argv: &[String]) {
        if self.verbosity == Verbosity::Verbose {
            eprintln!("+ {}", text::command_line(env, argv));
        }
    }

    fn builds(&self) -> Box<dyn Builds> {
        let live = self.live && self.verbosity == Verbosity::Normal;
        Box::new(BuildLines {
            verbosity: self.verbosity,
            multi: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        })
    }

    fn relay(&self) -> Option<Box<dyn Relay>> {
        match self.verbosity {
            Verbosity::Verbose => None,
            Verbosity::Normal if self.live => None,
            Verbosity::Normal => Some(Box::new(PassOn::default())),
            Verbosity::Quiet => Some(Box::new(KeepForFailure::default())),
        }
    }
}

/// One batch of builds: live lines under one `MultiProgress`, or plain lines.
struct BuildLines {
    verbosity: Verbosity,
    multi: Option<MultiProgress>,
}

impl Builds for BuildLines {
    fn start(&self, service: &str) -> Box<dyn Build> {
        let live = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner().with_style(spinner()));
            bar.set_prefix(service.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            (multi.clone(), bar)
        });
        if live.is_none() && self.verbosity != Verbosity::Quiet {
            eprintln!("building {service}");
        }
        Box::new(BuildLine {
            service: service.to_string(),
            verbosity: self.verbosity,
            started: Instant::now(),
            live,
        })
    }
}

/// `⠋ building hello  12s`, the time ticking.
fn spinner() -> ProgressStyle {
    let elapsed = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&text::running(state.elapsed()));
    };
    ProgressStyle::with_template("{spinner} building {prefix}  {elapsed_short}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("elapsed_short", elapsed)
}

struct BuildLine {
    service: String,
    verbosity: Verbosity,
    started: Instant,
    /// On a terminal: the batch's lines and this build's live one.
    live: Option<(MultiProgress, ProgressBar)>,
}

impl Build for BuildLine {
    fn line(&self, line: &str) {
        if self.verbosity == Verbosity::Verbose {
            eprintln!("{} | {line}", self.service);
        }
    }

    fn end(self: Box<Self>, ok: bool) {
        let took = text::seconds(self.started.elapsed());
        let service = &self.service;
        let said = if ok {
            format!("built {service} in {took}")
        } else {
            format!("build of {service} failed after {took}")
        };
        match &self.live {
            // The plain line goes above the live ones still running, and this one goes:
            // when the last is gone the cursor is on a line of its own again.
            Some((multi, bar)) => {
                if multi.println(&said).is_err() {
                    eprintln!("{said}");
                }
                bar.finish_and_clear();
                multi.remove(bar);
            }
            None if ok && self.verbosity == Verbosity::Quiet => {}
            None => eprintln!("{said}"),
        }
    }
}

/// Compose's lines off a terminal: each one on as it comes, repeats dropped.
#[derive(Default)]
struct PassOn {
    dedup: Dedup,
}

impl Relay for PassOn {
    fn line(&mut self, line: &str) {
        if self.dedup.admit(line) {
            eprintln!("{}", line.trim_end());
        }
    }

    fn end(self: Box<Self>, _ok: bool) {}
}

/// Compose's lines with `-q`: kept, shown only when the command failed.
#[derive(Default)]
struct KeepForFailure {
    dedup: Dedup,
    lines: Vec<String>,
}

impl Relay for KeepForFailure {
    fn line(&mut self, line: &str) {
        if self.dedup.admit(line) {
            self.lines.push(line.trim_end().to_string());
        }
    }

    fn end(self: Box<Self>, ok: bool) {
        if !ok {
            for line in &self.lines {
                eprintln!("{line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::InMemoryTerm;

    /// The screen a terminal shows, its lines trimmed, blank ones left out.
    fn screen(term: &InMemoryTerm) -> Vec<String> {
        let contents = term.contents();
        contents
            .lines()
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Issue 16, terminal mode, drawn on an emulated terminal (`vt100`): each running
    /// build has a live line with its time; each one done is a plain line, and when all
    /// are done nothing live is left.
    #[test]
    fn live_build_lines_tick_and_end_as_plain_lines() {
        let term = InMemoryTerm::new(12, 80);
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        let builds = BuildLines {
            verbosity: Verbosity::Normal,
            multi: Some(MultiProgress::with_draw_target(target)),
        };
        let hello = builds.start("hello");
        let db = builds.start("db");
        // The lines tick: within a few seconds (a loaded machine draws late) both say 1s.
        let ticked = |screen: &[String]| {
            screen.len() == 2
                && screen[0].ends_with(" building hello  1s")
                && screen[1].ends_with(" building db  1s")
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ticked(&screen(&term)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let running = screen(&term);
        assert!(ticked(&running), "{running:?}");

        hello.end(true);
        let half = screen(&term);
        assert_eq!(half.len(), 2, "{half:?}");
        let took = |line: &str, said: &str| {
            line.strip_prefix(said)
                .and_then(|t| t.strip_suffix('s'))
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|t| t >= 1.0)
        };
        assert!(took(&half[0], "built hello in "), "{half:?}");
        assert!(half[1].contains(" building db  "), "{half:?}");

        db.end(false);
        let done = screen(&term);
        assert_eq!(done.len(), 2, "{done:?}");
        assert_eq!(done[0], half[0]);
        assert!(took(&done[1], "build of db failed after "), "{done:?}");
    }
}
