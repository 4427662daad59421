//! `stackgen up`: render, check, build the images whose tag is missing, deploy to the
//! target and wait until it is ready; on failure bring the last good generation back.
//! Every check that can refuse the deploy runs before anything is written or built, and
//! the images are built before any file is written.

use std::time::Instant;

use anyhow::Result;

use crate::cli::UpArgs;
use crate::commands::context::{self, Context};
use crate::error::{Error, Exit, Problem};
use crate::output;
use crate::pipeline::{self, Evaluated};
use crate::policy::{Finding, Severity};
use crate::stack::TargetKind;
use crate::state::generations::{self, Proof};
use crate::state::{atomic, layout, secrets};
use crate::targets::images::{self, BuildRequest};
use crate::targets::{self, EngineUse, Target, Verdict};

pub fn run(ctx: &Context, opts: &UpArgs) -> Result<Exit> {
    let evaluated = pipeline::evaluate(ctx.dir)?;
    let stack = &evaluated.stack;
    let target = targets::open(stack, ctx.target_for(stack));
    enforce_policy(&evaluated.findings, target.kind(), opts.allow_insecure)?;
    target.check_engine(EngineUse::Engine)?;
    // One deploy at a time per compose project; taken before the no-op proof (another
    // deploy may be half way) and before the first write.
    let _lock = context::lock(stack, opts.lock)?;
    // Before the no-op proof: a running stack with its password file gone is not fine.
    target.check_secrets()?;
    let why = if opts.force {
        "--force".to_string()
    } else {
        match prove_no_op(&evaluated, target.as_ref())? {
            Some(why) => why,
            None => return Ok(Exit::Success),
        }
    };
    let builds = preflight(&evaluated, target.as_ref())?;
    // Said once nothing can refuse the deploy any more, so a refusal is the only line.
    output::note(format_args!("deploying: {why}"));
    // Build before writing anything: a failed build leaves `generated/` and `.stackgen/`
    // as they were (the builds read only the build contexts).
    let reused = evaluated.inputs.len() - builds.len();
    output::note(format_args!(
        "images: {} to build, {reused} up to date",
        builds.len()
    ));
    images::build_all(&builds)?;
    if target.kind() == TargetKind::Compose {
        images::ship_built(&evaluated)?;
    }
    for rel in atomic::write_changed(&stack.root, &evaluated.rendered.files())? {
        output::note(format_args!("wrote {rel}"));
    }
    for name in secrets::ensure(&stack.root, &stack.secrets)? {
        output::note(format_args!(
            "generated secret `{name}` in {}/",
            layout::SECRETS_DIR
        ));
    }

    let started = Instant::now();
    let deployed = match target.deploy(&evaluated) {
        Ok(deployed) => deployed,
        Err(failure) if opts.no_rollback || !failure.switched => return Err(failure.error.into()),
        Err(failure) => {
            return Err(roll_back_after(target.as_ref(), &evaluated, failure.error)?.into());
        }
    };
    let generation = record(&evaluated, deployed.proof.as_ref())?;
    output::note(format_args!(
        "stack `{}` is up{}: {} in {:.1}s (generation {generation})",
        stack.name,
        target.words().place,
        deployed.summary,
        started.elapsed().as_secs_f64(),
    ));
    output::urls(&deployed.urls);
    Ok(Exit::Success)
}

/// The no-op proof: when what runs is provably the current generation, says so (with
/// how long the proof took) and the URLs, and returns `None`; else why not.
fn prove_no_op(evaluated: &Evaluated, target: &dyn Target) -> Result<Option<String>> {
    let started = Instant::now();
    let verdict = target.unchanged(evaluated)?;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    match verdict {
        Verdict::Unchanged {
            generation,
            services,
            urls,
        } => {
            output::note(format_args!(
                "stack `{}` is up{}: nothing changed ({services} services checked in {took:.0} ms; generation {generation})",
                evaluated.stack.name,
                target.words().place,
            ));
            output::urls(&urls);
            Ok(None)
        }
        Verdict::Changed(why) => Ok(Some(format!("{why} (checked in {took:.0} ms)"))),
    }
}

