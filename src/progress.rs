//! What stackgen is doing, told by the layers below `output` without printing it
//! themselves: notes (dropped with `-q`), warnings (kept with `-q`), the external commands
//! started (shown with `-v`), image builds as they run, and the progress output of
//! commands like `docker compose up`. `output` decides how each is shown, once, and
//! [`install`]s the [`Sink`] that shows it.
//!
//! Why one installed sink rather than a printer passed down: the engine is reached through
//! the `Target` trait from a dozen commands, and the few lines it has to say would
//! otherwise add a parameter to every method on the way. The sink is set once in `run()`,
//! before any command runs, and never changes.

use std::fmt::Display;
use std::sync::OnceLock;

/// How much stackgen says on stderr: `-q`, the default, or `-v`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Errors, their hints, and warnings the user must see.
    Quiet,
    #[default]
    Normal,
    /// Also every external command started, and their output in full.
    Verbose,
}

/// Shows what the layers below `output` report. Implementations print to stderr.
pub trait Sink: Send + Sync {
    fn verbosity(&self) -> Verbosity;
    /// What stackgen did or is about to do; not shown with `-q`.
    fn note(&self, line: &str);
    /// A warning, or what explains a failure: shown also with `-q`.
    fn warn(&self, line: &str);
    /// An external command about to start: the variables set for it that differ from
    /// stackgen's own environment, then its program and arguments.
    fn command(&self, env: &[(String, String)], argv: &[String]);
    /// A set of image builds about to start, possibly side by side.
    fn builds(&self) -> Box<dyn Builds>;
    /// How a command's progress output (compose's `Creating`, `Started`, ...) reaches the
    /// user: `None` when it writes to stderr itself, else each line through the relay.
    fn relay(&self) -> Option<Box<dyn Relay>>;
}

/// The builds of one batch; `start` is called once per build, before it runs.
pub trait Builds: Send + Sync {
    fn start(&self, service: &str) -> Box<dyn Build>;
}

/// One image build while it runs.
pub trait Build: Send {
    /// A line the build printed.
    fn line(&self, line: &str);
    /// The build ended, successfully or not.
    fn end(self: Box<Self>, ok: bool);
}

/// One command's progress output, line by line.
pub trait Relay: Send {
    fn line(&mut self, line: &str);
    /// The command ended; `ok` false when it failed.
    fn end(self: Box<Self>, ok: bool);
}

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();

/// Sets the sink for the rest of the process; a second call changes nothing.
pub fn install(sink: Box<dyn Sink>) {
    let _ = SINK.set(sink);
}

/// The installed sink, or (in library use and unit tests) plain notes and warnings on
/// stderr, commands not shown, builds silent, command output straight to stderr.
pub fn sink() -> &'static dyn Sink {
    SINK.get().map_or(&Plain as &dyn Sink, |s| s.as_ref())
}

/// A note: what stackgen did or is about to do (not shown with `-q`).
pub fn note(line: impl Display) {
    let sink = sink();
    if sink.verbosity() != Verbosity::Quiet {
        sink.note(&line.to_string());
    }
}

/// A warning, or what explains a failure (shown with `-q` too).
pub fn warn(line: impl Display) {
    sink().warn(&line.to_string());
}

struct Plain;

struct Silent;

impl Sink for Plain {
    fn verbosity(&self) -> Verbosity {
        Verbosity::Normal
    }
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
    fn warn(&self, line: &str) {
        eprintln!("{line}");
    }
    fn command(&self, _env: &[(String, String)], _argv: &[String]) {}
    fn builds(&self) -> Box<dyn Builds> {
        Box::new(Silent)
    }
    fn relay(&self) -> Option<Box<dyn Relay>> {
        None
    }
}

impl Builds for Silent {
    fn start(&self, _service: &str) -> Box<dyn Build> {
        Box::new(Silent)
    }
}

impl Build for Silent {
    fn line(&self, _line: &str) {}
    fn end(self: Box<Self>, _ok: bool) {}
}
