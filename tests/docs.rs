//! What the README says about building stackgen holds: the Rust version it names is the
//! `rust-version` Cargo.toml declares, and no dependency in Cargo.lock needs a newer Rust
//! (clippy's `incompatible_msrv`, in `just lint`, holds stackgen's own code to it).

mod common;

use common::repo;

fn version(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().expect("a number")).collect()
}

fn declared() -> String {
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let line = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("Cargo.toml declares rust-version");
    line.trim_matches('"').to_string()
}

#[test]
fn the_readme_names_the_declared_rust_version() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let want = format!("Rust (stable, {} or newer)", declared());
    assert!(readme.contains(&want), "README.md should say {want:?}");
}

#[test]
fn no_dependency_needs_a_newer_rust() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(repo())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ours = version(&declared());
    let newer: Vec<String> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| {
            let v = p["rust_version"].as_str()?;
            (version(v) > ours).then(|| format!("{} needs {v}", p["name"]))
        })
        .collect();
    assert!(
        newer.is_empty(),
        "dependencies need a newer Rust: {newer:?}"
    );
}
