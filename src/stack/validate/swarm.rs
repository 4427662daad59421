//! A service's swarm-only settings: how many tasks it runs and where they are placed.

use crate::error::Problem;

use super::location::ServiceAt;

/// `replicas`, then each `placement` constraint.
pub(super) fn check(
    svc: ServiceAt<'_>,
    replicas: Option<u32>,
    placement: &[String],
    problems: &mut Vec<Problem>,
) {
    if replicas == Some(0) {
        problems.push(
            Problem::new(svc.key("replicas"), "0 replicas would run nothing")
                .hint("remove the service, or set at least 1"),
        );
    }
    for constraint in placement {
        if !["==", "!="].iter().any(|op| constraint.contains(op)) {
            problems.push(
                Problem::new(
                    svc.key("placement"),
                    format!("`{constraint}` is not a constraint"),
                )
                .hint("write it like `node.labels.stackgen.db == true`"),
            );
        }
    }
}