/// Errors of the security policy about what this deploy uses (the target's file, the
/// Dockerfiles) refuse it unless explicitly allowed; what is relaxed or allowed is
/// printed either way. Another target's file is `check`'s business, not this deploy's.
fn enforce_policy(findings: &[Finding], kind: TargetKind, allow_insecure: bool) -> Result<()> {
    let ours: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.target.is_none_or(|t| t == kind))
        .collect();
    // An error is what `-q` still shows; a relaxed default is a note.
    for f in &ours {
        match f.severity {
            Severity::Error => output::warn(f.line()),
            Severity::Relaxed => output::note(f.line()),
            Severity::Warning => {}
        }
    }
    let errors: Vec<&&Finding> = ours
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    if !allow_insecure {
        return Err(Error::input(
            Problem::new(
                "policy",
                format!("{} security findings above; nothing was deployed", errors.len()),
            )
            .hint("fix them (see `stackgen check`), relax one in stack.toml's `[services.<name>.security]`, or pass `--allow-insecure`"),
        )
        .into());
    }
    output::warn(format_args!(
        "--allow-insecure: deploying despite {} security findings: {}",
        errors.len(),
        errors
            .iter()
            .map(|f| format!("{} {}", f.service, f.key))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

/// Everything that can refuse the deploy, before anything is written; returns the
/// images to build. The target's checks (compose: its plugin, a process start; the
/// host ports) and the image list are independent, so they are asked at once.
fn preflight(evaluated: &Evaluated, target: &dyn Target) -> Result<Vec<BuildRequest>> {
    let (ready, present) = std::thread::scope(|s| {
        let ready = s.spawn(|| target.preflight(evaluated));
        let present = s.spawn(images::present);
        (ready.join(), present.join())
    });
    let thread = |_| anyhow::anyhow!("a check thread panicked");
    ready.map_err(thread)??;
    let present = present.map_err(thread)??;
    let builds = images::missing(evaluated, &present);
    images::require_base_image(&evaluated.stack, &builds, &present)?;
    Ok(builds)
}

/// After a failed deploy: bring the current (last good) generation back and check it is
/// ready. Never the generation this deploy was (a heal of what runs): that failed
/// already. Returns the error to exit with, saying what was done.
fn roll_back_after(target: &dyn Target, evaluated: &Evaluated, failure: Error) -> Result<Error> {
    let stack = &evaluated.stack;
    let Some(good) = generations::current(&stack.root)? else {
        output::warn(format_args!(
            "\nnothing to roll back to: this was the stack's first deploy"
        ));
        return Ok(failure);
    };
    if good.holds(&stack.root, &evaluated.rendered.by_file_name())? {
        let message = format!(
            "{failure}; nothing older to roll back to: this deploy was generation {} itself, which runs",
            good.number
        );
        let hint = "`stackgen status` names each service that does not serve and why;                     `stackgen logs <service>` shows its last words. `stackgen rollback`                     goes back to an older generation, if one was good";
        return Ok(failure.rephrased(message, Some(hint.to_string())));
    }
    output::note(format_args!(
        "\nrolling back to generation {} (the last good deploy)",
        good.number
    ));
    match target.activate_generation(&good).map_err(|f| f.error) {
        Ok(deployed) => {
            if let Some(proof) = &deployed.proof {
                good.save_proof(&stack.root, proof)?;
            }
            let message = format!(
                "{failure}; rolled back to generation {}, which is healthy again",
                good.number
            );
            let hint = format!(
                "the rollback is done: generation {} runs. `generated/` still holds the failed \
                 change, so `status` says drifted and the next `up` would deploy it again: \
                 revert or fix the change first (`git diff` shows it), then `stackgen up`. \
                 `stackgen up --no-rollback` leaves a failed deploy in place to debug it",
                good.number
            );
            Ok(failure.rephrased(message, Some(hint)))
        }
        Err(e) => {
            let message = format!(
                "{failure}; rolling back to generation {} failed too: {e}",
                good.number
            );
            let hint = "the stack may be partly down: `stackgen status` shows each service; \
                        `stackgen rollback` tries again, `stackgen history` lists what deployed before";
            Ok(failure.rephrased(message, Some(hint.to_string())))
        }
    }
}

/// Records a new generation, unless this deploy is exactly the current one again (as a
/// Nix profile does not grow when nothing changed), with what the deploy left running
/// for the next no-op proof. Returns the current number.
fn record(evaluated: &Evaluated, proof: Option<&Proof>) -> Result<u32> {
    let root = &evaluated.stack.root;
    let files = evaluated.rendered.by_file_name();
    let generation = match generations::current(root)? {
        Some(current) if current.holds(root, &files).unwrap_or(false) => current,
        _ => generations::record(root, &files, evaluated.images())?,
    };
    if let Some(proof) = proof {
        generation.save_proof(root, proof)?;
    }
    Ok(generation.number)
}
