//! The compose target's no-op proof: `up` skips compose when what runs is provably what
//! the current generation deployed. The proof is exact, not a heuristic: each check below
//! is one compose itself would make (its config hash, its image id), or one it cannot
//! make at all (the edge's loaded routes, an orphan started by hand). Any doubt is a
//! reason, and `up` takes the full path, which converges as it always did.
//!
//! What it costs: two file reads per rendered file, one engine list plus one inspect per
//! container (in parallel), one image list, a few exchanges on the edge's admin socket,
//! a few `stat`s, and `status`'s probes of what users reach (each URL through the edge,
//! each container where the edge reaches it, in parallel). No process is started.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use anyhow::Result;

use crate::document::Document;
use crate::engine::docker::{self, CONFIG_HASH_LABEL, Container, LocalImage};
use crate::hash::hex;
use crate::pipeline::Evaluated;
use crate::stack::Stack;
use crate::state::generations::{Generation, Proof};
use crate::state::layout;

/// What compose's config hashes of a file are a function of, besides the compose binary
/// and, where the file interpolates, the environment: the project and the file's text.
pub fn key(project: &str, dir: &Path, compose: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        project.as_bytes(),
        dir.as_os_str().as_encoded_bytes(),
        compose.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex(&h.finalize())
}

/// [`key`] of a compose text of `stack` (its project folder is `generated/`).
pub fn stack_key(stack: &Stack, compose: &str) -> String {
    key(
        &stack.name,
        &stack.root.join(layout::GENERATED_DIR),
        compose,
    )
}

/// Why the files rendered now may not be what `current` deployed, if they may not: they
/// differ from the generation's, or what is on disk (`generated/*`, the edge's runtime
/// config) differs from them.
pub fn files_doubt(evaluated: &Evaluated, current: &Generation) -> Result<Option<String>> {
    let root = &evaluated.stack.root;
    if !current.holds(root, &evaluated.rendered.by_file_name())? {
        let n = current.number;
        return Ok(Some(format!(
            "the files rendered now differ from generation {n}'s"
        )));
    }
    let edge_runtime = evaluated
        .rendered
        .edge
        .as_deref()
        .map(|e| (layout::EDGE_RUNTIME_CONFIG, e));
    for (rel, text) in evaluated.rendered.files().into_iter().chain(edge_runtime) {
        if std::fs::read_to_string(root.join(rel)).ok().as_deref() != Some(text) {
            return Ok(Some(format!(
                "`{rel}` differs from what stack.toml renders"
            )));
        }
    }
    Ok(None)
}

/// Why the proof's config hashes may not be what compose computes for `compose` now, if
/// they may not: another text or folder, a changed plugin, an environment the file
/// depends on.
pub fn hashes_doubt(stack: &Stack, proof: &Proof, compose: &str) -> Option<String> {
    if proof.key != stack_key(stack, compose) {
        return Some("the compose file or project folder is not the one deployed".into());
    }
    if let Some(doubt) = environment_doubt(compose, &stack.root.join(layout::GENERATED_DIR)) {
        return Some(doubt);
    }
    (docker::compose_identity().as_ref() != Some(&proof.compose))
        .then(|| "the compose plugin changed since the deploy".into())
}

/// Why compose could read `compose` differently from when its hashes were recorded,
/// when it could: the file interpolates variables (`$x`, `${x}`; `$$` is a literal `$`),
/// the project folder has a `.env`, or a `COMPOSE_*` variable is set.
fn environment_doubt(compose: &str, generated: &Path) -> Option<String> {
    if interpolates(compose) {
        return Some(
            "the compose file interpolates variables (`$`), so what it means depends on the environment".into(),
        );
    }
    if generated.join(".env").exists() {
        return Some("generated/.env exists: compose reads variables from it".into());
    }
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .find(|k| k.starts_with("COMPOSE_"))
        .map(|k| format!("`{k}` is set: it can change how compose reads the file"))
}

/// Whether the text has a `$` that compose would interpolate (one not doubled).
fn interpolates(text: &str) -> bool {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '$' && chars.next() != Some('$') {
            return true;
        }
    }
    false
}

/// What a finished deploy left running, as the next no-op proof needs it.
pub fn record(
    compose: Option<String>,
    key: String,
    config_hashes: &BTreeMap<String, String>,
    running: &[Container],
) -> Proof {
    let mut proof = Proof {
        compose: compose.unwrap_or_default(),
        key,
        config_hashes: config_hashes.clone(),
        ..Proof::default()
    };
    for c in running {
        proof
            .image_ids
            .entry(c.service.clone())
            .or_insert_with(|| c.image_id.clone());
        *proof.containers.entry(c.service.clone()).or_default() += 1;
    }
    proof
}

