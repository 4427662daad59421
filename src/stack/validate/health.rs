//! A service's `healthcheck`: its durations (with their defaults), the HTTP path a kind's
//! default check probes, and an explicit command.

use crate::error::Problem;
use crate::stack::model::Healthcheck;
use crate::stack::raw::RawHealthcheck;
use crate::stack::syntax::is_duration;

use super::location::ServiceAt;

/// The checked healthcheck, defaults filled in; checked in the order interval, timeout,
/// start_period, path, command.
pub(super) fn check(
    svc: ServiceAt<'_>,
    hc: &RawHealthcheck,
    problems: &mut Vec<Problem>,
) -> Healthcheck {
    let healthcheck = Healthcheck {
        path: hc.path.clone().unwrap_or_else(|| "/".to_string()),
        command: hc.command.clone(),
        interval: duration(svc, hc.interval.as_deref(), "1s", "interval", problems),
        timeout: duration(svc, hc.timeout.as_deref(), "3s", "timeout", problems),
        retries: hc.retries.unwrap_or(3),
        start_period: duration(
            svc,
            hc.start_period.as_deref(),
            "15s",
            "start_period",
            problems,
        ),
    };
    if !healthcheck.path.starts_with('/') {
        problems.push(Problem::new(
            svc.key("healthcheck.path"),
            format!("`{}` must start with `/`", healthcheck.path),
        ));
    } else if let Some(bad) = not_in_url(&healthcheck.path) {
        problems.push(
            Problem::new(
                svc.key("healthcheck.path"),
                format!(
                    "`{}` holds {bad}, which a URL path cannot",
                    healthcheck.path
                ),
            )
            .hint("percent-encode it (a space is `%20`): the path is sent as written"),
        );
    }
    if healthcheck.command.as_ref().is_some_and(Vec::is_empty) {
        problems.push(Problem::new(svc.key("healthcheck.command"), "is empty"));
    }
    healthcheck
}

/// The first thing in `path` that an HTTP request's path and query cannot hold as written
/// (RFC 3986: unreserved and sub-delimiter characters, `:@/?`, and `%` with two hex
/// digits), described; `None` when it is a valid path.
fn not_in_url(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Some("a `%` without two hex digits after it".to_string());
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        if !allowed {
            let c = path[i..].chars().next().unwrap_or_default();
            return Some(format!("{c:?} (U+{:04X})", u32::from(c)));
        }
        i += 1;
    }
    None
}

/// The longest `drain_timeout` takes: an hour, as long as the edge keeps an old worker.
const MAX_DRAIN_SECS: u32 = 3600;

/// `drain_timeout` (seconds), default 30; at most an hour.
pub(super) fn drain_timeout(
    svc: ServiceAt<'_>,
    value: Option<u32>,
    problems: &mut Vec<Problem>,
) -> std::time::Duration {
    let secs = value.unwrap_or(30);
    if secs > MAX_DRAIN_SECS {
        problems.push(
            Problem::new(
                svc.key("drain_timeout"),
                format!("{secs} seconds is over an hour"),
            )
            .hint("give old containers at most 3600 seconds to finish what they serve"),
        );
    }
    std::time::Duration::from_secs(u64::from(secs.min(MAX_DRAIN_SECS)))
}

/// `healthcheck.<field>`, or `default`; reported when it is not a duration.
fn duration(
    svc: ServiceAt<'_>,
    value: Option<&str>,
    default: &str,
    field: &str,
    problems: &mut Vec<Problem>,
) -> String {
    let value = value.unwrap_or(default).to_string();
    if !is_duration(&value) {
        problems.push(
            Problem::new(
                svc.key(&format!("healthcheck.{field}")),
                format!("`{value}` is not a duration"),
            )
            .hint("write a number and a unit, like `500ms`, `2s` or `1m`"),
        );
    }
    value
}
