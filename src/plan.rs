//! The service plan: what `stackgen up` would do to each service, and why, by comparing
//! three things: what would be deployed now ([`Desired`]), what runs in the engine
//! ([`Observed`]), and what the last successful deploy deployed ([`Previous`]).
//!
//! The engine decides to recreate a container when its config hash changes; stackgen
//! knows more, because it hashes every build input: it can say which files moved an
//! image, and (with the snapshot of the last deploy) which keys changed. Pure functions
//! of their inputs, the same for every target; each target gathers them
//! (`Target::observe`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::document::Document;
use crate::hash::ServiceInputs;
use crate::render;

/// What a plan compares, as a target gathers it.
#[derive(Debug, Clone, Default)]
pub struct PlanInputs {
    pub desired: BTreeMap<String, Desired>,
    pub observed: Vec<Observed>,
    pub previous: BTreeMap<String, Previous>,
    /// The service whose config the target reloads in place (the edge's routes), when
    /// what runs differs from what would be deployed.
    pub reload: Option<String>,
}

/// A service as it would be deployed now.
#[derive(Debug, Clone)]
pub struct Desired {
    pub image: String,
    /// Build inputs; `None` for a ready-made image.
    pub inputs: Option<ServiceInputs>,
    /// The target's identity of the service's config (compose: its config hash).
    pub config_hash: String,
    /// The service's rendered compose config.
    pub config: Value,
}

/// A service as the last successful `stackgen up` deployed it (from its snapshot).
#[derive(Debug, Clone)]
pub struct Previous {
    pub config_hash: String,
    pub config: Value,
    pub inputs: Option<ServiceInputs>,
}

/// A service as it runs in the engine: one container (compose) or one swarm service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub service: String,
    /// What is wrong with how it runs (`exited`, `running 1/2 replicas`, ...); `None`
    /// when it runs as deployed.
    pub not_running: Option<String>,
    pub image: String,
    /// The input hash the running image was built from, when it is known.
    pub inputs_hash: Option<String>,
    /// The target's identity of the running config; empty when unknown.
    pub config_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Declared, no container.
    Create,
    /// The image's inputs changed: a new image, then a new container.
    Rebuild,
    /// The compose config changed, the image did not.
    Recreate,
    /// Same config, but the container is not running: `up` starts it.
    Start,
    /// The edge itself is unchanged, its routes are not: a seamless reload.
    Reload,
    /// Running, no longer declared.
    Remove,
    Unchanged,
}

impl Action {
    pub fn sign(self) -> char {
        match self {
            Action::Create => '+',
            Action::Rebuild | Action::Recreate | Action::Start | Action::Reload => '~',
            Action::Remove => '-',
            Action::Unchanged => '=',
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Rebuild => "rebuild",
            Action::Recreate => "recreate",
            Action::Start => "start",
            Action::Reload => "reload",
            Action::Remove => "remove",
            Action::Unchanged => "unchanged",
        }
    }
}

/// How a changed service is replaced, where the target tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rollout {
    /// The new container starts beside the old one; the old one drains, then stops.
    StartFirst,
    /// The old container stops before the new one starts: the service is down meanwhile.
    StopFirst,
}

impl Rollout {
    pub fn words(self) -> &'static str {
        match self {
            Rollout::StartFirst => "replace (start-first)",
            Rollout::StopFirst => "recreate (stop-first: downtime expected)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePlan {
    pub service: String,
    pub action: Action,
    /// Image now running (empty when none) and image that would run.
    pub from_image: String,
    pub to_image: String,
    /// Why: changed input files (`+ path`, `- path`, `~ path`), build args, base image,
    /// or changed compose keys (`environment.MODE`).
    pub reasons: Vec<String>,
    /// How `up` replaces it, for a rebuild or recreate where the target tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

impl ServicePlan {
    /// `~ hello  rebuild` and one indented line a reason.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{} {:<12} {}",
            self.action.sign(),
            self.service,
            self.action.word()
        )];
        if let Some(rollout) = self.rollout {
            out[0].push_str(&format!(": {}", rollout.words()));
        }
        if self.action == Action::Rebuild && !self.from_image.is_empty() {
            out[0].push_str(&format!("  {} -> {}", self.from_image, self.to_image));
        }
        out.extend(self.reasons.iter().map(|r| format!("    {r}")));
        out
    }
}

