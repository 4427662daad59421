//! What the README says about building stackgen holds: the Rust version it names is the
//! `rust-version` Cargo.toml declares, and no dependency in Cargo.lock needs a newer Rust
//! (clippy's `incompatible_msrv`, in `just lint`, holds stackgen's own code to it).
//! And the docs hang together: every relative link in README.md and `docs/src/*.md`
//! points at a file that exists (and a `#anchor` at a heading of the page it names), and
//! `docs/src/SUMMARY.md` lists every page of the book. The README's commands themselves
//! are run by `scripts/docs-check.sh`, in CI.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// Online, not `--offline`: metadata reads every locked package's manifest, also those
/// of other platforms, which a fresh machine's `cargo test` never downloaded.
#[test]
fn no_dependency_needs_a_newer_rust() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
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

/// The markdown files whose links are checked: the README and every page of the book.
fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let src = repo().join("docs/src");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .map(|e| e.expect("a docs/src entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

/// The text of a markdown file outside its fenced code blocks, line by line (numbered
/// from 1), so a link or heading shown as code is not taken for one.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((n + 1, line));
        }
    }
    out
}

/// Each `[text](target)` of a line, without the inline code spans.
fn link_targets(line: &str) -> Vec<String> {
    let mut plain = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            plain.push_str(part);
        }
    }
    let mut out = Vec::new();
    let mut rest = plain.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) => {
                out.push(after[..end].trim().to_string());
                rest = &after[end..];
            }
            None => break,
        }
    }
    out
}

/// GitHub's anchor for a heading: lowercase, backticks and punctuation dropped, spaces
/// as hyphens (mdBook's ids agree for headings like ours).
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a markdown file's headings; a repeated heading gets `-1`, `-2`, ...
fn anchors(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeSet::new();
    for (_, line) in prose(&text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(heading.trim_start_matches('#'));
        let mut id = base.clone();
        let mut n = 0;
        while out.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        out.insert(id);
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_points_at_something_that_exists() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).expect("a docs file");
        let shown = file
            .strip_prefix(repo())
            .unwrap_or(&file)
            .display()
            .to_string();
        for (n, line) in prose(&text) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let resolved = if path.is_empty() {
                    file.clone()
                } else {
                    file.parent().expect("a folder").join(path)
                };
                if !resolved.exists() {
                    broken.push(format!("{shown}:{n}: `{target}`: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if resolved.extension().is_some_and(|x| x == "md")
                    && !anchors(&resolved).contains(anchor)
                {
                    broken.push(format!(
                        "{shown}:{n}: `{target}`: no heading with anchor `#{anchor}`"
                    ));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} relative links found: is the parser right?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_books_summary_lists_every_page() {
    let src = repo().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("docs/src/SUMMARY.md");
    let listed: BTreeSet<String> = prose(&summary)
        .into_iter()
        .flat_map(|(_, line)| link_targets(line))
        .collect();
    let missing: Vec<String> = doc_files()
        .iter()
        .filter(|p| p.starts_with(&src))
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .filter(|name| name != "SUMMARY.md" && !listed.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/src/SUMMARY.md does not list: {missing:?}"
    );
}

/// The code listing in docs/src/how-it-works.md names every top-level module of `src/`
/// (`name.rs` or `name/`), so a new room cannot go unmentioned.
#[test]
fn the_code_listing_names_every_module() {
    let page = std::fs::read_to_string(repo().join("docs/src/how-it-works.md")).expect("page");
    let start = page.find("## The code").expect("a section on the code");
    let listing = &page[start..];
    let listing = &listing[listing.find("```\n").expect("its listing starts") + 4..];
    let listing = &listing[..listing.find("\n```").expect("its listing ends")];
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(repo().join("src")).expect("src") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let shown = if name.ends_with(".rs") {
            name.clone()
        } else {
            format!("{name}/")
        };
        if !listing.contains(&shown) {
            missing.push(shown);
        }
    }
    assert!(
        missing.is_empty(),
        "not in how-it-works.md's listing: {missing:?}"
    );
}
