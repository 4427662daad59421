//! Validation: the raw model checked once into the [`Stack`] the rest of stackgen reads.
//!
//! It collects every problem it can find in one pass, so an operator fixes a stack file
//! in one round trip rather than one error per run. The order problems are reported in
//! is part of the output (and of the bad-input corpus): the `[stack]` table, `[target]`,
//! `[secrets]`, whether there are services at all, then each service in name order (its
//! topics in the order of `Services::check`), then the dependency cycle, if any.

mod dependencies;
mod edge;
mod health;
mod kinds;
mod lists;
mod location;
mod names;
mod paths;
mod ports;
mod secrets;
mod security;
mod source;
mod stack_table;
mod swarm;
mod target;
mod tls;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{Error, Problem};
use crate::stack::kind::Role;
use crate::stack::model::{Service, Stack};
use crate::stack::raw::{RawService, RawStackFile};
use crate::stack::target::TargetKind;
use crate::state::layout::STACK_FILE;

use kinds::Kinds;
use location::ServiceAt;

/// Checks `raw`, whose relative paths point into `root`; every problem, or the stack.
pub(super) fn validate(root: &Path, raw: RawStackFile) -> Result<Stack, Error> {
    let mut problems = Vec::new();
    stack_table::check(&raw.stack, &mut problems);
    let target = target::check(raw.target.as_ref(), &mut problems);
    let secrets = secrets::table(&raw.secrets, &mut problems);
    if raw.services.is_empty() {
        problems.push(
            Problem::new(STACK_FILE, "the stack declares no services")
                .hint("add a `[services.<name>]` table; see docs/src/stack-toml.md"),
        );
    }

    let mut services = Services::new(root, &raw, target.rendered());
    let checked: BTreeMap<String, Service> = raw
        .services
        .iter()
        .filter_map(|(name, svc)| Some((name.clone(), services.check(name, svc, &mut problems)?)))
        .collect();
    let published = std::mem::take(&mut services.published);
    let kinds = services.kinds.into_checked();
    let edge = edge::check(&checked, &kinds, &mut problems);
    ports::shared(&published, edge, &mut problems);
    tls::ports(&checked, edge, &mut problems);
    dependencies::cycle(&raw.services, &mut problems);

    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    Ok(Stack {
        root: root.to_path_buf(),
        name: raw.stack.name,
        base_image: raw.stack.base_image,
        bind_address: raw.stack.bind_address,
        wait_timeout: raw.stack.wait_timeout,
        target,
        secrets,
        services: checked,
        kinds,
    })
}

/// Checks services one by one, in name order, keeping what a service's checks need to
/// know of the others.
struct Services<'a> {
    root: &'a Path,
    raw: &'a RawStackFile,
    /// The services another one depends on.
    depended: BTreeSet<&'a str>,
    /// Host port -> the services publishing it, with their `hosts`.
    published: BTreeMap<u16, Vec<(&'a str, &'a [String])>>,
    kinds: Kinds<'a>,
}

impl<'a> Services<'a> {
    fn new(root: &'a Path, raw: &'a RawStackFile, targets: Vec<TargetKind>) -> Self {
        Services {
            root,
            raw,
            depended: dependencies::depended(&raw.services),
            published: BTreeMap::new(),
            kinds: Kinds::new(root, targets),
        }
    }

