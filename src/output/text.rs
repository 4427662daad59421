//! The pure pieces of what stackgen prints about its work: durations, `-v`'s command
//! lines, and the filter that drops the lines compose repeats.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Duration;

/// A running build's elapsed time, to the second: `7s`, `2m 04s`, `1h 02m 09s`.
pub fn running(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, s) => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// A finished step's time, in seconds to a tenth, as every "in N.Ns" line says it.
pub fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// `argv` as one line a POSIX shell would run the same way: each word quoted where it
/// needs to be, after `NAME=value` words for the variables set for the command.
pub fn command_line(env: &[(String, String)], argv: &[String]) -> String {
    let env = env.iter().map(|(k, v)| format!("{k}={}", quote(v)));
    let argv = argv.iter().map(|a| quote(a).into_owned());
    env.chain(argv).collect::<Vec<_>>().join(" ")
}

/// One shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes (a `'` inside written `'\''`).
pub fn quote(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=:,./@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return Cow::Borrowed(word);
    }
    Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
}

/// Drops the lines one command already printed. Compose's plain progress writes some
/// events twice (`Network x Creating` twice, then `Created` twice: Compose v5.6 here),
/// which says nothing new; order is kept and every other line passes.
#[derive(Debug, Default)]
pub struct Dedup {
    seen: BTreeSet<String>,
}

impl Dedup {
    /// Whether `line` is to be shown: not blank, and not shown before.
    pub fn admit(&mut self, line: &str) -> bool {
        let line = line.trim_end();
        !line.trim().is_empty() && self.seen.insert(line.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_clock_and_as_seconds() {
        let s = Duration::from_secs;
        assert_eq!(running(s(0)), "0s");
        assert_eq!(running(Duration::from_millis(12_900)), "12s");
        assert_eq!(running(s(124)), "2m 04s");
        assert_eq!(running(s(3729)), "1h 02m 09s");
        assert_eq!(seconds(Duration::from_millis(34_249)), "34.2s");
        assert_eq!(seconds(Duration::from_millis(125_060)), "125.1s");
        assert_eq!(seconds(Duration::ZERO), "0.0s");
    }

    #[test]
    fn command_lines_quote_only_what_a_shell_would_split_or_expand() {
        let argv: Vec<String> = [
            "docker",
            "compose",
            "--project-name",
            "demo",
            "--file",
            "/p/my stack/generated/docker-compose.yml",
            "{{.Id}}",
            "it's",
            "",
            "a=b",
            "$HOME",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            command_line(&[], &argv),
            r#"docker compose --project-name demo --file '/p/my stack/generated/docker-compose.yml' '{{.Id}}' 'it'\''s' '' a=b '$HOME'"#
        );
        let env = [("DOCKER_BUILDKIT".to_string(), "0".to_string())];
        assert_eq!(
            command_line(&env, &["docker".into(), "build".into()]),
            "DOCKER_BUILDKIT=0 docker build"
        );
    }

    #[test]
    fn repeated_lines_are_dropped_in_order() {
        // What Compose v5.6 prints for `up` of two networks and a container.
        let compose = [
            " Network s_a Creating ",
            " Network s_a Creating ",
            " Network s_b Creating ",
            " Network s_b Creating ",
            " Network s_a Created ",
            " Network s_a Created ",
            " Container s-a-1 Creating ",
            "",
            " Container s-a-1 Created ",
            " Network s_b Created ",
            " Network s_b Created ",
            " Container s-a-1 Started",
        ];
        let mut dedup = Dedup::default();
        let shown: Vec<&str> = compose.into_iter().filter(|l| dedup.admit(l)).collect();
        assert_eq!(
            shown,
            [
                " Network s_a Creating ",
                " Network s_b Creating ",
                " Network s_a Created ",
                " Container s-a-1 Creating ",
                " Container s-a-1 Created ",
                " Network s_b Created ",
                " Container s-a-1 Started",
            ]
        );
    }
}
