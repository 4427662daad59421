//! The `[target]` section: the default deploy target and the registry a swarm pulls from.

use crate::error::Problem;
use crate::stack::model::TargetConfig;
use crate::stack::raw::RawTarget;
use crate::stack::syntax::is_image_reference;
use crate::stack::target::TargetKind;

use super::location::at;

/// The checked target config; without a `[target]` section, compose and no registry.
pub(super) fn check(target: Option<&RawTarget>, problems: &mut Vec<Problem>) -> TargetConfig {
    let Some(t) = target else {
        return TargetConfig {
            default: TargetKind::Compose,
            registry: None,
        };
    };
    let default = match TargetKind::from_name(&t.default) {
        Some(kind) => kind,
        None => {
            problems.push(
                Problem::new(
                    at("target.default"),
                    format!("unknown target `{}`", t.default),
                )
                .hint("use `compose` (one host) or `swarm`"),
            );
            // Validation goes on as for compose, so the rest is still checked.
            TargetKind::Compose
        }
    };
    // A registry address is what an image reference starts with.
    if let Some(r) = &t.registry
        && !is_image_reference(&format!("{r}/x"))
    {
        problems.push(
            Problem::new(
                at("target.registry"),
                format!("`{r}` is not a registry address"),
            )
            .hint("write it as `host[:port]`, like `127.0.0.1:5000`"),
        );
    }
    if default == TargetKind::Swarm && t.registry.is_none() {
        problems.push(
            Problem::new(at("target.registry"), "a swarm target needs a registry")
                .hint("every node pulls the images from it; e.g. `registry = \"127.0.0.1:5000\"`"),
        );
    }
    TargetConfig {
        default,
        registry: t.registry.clone(),
    }
}
