//! What `stackgen logs` hands on to `docker compose logs` and `docker service logs`,
//! checked before any process starts: `--since` as the docker CLI reads it, `--tail` a
//! number or `all`. Pure: `docker` runs the commands these flags go into.
//!
//! Why check at all when docker checks too: a mistake is then exit 2 with stackgen's
//! message and a hint, before the engine is asked anything, the same for both targets.
//! The value itself is passed on as written, so docker alone decides what it means
//! (a duration counts back from the engine's clock, a time without zone is local).

/// The checked options of one `logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep printing new lines until Ctrl-C.
    pub follow: bool,
    /// Only lines since this time (as checked by [`is_since`]).
    pub since: Option<String>,
    /// Only the last N lines of each container, or `all` (as checked by [`is_tail`]).
    pub tail: Option<String>,
    /// Each line with the engine's timestamp.
    pub timestamps: bool,
    /// Whether compose may colour its service prefixes.
    pub colour: bool,
}

impl LogOptions {
    /// The flags `docker compose logs` and `docker service logs` both take, in a fixed
    /// order. Colour is compose's own flag: see `Project::logs_follow_args`.
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.follow {
            out.push("--follow".to_string());
        }
        if let Some(since) = &self.since {
            out.push("--since".to_string());
            out.push(since.clone());
        }
        if let Some(tail) = &self.tail {
            out.push("--tail".to_string());
            out.push(tail.clone());
        }
        if self.timestamps {
            out.push("--timestamps".to_string());
        }
        out
    }
}

/// `all`, or a number of lines (`0` is none: with `--follow`, only new lines).
pub fn is_tail(value: &str) -> bool {
    value == "all" || (!value.is_empty() && value.len() <= 19 && all_digits(value))
}

/// What the docker CLI's `--since` accepts (its `GetTimestamp`), minus signs: a Go
/// duration back from now (`90s`, `10m`, `1h30m`, `1.5h`; units `ns us µs ms s m h`),
/// unix seconds (`1764583200`, `1764583200.5`), or a date and time, `2026-12-01`,
/// `2026-12-01T10`, `2026-12-01T10:00`, `2026-12-01T10:00:00[.123]`, each with an
/// optional zone (`Z`, `+01:00`, `-05:00`; without one, the engine's local time).
pub fn is_since(value: &str) -> bool {
    is_go_duration(value) || is_unix_seconds(value) || is_timestamp(value)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `time.ParseDuration` without a sign: one or more `<number><unit>`, where a number
/// has digits before or after an optional `.`. A bare `0` is unix seconds to docker.
fn is_go_duration(value: &str) -> bool {
    const UNITS: [&str; 8] = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"];
    let mut rest = value;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(number);
        let (whole, fraction) = num.split_once('.').unwrap_or((num, ""));
        let digits_ok = (!whole.is_empty() || !fraction.is_empty())
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok {
            return false;
        }
        // In `UNITS`' order, so `ms` is tried before `m`.
        let Some(unit) = UNITS.iter().find(|u| tail.starts_with(*u)) else {
            return false;
        };
        rest = &tail[unit.len()..];
    }
    true
}

fn is_unix_seconds(value: &str) -> bool {
    match value.split_once('.') {
        Some((secs, frac)) => all_digits(secs) && all_digits(frac),
        None => all_digits(value),
    }
}

/// `YYYY-MM-DD[Thh[:mm[:ss[.frac]]]][Z|±hh:mm]`, each field in range.
fn is_timestamp(value: &str) -> bool {
    let (local, zone) = split_zone(value);
    if !zone.is_none_or(is_zone) {
        return false;
    }
    let (date, time) = match local.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (local, None),
    };
    is_date(date) && time.is_none_or(is_time)
}

