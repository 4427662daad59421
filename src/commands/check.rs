//! `stackgen check [--json]`: the security policy's findings over every rendered file
//! and Dockerfile. Writes nothing; exit 1 when a finding is an error.

use std::path::Path;

use anyhow::Result;

use crate::error::DIFFERS;
use crate::output;
use crate::pipeline;
use crate::policy::{Finding, Severity};

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

pub fn run(dir: &Path, json: bool) -> Result<u8> {
    let evaluated = pipeline::evaluate(dir)?;
    let findings = &evaluated.findings;
    let errors = count(findings, Severity::Error);
    let warnings = count(findings, Severity::Warning);
    let relaxed = count(findings, Severity::Relaxed);
    if json {
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
    Ok(if errors > 0 { DIFFERS } else { 0 })
}
