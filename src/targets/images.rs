//! The stack's images, which every target needs before it deploys: which content-tagged
//! images are missing locally, building them (in parallel), and pushing them to a
//! registry for targets whose nodes pull.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::engine::docker::{self, BuildRequest, LocalImage};
use crate::error::Error;
use crate::pipeline::Evaluated;
use crate::progress;
use crate::render;
use crate::stack::TargetKind;
use crate::stack::{ImageSource, Stack};

/// The built services whose content-addressed tag is not in `present`, or names an
/// image that was not built from these inputs (its label says other ones: the tag was
/// moved by hand). A label the CLI could not read is trusted.
pub fn missing(evaluated: &Evaluated, present: &BTreeMap<String, LocalImage>) -> Vec<BuildRequest> {
    let stack = &evaluated.stack;
    let mut builds = Vec::new();
    for (name, inputs) in &evaluated.hashes {
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
                labels: vec![(render::HASH_LABEL.to_string(), inputs.hash.clone())],
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

/// Pushes each built image the registry lacks, by tag; returns how many were pushed.
pub fn push(evaluated: &Evaluated, registry: &str) -> Result<(usize, usize)> {
    let (mut pushed, mut present) = (0, 0);
    let stack = &evaluated.stack;
    // What a swarm runs: not the one-host edge.
    let on_swarm = |name: &String| {
        stack
            .services
            .get(name)
            .is_some_and(|s| stack.role(s).deploys_on(TargetKind::Swarm))
    };
    for (name, inputs) in evaluated.hashes.iter().filter(|(n, _)| on_swarm(n)) {
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
