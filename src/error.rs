//! Errors the user must act on, and the exit code each one maps to.
//!
//! `Error::Input` is bad input (stack file, template, command line): exit 2, and nothing
//! has been written, built or started. `Error::Runtime` is a failure of the engine or the
//! deploy itself: exit 3. Plumbing errors travel as `anyhow::Error` and also exit 3.
//! Exit 1 is no error: it is a checking command's answer "differs" (`diff --exit-code`,
//! `status`, `render --check`, `schema --check`, `check`), as in `git diff --exit-code`,
//! so a script can tell "something would change" from "something broke".

use std::fmt;

/// Exit code of a checking command whose answer is "differs": something would change,
/// is not in sync, is stale, or breaks the policy.
pub const DIFFERS: u8 = 1;
/// Exit code of bad input: nothing was written, built or started.
pub const INPUT: u8 = 2;
/// Exit code of a runtime failure: the engine, a build, a deploy, a backup or a restore.
pub const RUNTIME: u8 = 3;

/// One problem found in the input, with where it is, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a file, optionally with line and column and a key path (`stack.toml:7:1: services.hello.port`).
    pub location: String,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            location: location.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The problem as a terminal may show it, whatever text of the input it quotes:
    /// control characters escaped (`\u{1b}`), each `quoted` piece cut to
    /// [`QUOTE_CHARS`] characters (a 10 MB value is not echoed back whole).
    pub fn printable(self) -> Self {
        Problem {
            location: printable(&self.location),
            message: printable(&self.message),
            hint: self.hint.as_deref().map(printable),
        }
    }
}

/// The most characters of one backtick-quoted piece of input a message shows.
pub const QUOTE_CHARS: usize = 60;

fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut quoted: Option<usize> = None;
    for c in text.chars() {
        if c == '`' {
            if quoted.is_some_and(|n| n > QUOTE_CHARS) {
                out.push('…');
            }
            quoted = if quoted.is_some() { None } else { Some(0) };
            out.push(c);
            continue;
        }
        if let Some(n) = quoted.as_mut() {
            *n += 1;
            if *n > QUOTE_CHARS {
                continue;
            }
        }
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&c.escape_unicode().to_string());
            }
            c => out.push(c),
        }
    }
    if quoted.is_some_and(|n| n > QUOTE_CHARS) {
        out.push('…');
    }
    out
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; every problem found in one pass, so the user fixes them in one go.
    #[error("{}", render_problems(.0))]
    Input(Vec<Problem>),
    /// The engine or the deploy failed.
    #[error("{message}")]
    Runtime {
        message: String,
        hint: Option<String>,
    },
    /// A check's answer is "differs" (stale files): exit 1, not a failure of stackgen.
    #[error("{message}")]
    Differs {
        message: String,
        hint: Option<String>,
    },
}

impl Error {
    pub fn input(problem: Problem) -> Self {
        Error::Input(vec![problem])
    }

    pub fn runtime(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::Runtime {
            message: message.into(),
            hint,
        }
    }

    pub fn differs(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::Differs {
            message: message.into(),
            hint,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => INPUT,
            Error::Runtime { .. } => RUNTIME,
            Error::Differs { .. } => DIFFERS,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Runtime { hint, .. } | Error::Differs { hint, .. } => hint.as_deref(),
            Error::Input(_) => None,
        }
    }
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push_str("\nerror: ");
        }
        out.push_str(&p.to_string());
    }
    out
}

#[cfg(test)]
mod printable_tests {
    use super::*;

    #[test]
    fn quoted_input_is_cut_and_control_characters_escaped() {
        let long = "x".repeat(10_000);
        let p = Problem::new(
            "stack.toml:1:1",
            format!("`{long}` is not a name; `a\u{1b}[31mb`"),
        )
        .printable();
        let shown = format!(
            "`{}…` is not a name; `a\\u{{1b}}[31mb`",
            "x".repeat(QUOTE_CHARS)
        );
        assert_eq!(p.message, shown);
        assert_eq!(
            Problem::new("a", "line one\nline two").printable().message,
            "line one\nline two"
        );
    }
}
