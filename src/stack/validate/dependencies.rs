//! `depends_on`: each service a service depends on is declared and is not itself, and
//! no chain of them comes back to where it started.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Problem;
use crate::stack::raw::RawService;

use super::location::{ServiceAt, at};

/// The names of the services some service depends on.
pub(super) fn depended(services: &BTreeMap<String, RawService>) -> BTreeSet<&str> {
    services
        .values()
        .flat_map(|s| s.depends_on.iter().map(String::as_str))
        .collect()
}

/// One service's `depends_on`: each declared, none the service itself.
pub(super) fn depends_on(
    svc: ServiceAt<'_>,
    depends_on: &[String],
    services: &BTreeMap<String, RawService>,
    problems: &mut Vec<Problem>,
) {
    for dep in depends_on {
        if !services.contains_key(dep) {
            problems.push(
                Problem::new(
                    svc.key("depends_on"),
                    format!("depends on `{dep}`, which is not declared"),
                )
                .hint(format!(
                    "declare `[services.{dep}]` or remove it from depends_on"
                )),
            );
        } else if dep == svc.name {
            problems.push(Problem::new(
                svc.key("depends_on"),
                "a service cannot depend on itself",
            ));
        }
    }
}

/// The first dependency cycle among all services, reported once for the whole stack.
pub(super) fn cycle(services: &BTreeMap<String, RawService>, problems: &mut Vec<Problem>) {
    if let Some(cycle) = find_cycle(services) {
        problems.push(
            Problem::new(
                at("services"),
                format!("dependency cycle: {}", cycle.join(" -> ")),
            )
            .hint("remove one of these depends_on entries"),
        );
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    Visiting,
    Done,
}

/// Depth-first search over depends_on; returns the first cycle found, closed.
fn find_cycle(services: &BTreeMap<String, RawService>) -> Option<Vec<String>> {
    let mut marks = BTreeMap::new();
    for name in services.keys() {
        if let Some(c) = visit(name, services, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn visit<'a>(
    name: &'a str,
    services: &'a BTreeMap<String, RawService>,
    marks: &mut BTreeMap<&'a str, Mark>,
    path: &mut Vec<&'a str>,
) -> Option<Vec<String>> {
    match marks.get(name) {
        Some(Mark::Done) => return None,
        Some(Mark::Visiting) => {
            let start = path.iter().position(|n| *n == name).unwrap_or(0);
            let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        None => {}
    }
    marks.insert(name, Mark::Visiting);
    path.push(name);
    if let Some(svc) = services.get(name) {
        // Self-dependencies and undeclared ones are reported per service, not as cycles.
        for dep in &svc.depends_on {
            if dep != name
                && services.contains_key(dep)
                && let Some(c) = visit(dep, services, marks, path)
            {
                return Some(c);
            }
        }
    }
    path.pop();
    marks.insert(name, Mark::Done);
    None
}
