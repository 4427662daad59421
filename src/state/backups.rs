//! Backups (`.stackgen/backups/`): gzip-compressed dumps of a service's data, named
//! `<UTC time>-gen<N>.<ext>.gz` (N: the generation that ran when it was taken; with
//! more than one backed-up service, `-<service>` before the extension). Each is written
//! to a 0600 temporary file beside its final name, verified by reading it back whole
//! (the gzip stream and its checksum, then the dump's own end marker), and only then
//! renamed into place: a backup that is there is complete.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::state::{atomic, generations, layout};

/// One backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    pub path: PathBuf,
    /// The file name, which sorts by time.
    pub name: String,
    /// The generation that ran when it was taken (0: none yet).
    pub generation: u32,
}

/// The backups, oldest first.
pub fn list(root: &Path) -> Result<Vec<BackupFile>> {
    let dir = root.join(layout::BACKUPS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", dir.display())),
    };
    let mut out: Vec<BackupFile> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let generation = parse_generation(&name)?;
            Some(BackupFile {
                path: e.path(),
                name,
                generation,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `20261201T153000Z-gen7.sql.gz` -> 7; `None` for anything else (temporary files).
fn parse_generation(name: &str) -> Option<u32> {
    if name.starts_with('.') || !name.ends_with(".gz") {
        return None;
    }
    let rest = name.split_once("-gen")?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The name of a new backup taken now, while `generation` runs: unique in `root`'s
/// backups (a second one within the same second gets `.2`, which sorts after it).
pub fn new_name(root: &Path, generation: u32, service: Option<&str>, extension: &str) -> String {
    let stamp: String = generations::now_rfc3339()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let suffix = match service {
        Some(service) => format!("-gen{generation}-{service}.{extension}.gz"),
        None => format!("-gen{generation}.{extension}.gz"),
    };
    let dir = root.join(layout::BACKUPS_DIR);
    let mut name = format!("{stamp}{suffix}");
    let mut n = 2;
    while dir.join(&name).exists() {
        name = format!("{stamp}.{n}{suffix}");
        n += 1;
    }
    name
}

/// Writes a backup named `name`: `fill` streams the dump into the compressor; the file is
/// then verified against `complete` (its end marker) and renamed into place.
/// Returns its path and size. On any error no file is left behind.
pub fn write(
    root: &Path,
    name: &str,
    complete: &str,
    fill: impl FnOnce(&mut dyn Write) -> Result<u64>,
) -> Result<(PathBuf, u64)> {
    let dir = private_dir(root)?;
    let path = dir.join(name);
    if path.exists() {
        bail!("`{}` exists already", path.display());
    }
    let tmp = tempfile::Builder::new()
        .prefix(".backup-")
        .permissions(atomic::permissions(0o600))
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(tmp.as_file().try_clone()?),
        flate2::Compression::default(),
    );
    fill(&mut gz)?;
    let mut buffered = gz
        .finish()
        .context("cannot finish the backup's gzip stream")?;
    buffered.flush()?;
    tmp.as_file().sync_all()?;
    verify(tmp.path(), complete, &mut std::io::sink())
        .with_context(|| format!("the new backup `{name}` failed its check; it was not kept"))?;
    let size = tmp.as_file().metadata()?.len();
    tmp.persist_noclobber(&path)
        .with_context(|| format!("cannot move the backup to `{}`", path.display()))?;
    Ok((path, size))
}

/// How near the end of a dump its `complete` line must be.
const TAIL_LINES: usize = 3;

/// Reads the backup at `path` whole, writing the dump into `out`: fails if the gzip
/// stream is damaged or cut off, or `complete` is not among the dump's last lines.
pub fn verify(path: &Path, complete: &str, out: &mut dyn Write) -> Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut reader = BufReader::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)));
    // The last few non-empty lines: a dump may end in trailing commands after its
    // marker (pg_dump since 15.14 ends with `\unrestrict <key>`).
    let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .context("not a whole gzip file")?;
        if n == 0 {
            break;
        }
        out.write_all(&line)?;
        let text = String::from_utf8_lossy(&line);
        if !text.trim().is_empty() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text.trim().to_string());
        }
    }
    if !tail.iter().any(|l| l == complete) {
        bail!(
            "not a complete dump: `{complete}` is not among its last {TAIL_LINES} lines (the last: `{}`)",
            tail.back()
                .map_or("", |l| l.as_str())
                .chars()
                .take(80)
                .collect::<String>()
        );
    }
    Ok(())
}

