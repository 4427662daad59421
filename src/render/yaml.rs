//! The one quoting layer between the templates and the YAML they write. Every `{{ ... }}`
//! goes through [`format`], the environment's formatter: a string becomes a YAML
//! double-quoted scalar that compose reads back as exactly that string, keys as well as
//! values; a number or a boolean is written as YAML reads it. No template can forget it,
//! and there is nothing to call: `{{ svc.name }}:` writes `"null":` for a service named
//! `null`.
//!
//! What a string goes through, so compose reads what stack.toml says:
//! - JSON string escaping (a JSON string is a valid YAML 1.2 double-quoted scalar): `"`,
//!   `\` and the C0 controls are escaped;
//! - every other character a YAML reader may not take raw, or may read as a line break, is
//!   escaped as `\uXXXX`: DEL, the C1 controls (U+0085 included), U+2028, U+2029, U+FEFF,
//!   U+FFFE and U+FFFF;
//! - every `$` is doubled: compose interpolates `$NAME` and `${NAME}` from the deployer's
//!   shell in every value, and reads `$$` as one `$`. Keys are never interpolated, and no
//!   key stackgen writes can hold a `$` (names are validated), so doubling is right
//!   everywhere the formatter writes.
//!
//! Inside a YAML comment, the [`comment`] filter writes text raw, with anything that could
//! end the comment replaced. The filters that would write a value past the layer (`safe`,
//! `tojson`) are refused. A macro's output is template text already written through the
//! formatter, so it is not quoted twice (the environment's auto-escape mode makes it so).

use std::fmt::Write as _;

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Output, State, Value};

/// Writes what a `{{ ... }}` evaluates to.
pub(super) fn format(out: &mut Output, _state: &State, value: &Value) -> Result<(), Error> {
    let text = match value.kind() {
        ValueKind::Undefined | ValueKind::None => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "a template wrote an undefined or none value",
            ));
        }
        // Only the `comment` filter makes these.
        ValueKind::String if value.is_safe() => value.as_str().unwrap_or_default().to_string(),
        ValueKind::String => scalar(value.as_str().unwrap_or_default()),
        ValueKind::Bool => value.is_true().to_string(),
        ValueKind::Number => value.to_string(),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("a template wrote a {other} whole; write its items one by one"),
            ));
        }
    };
    out.write_str(&text).map_err(Error::from)
}

/// A YAML double-quoted scalar that compose reads back as `s`.
pub fn scalar(s: &str) -> String {
    let json = serde_json::to_string(s).expect("a string serialises");
    let mut out = String::with_capacity(json.len() + 2);
    for c in json.chars() {
        match c {
            '$' => out.push_str("$$"),
            '\u{7f}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}' => {
                write!(out, "\\u{:04X}", u32::from(c)).expect("a String takes writes");
            }
            c => out.push(c),
        }
    }
    out
}

/// `{{ text|comment }}`: text for inside a YAML comment, written raw, with line breaks and
/// other control characters replaced by a space.
pub(super) fn comment(value: Value) -> Value {
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_string(),
    };
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect();
    Value::from_safe_string(clean)
}

/// `safe` and `tojson` would write a value past the quoting layer: refused.
pub(super) fn refused(_value: Value) -> Result<Value, Error> {
    Err(Error::new(
        ErrorKind::InvalidOperation,
        "not available: stackgen quotes every value it writes (inside a YAML comment, use `comment`)",
    ))
}

/// `q` quoted values before the formatter did; refused, so a template written for it says
/// what to change instead of quoting twice.
pub(super) fn q(_value: Value) -> Result<Value, Error> {
    Err(Error::new(
        ErrorKind::InvalidOperation,
        "`q` is gone: stackgen now quotes every `{{ ... }}` itself; remove `|q`",
    ))
}

#[cfg(test)]
mod tests {
    use super::scalar;

    #[test]
    fn strings_are_quoted_and_dollars_doubled() {
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("null"), "\"null\"");
        assert_eq!(scalar("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(scalar("$HOME"), "\"$$HOME\"");
        assert_eq!(scalar("$$"), "\"$$$$\"");
        assert_eq!(scalar("${X:?must be set}"), "\"$${X:?must be set}\"");
    }

    #[test]
    fn unsafe_characters_are_escaped() {
        assert_eq!(scalar("a\u{85}b"), "\"a\\u0085b\"");
        assert_eq!(scalar("\u{7f}\u{90}"), "\"\\u007F\\u0090\"");
        assert_eq!(
            scalar("\u{feff}\u{fffe}\u{ffff}"),
            "\"\\uFEFF\\uFFFE\\uFFFF\""
        );
        assert_eq!(scalar("\u{2028}\u{2029}"), "\"\\u2028\\u2029\"");
        assert_eq!(scalar("\n\t\u{0}"), "\"\\n\\t\\u0000\"");
        // Printable non-ASCII stays as it is.
        assert_eq!(scalar("Grüße 🌍"), "\"Grüße 🌍\"");
    }
}
