//! The stack's images on the local engine, which every target needs before it deploys:
//! which content-tagged images are present or missing, building them (in parallel),
//! pushing them to a registry for targets whose nodes pull, and removing the ones no
//! generation needs any more (`gc`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

pub use crate::engine::docker::{BuildRequest, LocalImage};

use crate::engine::docker::{self, On};
use crate::error::Error;
use crate::pipeline::Evaluated;
use crate::progress;
use crate::render;
use crate::stack::{ImageSource, Stack};
use crate::state::generations::Generation;

/// Every `repository:tag` the building engine has, with its image, in one engine query.
pub fn present() -> Result<BTreeMap<String, LocalImage>> {
    docker::local_images(On::Build)
}

/// The stack's images that `generation` runs and that are no longer here (a rollback
/// builds nothing, so it needs them all).
pub fn gone(stack: &Stack, generation: &Generation) -> Result<Vec<String>> {
    let present = docker::local_tags(On::Build)?;
    let prefix = format!("{}/", stack.name);
    Ok(generation
        .images
        .values()
        .filter(|i| i.starts_with(&prefix) && !present.contains(*i))
        .cloned()
        .collect())
}

/// Removes every image of the stack (`<stack>/...`) that is neither in `keep` nor used
/// by a container of the stack; returns the tags removed. A tag the engine will not
/// remove (an image in use elsewhere) stays, and is not counted.
pub fn remove_unused(stack: &Stack, mut keep: BTreeSet<String>) -> Result<Vec<String>> {
    keep.extend(
        docker::containers(&stack.name)?
            .into_iter()
            .map(|c| c.image),
    );
    let prefix = format!("{}/", stack.name);
    let mut removed = Vec::new();
    for tag in docker::local_tags(On::Build)? {
        if tag.starts_with(&prefix) && !keep.contains(&tag) && docker::remove_image(&tag)? {
            removed.push(tag);
        }
    }
    Ok(removed)
}

/// The built services whose content-addressed tag is not in `present`, or names an
/// image that was not built from these inputs (its label says other ones: the tag was
/// moved by hand). A label the CLI could not read is trusted.
pub fn missing(evaluated: &Evaluated, present: &BTreeMap<String, LocalImage>) -> Vec<BuildRequest> {
    let stack = &evaluated.stack;
    let mut builds = Vec::new();
    for (name, inputs) in &evaluated.inputs {
        let tag = render::image_tag(&stack.name, name, inputs);
        let built_here = |i: &LocalImage| i.inputs.as_ref().is_none_or(|h| *h == inputs.hash);
        if present.get(&tag).is_some_and(built_here) {
            continue;
        }
        if let ImageSource::Build {
            context,
            dockerfile,
            ..
        } = &stack.services[name].source
        {
            builds.push(BuildRequest {
                service: name.clone(),
                tag,
                labels: vec![(docker::INPUTS_LABEL.to_string(), inputs.hash.clone())],
                context: stack.root.join(context),
                dockerfile: stack.root.join(dockerfile),
                args: inputs
                    .build_args
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
        }
    }
    builds
}

/// Building needs the base image locally: fail before anything is written if it is not.
pub fn require_base_image(
    stack: &Stack,
    builds: &[BuildRequest],
    present: &BTreeMap<String, LocalImage>,
) -> Result<()> {
    if !builds.is_empty()
        && !present.contains_key(&stack.base_image)
        && !docker::image_exists(&stack.base_image)?
    {
        return Err(Error::runtime(
            format!(
                "the base image `{}` is not present locally",
                stack.base_image
            ),
            Some("run `just base`: it pulls the image, or builds it from Debian packages".into()),
        )
        .into());
    }
    Ok(())
}

/// Builds in parallel: the daemon runs independent builds side by side. Each build is
/// told to the progress sink as it starts, runs and ends; the first failure is the error.
pub fn build_all(builds: &[BuildRequest]) -> Result<()> {
    let shown = progress::sink().builds();
    let results: Vec<Result<(), Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = builds
            .iter()
            .map(|req| {
                let build = shown.start(&req.service);
                scope.spawn(move || {
                    let result = docker::build(req, build.as_ref());
                    build.end(result.is_ok());
                    result
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::runtime("a build thread panicked", None)))
            })
            .collect()
    });
    match results.into_iter().find_map(Result::err) {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// When another engine builds ([`crate::engine::build_host`]), copies the stack's built
/// images among `tags` that the deploying engine lacks over to it; returns how many.
pub fn ship(stack: &Stack, tags: impl IntoIterator<Item = String>) -> Result<usize> {
    if crate::engine::build_host().is_none() {
        return Ok(0);
    }
    let here = docker::local_tags(On::Deploy)?;
    let prefix = format!("{}/", stack.name);
    let missing: Vec<String> = tags
        .into_iter()
        .filter(|t| t.starts_with(&prefix) && !here.contains(t))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    docker::ship(&missing)?;
    progress::note(format_args!(
        "copied {} from the building engine: {}",
        if missing.len() == 1 {
            "1 image"
        } else {
            "the images"
        },
        missing.join(", ")
    ));
    Ok(missing.len())
}

/// [`ship`] of every image the stack builds, as tagged from its inputs now.
pub fn ship_built(evaluated: &Evaluated) -> Result<usize> {
    let stack = &evaluated.stack;
    let tags = evaluated
        .inputs
        .iter()
        .filter(|(name, _)| matches!(stack.services[*name].source, ImageSource::Build { .. }))
        .map(|(name, inputs)| render::image_tag(&stack.name, name, inputs));
    ship(stack, tags)
}

/// Pushes each built image the registry lacks, by tag; returns how many were pushed.
pub fn push(evaluated: &Evaluated, registry: &str) -> Result<(usize, usize)> {
    let (mut pushed, mut present) = (0, 0);
    for (name, inputs) in &evaluated.inputs {
        let local = render::image_tag(&evaluated.stack.name, name, inputs);
        let remote = format!("{registry}/{local}");
        if docker::registry_has(&remote)? {
            progress::note(format_args!("{name}: {remote} is already in the registry"));
            present += 1;
            continue;
        }
        docker::push(&local, &remote)?;
        progress::note(format_args!("{name}: pushed {remote}"));
        pushed += 1;
    }
    Ok((pushed, present))
}
