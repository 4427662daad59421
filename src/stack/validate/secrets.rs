//! Secrets: the `[secrets]` table (names and lengths), and the secrets each service uses,
//! which must be declared there.

use std::collections::BTreeMap;

use crate::error::Problem;
use crate::stack::raw::RawSecret;
use crate::stack::syntax::{is_dns_label, is_env_name};

use super::location::{ServiceAt, at};

/// The checked `[secrets]` table: secret name -> generated length.
pub(super) fn table(
    secrets: &BTreeMap<String, RawSecret>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for (name, secret) in secrets {
        if !is_dns_label(name) && !is_env_name(name) {
            problems.push(
                Problem::new(
                    at(&format!("secrets.{name}")),
                    format!("`{name}` is not a valid secret name"),
                )
                .hint("use lowercase letters, digits, `-` and `_`"),
            );
        }
        if !(16..=256).contains(&secret.length) {
            problems.push(Problem::new(
                at(&format!("secrets.{name}.length")),
                format!("{} is outside 16..=256", secret.length),
            ));
        }
        out.insert(name.clone(), secret.length);
    }
    out
}

/// A service's `secrets`: each one declared in `[secrets]`.
pub(super) fn uses(
    svc: ServiceAt<'_>,
    used: &[String],
    declared: &BTreeMap<String, RawSecret>,
    problems: &mut Vec<Problem>,
) {
    for secret in used {
        if !declared.contains_key(secret) {
            problems.push(
                Problem::new(
                    svc.key("secrets"),
                    format!("uses secret `{secret}`, which is not declared"),
                )
                .hint(format!("declare it with `[secrets.{secret}]`")),
            );
        }
    }
}
