//! Lists that name things (`depends_on`, `secrets`, `hosts`, `placement`,
//! `security.cap_add`): an entry written twice is a mistake, and compose refuses some of
//! them (a `depends_on` mapping cannot hold one service twice), so it is reported here, at
//! the key in stack.toml, rather than left to the render or to compose.

use std::collections::BTreeSet;

use crate::error::Problem;
use crate::stack::raw::RawService;

use super::location::ServiceAt;

/// Every list of `raw` with an entry written twice, once per list.
pub(super) fn duplicates(svc: ServiceAt<'_>, raw: &RawService, problems: &mut Vec<Problem>) {
    for (key, list) in [
        ("depends_on", &raw.depends_on),
        ("secrets", &raw.secrets),
        ("hosts", &raw.hosts),
        ("placement", &raw.placement),
        ("security.cap_add", &raw.security.cap_add),
    ] {
        let mut seen = BTreeSet::new();
        if let Some(twice) = list.iter().find(|entry| !seen.insert(entry.as_str())) {
            problems.push(
                Problem::new(svc.key(key), format!("names `{twice}` twice"))
                    .hint("write each entry once"),
            );
        }
    }
}