/// The local part and the zone: a trailing `Z`, or `+hh:mm` / `-hh:mm` after the date.
fn split_zone(value: &str) -> (&str, Option<&str>) {
    if let Some(local) = value.strip_suffix('Z') {
        return (local, Some("Z"));
    }
    // A sign after the date's two dashes (index 10 and on) starts a zone.
    match value.get(10..).and_then(|t| t.rfind(['+', '-'])) {
        Some(i) => (&value[..10 + i], Some(&value[10 + i..])),
        None => (value, None),
    }
}

fn is_zone(zone: &str) -> bool {
    if zone == "Z" {
        return true;
    }
    let Some(offset) = zone.strip_prefix(['+', '-']) else {
        return false;
    };
    matches!(offset.split_once(':'), Some((h, m)) if field(h, 0, 24) && field(m, 0, 59))
}

/// A two-digit field in `min..=max`.
fn field(s: &str, min: u32, max: u32) -> bool {
    s.len() == 2 && all_digits(s) && s.parse::<u32>().is_ok_and(|n| (min..=max).contains(&n))
}

fn is_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split('-').collect();
    let [year, month, day] = parts[..] else {
        return false;
    };
    if year.len() != 4 || !all_digits(year) || !field(month, 1, 12) {
        return false;
    }
    let (year, month): (u32, u32) = (year.parse().unwrap_or(0), month.parse().unwrap_or(0));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    field(day, 1, days)
}

/// `hh`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.frac`.
fn is_time(time: &str) -> bool {
    let (clock, fraction) = match time.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (time, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let fields_ok = match parts[..] {
        [h] => field(h, 0, 23),
        [h, m] => field(h, 0, 23) && field(m, 0, 59),
        [h, m, s] => field(h, 0, 23) && field(m, 0, 59) && field(s, 0, 59),
        _ => false,
    };
    // A fraction only after seconds, as in RFC 3339.
    fields_ok && fraction.is_none_or(|f| parts.len() == 3 && all_digits(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_what_the_docker_cli_takes() {
        for ok in [
            "10m",
            "1h30m",
            "90s",
            "1.5h",
            ".5h",
            "300ms",
            "2h45m10s",
            "10µs",
            "0",
            // Plain digits are unix seconds, so `10` is 1970, as docker reads it.
            "10",
            "1764583200",
            "1764583200.123",
            "2026-12-01",
            "2026-12-01T10",
            "2026-12-01T10:00",
            "2026-12-01T10:00:00",
            "2026-12-01T10:00:00.123456789",
            "2026-12-01T10:00:00Z",
            "2026-12-01T10:00:00+01:00",
            "2026-12-01T10:00:00-05:00",
            "2026-12-01T10:00:00.5Z",
            "2026-12-01T10Z",
            "2026-12-01Z",
            "2026-12-01+01:00",
            "2024-02-29",
        ] {
            assert!(is_since(ok), "{ok} should be accepted");
        }
        for bad in [
            "",
            "10x",
            "1d",
            "m",
            "1h30",
            "ten minutes",
            "10 m",
            "-1h",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-12-01T24:00",
            "2026-12-01T10:60",
            "2026-12-01 10:00:00",
            "2026-12-01t10:00:00",
            "2026-12-01T10:00.5",
            "2026-12-01T10:00:00+1",
            "26-12-01",
            "1764583200.",
            "1.2.3",
        ] {
            assert!(!is_since(bad), "{bad:?} should be refused");
        }
    }

    #[test]
    fn tail_is_a_number_or_all() {
        for ok in ["0", "1", "100", "all"] {
            assert!(is_tail(ok), "{ok}");
        }
        for bad in ["", "-1", "ten", "1.5", "ALL", "99999999999999999999"] {
            assert!(!is_tail(bad), "{bad:?}");
        }
    }

    #[test]
    fn flags_are_in_a_fixed_order() {
        let options = LogOptions {
            follow: true,
            since: Some("10m".into()),
            tail: Some("5".into()),
            timestamps: true,
            colour: false,
        };
        assert_eq!(
            options.flags().join(" "),
            "--follow --since 10m --tail 5 --timestamps"
        );
        assert!(LogOptions::default().flags().is_empty());
    }
}
