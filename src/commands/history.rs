//! `stackgen history [--json]`: every generation (successful deploy), the current marked.

use anyhow::Result;

use crate::cli::HistoryArgs;
use crate::commands::context::Context;
use crate::error::Exit;
use crate::output;
use crate::stack::Stack;
use crate::state::generations::{self, Generation};

pub fn run(ctx: &Context, args: &HistoryArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    let all = generations::generations(&stack.root)?;
    if args.json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|g| {
                serde_json::json!({
                    "generation": g.number,
                    "current": g.current,
                    "time": g.time,
                    "git_revision": g.git_revision,
                    "images": g.images,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Exit::Success);
    }
    if all.is_empty() {
        output::note(format_args!(
            "no generations yet: `stackgen up` records one on each successful deploy"
        ));
        return Ok(Exit::Success);
    }
    println!("GEN  CURRENT  TIME                  GIT            IMAGES");
    for g in &all {
        println!("{}", row(g));
    }
    Ok(Exit::Success)
}

/// One table row: number, `*` when current, time, short revision (`+` when dirty), and
/// each service's image tag.
fn row(g: &Generation) -> String {
    let rev = g.git_revision.as_deref().map_or("-".to_string(), |r| {
        let short: String = r.chars().take(12).collect();
        if r.ends_with("-dirty") {
            format!("{short}+")
        } else {
            short
        }
    });
    let images: Vec<String> = g
        .images
        .iter()
        .map(|(s, i)| format!("{s}={}", i.rsplit(':').next().unwrap_or(i)))
        .collect();
    format!(
        "{:<4} {:<8} {:<21} {:<14} {}",
        g.number,
        if g.current { "*" } else { "" },
        g.time,
        rev,
        images.join(" ")
    )
}
