//! The stack's data, for any target: which services hold it (a named volume, and a kind
//! whose `kind.toml` says how to dump and load it), and backups of them into
//! `.stackgen/backups/`. How a dump is taken is the target's ([`Target::dump`]); the
//! files, their names and their checks are the same everywhere.

use std::io::Write;
use std::path::PathBuf;

use crate::error::Error;
use crate::progress;
use crate::stack::kind::Backup;
use crate::stack::{Service, Stack};
use crate::state::{backups, generations, layout};
use crate::targets::interface::Target;

/// The services whose data is backed up: a named volume and a kind with `[backup]`.
pub fn stores(stack: &Stack) -> Vec<(&Service, &Backup)> {
    stack
        .services
        .values()
        .filter(|svc| svc.data.is_some())
        .filter_map(|svc| Some((svc, stack.kinds.get(&svc.kind)?.backup.as_ref()?)))
        .collect()
}

/// When a backup is taken: on request (a store that is not running is an error), or
/// before a risky step (a store that is not running is skipped, saying so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Asked,
    Before(&'static str),
}

/// Backs up every store into `.stackgen/backups/`; returns the files. On request a store
/// that does not run is an error; before a risky step it is skipped, saying so. A failed
/// dump leaves no file and is the error.
pub fn back_up(target: &dyn Target, stack: &Stack, when: When) -> Result<Vec<PathBuf>, Error> {
    let mut serving = Vec::new();
    for (svc, backup) in stores(stack) {
        if target.serves(svc)? {
            serving.push((svc, backup));
            continue;
        }
        match when {
            When::Asked => {
                return Err(Error::runtime(
                    format!("`{}` is not running ready, so it cannot be backed up", svc.name),
                    Some("start the stack with `stackgen up` (see `stackgen status`), then try again".into()),
                ));
            }
            When::Before(step) => progress::note(format_args!(
                "no backup of `{}` {step}: it does not run here (nothing to dump it from)",
                svc.name
            )),
        }
    }
    let why = match when {
        When::Asked => "",
        When::Before(step) => step,
    };
    write(stack, &serving, why, &|svc, backup, out| {
        target.dump(svc, backup, out)
    })
}

/// How one store's dump is streamed into a backup file: the bytes written.
pub type Dump<'a> = dyn Fn(&Service, &Backup, &mut dyn Write) -> Result<u64, Error> + 'a;

/// Dumps each of `chosen` (stores that run ready) with `dump` into a backup file, named
/// for the current generation, checked whole before it is kept; `why` is said after the
/// service's name. Returns the files.
pub fn write(
    stack: &Stack,
    chosen: &[(&Service, &Backup)],
    why: &str,
    dump: &Dump,
) -> Result<Vec<PathBuf>, Error> {
    let generation = generations::current(&stack.root)?.map_or(0, |g| g.number);
    let single = stores(stack).len() == 1;
    let mut files = Vec::new();
    for (svc, backup) in chosen {
        let service = (!single).then_some(svc.name.as_str());
        let name = backups::new_name(&stack.root, generation, service, &backup.extension);
        let (path, size) = backups::write(&stack.root, &name, &backup.complete, |out| {
            Ok(dump(svc, backup, out)?)
        })?;
        progress::note(format_args!(
            "backed up `{}`{}{why}: {}/{name} ({})",
            svc.name,
            if why.is_empty() { "" } else { " " },
            layout::BACKUPS_DIR,
            human_size(size)
        ));
        files.push(path);
    }
    Ok(files)
}

/// `1.2 MB`, `340 kB`, `12 B`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.0} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(340_400), "340 kB");
        assert_eq!(human_size(1_240_000), "1.2 MB");
    }

    #[test]
    fn the_shipped_database_is_the_one_store() {
        let stack = Stack::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("stack");
        let names: Vec<&str> = stores(&stack)
            .iter()
            .map(|(s, _)| s.name.as_str())
            .collect();
        assert_eq!(names, ["db"]);
    }
}