/// Each declared service as it would be deployed now: its config in the target's
/// rendered `doc` (empty without one), its build inputs, and the target's hash of it.
pub fn desired<'a>(
    services: impl IntoIterator<Item = &'a String>,
    doc: Option<&Document>,
    inputs: &BTreeMap<String, ServiceInputs>,
    config_hashes: &BTreeMap<String, String>,
) -> BTreeMap<String, Desired> {
    services
        .into_iter()
        .map(|name| {
            let config = doc
                .and_then(|d| d.services().get(name))
                .cloned()
                .unwrap_or_default();
            let want = Desired {
                image: config["image"].as_str().unwrap_or("").to_string(),
                inputs: inputs.get(name).cloned(),
                config_hash: config_hashes.get(name).cloned().unwrap_or_default(),
                config,
            };
            (name.clone(), want)
        })
        .collect()
}

/// Each service of a generation's copy of the target file (`doc`), with the inputs its
/// lock records and the target's hash of its config.
pub fn previous(
    doc: &Document,
    lock: Option<&str>,
    config_hashes: &BTreeMap<String, String>,
) -> BTreeMap<String, Previous> {
    let mut inputs = lock.and_then(render::parse_lock).unwrap_or_default();
    doc.services()
        .iter()
        .map(|(name, config)| {
            let prev = Previous {
                config_hash: config_hashes.get(name).cloned().unwrap_or_default(),
                config: config.clone(),
                inputs: inputs.remove(name),
            };
            (name.clone(), prev)
        })
        .collect()
}

/// The plan for every declared and every running service, sorted by service name.
pub fn plan(
    desired: &BTreeMap<String, Desired>,
    running: &[Observed],
    previous: &BTreeMap<String, Previous>,
) -> Vec<ServicePlan> {
    let mut out = Vec::new();
    for (name, want) in desired {
        let have = running.iter().find(|r| &r.service == name);
        let prev = previous.get(name);
        let mut entry = ServicePlan {
            service: name.clone(),
            action: Action::Unchanged,
            from_image: have.map(|h| h.image.clone()).unwrap_or_default(),
            to_image: want.image.clone(),
            reasons: Vec::new(),
            rollout: None,
        };
        let Some(have) = have else {
            entry.action = Action::Create;
            out.push(entry);
            continue;
        };
        let new_inputs = want.inputs.as_ref().map(|i| i.hash.as_str());
        if new_inputs.is_some() && new_inputs != have.inputs_hash.as_deref() {
            entry.action = Action::Rebuild;
            // Name the files only when the snapshot describes the running image.
            let old = prev
                .and_then(|p| p.inputs.as_ref())
                .filter(|i| Some(i.hash.as_str()) == have.inputs_hash.as_deref());
            entry.reasons = match (old, &want.inputs) {
                (Some(old), Some(new)) => input_changes(old, new),
                _ => vec![
                    "the running image's inputs are unknown (deployed outside stackgen)".into(),
                ],
            };
        } else if want.config_hash != have.config_hash {
            entry.action = Action::Recreate;
            entry.reasons = match prev {
                Some(old) if old.config_hash == have.config_hash => {
                    key_changes(&old.config, &want.config)
                }
                // Say what we know, and that it is not the whole truth.
                _ => {
                    let mut r = vec![
                        "the running container does not match this folder's last `stackgen up` \
                         (changed or started outside stackgen, or deployed from another folder)"
                            .to_string(),
                    ];
                    if let Some(old) = prev {
                        let keys = key_changes(&old.config, &want.config);
                        if !keys.is_empty() {
                            r.push(format!("since that last deploy: {}", keys.join(", ")));
                        }
                    }
                    r
                }
            };
        } else if let Some(state) = &have.not_running {
            entry.action = Action::Start;
            entry.reasons = vec![format!("the container is {state}")];
        }
        out.push(entry);
    }
    let extra: BTreeSet<&str> = running
        .iter()
        .map(|r| r.service.as_str())
        .filter(|s| !desired.contains_key(*s))
        .collect();
    for service in extra {
        let image = running
            .iter()
            .find(|r| r.service == service)
            .map(|r| r.image.clone())
            .unwrap_or_default();
        out.push(ServicePlan {
            service: service.to_string(),
            action: Action::Remove,
            from_image: image,
            to_image: String::new(),
            reasons: vec!["no longer declared in stack.toml".into()],
            rollout: None,
        });
    }
    out.sort_by(|a, b| a.service.cmp(&b.service));
    out
}

