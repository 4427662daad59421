//! `stackgen status [--json]`: each service's state, health, image and URL, and whether
//! it matches the generated file (in sync, drifted, missing, orphan) and serves its
//! users (unreachable, unhealthy, restarting: asked the way users reach it). Exit 4 when
//! a service does not serve, else 1 when anything is not in sync.

use anyhow::Result;

use crate::cli::StatusArgs;
use crate::commands::context::Context;
use crate::error::Exit;
use crate::stack::Stack;
use crate::targets::{self, EngineUse, StatusRow, SyncState};

pub fn run(ctx: &Context, args: &StatusArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::Engine)?;
    let rows = target.status()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for line in table(&rows) {
            println!("{line}");
        }
    }
    if rows.iter().any(|r| !r.sync.serves()) {
        return Ok(Exit::NotServing);
    }
    Ok(Exit::differs_if(
        rows.iter().any(|r| r.sync != SyncState::InSync),
    ))
}

/// The rows as an aligned table, a header first; the last column is not padded.
fn table(rows: &[StatusRow]) -> Vec<String> {
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    let cells: Vec<[String; 6]> =
        std::iter::once(["SERVICE", "STATE", "HEALTH", "IMAGE", "URL", "SYNC"].map(String::from))
            .chain(rows.iter().map(|r| {
                let sync = if r.detail.is_empty() {
                    r.sync.to_string()
                } else {
                    format!("{} ({})", r.sync, r.detail)
                };
                [
                    r.service.clone(),
                    r.state.clone(),
                    dash(&r.health),
                    r.image.clone(),
                    dash(&r.url),
                    sync,
                ]
            }))
            .collect();
    let width = |i: usize| cells.iter().map(|row| row[i].len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..5).map(width).collect();
    cells
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                line.push_str(&format!("{:<w$}  ", row[i], w = w));
            }
            line.push_str(&row[5]);
            line
        })
        .collect()
}
