//! How a command ends, and the exit code each way maps to, in one place ([`Exit::code`],
//! [`Error::exit_code`]).
//!
//! A command that ran returns an [`Exit`]: success (0), a check's answer "differs" (1:
//! `diff --exit-code`, `status`, `render --check`, `schema --check`, `check`, as in
//! `git diff --exit-code`, so a script can tell "something would change" from
//! "something broke"), declined (2: `restore` not confirmed, nothing changed), not
//! serving (4: `status` found a service its users do not reach) or interrupted (130, as
//! a shell shows Ctrl-C). One that failed returns an [`Error`]:
//! `Error::Input` is bad input (stack file, template, command line): exit 2, and
//! nothing has been written, built or started; `Error::Runtime` is a failure of the
//! engine or the deploy itself: exit 3, with what caused it. Plumbing errors travel as
//! `anyhow::Error` and become `Error::Runtime` through one conversion, their chain kept
//! as `Caused by:` lines.

use std::fmt;

/// How a command that ran to its end ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A check's answer is "differs": something would change, is not in sync, is stale,
    /// or breaks the policy.
    Differs,
    /// The operator said no (or could not be asked): nothing was changed.
    Declined,
    /// `status`: a service does not serve its users (missing, unreachable, unhealthy,
    /// restarting), whatever else differs.
    NotServing,
    /// Ctrl-C stopped it.
    Interrupted,
}

impl Exit {
    /// `Differs` when `differs`, else `Success`.
    pub fn differs_if(differs: bool) -> Exit {
        if differs {
            Exit::Differs
        } else {
            Exit::Success
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Differs => 1,
            Exit::Declined => INPUT,
            Exit::NotServing => NOT_SERVING,
            Exit::Interrupted => 130,
        }
    }
}

/// Exit code of bad input (and of a declined confirmation): nothing was written, built
/// or started.
const INPUT: u8 = 2;
/// Exit code of a runtime failure: the engine, a build, a deploy, a backup or a restore.
const RUNTIME: u8 = 3;
/// Exit code of `status` when a service does not serve its users.
const NOT_SERVING: u8 = 4;

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
    /// The engine or the deploy failed: what happened, what caused it, how to fix it.
    #[error("{message}")]
    Runtime {
        message: String,
        hint: Option<String>,
        cause: Option<Cause>,
    },
}

/// The plumbing error a runtime error comes from; its messages are the `Caused by:`
/// lines under the error's own.
#[derive(Debug)]
pub struct Cause {
    error: anyhow::Error,
    /// Whether the error's own message is this chain's first one (the error *is* the
    /// plumbing error, converted), so it is not shown twice.
    first_is_message: bool,
}

impl Error {
    pub fn input(problem: Problem) -> Self {
        Error::Input(vec![problem])
    }

    pub fn runtime(message: impl Into<String>, hint: Option<String>) -> Self {
        Error::Runtime {
            message: message.into(),
            hint,
            cause: None,
        }
    }

    /// The same error, caused by `error` (a runtime error; bad input has no cause).
    pub fn caused_by(self, error: impl Into<anyhow::Error>) -> Self {
        match self {
            Error::Runtime { message, hint, .. } => Error::Runtime {
                message,
                hint,
                cause: Some(Cause {
                    error: error.into(),
                    first_is_message: false,
                }),
            },
            input => input,
        }
    }

    /// A runtime error saying `message` and `hint` instead, caused by what caused this
    /// one: for a failure that was followed by more (a rollback), told in one error.
    pub fn rephrased(self, message: String, hint: Option<String>) -> Self {
        let cause = match self {
            Error::Runtime { cause, .. } => cause,
            Error::Input(_) => None,
        };
        Error::Runtime {
            message,
            hint,
            cause,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => INPUT,
            Error::Runtime { .. } => RUNTIME,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Runtime { hint, .. } => hint.as_deref(),
            Error::Input(_) => None,
        }
    }

    /// What caused it, outermost first, each once.
    pub fn causes(&self) -> Vec<String> {
        let Error::Runtime {
            cause: Some(cause), ..
        } = self
        else {
            return Vec::new();
        };
        let skip = usize::from(cause.first_is_message);
        cause
            .error
            .chain()
            .skip(skip)
            .map(ToString::to_string)
            .collect()
    }
}

/// The one conversion of a plumbing error: an [`Error`] inside it (under any context)
/// is itself; anything else is a runtime error saying its outermost message, caused by
/// the rest of its chain.
impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<Error>() {
            Ok(error) => error,
            Err(error) => Error::Runtime {
                message: error.to_string(),
                hint: None,
                cause: Some(Cause {
                    error,
                    first_is_message: true,
                }),
            },
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::from(anyhow::Error::from(error))
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

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn plumbing() -> anyhow::Error {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        Err::<(), _>(io)
            .context("cannot run `docker ps`")
            .unwrap_err()
    }

    #[test]
    fn a_converted_plumbing_error_keeps_its_chain_as_causes() {
        let e = Error::from(plumbing());
        assert_eq!(e.to_string(), "cannot run `docker ps`");
        assert_eq!(e.causes(), ["no such file"]);
        assert_eq!(e.exit_code(), 3);
        let typed = Error::runtime("the deploy failed", Some("look".into())).caused_by(plumbing());
        assert_eq!(typed.causes(), ["cannot run `docker ps`", "no such file"]);
        let again = typed.rephrased("the deploy failed; rolled back".into(), None);
        assert_eq!(again.causes(), ["cannot run `docker ps`", "no such file"]);
        assert_eq!(again.hint(), None);
    }

    #[test]
    fn a_typed_error_inside_a_plumbing_error_is_itself() {
        let inner = anyhow::Error::from(Error::input(Problem::new("stack.toml", "bad")))
            .context("while loading");
        let e = Error::from(inner);
        assert!(matches!(e, Error::Input(_)));
        assert_eq!(e.exit_code(), 2);
        assert!(e.causes().is_empty());
    }

    #[test]
    fn each_way_a_command_ends_has_its_code() {
        let codes: Vec<u8> = [
            Exit::Success,
            Exit::Differs,
            Exit::Declined,
            Exit::NotServing,
            Exit::Interrupted,
        ]
        .into_iter()
        .map(Exit::code)
        .collect();
        assert_eq!(codes, [0, 1, 2, 4, 130]);
        assert_eq!(Exit::differs_if(true), Exit::Differs);
        assert_eq!(Exit::differs_if(false), Exit::Success);
    }
}
