//! Snapshot tests of rendering: each folder under `tests/fixtures/render/` holds a
//! `stack.toml` (and its build contexts); it is rendered with the shipped templates and
//! the compose file compared with `tests/snapshots/`. To add a case, add a folder and a
//! test line below; to accept changed output, run `INSTA_UPDATE=always cargo test --test
//! render` and review the snapshot diff before committing it.

mod common;

use common::repo;

fn render_fixture(case: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = repo().join("tests/fixtures/render").join(case);
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixture.display()))
        .arg(repo().join("templates"))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(status.success());
    let evaluated = stackgen::pipeline::evaluate(dir.path()).expect("fixture renders");
    evaluated
        .rendered
        .target(stackgen::stack::TargetKind::Compose)
        .expect("a compose file")
        .to_string()
}

#[test]
fn image_ephemeral_custom_check() {
    insta::assert_snapshot!(render_fixture("image-ephemeral-custom-check"));
}

#[test]
fn build_args_own_dockerfile() {
    insta::assert_snapshot!(render_fixture("build-args-own-dockerfile"));
}