/// What differs between two input manifests: files by path, then the Dockerfile, build
/// args and base image.
pub fn input_changes(old: &ServiceInputs, new: &ServiceInputs) -> Vec<String> {
    let mut out = Vec::new();
    let paths: BTreeSet<&String> = old.files.keys().chain(new.files.keys()).collect();
    for path in paths {
        match (old.files.get(path), new.files.get(path)) {
            (None, Some(_)) => out.push(format!("+ {path}")),
            (Some(_), None) => out.push(format!("- {path}")),
            (Some(a), Some(b)) if a.sha256 != b.sha256 => out.push(format!("~ {path}")),
            (Some(a), Some(b)) if a.mode != b.mode => {
                out.push(format!("~ {path} (mode {} -> {})", a.mode, b.mode))
            }
            _ => {}
        }
    }
    if old.dockerfile != new.dockerfile {
        out.push(format!(
            "dockerfile: {} -> {}",
            old.dockerfile, new.dockerfile
        ));
    } else if old.dockerfile_sha256 != new.dockerfile_sha256
        && !new.files.contains_key("Dockerfile")
    {
        out.push(format!("~ {}", new.dockerfile));
    }
    let args: BTreeSet<&String> = old.build_args.keys().chain(new.build_args.keys()).collect();
    for arg in args {
        if arg == "BASE_IMAGE" {
            continue;
        }
        let (a, b) = (old.build_args.get(arg), new.build_args.get(arg));
        if a != b {
            let show = |v: Option<&String>| v.map_or("(unset)".to_string(), |v| format!("`{v}`"));
            out.push(format!("build arg {arg}: {} -> {}", show(a), show(b)));
        }
    }
    if old.base_image != new.base_image {
        out.push(format!(
            "base image: `{}` -> `{}`",
            old.base_image, new.base_image
        ));
    }
    if out.is_empty() {
        out.push("the input manifest format changed".into());
    }
    out
}