/// Checks the containers and images against the proof: each service of `doc` has its
/// recorded number of containers, each ready, with the recorded config hash and image
/// id, and its tag still names that image; no container belongs to another service.
/// `images` is `None` when `running` came from the engine's list, which names a
/// container's image by its tag only while the tag still names it ([`docker::
/// containers_resolve_tags`]). The first doubt, or `None`.
pub fn check_running(
    proof: &Proof,
    doc: &Document,
    running: &[Container],
    images: Option<&BTreeMap<String, LocalImage>>,
) -> Option<String> {
    if let Some(orphan) = running
        .iter()
        .find(|c| !doc.services().contains_key(&c.service))
    {
        return Some(format!(
            "container {} of service `{}` is not in the compose file",
            orphan.id, orphan.service
        ));
    }
    for name in doc.services().keys() {
        let theirs: Vec<&Container> = running.iter().filter(|c| &c.service == name).collect();
        let want = proof.containers.get(name).copied().unwrap_or(0);
        if theirs.len() != want || want == 0 {
            return Some(format!(
                "`{name}` has {} containers, its deploy left {want}",
                theirs.len()
            ));
        }
        let (Some(hash), Some(image_id)) =
            (proof.config_hashes.get(name), proof.image_ids.get(name))
        else {
            return Some(format!("the deploy record has no hash for `{name}`"));
        };
        let image = doc.image(name).unwrap_or("");
        for c in theirs {
            if !c.is_ready() {
                return Some(format!("`{name}` container {} is {}", c.id, c.describe()));
            }
            if c.label(CONFIG_HASH_LABEL) != Some(hash) {
                return Some(format!(
                    "`{name}` container {} was created from another config",
                    c.id
                ));
            }
            if &c.image_id != image_id || c.image != image {
                return Some(format!(
                    "`{name}` container {} runs another image than its deploy",
                    c.id
                ));
            }
        }
        if images.is_some_and(|i| i.get(image).map(|i| &i.id) != Some(image_id)) {
            return Some(format!(
                "the tag `{image}` no longer names the image `{name}` runs"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::docker::{Health, State};

    #[test]
    fn only_an_undoubled_dollar_interpolates() {
        assert!(!interpolates("test: pg_isready -U \"$${POSTGRES_USER}\""));
        assert!(interpolates("value: $HOME"));
        assert!(interpolates("value: ${X:-y}"));
        assert!(interpolates("value: $$$X"));
        assert!(interpolates("ends with $"));
        assert!(!interpolates("no dollar at all"));
    }

    #[test]
    fn the_key_tells_project_folder_and_text_apart() {
        let k = |p: &str, d: &str, t: &str| key(p, Path::new(d), t);
        let base = k("demo", "/p/generated", "services: {}\n");
        assert_eq!(base, k("demo", "/p/generated", "services: {}\n"));
        assert_ne!(base, k("demo2", "/p/generated", "services: {}\n"));
        assert_ne!(base, k("demo", "/q/generated", "services: {}\n"));
        assert_ne!(base, k("demo", "/p/generated", "services: {a: {}}\n"));
        // Lengths are part of the key: moving a byte between parts changes it.
        assert_ne!(k("ab", "c", ""), k("a", "bc", ""));
    }

    fn container(service: &str, hash: &str, image_id: &str, state: State) -> Container {
        Container {
            service: service.into(),
            id: format!("{service}-id"),
            state,
            health: Health::Healthy,
            image: format!("s/{service}:1"),
            image_id: image_id.into(),
            exit_code: 0,
            restarts: 0,
            ports: BTreeMap::new(),
            labels: BTreeMap::from([(CONFIG_HASH_LABEL.to_string(), hash.to_string())]),
            addresses: BTreeMap::new(),
        }
    }

    #[test]
    fn every_kind_of_drift_is_a_doubt() {
        let doc =
            Document::parse_lenient("services:\n  a:\n    image: s/a:1\n  b:\n    image: s/b:1\n");
        let running = vec![
            container("a", "ha", "sha256:a", State::Running),
            container("b", "hb", "sha256:b", State::Running),
        ];
        let proof = record(
            Some("compose".into()),
            "k".into(),
            &BTreeMap::from([("a".into(), "ha".into()), ("b".into(), "hb".into())]),
            &running,
        );
        let image = |id: &str| LocalImage {
            id: id.into(),
            inputs: None,
        };
        let images = BTreeMap::from([
            ("s/a:1".to_string(), image("sha256:a")),
            ("s/b:1".to_string(), image("sha256:b")),
        ]);
        assert_eq!(check_running(&proof, &doc, &running, Some(&images)), None);
        assert_eq!(check_running(&proof, &doc, &running, None), None);

        let doubt = |running: &[Container], images: &BTreeMap<String, LocalImage>| {
            check_running(&proof, &doc, running, Some(images)).expect("a doubt")
        };
        let stopped = vec![
            running[0].clone(),
            container("b", "hb", "sha256:b", State::Exited),
        ];
        assert!(doubt(&stopped, &images).contains("is exited"));
        assert!(doubt(&running[..1], &images).contains("`b` has 0 containers"));
        let other = vec![
            running[0].clone(),
            container("b", "hX", "sha256:b", State::Running),
        ];
        assert!(doubt(&other, &images).contains("another config"));
        let retagged = BTreeMap::from([
            ("s/a:1".to_string(), image("sha256:a")),
            ("s/b:1".to_string(), image("sha256:other")),
        ]);
        assert!(doubt(&running, &retagged).contains("no longer names"));
        // As the engine's list shows a container whose tag was moved: by image id.
        let mut by_id = running.clone();
        by_id[1].image = "sha256:b".into();
        let found = check_running(&proof, &doc, &by_id, None).expect("a doubt");
        assert!(found.contains("runs another image"), "{found}");
        let mut orphan = running.clone();
        orphan.push(container("c", "hc", "sha256:c", State::Running));
        assert!(doubt(&orphan, &images).contains("not in the compose file"));
        let mut two = running.clone();
        two.push(container("a", "ha", "sha256:a", State::Running));
        assert!(doubt(&two, &images).contains("`a` has 2 containers"));
    }
}
