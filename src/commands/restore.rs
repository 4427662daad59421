//! `stackgen restore FILE`: replace a service's data with a backup. The file is read
//! whole and checked before anything else; what the service holds now is backed up
//! first; the kind's restore runs in one transaction, so the apps stay up and see the
//! old data or the new, never a mix.

use std::io::{IsTerminal, Seek, Write};
use std::path::Path;

use anyhow::Result;

use crate::cli::RestoreArgs;
use crate::commands::backup::require_stores;
use crate::commands::context::{self, Context};
use crate::engine::signal::Shield;
use crate::error::{Error, Exit, Problem};
use crate::output;
use crate::stack::kind::Backup;
use crate::stack::{Service, Stack};
use crate::state::backups;
use crate::targets::{self, EngineUse};

pub fn run(ctx: &Context, args: &RestoreArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    require_stores(&stack)?;
    let (svc, backup) = pick(&stack, args.service.as_deref())?;
    let dump = unpack(&args.file, backup)?;
    if !args.yes && !confirm(&stack, svc, &args.file)? {
        output::warn(format_args!("restore cancelled; nothing was changed"));
        return Ok(Exit::Declined);
    }
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::Engine)?;
    let _lock = context::lock(&stack, args.lock)?;
    if !target.serves(svc)? {
        return Err(Error::runtime(
            format!(
                "`{}` is not running ready, so nothing can be restored into it",
                svc.name
            ),
            Some("start the stack with `stackgen up`, then restore".into()),
        )
        .into());
    }
    // From here Ctrl-C reaches stackgen alone: the dump and the restore's one-off
    // containers run to their end, and stackgen stops between the steps, or says it
    // is finishing; it never returns while the data is still changing.
    let shield = Shield::install();
    targets::backup::back_up(
        target.as_ref(),
        &stack,
        targets::backup::When::Before("before the restore replaces it"),
    )?;
    if shield.interrupted() {
        output::warn(format_args!(
            "interrupted: the restore stopped before it changed anything; `{}` holds its data as before",
            svc.name
        ));
        return Ok(Exit::Interrupted);
    }
    output::note(format_args!(
        "replacing `{}`'s data in one transaction (Ctrl-C now waits for it to end)",
        svc.name
    ));
    target.load(svc, backup, dump)?;
    output::note(format_args!(
        "restored `{}` from {}; the other services stayed up",
        svc.name,
        args.file.display()
    ));
    if shield.interrupted() {
        output::warn(format_args!(
            "interrupted: the restore had begun replacing the data, so it finished first; `{}` holds the backup's data",
            svc.name
        ));
        return Ok(Exit::Interrupted);
    }
    Ok(Exit::Success)
}

/// The service to restore into: `--service`, or the only one that holds data.
fn pick<'s>(stack: &'s Stack, name: Option<&str>) -> Result<(&'s Service, &'s Backup), Error> {
    let stores = targets::backup::stores(stack);
    let names = || {
        stores
            .iter()
            .map(|(s, _)| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = match name {
        Some(name) => stores.iter().find(|(s, _)| s.name == name),
        None if stores.len() == 1 => stores.first(),
        None => None,
    };
    found.copied().ok_or_else(|| {
        let message = match name {
            Some(name) => format!("`{name}` holds no data that stackgen can restore"),
            None => "more than one service holds data: say which".to_string(),
        };
        Error::input(
            Problem::new("restore", message).hint(format!("`--service NAME`, one of: {}", names())),
        )
    })
}

/// The dump in `file`, decompressed into an anonymous temporary file (0600, gone when
/// closed) and checked whole: a damaged or cut-off backup is refused before anything
/// is touched.
fn unpack(file: &Path, backup: &Backup) -> Result<std::fs::File, Error> {
    let refuse = |message: String| {
        Error::input(
            Problem::new(file.display().to_string(), message)
                .hint("pick another file: `ls -l .stackgen/backups/` (newest last)"),
        )
    };
    if !file.is_file() {
        return Err(refuse("no such backup file".into()));
    }
    if !backups::looks_gzipped(file) {
        return Err(refuse(
            "not a gzip file: a backup is a `.gz` written by `stackgen backup`".into(),
        ));
    }
    let plumbing =
        |e: std::io::Error| Error::runtime("cannot unpack the backup", None).caused_by(e);
    let mut out = tempfile::tempfile().map_err(plumbing)?;
    let mut buffered = std::io::BufWriter::new(&mut out);
    backups::verify(file, &backup.complete, &mut buffered).map_err(|e| refuse(damage(&e)))?;
    buffered.flush().map_err(plumbing)?;
    drop(buffered);
    out.rewind().map_err(plumbing)?;
    Ok(out)
}

/// What is wrong with a damaged backup: what the check found, and at its root, what
/// the reader met (`not a whole gzip file: unexpected end of file`). Bad input carries
/// no chain of causes, so the two are one message.
fn damage(e: &anyhow::Error) -> String {
    let root = e.root_cause().to_string();
    if e.chain().count() > 1 {
        format!("{e}: {root}")
    } else {
        root
    }
}

/// Asks on the terminal; without one, refuses (the operator must say `--yes`).
fn confirm(stack: &Stack, svc: &Service, file: &Path) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::input(
            Problem::new(
                "restore",
                "replacing the data needs a confirmation, and there is no terminal to ask on",
            )
            .hint("pass `--yes` to restore without asking"),
        ));
    }
    eprint!(
        "replace all data of `{}` in stack `{}` with {}? (what is there now is backed up first) [y/N] ",
        svc.name,
        stack.name,
        file.display()
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::runtime("cannot read the answer", None).caused_by(e))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
