//! A service's `security`: what it relaxes of the hardened defaults (a writable root
//! filesystem, capabilities added back, another user).

use crate::error::Problem;
use crate::stack::model::Security;
use crate::stack::raw::RawSecurity;

use super::location::ServiceAt;

/// The checked security settings; only valid capabilities are kept.
pub(super) fn check(
    svc: ServiceAt<'_>,
    raw: &RawSecurity,
    problems: &mut Vec<Problem>,
) -> Security {
    let cap_add = cap_add(svc, &raw.cap_add, problems);
    if let Some(user) = &raw.user
        && (user.is_empty() || user.contains(char::is_whitespace))
    {
        problems.push(
            Problem::new(svc.key("security.user"), format!("`{user}` is not a user"))
                .hint("write `uid`, `uid:gid` or a user name"),
        );
    }
    Security {
        read_only: raw.read_only.unwrap_or(true),
        cap_add,
        user: raw.user.clone(),
    }
}

/// Capability names without `CAP_`, sorted and deduplicated; never `ALL`.
fn cap_add(svc: ServiceAt<'_>, caps: &[String], problems: &mut Vec<Problem>) -> Vec<String> {
    let mut out = Vec::new();
    for cap in caps {
        let name = cap.strip_prefix("CAP_").unwrap_or(cap);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            problems.push(
                Problem::new(
                    svc.key("security.cap_add"),
                    format!("`{cap}` is not a capability name"),
                )
                .hint("write it like `NET_BIND_SERVICE`; see capabilities(7)"),
            );
        } else if name == "ALL" {
            problems.push(
                Problem::new(
                    svc.key("security.cap_add"),
                    "adding back ALL capabilities is not allowed",
                )
                .hint("name the one capability the service needs"),
            );
        } else {
            out.push(name.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}
