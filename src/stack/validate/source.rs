//! Where a service's image comes from: built from a folder in the project (`build`,
//! `dockerfile`, `build_args`), or an `image` used as is; exactly one of the two.

use std::path::Path;

use crate::error::Problem;
use crate::stack::model::ImageSource;
use crate::stack::raw::RawService;
use crate::stack::syntax::{is_env_name, is_image_reference};

use super::location::ServiceAt;
use super::paths::{join_rel, project_path};

/// The checked image source; `None` when it is wrong (each problem already reported).
pub(super) fn check(
    root: &Path,
    svc: ServiceAt<'_>,
    raw: &RawService,
    problems: &mut Vec<Problem>,
) -> Option<ImageSource> {
    match (&raw.build, &raw.image) {
        (Some(_), Some(_)) => {
            problems.push(
                Problem::new(
                    svc.key("image"),
                    "a service has `build` or `image`, not both",
                )
                .hint("remove one of them"),
            );
            None
        }
        (None, None) => {
            problems.push(
                Problem::new(svc.table(), "no `build` or `image`")
                    .hint("set `build = \"apps/<name>\"` (a folder with a Dockerfile)"),
            );
            None
        }
        (None, Some(image)) => Some(image_source(svc, image, raw, problems)),
        (Some(context), None) => build(root, svc, context, raw, problems),
    }
}

/// `image = "..."`: a valid reference, and nothing that only a build uses.
fn image_source(
    svc: ServiceAt<'_>,
    image: &str,
    raw: &RawService,
    problems: &mut Vec<Problem>,
) -> ImageSource {
    if !is_image_reference(image) {
        problems.push(Problem::new(
            svc.key("image"),
            format!("`{image}` is not a valid image reference"),
        ));
    }
    if raw.dockerfile.is_some() || !raw.build_args.is_empty() {
        problems.push(Problem::new(
            svc.key("image"),
            "`dockerfile` and `build_args` need `build`",
        ));
    }
    ImageSource::Image(image.to_string())
}

/// `build = "<folder>"`: the context folder, its Dockerfile, and the build arguments.
fn build(
    root: &Path,
    svc: ServiceAt<'_>,
    context: &str,
    raw: &RawService,
    problems: &mut Vec<Problem>,
) -> Option<ImageSource> {
    let context = project_path(root, context, true, &svc.key("build"), problems);
    let dockerfile = dockerfile(
        root,
        svc,
        raw.dockerfile.as_deref(),
        context.as_deref(),
        problems,
    );
    // Checked even when the context is wrong, so they are fixed in the same round trip.
    for arg in raw.build_args.keys() {
        if !is_env_name(arg) {
            problems.push(Problem::new(
                svc.key("build_args"),
                format!("`{arg}` is not a valid build argument name"),
            ));
        }
        if arg == "BASE_IMAGE" {
            problems.push(
                Problem::new(svc.key("build_args"), "`BASE_IMAGE` is set by stackgen")
                    .hint("change `stack.base_image` instead"),
            );
        }
    }
    match (context, dockerfile) {
        (Some(context), Some(dockerfile)) => Some(ImageSource::Build {
            context,
            dockerfile,
            args: raw.build_args.clone(),
        }),
        _ => None,
    }
}

/// The Dockerfile: `dockerfile` when set, else `Dockerfile` in the (valid) context.
fn dockerfile(
    root: &Path,
    svc: ServiceAt<'_>,
    dockerfile: Option<&str>,
    context: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    match (dockerfile, context) {
        (Some(df), _) => project_path(root, df, false, &svc.key("dockerfile"), problems),
        (None, Some(ctx)) => {
            let df = join_rel(ctx, "Dockerfile");
            if root.join(&df).is_file() {
                Some(df)
            } else {
                problems.push(
                    Problem::new(svc.key("build"), format!("no `{df}`"))
                        .hint("add a Dockerfile to the build context or set `dockerfile`"),
                );
                None
            }
        }
        // The context is wrong and already reported; there is no folder to look in.
        (None, None) => None,
    }
}
