//! What the policy reports: a [`Finding`] (how bad, about which service of which target
//! file, which key, what, why, and the fix), and the [`Findings`] collector the rules
//! report into.

use serde::{Serialize, Serializer};

use crate::stack::TargetKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Breaks the policy: `check` exits 1 and `up` refuses without `--allow-insecure`.
    Error,
    /// Would not survive a move to a multi-host engine, or is a limit of the engine the
    /// operator must make up for outside stack.toml.
    Warning,
    /// Breaks a default because `stack.toml` explicitly asks for it.
    Relaxed,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Relaxed => "relaxed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub service: String,
    /// The key in the target file (or `Dockerfile:<line>`) the finding is about.
    pub key: String,
    pub message: String,
    pub why: String,
    pub fix: String,
    /// The rendered target file the finding is about; `None` (JSON `null`) for what is
    /// not in a target file: Dockerfiles and build args.
    #[serde(serialize_with = "target_name")]
    pub target: Option<TargetKind>,
}

/// `"compose"`, `"swarm"` or `null`: the names `--target` takes. `TargetKind` itself is
/// not `Serialize`, and the policy is the only place that needs it to be.
fn target_name<S: Serializer>(target: &Option<TargetKind>, s: S) -> Result<S::Ok, S::Error> {
    match target {
        Some(t) => s.serialize_str(t.name()),
        None => s.serialize_none(),
    }
}

impl Finding {
    /// One line: severity, service (and the target file, unless it is the compose file),
    /// key, what, why, fix.
    pub fn line(&self) -> String {
        // The compose file is the one every stack renders, and its lines read as they
        // always did; any other target file is named beside the service.
        let service = match self.target {
            Some(t) if t != TargetKind::Compose => format!("{} ({t})", self.service),
            _ => self.service.clone(),
        };
        format!(
            "{}: {service}: {}: {} (why: {}; fix: {})",
            self.severity.label(),
            self.key,
            self.message,
            self.why,
            self.fix
        )
    }

    /// The order findings are listed in: by severity, then service, then target file
    /// (after the service, so one target's lines keep their relative order), key, message.
    fn sort(list: &mut [Finding]) {
        list.sort_by(|a, b| {
            (a.severity, &a.service, a.target, &a.key, &a.message)
                .cmp(&(b.severity, &b.service, b.target, &b.key, &b.message))
        });
    }
}

/// Where a finding is: a service, in a target file or (`target: None`) in its build.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub service: &'a str,
    pub target: Option<TargetKind>,
}

impl<'a> At<'a> {
    /// A service's build (Dockerfile, build args): in no target file.
    pub fn build(service: &'a str) -> At<'a> {
        At {
            service,
            target: None,
        }
    }
}

/// The findings so far; the rules add to it, `check` sorts it.
#[derive(Debug, Default)]
pub struct Findings {
    list: Vec<Finding>,
}

impl Findings {
    pub fn into_sorted(mut self) -> Vec<Finding> {
        Finding::sort(&mut self.list);
        self.list
    }

    fn push(&mut self, severity: Severity, at: At, key: &str, message: &str, why: &str, fix: &str) {
        self.list.push(Finding {
            severity,
            service: at.service.to_string(),
            key: key.to_string(),
            message: message.to_string(),
            why: why.to_string(),
            fix: fix.to_string(),
            target: at.target,
        });
    }

    pub fn error(&mut self, at: At, key: &str, message: &str, why: &str, fix: &str) {
        self.push(Severity::Error, at, key, message, why, fix);
    }

    pub fn warning(&mut self, at: At, key: &str, message: &str, why: &str, fix: &str) {
        self.push(Severity::Warning, at, key, message, why, fix);
    }

    /// An error, unless `stack.toml` relaxed exactly this for the service.
    pub fn unless_relaxed(
        &mut self,
        relaxed: bool,
        at: At,
        key: &str,
        message: &str,
        why: &str,
        fix: &str,
    ) {
        if relaxed {
            let message = format!("{message}, as stack.toml asks");
            self.push(
                Severity::Relaxed,
                at,
                key,
                &message,
                why,
                "remove the relaxation from stack.toml when it is no longer needed",
            );
        } else {
            self.error(at, key, message, why, fix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(target: Option<TargetKind>) -> Finding {
        Finding {
            severity: Severity::Error,
            service: "web".into(),
            key: "privileged".into(),
            message: "the container is privileged".into(),
            why: "w".into(),
            fix: "f".into(),
            target,
        }
    }

    #[test]
    fn lines_name_the_target_file_unless_it_is_the_compose_file() {
        assert_eq!(
            finding(Some(TargetKind::Compose)).line(),
            "error: web: privileged: the container is privileged (why: w; fix: f)"
        );
        assert_eq!(
            finding(None).line(),
            "error: web: privileged: the container is privileged (why: w; fix: f)"
        );
        assert_eq!(
            finding(Some(TargetKind::Swarm)).line(),
            "error: web (swarm): privileged: the container is privileged (why: w; fix: f)"
        );
    }

    #[test]
    fn json_names_the_target_or_null() {
        let json = |t| serde_json::to_value(finding(t)).expect("json")["target"].clone();
        assert_eq!(json(Some(TargetKind::Compose)), "compose");
        assert_eq!(json(Some(TargetKind::Swarm)), "swarm");
        assert_eq!(json(None), serde_json::Value::Null);
        let keys: Vec<String> = serde_json::to_value(finding(None))
            .expect("json")
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "fix", "key", "message", "service", "severity", "target", "why"
            ]
        );
    }
}
