//! `stackgen restore FILE`: replace a service's data with a backup. The file is read
//! whole and checked before anything else; what the service holds now is backed up
//! first; the kind's restore runs in one transaction, so the apps stay up and see the
//! old data or the new, never a mix.

use std::io::{IsTerminal, Seek, Write};
use std::path::Path;

use anyhow::Result;

use crate::commands::backup::require_stores;
use crate::engine::docker;
use crate::error::{Error, Problem};
use crate::output;
use crate::stack::kind::Backup;
use crate::stack::{Service, Stack, TargetKind};
use crate::state::backups;
use crate::state::lock::DeployLock;
use crate::targets::{self, data};

pub struct RestoreOptions<'a> {
    pub file: &'a Path,
    pub service: Option<&'a str>,
    pub yes: bool,
    pub lock_timeout: u64,
    pub target: Option<TargetKind>,
}

pub fn run(dir: &Path, opts: &RestoreOptions) -> Result<u8> {
    let stack = Stack::load(dir)?;
    require_stores(&stack)?;
    let (svc, backup) = pick(&stack, opts.service)?;
    let dump = unpack(opts.file, backup)?;
    if !opts.yes && !confirm(&stack, svc, opts.file)? {
        output::warn(format_args!("restore cancelled; nothing was changed"));
        return Ok(crate::error::INPUT);
    }
    let target = targets::open(&stack, stack.target_for(opts.target));
    docker::check_daemon()?;
    let _lock = DeployLock::acquire(&stack.name, opts.lock_timeout, |notice| {
        output::note(format_args!("{notice}"))
    })?;
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
    data::back_up(
        target.as_ref(),
        &stack,
        data::When::Before("before the restore replaces it"),
    )?;
    target.load(svc, backup, dump)?;
    output::note(format_args!(
        "restored `{}` from {}; the other services stayed up",
        svc.name,
        opts.file.display()
    ));
    Ok(0)
}

/// The service to restore into: `--service`, or the only one that holds data.
fn pick<'s>(stack: &'s Stack, name: Option<&str>) -> Result<(&'s Service, &'s Backup), Error> {
    let stores = data::stores(stack);
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
        |e: std::io::Error| Error::runtime(format!("cannot unpack the backup: {e}"), None);
    let mut out = tempfile::tempfile().map_err(plumbing)?;
    let mut buffered = std::io::BufWriter::new(&mut out);
    backups::verify(file, &backup.complete, &mut buffered).map_err(|e| refuse(format!("{e:#}")))?;
    buffered.flush().map_err(plumbing)?;
    drop(buffered);
    out.rewind().map_err(plumbing)?;
    Ok(out)
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
        .map_err(|e| Error::runtime(format!("cannot read the answer: {e}"), None))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
