//! The container-security policy behind `stackgen check` (and `up`, which refuses on its
//! errors): every rendered target file (as YAML, so a custom template cannot slip past
//! it) and each built service's Dockerfile and build args, checked against the hardened
//! defaults. Also flags what would not survive a move to a multi-host engine, and what a
//! target's engine cannot express, as warnings.
//!
//! Relaxations are allowed only where `stack.toml` asks for them
//! (`[services.<name>.security]`); they are reported as `relaxed`, never silently.
//!
//! - `finding`: `Severity`, `Finding` and the collector the rules report into;
//! - `rules`: the rules over each service of a target file (and over the file), one
//!   small function each, and for each how it reads the Swarm file;
//! - `dockerfile`: the checks of each built service's Dockerfile and build args;
//! - `file`: a target file and its services as the rules see them;
//! - `yaml`, `names`: small readers the rules share.

mod dockerfile;
mod file;
mod finding;
mod names;
mod rules;
mod yaml;

use std::collections::BTreeMap;

use crate::document::Document;
use crate::stack::{Stack, TargetKind};

pub use finding::{Finding, Severity};

use file::File;
use finding::Findings;

/// Checks the rendered target files and the stack's Dockerfiles. Reads only.
///
/// For each target file: each file rule, then each service against each rule; then the
/// Dockerfiles and build args, which belong to no target file. Sorted by severity,
/// service, target, key, message.
pub fn check(stack: &Stack, documents: &BTreeMap<TargetKind, Document>) -> Vec<Finding> {
    let mut out = Findings::default();
    for (&target, document) in documents {
        let file = File::new(target, &document.yaml, stack);
        for rule in rules::FILE_RULES {
            (rule.check)(&file, &mut out);
        }
        for service in file.services() {
            for rule in rules::RULES {
                (rule.check)(&service, &mut out);
            }
        }
    }
    dockerfile::check_builds(stack, &mut out);
    out.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean stack: one web app, one database, each with a clean Dockerfile.
    fn stack(extra: &str) -> (tempfile::TempDir, Stack) {
        let dir = tempfile::tempdir().expect("tempdir");
        let dockerfile = "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends python3 \\\n && rm -rf /var/lib/apt/lists/*\nUSER 10001:10001\n";
        for (p, t) in [
            ("templates/kinds/python-web/compose.yml.j2", ""),
            ("templates/kinds/postgres/compose.yml.j2", ""),
            (
                "templates/kinds/postgres/kind.toml",
                "role = \"database\"\n",
            ),
            ("apps/web/Dockerfile", dockerfile),
            ("apps/db/Dockerfile", dockerfile),
        ] {
            let full = dir.path().join(p);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, t).expect("write");
        }
        let toml = format!(
            "[stack]\nname = \"t\"\nbase_image = \"debian:bookworm-slim\"\n\
             [services.web]\nkind = \"python-web\"\nbuild = \"apps/web\"\nport = 8000\npublish = 8080\n{extra}\n\
             [services.db]\nkind = \"postgres\"\nbuild = \"apps/db\"\nport = 5432\n"
        );
        let stack = Stack::parse(dir.path(), &toml).expect("stack");
        (dir, stack)
    }

    const SERVICE: &str = r#"    user: "10001:10001"
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    mem_limit: 256m
    cpus: 0.5
    pids_limit: 128
    restart: unless-stopped
    logging:
      driver: json-file
      options: {max-size: "10m", max-file: "3"}
    healthcheck:
      test: ["CMD", "true"]
