//! How commands print what is not an error: colour (only on a terminal, never with
//! `NO_COLOR`), diff lines and URL lines, and (through the [`printer`] it installs as
//! the progress sink) notes, warnings, `-v`'s command lines, build progress and
//! compose's output. Errors are printed in one place only, `crate::run`.

pub mod printer;
pub mod text;

use std::fmt::Display;
use std::io::{ErrorKind, IsTerminal, Write};

use crate::progress::{self, Verbosity};

pub use crate::progress::{note, warn};

/// Decides, once, how much stderr says: installs the printer every layer reports to.
pub fn install(verbosity: Verbosity) {
    progress::install(Box::new(printer::Printer::new(verbosity)));
}

/// Whether stdout gets colour.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A diff or plan line, coloured by its first character when `on`.
pub fn paint(line: &str, on: bool) -> String {
    if !on {
        return line.to_string();
    }
    let code = match line.chars().next() {
        Some('+') => "32",
        Some('-') => "31",
        Some('@') => "36",
        Some('~') => "33",
        _ => return line.to_string(),
    };
    format!("\x1b[{code}m{line}\x1b[0m")
}

/// A check's answer "differs" that the operator must act on (stale generated files):
/// said as errors are, `error: ...` then `hint: ...`, shown with `-q` too, though the
/// command exits 1 (the answer), not 3 (a failure).
pub fn differs(what: impl Display, hint: &str) {
    warn(format_args!("error: {what}\nhint: {hint}"));
}

/// `<service>\t<url>` on stdout, one line each: the one machine-readable output of `up`,
/// `rollback` and `urls`.
pub fn urls(urls: &[(String, String)]) {
    for (service, url) in urls {
        println!("{service}\t{url}");
    }
}

/// Writes `bytes` to stdout whole. A reader that stopped early (`stackgen man | head`)
/// is no failure, as in ripgrep; `print!` would panic on the closed pipe.
pub fn stdout_bytes(bytes: &[u8]) -> std::io::Result<()> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
