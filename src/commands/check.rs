//! `stackgen check [--json]`: the security policy's findings over every rendered file
//! and Dockerfile. Writes nothing; exit 1 when a finding is an error.

use anyhow::Result;

use crate::cli::CheckArgs;
use crate::commands::context::Context;
use crate::error::Exit;
use crate::output;
use crate::pipeline;
use crate::policy::{Finding, Severity};

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

pub fn run(ctx: &Context, args: &CheckArgs) -> Result<Exit> {
    let evaluated = pipeline::evaluate(ctx.dir)?;
    let findings = &evaluated.findings;
    let errors = count(findings, Severity::Error);
    let warnings = count(findings, Severity::Warning);
    let relaxed = count(findings, Severity::Relaxed);
    if args.json {
        let report = serde_json::json!({
            "errors": errors,
            "warnings": warnings,
            "relaxed": relaxed,
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in findings {
            println!("{}", f.line());
        }
        output::note(format_args!(
            "check: {errors} errors, {warnings} warnings, {relaxed} relaxed"
        ));
    }
    Ok(Exit::differs_if(errors > 0))
}
