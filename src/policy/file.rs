//! One rendered target file as the rules see it: which target it is for, its YAML, the
//! stack it was rendered from and what the file says once for all its services (its
//! internal networks); and each service in it, with what a rule needs around it.

use std::collections::BTreeSet;

use yaml_rust2::Yaml;

use crate::stack::{Role, Security, Stack, TargetKind};

use super::finding::At;
use super::yaml::scalar;

/// A rendered target file.
pub struct File<'a> {
    pub target: TargetKind,
    pub yaml: &'a Yaml,
    pub stack: &'a Stack,
    /// The networks the file declares `internal: true`.
    internal: BTreeSet<String>,
}

impl<'a> File<'a> {
    pub fn new(target: TargetKind, yaml: &'a Yaml, stack: &'a Stack) -> File<'a> {
        let internal = yaml["networks"]
            .as_hash()
            .into_iter()
            .flatten()
            .filter(|(_, n)| n["internal"].as_bool() == Some(true))
            .filter_map(|(k, _)| scalar(k))
            .collect();
        File {
            target,
            yaml,
            stack,
            internal,
        }
    }

    /// Each service of the file, in the file's order.
    pub fn services(&self) -> impl Iterator<Item = Service<'_>> {
        self.yaml["services"]
            .as_hash()
            .into_iter()
            .flatten()
            .map(|(name, yaml)| Service {
                name: name.as_str().unwrap_or("?"),
                yaml,
                file: self,
            })
    }

    /// A finding about the file as a whole (its top-level keys), under `service`.
    pub fn at<'s>(&self, service: &'s str) -> At<'s> {
        At {
            service,
            target: Some(self.target),
        }
    }

    pub fn is_internal(&self, network: &str) -> bool {
        self.internal.contains(network)
    }
}

/// One service of a rendered target file.
pub struct Service<'a> {
    pub name: &'a str,
    /// The service's YAML in the file.
    pub yaml: &'a Yaml,
    pub file: &'a File<'a>,
}

impl Service<'_> {
    pub fn target(&self) -> TargetKind {
        self.file.target
    }

    pub fn stack(&self) -> &Stack {
        self.file.stack
    }

    /// Where a finding about this service is: the service, in this file.
    pub fn at(&self) -> At<'_> {
        self.file.at(self.name)
    }

    /// What stack.toml relaxes for the service; `None` for a service stack.toml does not
    /// declare (a custom template's), which gets no relaxation.
    pub fn security(&self) -> Option<&Security> {
        self.stack().services.get(self.name).map(|s| &s.security)
    }

    /// Whether the service's kind (its `io.stackgen.kind` label) is a database.
    pub fn is_database(&self) -> bool {
        let kind = scalar(&self.yaml["labels"]["io.stackgen.kind"]).unwrap_or_default();
        self.stack().kinds.get(&kind).map(|k| k.role) == Some(Role::Database)
    }
}
