//! Images on an engine: which tags are present (with the input hash each image was built
//! from), building one with the classic builder, removing a tag, shipping images from the
//! building engine to the deploying one. Building, removing and the base image are the
//! building engine's ([`On::Build`]); which tags are present is asked of either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Result;

use crate::engine::api::Api;
pub use crate::engine::docker::process::On;
use crate::engine::docker::process::{docker_on, each_line, run_on, strings, text};
use crate::error::Error;
use crate::progress;

/// stackgen's label on a built image: the sha256 of its build inputs.
pub const INPUTS_LABEL: &str = "io.stackgen.inputs";

/// Whether the building engine has `reference`.
pub fn image_exists(reference: &str) -> Result<bool> {
    Ok(run_on(
        On::Build,
        &strings(&["image", "inspect", "--format", "{{.Id}}", reference]),
    )?
    .status
    .success())
}

/// An image present locally, under one of its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    /// `sha256:...`.
    pub id: String,
    /// Its `io.stackgen.inputs` label; `None` when unknown (read through the CLI).
    pub inputs: Option<String>,
}

/// Every `repository:tag` the engine `on` names has, with its image, in one query.
pub fn local_images(on: On) -> Result<BTreeMap<String, LocalImage>> {
    let api = match on {
        On::Deploy => Api::local(),
        On::Build => Api::builder(),
    };
    let Some(api) = api else {
        return Ok(local_tags_cli(on)?
            .into_iter()
            .map(|(tag, id)| (tag, LocalImage { id, inputs: None }))
            .collect());
    };
    let all = api.get_json("/images/json")?;
    let mut out = BTreeMap::new();
    for image in all.as_array().into_iter().flatten() {
        let id = image["Id"].as_str().unwrap_or("").to_string();
        let inputs = image["Labels"][INPUTS_LABEL].as_str().map(str::to_string);
        for tag in image["RepoTags"].as_array().into_iter().flatten() {
            let Some(tag) = tag.as_str().filter(|t| *t != "<none>:<none>") else {
                continue;
            };
            let image = LocalImage {
                id: id.clone(),
                inputs: inputs.clone(),
            };
            out.insert(tag.to_string(), image);
        }
    }
    Ok(out)
}

/// Every `repository:tag` the engine `on` names has.
pub fn local_tags(on: On) -> Result<BTreeSet<String>> {
    Ok(local_images(on)?.into_keys().collect())
}

fn local_tags_cli(on: On) -> Result<BTreeMap<String, String>> {
    let out = run_on(
        on,
        &strings(&[
            "image",
            "ls",
            "--no-trunc",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
        ]),
    )?;
    if !out.status.success() {
        anyhow::bail!("`docker image ls` failed: {}", text(&out.stderr));
    }
    Ok(text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(tag, id)| (tag.to_string(), id.to_string()))
        .collect())
}

/// Removes an image tag from the building engine (the layers stay while another tag
/// uses them).
pub fn remove_image(tag: &str) -> Result<bool> {
    Ok(run_on(On::Build, &strings(&["rmi", tag]))?.status.success())
}

/// Copies images from the building engine to the deploying one: `docker save` there piped
/// into `docker load` here, all tags in one archive so shared layers travel once.
pub fn ship(tags: &[String]) -> Result<(), Error> {
    let mut save = strings(&["save"]);
    save.extend(tags.iter().cloned());
    let out = docker_on(On::Build, &save)
        .pipe(docker_on(On::Deploy, ["load", "--quiet"]))
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| {
            Error::runtime(format!("cannot run `docker save | docker load`: {e}"), None)
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::runtime(
        format!(
            "copying {} from the building engine to the deploying one failed: {}",
            tags.join(", "),
            text(&out.stderr)
        ),
        Some(format!(
            "check both engines answer: `{}` builds, `DOCKER_HOST` deploys",
            crate::engine::BUILD_HOST_VAR
        )),
    ))
}

/// What to build for one service.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub service: String,
    pub tag: String,
    /// Labels the image carries (stackgen's input hash).
    pub labels: Vec<(String, String)>,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub args: Vec<(String, String)>,
}

pub fn build_args(req: &BuildRequest) -> Vec<String> {
    // `--force-rm`: the classic builder keeps a failed step's container otherwise.
    let mut args = strings(&["build", "--force-rm", "--tag"]);
    args.push(req.tag.clone());
    for (k, v) in &req.labels {
        args.push("--label".into());
        args.push(format!("{k}={v}"));
    }
    for (k, v) in &req.args {
        args.push("--build-arg".into());
        args.push(format!("{k}={v}"));
    }
    args.push("--file".into());
    args.push(req.dockerfile.display().to_string());
    args.push(req.context.display().to_string());
    args
}

/// How many of a failed build's last lines its error shows.
const BUILD_TAIL: usize = 25;

/// Builds one image, each line it prints told to `progress`; on failure the error
/// carries the build's last lines.
pub fn build(req: &BuildRequest, progress: &dyn progress::Build) -> Result<(), Error> {
    // No buildx here: the classic builder, asked for explicitly so the CLI does not
    // look for BuildKit and fail.
    let args = build_args(req);
    let cannot =
        |e: std::io::Error| Error::runtime(format!("cannot run `docker build`: {e}"), None);
    let reader = docker_on(On::Build, &args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .reader()
        .map_err(cannot)?;
    let mut tail = std::collections::VecDeque::with_capacity(BUILD_TAIL + 1);
    each_line(&reader, |line| {
        progress.line(line);
        tail.push_back(line.to_string());
        if tail.len() > BUILD_TAIL {
            tail.pop_front();
        }
    })
    .map_err(cannot)?;
    let ended = reader.try_wait().map_err(cannot)?;
    if ended.is_some_and(|o| o.status.success()) {
        return Ok(());
    }
    let tail: Vec<String> = tail.into_iter().filter(|l| !l.trim().is_empty()).collect();
    Err(Error::runtime(
        format!(
            "building `{}` ({}) failed:\n{}",
            req.service,
            req.tag,
            tail.join("\n")
        ),
        Some(format!(
            "reproduce with `docker build` on `{}`",
            req.context.display()
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_carry_label_and_build_args() {
        let req = BuildRequest {
            service: "hello".into(),
            tag: "demo/hello:abc".into(),
            labels: vec![("io.stackgen.inputs".into(), "abcdef".into())],
            context: PathBuf::from("/p/apps/hello"),
            dockerfile: PathBuf::from("/p/apps/hello/Dockerfile"),
            args: vec![("BASE_IMAGE".into(), "debian:bookworm-slim".into())],
        };
        assert_eq!(
            build_args(&req).join(" "),
            "build --force-rm --tag demo/hello:abc --label io.stackgen.inputs=abcdef --build-arg \
             BASE_IMAGE=debian:bookworm-slim --file /p/apps/hello/Dockerfile /p/apps/hello"
        );
    }
}