/// The compose keys that differ between two service configs; maps one level down
/// (`environment.MODE`, `labels.x`), everything else by its top-level key.
pub fn key_changes(old: &Value, new: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (x, y) = (a.get(key), b.get(key));
        if x == y {
            continue;
        }
        match (x, y) {
            (Some(Value::Object(x)), Some(Value::Object(y)))
                if key != "healthcheck" && key != "build" =>
            {
                let sub: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for s in sub {
                    if x.get(s) != y.get(s) {
                        out.push(format!("{key}.{s}"));
                    }
                }
            }
            _ => out.push(key.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::FileInput;
    use serde_json::json;

    fn inputs(hash: &str, files: &[(&str, &str)]) -> ServiceInputs {
        ServiceInputs {
            hash: hash.to_string(),
            base_image: "debian:bookworm-slim".into(),
            build_args: BTreeMap::from([("BASE_IMAGE".into(), "debian:bookworm-slim".into())]),
            dockerfile: "apps/a/Dockerfile".into(),
            dockerfile_sha256: "d".into(),
            files: files
                .iter()
                .map(|(p, s)| {
                    (
                        p.to_string(),
                        FileInput {
                            mode: "644".into(),
                            sha256: s.to_string(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn desired(hash: &str, config_hash: &str, config: Value) -> Desired {
        Desired {
            image: format!("s/a:{hash}"),
            inputs: Some(inputs(
                hash,
                &[("Dockerfile", "d"), ("app.py", "2"), ("new.py", "n")],
            )),
            config_hash: config_hash.into(),
            config,
        }
    }

    fn running(service: &str, hash: &str, config_hash: &str, state: &str) -> Observed {
        Observed {
            service: service.into(),
            not_running: (state != "running").then(|| state.into()),
            image: format!("s/{service}:{hash}"),
            inputs_hash: Some(hash.into()),
            config_hash: config_hash.into(),
        }
    }

    fn previous(hash: &str, config_hash: &str, config: Value) -> Previous {
        Previous {
            config_hash: config_hash.into(),
            config,
            inputs: Some(inputs(
                hash,
                &[("Dockerfile", "d"), ("app.py", "1"), ("old.py", "o")],
            )),
        }
    }

    fn summary(plans: &[ServicePlan]) -> Vec<String> {
        plans.iter().flat_map(|p| p.lines()).collect()
    }

    #[test]
    fn nothing_changed_is_all_unchanged() {
        let want = BTreeMap::from([("a".to_string(), desired("h1", "c1", json!({})))]);
        let got = plan(
            &want,
            &[running("a", "h1", "c1", "running")],
            &BTreeMap::new(),
        );
        assert_eq!(summary(&got), ["= a            unchanged"]);
    }

    #[test]
    fn changed_inputs_rebuild_naming_the_files() {
        let want = BTreeMap::from([("a".to_string(), desired("h2", "c2", json!({})))]);
        let prev = BTreeMap::from([("a".to_string(), previous("h1", "c1", json!({})))]);
        let got = plan(&want, &[running("a", "h1", "c1", "running")], &prev);
        assert_eq!(
            summary(&got),
            [
                "~ a            rebuild  s/a:h1 -> s/a:h2",
                "    ~ app.py",
                "    + new.py",
                "    - old.py"
            ]
        );
    }

    #[test]
    fn changed_config_recreates_naming_the_keys() {
        let old =
            json!({"image": "s/a:h1", "environment": {"A": "1", "B": "2"}, "mem_limit": "256m"});
        let new = json!({"image": "s/a:h1", "environment": {"A": "1", "B": "3", "C": "4"}, "mem_limit": "512m"});
        let want = BTreeMap::from([("a".to_string(), desired("h1", "c2", new))]);
        let prev = BTreeMap::from([("a".to_string(), previous("h1", "c1", old))]);
        let got = plan(&want, &[running("a", "h1", "c1", "running")], &prev);
        assert_eq!(
            summary(&got),
            [
                "~ a            recreate",
                "    environment.B",
                "    environment.C",
                "    mem_limit"
            ]
        );
    }

    #[test]
    fn unknown_history_is_said_not_guessed() {
        let want = BTreeMap::from([("a".to_string(), desired("h2", "c2", json!({})))]);
        // The snapshot is of another deploy than what runs.
        let prev = BTreeMap::from([("a".to_string(), previous("h0", "c0", json!({})))]);
        let got = plan(&want, &[running("a", "h1", "c1", "running")], &prev);
        assert_eq!(
            got[0].reasons,
            ["the running image's inputs are unknown (deployed outside stackgen)"]
        );
        let want = BTreeMap::from([("a".to_string(), desired("h1", "c2", json!({})))]);
        let got = plan(&want, &[running("a", "h1", "c1", "running")], &prev);
        assert_eq!(got[0].action, Action::Recreate);
        assert_eq!(
            got[0].reasons,
            [
                "the running container does not match this folder's last `stackgen up` \
              (changed or started outside stackgen, or deployed from another folder)"
            ]
        );
    }

    #[test]
    fn create_remove_and_start() {
        let want = BTreeMap::from([
            ("a".to_string(), desired("h1", "c1", json!({}))),
            ("b".to_string(), desired("h1", "c1", json!({}))),
        ]);
        let got = plan(
            &want,
            &[
                running("a", "h1", "c1", "exited"),
                running("gone", "h9", "c9", "running"),
            ],
            &BTreeMap::new(),
        );
        assert_eq!(
            summary(&got),
            [
                "~ a            start",
                "    the container is exited",
                "+ b            create",
                "- gone         remove",
                "    no longer declared in stack.toml"
            ]
        );
    }

    #[test]
    fn build_arg_and_base_image_changes_are_named() {
        let old = inputs("h1", &[("app.py", "1")]);
        let mut new = inputs("h2", &[("app.py", "1")]);
        new.build_args.insert("FLAVOUR".into(), "big".into());
        new.base_image = "debian:trixie-slim".into();
        assert_eq!(
            input_changes(&old, &new),
            [
                "build arg FLAVOUR: (unset) -> `big`",
                "base image: `debian:bookworm-slim` -> `debian:trixie-slim`"
            ]
        );
    }
}
