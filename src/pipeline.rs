//! The pure pipeline every command starts from: load and validate `stack.toml`, hash each
//! built service's inputs, render every target's file and the lock, parse what was
//! rendered once, and check it against the security policy. Reads only: nothing here
//! writes a file, builds an image or talks to the engine.
//!
//! Its outcome is an [`Evaluated`] stack (as Nix evaluates an expression before it
//! builds anything); "plan" means one thing only: what `up` would do to each service
//! (`crate::plan`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::document::Document;
use crate::hash::{self, ServiceInputs};
use crate::policy::{self, Finding};
use crate::render::{self, Rendered};
use crate::stack::{ImageSource, Stack, TargetKind};

/// A stack with its inputs hashed and its files rendered and parsed, nothing written yet.
pub struct Evaluated {
    pub stack: Stack,
    /// Each built service's input manifest (what its image tag is a hash of).
    pub inputs: BTreeMap<String, ServiceInputs>,
    pub rendered: Rendered,
    /// Each rendered target file, parsed once.
    pub documents: BTreeMap<TargetKind, Document>,
    /// The security policy's findings over every rendered file and Dockerfile.
    pub findings: Vec<Finding>,
}

/// Load, validate, hash, render, parse, check.
pub fn evaluate(dir: &Path) -> Result<Evaluated> {
    evaluate_stack(Stack::load(dir)?)
}

/// The same pipeline from stack file text, for `root`'s templates and build contexts.
/// This is what the fuzz target drives: it must return, never panic, on any text.
pub fn evaluate_text(root: &Path, text: &str) -> Result<Evaluated> {
    evaluate_stack(Stack::parse(root, text)?)
}

fn evaluate_stack(stack: Stack) -> Result<Evaluated> {
    let inputs = hash::hash_stack(&stack)?;
    let rendered = render::render(&stack, &inputs)?;
    let mut documents = BTreeMap::new();
    for (target, text) in &rendered.targets {
        documents.insert(*target, Document::parse(target.spec().file, text)?);
    }
    let findings = policy::check(&stack, &documents);
    Ok(Evaluated {
        stack,
        inputs,
        rendered,
        documents,
        findings,
    })
}

impl Evaluated {
    /// Service -> the image it runs: the content tag of a built service, or the image
    /// stack.toml names. What a generation records for `history` and `gc`.
    pub fn images(&self) -> BTreeMap<String, String> {
        self.stack
            .services
            .iter()
            .map(|(name, svc)| {
                let image = match (&svc.source, self.inputs.get(name)) {
                    (ImageSource::Image(image), _) => image.clone(),
                    (ImageSource::Build { .. }, Some(inputs)) => {
                        render::image_tag(&self.stack.name, name, inputs)
                    }
                    (ImageSource::Build { .. }, None) => String::new(),
                };
                (name.clone(), image)
            })
            .collect()
    }
}