/// Whether the file starts like a gzip stream (a quick check before a long read).
pub fn looks_gzipped(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}

/// Deletes all but the newest `keep` backups (the newest one is always kept); returns
/// the names removed.
pub fn prune(root: &Path, keep: u32) -> Result<Vec<String>> {
    let all = list(root)?;
    let keep = (keep as usize).max(1);
    let drop = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for b in all.into_iter().take(drop) {
        std::fs::remove_file(&b.path)
            .with_context(|| format!("cannot remove `{}`", b.path.display()))?;
        removed.push(b.name);
    }
    Ok(removed)
}

/// The backups folder, created 0700 (set, not asked for: the umask does not apply).
fn private_dir(root: &Path) -> Result<PathBuf> {
    let dir = root.join(layout::BACKUPS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    std::fs::set_permissions(&dir, atomic::permissions(0o700))
        .with_context(|| format!("cannot restrict `{}` to its owner", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: &str = "-- dump complete";

    fn dump(text: &'static str) -> impl FnOnce(&mut dyn Write) -> Result<u64> {
        move |w: &mut dyn Write| {
            w.write_all(text.as_bytes())?;
            Ok(text.len() as u64)
        }
    }

    #[test]
    fn a_backup_is_private_complete_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let name = new_name(dir.path(), 3, None, "sql");
        assert!(name.ends_with("-gen3.sql.gz"), "{name}");
        let (path, _) = write(
            dir.path(),
            &name,
            END,
            dump("CREATE x;\n-- dump complete\n\n"),
        )
        .expect("dump");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut back = Vec::new();
        verify(&path, END, &mut back).expect("verify");
        assert_eq!(back, b"CREATE x;\n-- dump complete\n\n");
        assert_eq!(list(dir.path()).expect("list")[0].generation, 3);
        // A second backup in the same second gets a name of its own, sorted after.
        let again = new_name(dir.path(), 3, None, "sql");
        assert_ne!(again, name);
        write(dir.path(), &again, END, dump("-- dump complete\n")).expect("second dump");
        let names: Vec<String> = list(dir.path())
            .expect("list")
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names, [name, again]);
    }

    #[test]
    fn a_cut_off_or_failed_dump_leaves_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cut = write(dir.path(), "a-gen1.sql.gz", END, dump("CREATE x;\n"));
        let err = cut.expect_err("cut-off dump must fail");
        let causes: Vec<String> = err.chain().map(ToString::to_string).collect();
        assert!(
            causes.iter().any(|c| c.contains("not a complete dump")),
            "{causes:?}"
        );
        let failed = write(dir.path(), "b-gen1.sql.gz", END, |_: &mut dyn Write| {
            anyhow::bail!("pg_dump failed")
        });
        assert_eq!(failed.expect_err("fails").to_string(), "pg_dump failed");
        let left = std::fs::read_dir(dir.path().join(layout::BACKUPS_DIR))
            .expect("ls")
            .count();
        assert_eq!(left, 0, "no file, not even a temporary one");
    }

    #[test]
    fn a_damaged_gzip_fails_verification() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, size) = write(
            dir.path(),
            "a-gen1.sql.gz",
            END,
            dump("x\n-- dump complete\n"),
        )
        .expect("dump");
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..size as usize - 4]).expect("truncate");
        assert!(verify(&path, END, &mut std::io::sink()).is_err());
    }

    #[test]
    fn pruning_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (i, name) in [
            "20260101T000000Z-gen1.sql.gz",
            "20260102T000000Z-gen2.sql.gz",
        ]
        .iter()
        .enumerate()
        {
            let text: &'static str = if i == 0 {
                "1\n-- dump complete\n"
            } else {
                "2\n-- dump complete\n"
            };
            write(dir.path(), name, END, dump(text)).expect("dump");
        }
        assert_eq!(
            prune(dir.path(), 0).expect("prune"),
            ["20260101T000000Z-gen1.sql.gz"]
        );
        let left: Vec<String> = list(dir.path())
            .expect("list")
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(left, ["20260102T000000Z-gen2.sql.gz"]);
    }
}