    /// One service, each topic in turn; `None` when its image source is wrong (the
    /// problems are reported, so no `Stack` is built anyway).
    fn check(
        &mut self,
        name: &'a str,
        raw: &'a RawService,
        problems: &mut Vec<Problem>,
    ) -> Option<Service> {
        let svc = ServiceAt { name };
        names::service(svc, problems);
        self.kinds.check(svc, &raw.kind, problems);
        let edge = self.kinds.role(&raw.kind) == Some(Role::Edge);
        ports::port(svc, raw.port, edge, problems);
        ports::publish(svc, raw.publish, &raw.hosts, &mut self.published, problems);
        let source = source::check(self.root, svc, raw, problems);
        names::environment(svc, &raw.environment, problems);
        dependencies::depends_on(svc, &raw.depends_on, &self.raw.services, problems);
        secrets::uses(svc, &raw.secrets, &self.raw.secrets, problems);
        let mounts = paths::mounts(self.root, svc, &raw.mounts, problems);
        paths::data(svc, raw.data.as_deref(), problems);
        let healthcheck = health::check(svc, &raw.healthcheck, problems);
        let security = security::check(svc, &raw.security, problems);
        swarm::check(svc, raw.replicas, &raw.placement, problems);
        let drain_timeout = health::drain_timeout(svc, raw.drain_timeout, problems);
        let tls = tls::check(self.root, svc, raw.tls.as_ref(), raw.publish, problems);
        lists::duplicates(svc, raw, problems);
        // Only now: every topic above is checked even when the source is wrong.
        let source = source?;

        Some(Service {
            name: name.to_string(),
            kind: raw.kind.clone(),
            source,
            port: raw.port.unwrap_or(0),
            publish: raw.publish,
            hosts: raw.hosts.clone(),
            environment: raw.environment.clone(),
            depends_on: raw.depends_on.clone(),
            secrets: raw.secrets.clone(),
            mounts,
            data: raw.data.clone(),
            healthcheck,
            security,
            tls,
            drain_timeout,
            replicas: raw.replicas.unwrap_or(1),
            placement: raw.placement.clone(),
            depended_on: self.depended.contains(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::stack::model::{ImageSource, Stack};
    use crate::stack::test_support::{HEAD, minimal, project};

    /// Every problem `Stack::parse` finds in `stack` (in a `minimal` project), as printed.
    fn problems(stack: &str) -> Vec<String> {
        let dir = project(&minimal());
        match Stack::parse(dir.path(), stack) {
            Ok(_) => vec![],
            Err(Error::Input(ps)) => ps.iter().map(|p| p.to_string()).collect(),
            Err(e) => vec![format!("unexpected: {e}")],
        }
    }

    #[test]
    fn valid_stack_loads_with_defaults() {
        let dir = project(&minimal());
        let text = format!(
            "{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 8000\npublish = 8080\n"
        );
        let stack = Stack::parse(dir.path(), &text).expect("valid");
        assert_eq!(stack.bind_address, "127.0.0.1");
        assert_eq!(stack.wait_timeout, 120);
        let a = &stack.services["a"];
        assert_eq!(a.publish, Some(8080));
        assert_eq!(a.healthcheck.interval, "1s");
        match &a.source {
            ImageSource::Build {
                context,
                dockerfile,
                ..
            } => {
                assert_eq!(context, "apps/a");
                assert_eq!(dockerfile, "apps/a/Dockerfile");
            }
            other => panic!("expected a build, got {other:?}"),
        }
    }

    #[test]
    fn all_meaning_problems_are_reported_in_one_run() {
        let got = problems(&format!(
            "{HEAD}\
[services.Bad_Name]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 8000\npublish = 9000\n\
[services.b]\nkind = \"nope\"\nbuild = \"../outside\"\nport = 80\npublish = 9000\ndepends_on = [\"ghost\"]\n\
environment = {{ \"1BAD\" = \"x\" }}\n"
        ));
        let joined = got.join("\n");
        for needle in [
            "`Bad_Name` is not a valid service name",
            "unknown kind `nope`",
            "`../outside` is not a path inside the project",
            "host port 9000 is also published by `Bad_Name`",
            "depends on `ghost`, which is not declared",
            "`1BAD` is not a valid environment variable name",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
    }

    #[test]
    fn empty_stack_is_rejected() {
        let got = problems(HEAD);
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("declares no services"));
    }

    #[test]
    fn unknown_key_is_rejected_with_location() {
        let got = problems(&format!(
            "{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 8000\nprot = 1\n"
        ));
        assert_eq!(
            got,
            ["stack.toml:8:1: unknown key `services.a.prot`\n  hint: did you mean `port`?"]
        );
    }

    #[test]
    fn dependency_cycle_is_named() {
        let got = problems(&format!(
            "{HEAD}[services.a]\nkind = \"python-web\"\nbuild = \"apps/a\"\nport = 1\ndepends_on = [\"b\"]\n\
[services.b]\nkind = \"python-web\"\nbuild = \"apps/b\"\nport = 1\ndepends_on = [\"a\"]\n"
        ));
        assert_eq!(
            got,
            vec![
                "stack.toml:4:2: services: dependency cycle: a -> b -> a\n  hint: remove one of these depends_on entries"
            ]
        );
    }
}