"#;

    fn compose(web_extra: &str, db_extra: &str) -> String {
        format!(
            "services:\n  web:\n    image: t/web:1\n    labels:\n      io.stackgen.kind: python-web\n    ports:\n      - target: 8000\n        published: \"8080\"\n        host_ip: 127.0.0.1\n    networks: [frontend]\n{SERVICE}{web_extra}\
             \n  db:\n    image: t/db:1\n    labels:\n      io.stackgen.kind: postgres\n    networks: [backend]\n{SERVICE}{db_extra}\n\
             networks:\n  backend:\n    internal: true\n  frontend: {{}}\n"
        )
    }

    /// The policy over one compose text, as the pipeline hands it over: parsed once.
    fn check_compose(stack: &Stack, compose_text: &str) -> Vec<Finding> {
        let doc = Document::parse("generated/docker-compose.yml", compose_text).expect("yaml");
        check(stack, &BTreeMap::from([(TargetKind::Compose, doc)]))
    }

    fn errors(stack_extra: &str, compose_text: &str) -> Vec<String> {
        let (_dir, stack) = stack(stack_extra);
        check_compose(&stack, compose_text)
            .into_iter()
            .filter(|f| f.severity != Severity::Warning)
            .map(|f| format!("{:?} {} {} {}", f.severity, f.service, f.key, f.message))
            .collect()
    }

    #[test]
    fn clean_compose_has_no_findings() {
        assert_eq!(errors("", &compose("", "")), Vec::<String>::new());
    }

    /// One case per rule: a line that breaks it, and the finding that must name it.
    #[test]
    fn each_rule_catches_its_breakage() {
        let cases: &[(&str, &str, &str)] = &[
            // (compose text replaced, replacement, expected finding)
            (
                "",
                "    privileged: true\n",
                "Error web privileged the container is privileged",
            ),
            (
                "",
                "    network_mode: host\n",
                "Error web network_mode shares the host's network_mode namespace",
            ),
            (
                "",
                "    pid: host\n",
                "Error web pid shares the host's pid namespace",
            ),
            (
                "",
                "    ipc: host\n",
                "Error web ipc shares the host's ipc namespace",
            ),
            (
                "",
                "    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n",
                "Error web volumes mounts the Docker socket `/var/run/docker.sock`",
            ),
            (
                "",
                "    cap_add: [NET_ADMIN]\n",
                "Error web cap_add capability `NET_ADMIN` is added back",
            ),
            (
                "",
                "    environment:\n      DB_PASSWORD: hunter2\n",
                "Error web environment `DB_PASSWORD` looks like a secret in the environment",
            ),
            ("", "    container_name: fixed\n", ""),
        ];
        for (from, to, expected) in cases {
            let text = if from.is_empty() {
                compose(to, "")
            } else {
                compose("", "").replacen(from, to, 1)
            };
            let got = errors("", &text);
            if expected.is_empty() {
                assert!(got.is_empty(), "{got:?}");
            } else {
                assert!(
                    got.iter().any(|g| g.starts_with(expected)),
                    "expected {expected:?} in {got:?}"
                );
            }
        }
    }

    #[test]
    fn removed_defaults_are_caught() {
        for (line, expected) in [
            ("    user: \"10001:10001\"\n", "user no user is set"),
            (
                "    read_only: true\n",
                "read_only the root filesystem is writable",
            ),
            (
                "    cap_drop: [ALL]\n",
                "cap_drop not all capabilities are dropped",
            ),
            (
                "    security_opt: [\"no-new-privileges:true\"]\n",
                "security_opt `no-new-privileges` is not set",
            ),
            ("    mem_limit: 256m\n", "mem_limit no memory limit"),
            ("    cpus: 0.5\n", "cpus no CPU limit"),
            ("    pids_limit: 128\n", "pids_limit no process limit"),
            ("    restart: unless-stopped\n", "restart no restart policy"),
            (
                "      options: {max-size: \"10m\", max-file: \"3\"}\n",
                "logging log rotation `max-size` is not set",
            ),
            (
                "    healthcheck:\n      test: [\"CMD\", \"true\"]\n",
                "healthcheck no health check",
            ),
        ] {
            assert_caught_without(&compose("", ""), line, expected, |t| errors("", t));
        }
    }

    /// Removing `line` from the db service (its last copy in `text`) yields the finding
    /// `Error db <expected>`.
    fn assert_caught_without(
        text: &str,
        line: &str,
        expected: &str,
        findings: impl Fn(&str) -> Vec<String>,
    ) {
        let at = text.rfind(line).expect("line present");
        let broken = format!("{}{}", &text[..at], &text[at + line.len()..]);
        let got = findings(&broken);
        let want = format!("Error db {expected}");
        assert!(
            got.iter().any(|g| g.starts_with(&want)),
            "expected {want:?} in {got:?}"
        );
    }

    #[test]
    fn root_user_and_ports_and_database_rules() {
        let got = errors(
            "",
            &compose("", "").replacen("user: \"10001:10001\"", "user: \"0:0\"", 1),
        );
        assert!(
            got.iter()
                .any(|g| g == "Error web user runs as root (`0:0`)"),
            "{got:?}"
        );

        let everywhere = compose("", "").replace("host_ip: 127.0.0.1", "host_ip: 0.0.0.0");
        let got = errors("", &everywhere);
        assert!(
            got.iter()
                .any(|g| g.starts_with("Error web ports a port is published on 0.0.0.0")),
            "{got:?}"
        );
        let short = compose("", "").replace(
            "      - target: 8000\n        published: \"8080\"\n        host_ip: 127.0.0.1\n",
            "      - \"8080:8000\"\n",
        );
        let got = errors("", &short);
        assert!(
            got.iter()
                .any(|g| g.starts_with("Error web ports a port is published on every interface")),
            "{got:?}"
        );

        let db_published = compose("", "    ports: [\"127.0.0.1:5432:5432\"]\n");
        let got = errors("", &db_published);
        assert!(
            got.iter()
                .any(|g| g == "Error db ports the database is published on the host"),
            "{got:?}"
        );
        let db_routable = compose("", "").replace(
            "    networks: [backend]",
            "    networks: [backend, frontend]",
        );
        let got = errors("", &db_routable);
        assert!(got.iter().any(|g| g == "Error db networks the database is on a network that is not internal"), "{got:?}");
    }

    #[test]
    fn relaxations_in_stack_toml_are_reported_not_failed() {
        let extra = "security = { read_only = false, cap_add = [\"NET_BIND_SERVICE\"] }";
        let text = compose("    cap_add: [NET_BIND_SERVICE]\n", "").replacen(
            "read_only: true",
            "read_only: false",
            1,
        );
        let got = errors(extra, &text);
        assert_eq!(
            got,
            vec![
                "Relaxed web cap_add capability `NET_BIND_SERVICE` is added back, as stack.toml asks",
                "Relaxed web read_only the root filesystem is writable, as stack.toml asks",
            ]
        );
        // The same compose without the relaxation in stack.toml fails.
        let got = errors("", &text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|g| g.starts_with("Error web")));
    }

    #[test]
    fn multi_host_warnings() {
        let (_dir, stack) = stack("");
        let text = compose(
            "    build: {context: ../apps/web}\n    container_name: fixed\n    volumes: [\"./data:/data\"]\n",
            "",
        );
        let warnings: Vec<String> = check_compose(&stack, &text)
            .into_iter()
            .filter(|f| f.severity == Severity::Warning)
            .map(|f| format!("{} {}", f.service, f.key))
            .collect();
        assert_eq!(warnings, ["web build", "web container_name", "web volumes"]);
    }

    #[test]
    fn dockerfile_rules() {
        let (dir, stack) = stack("");
        let bad =
            "FROM debian:bookworm\nARG API_TOKEN\nRUN apt-get update && apt-get install -y curl\n";
        std::fs::write(dir.path().join("apps/web/Dockerfile"), bad).expect("write");
        let got: Vec<String> = check_compose(&stack, &compose("", ""))
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{} {}", f.key, f.message))
            .collect();
        assert_eq!(
            got,
            [
                "apps/web/Dockerfile apt lists are left in the image",
                "apps/web/Dockerfile no `USER`: the image runs as root",
                "apps/web/Dockerfile:1 the base image is not taken from `ARG BASE_IMAGE`",
                "apps/web/Dockerfile:2 build argument `API_TOKEN` looks like a secret",
                "apps/web/Dockerfile:3 `apt-get install` without `--no-install-recommends`",
            ]
        );
    }

    /// A service as the shipped swarm partials render it: limits and restarts under
    /// `deploy`, writable paths as tmpfs volumes, no `security_opt` (Swarm cannot take it).
    const SWARM_SERVICE: &str = r#"    user: "10001:10001"
    read_only: true
    cap_drop: [ALL]
    logging:
      driver: json-file
      options: {max-size: "10m", max-file: "3"}
    volumes:
      - {type: tmpfs, target: /tmp}
    healthcheck:
      test: ["CMD", "true"]
    deploy:
      resources:
        limits:
          cpus: "0.5"
          memory: 256M
          pids: 128
      restart_policy:
        condition: any
        delay: 2s
