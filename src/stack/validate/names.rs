//! The names a service declares: its own (a DNS name on the stack's networks) and its
//! environment variables'.

use std::collections::BTreeMap;

use crate::error::Problem;
use crate::stack::syntax::{is_dns_label, is_env_name};

use super::location::ServiceAt;

/// The service's name, the key of its `[services.<name>]` table.
pub(super) fn service(svc: ServiceAt<'_>, problems: &mut Vec<Problem>) {
    if !is_dns_label(svc.name) {
        problems.push(
            Problem::new(
                svc.table(),
                format!("`{}` is not a valid service name", svc.name),
            )
            .hint("use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`"),
        );
    }
}

/// The names in the service's `environment`.
pub(super) fn environment(
    svc: ServiceAt<'_>,
    environment: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) {
    for var in environment.keys() {
        if !is_env_name(var) {
            problems.push(
                Problem::new(
                    svc.key("environment"),
                    format!("`{var}` is not a valid environment variable name"),
                )
                .hint("use letters, digits and `_`, not starting with a digit"),
            );
        }
    }
}