"#;

    fn swarm(web_extra: &str, db_extra: &str) -> String {
        format!(
            "version: \"3.9\"\nservices:\n  web:\n    image: r/t/web:1\n    labels:\n      io.stackgen.kind: python-web\n    ports:\n      - target: 8000\n        published: 8080\n        protocol: tcp\n        mode: host\n    networks: [frontend]\n{SWARM_SERVICE}{web_extra}\
             \n  db:\n    image: r/t/db:1\n    labels:\n      io.stackgen.kind: postgres\n    networks: [backend]\n{SWARM_SERVICE}{db_extra}\n\
             networks:\n  backend:\n    driver: overlay\n    internal: true\n  frontend:\n    driver: overlay\n"
        )
    }

    /// The policy over a compose text and a swarm text together, as for a stack with a
    /// registry.
    fn check_both(stack: &Stack, compose_text: &str, swarm_text: &str) -> Vec<Finding> {
        let compose = Document::parse("generated/docker-compose.yml", compose_text).expect("yaml");
        let swarm = Document::parse("generated/stack.yml", swarm_text).expect("yaml");
        check(
            stack,
            &BTreeMap::from([(TargetKind::Compose, compose), (TargetKind::Swarm, swarm)]),
        )
    }

    /// Every finding about the swarm file, as `severity service key message`.
    fn swarm_findings(stack_extra: &str, swarm_text: &str) -> Vec<String> {
        let (_dir, stack) = stack(stack_extra);
        check_both(&stack, &compose("", ""), swarm_text)
            .into_iter()
            .filter(|f| f.target == Some(TargetKind::Swarm))
            .map(|f| format!("{:?} {} {} {}", f.severity, f.service, f.key, f.message))
            .collect()
    }

    #[test]
    fn the_swarm_file_is_checked_and_its_findings_name_it() {
        let (_dir, stack) = stack("");
        let got = check_both(
            &stack,
            &compose("", ""),
            &swarm("    privileged: true\n", ""),
        );
        let errors: Vec<&Finding> = got
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].target, Some(TargetKind::Swarm));
        assert_eq!(
            errors[0].line(),
            "error: web (swarm): privileged: the container is privileged (why: a privileged container has every capability and every device: it is the host; fix: remove `privileged`; add the one capability needed instead)"
        );
        // A swarm file without `read_only` is the same error as a compose file without it.
        let got = swarm_findings("", &swarm("", "").replacen("    read_only: true\n", "", 1));
        assert!(
            got.iter()
                .any(|g| g == "Error web read_only the root filesystem is writable"),
            "{got:?}"
        );
    }

    #[test]
    fn the_shipped_swarm_shape_has_only_the_documented_warnings() {
        assert_eq!(
            swarm_findings("", &swarm("", "")),
            [
                "Warning db security_opt `no-new-privileges` cannot be set on a swarm service",
                "Warning web ports port 8080 is published on every interface of the node, not on the stack's `127.0.0.1`",
                "Warning web security_opt `no-new-privileges` cannot be set on a swarm service",
            ]
        );
        // A stack that binds everywhere asked for every interface: no port warning.
        let (_dir, stack) = stack("");
        let mut everywhere = stack.clone();
        everywhere.bind_address = "0.0.0.0".into();
        let ports: Vec<Finding> = check_both(
            &everywhere,
            &compose("", "").replace("127.0.0.1", "0.0.0.0"),
            &swarm("", ""),
        )
        .into_iter()
        .filter(|f| f.key == "ports")
        .collect();
        assert!(ports.is_empty(), "{ports:?}");
    }

    #[test]
    fn removed_defaults_are_caught_in_the_swarm_file() {
        for (line, expected) in [
            ("    user: \"10001:10001\"\n", "user no user is set"),
            (
                "    read_only: true\n",
                "read_only the root filesystem is writable",
            ),
            (
                "    cap_drop: [ALL]\n",
                "cap_drop not all capabilities are dropped",
            ),
            (
                "          memory: 256M\n",
                "deploy.resources.limits.memory no memory limit",
            ),
            (
                "          cpus: \"0.5\"\n",
                "deploy.resources.limits.cpus no CPU limit",
            ),
            (
                "          pids: 128\n",
                "deploy.resources.limits.pids no process limit",
            ),
            (
                "      options: {max-size: \"10m\", max-file: \"3\"}\n",
                "logging log rotation `max-size` is not set",
            ),
            (
                "    healthcheck:\n      test: [\"CMD\", \"true\"]\n",
                "healthcheck no health check",
            ),
        ] {
            assert_caught_without(&swarm("", ""), line, expected, |t| swarm_findings("", t));
        }
    }

    #[test]
    fn the_swarm_file_is_read_the_swarm_way() {
        let errors = |text: &str| -> Vec<String> {
            swarm_findings("", text)
                .into_iter()
                .filter(|f| f.starts_with("Error"))
                .collect()
        };
        // Restarts: `none` fails; no restart policy at all is Swarm's default, `any`.
        let none = swarm("", "").replacen("condition: any", "condition: none", 1);
        assert_eq!(
            errors(&none),
            ["Error web deploy.restart_policy no restart policy"]
        );
        let default = swarm("", "").replacen(
            "      restart_policy:\n        condition: any\n        delay: 2s\n",
            "",
            1,
        );
        assert_eq!(errors(&default), Vec::<String>::new());
        // `restart:` and `mem_limit` are not swarm keys: they neither pass nor excuse.
        let compose_keys = swarm("    restart: unless-stopped\n    mem_limit: 256m\n", "")
            .replacen("          memory: 256M\n", "", 1);
        assert_eq!(
            errors(&compose_keys),
            ["Error web deploy.resources.limits.memory no memory limit"]
        );
        // The engine's `host` network is the host's network namespace.
        let host = swarm("", "").replacen(
            "    networks: [frontend]",
            "    networks: [frontend, hostnet]",
            1,
        ) + "  hostnet:\n    external: true\n    name: host\n";
        assert_eq!(
            errors(&host),
            ["Error web networks shares the host's network namespace (network `hostnet`)"]
        );
        // The database's rules hold on overlay networks as on bridges.
        let db = swarm(
            "",
            "    ports: [{target: 5432, published: 5432, mode: host}]\n",
        )
        .replacen(
            "    networks: [backend]",
            "    networks: [backend, frontend]",
            1,
        );
        assert_eq!(
            errors(&db),
            [
                "Error db networks the database is on a network that is not internal",
                "Error db ports the database is published on the host",
            ]
        );
        // A tmpfs volume is no bind mount; a bind mount is a warning with Swarm's reason.
        let bind = swarm("", "").replacen(
            "      - {type: tmpfs, target: /tmp}\n",
            "      - {type: tmpfs, target: /tmp}\n      - {type: bind, source: ../db/init, target: /init}\n",
            1,
        );
        let got = swarm_findings("", &bind);
        assert!(
            got.contains(&"Warning web volumes bind-mounts the host path `../db/init`".to_string()),
            "{got:?}"
        );
        assert_eq!(
            got.iter().filter(|g| g.contains("volumes")).count(),
            1,
            "{got:?}"
        );
    }

    #[test]
    fn relaxations_hold_in_the_swarm_file_too() {
        let extra = "security = { read_only = false, cap_add = [\"NET_BIND_SERVICE\"] }";
        let text = swarm("    cap_add: [NET_BIND_SERVICE]\n", "").replacen(
            "read_only: true",
            "read_only: false",
            1,
        );
        let relaxed: Vec<String> = swarm_findings(extra, &text)
            .into_iter()
            .filter(|f| f.starts_with("Relaxed"))
            .collect();
        assert_eq!(
            relaxed,
            [
                "Relaxed web cap_add capability `NET_BIND_SERVICE` is added back, as stack.toml asks",
                "Relaxed web read_only the root filesystem is writable, as stack.toml asks",
            ]
        );
        assert!(
            swarm_findings("", &text)
                .iter()
                .filter(|f| f.starts_with("Error"))
                .count()
                == 2
        );
    }

    #[test]
    fn compose_lines_keep_their_order_beside_swarm_lines() {
        let (_dir, stack) = stack("");
        let text = compose(
            "    container_name: fixed\n    build: {context: ../apps/web}\n",
            "",
        );
        let alone: Vec<String> = check_compose(&stack, &text)
            .iter()
            .map(Finding::line)
            .collect();
        let both: Vec<String> = check_both(&stack, &text, &swarm("", ""))
            .into_iter()
            .filter(|f| f.target != Some(TargetKind::Swarm))
            .map(|f| f.line())
            .collect();
        assert_eq!(alone, both);
        // Within a severity and service, the compose file's lines come first.
        let targets: Vec<(String, Option<TargetKind>)> = check_both(&stack, &text, &swarm("", ""))
            .into_iter()
            .filter(|f| f.service == "web")
            .map(|f| (f.key, f.target))
            .collect();
        assert_eq!(
            targets,
            [
                ("build".to_string(), Some(TargetKind::Compose)),
                ("container_name".to_string(), Some(TargetKind::Compose)),
                ("ports".to_string(), Some(TargetKind::Swarm)),
                ("security_opt".to_string(), Some(TargetKind::Swarm)),
            ]
        );
    }

    #[test]
    fn rules_are_listed_once_each() {
        let names: Vec<&str> = rules::RULES.iter().map(|r| r.name).collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(names.first(), Some(&"user"));
        assert_eq!(names.last(), Some(&"multi_host_container_name"));
        assert_eq!(
            rules::FILE_RULES.iter().map(|r| r.name).collect::<Vec<_>>(),
            ["secrets_from_environment"]
        );
    }
}
