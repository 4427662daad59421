//! Generations (`.stackgen/generations/<n>/`): every successful deploy's rendered files,
//! kept under their own names, so `rollback` can bring one back and `diff` can compare
//! with the last one, like a Nix profile. A generation is a folder of files and a record;
//! what the files mean is the renderer's and the targets' business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::state::{atomic, layout};

/// One successful deploy.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Generation {
    pub number: u32,
    /// UTC, RFC 3339.
    pub time: String,
    /// `git rev-parse HEAD` of the project when there is one, with `-dirty` when the
    /// working tree had changes.
    pub git_revision: Option<String>,
    /// Service -> image, for `history` and `gc`.
    pub images: BTreeMap<String, String>,
    #[serde(skip)]
    pub current: bool,
}

/// What the deploy of a generation left running, recorded when it finished, so a later
/// `up` can prove that nothing changed without asking compose (`targets::compose`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proof {
    /// The compose plugin the config hashes came from: its path, size and mtime.
    pub compose: String,
    /// sha256 of the project name, project folder and compose file text the hashes are
    /// of: compose's config hash is a function of these (and of the environment, where
    /// the file interpolates; such a file is never proven).
    pub key: String,
    /// Service -> compose's config hash of it (`docker compose config --hash`).
    pub config_hashes: BTreeMap<String, String>,
    /// Service -> the image id its containers ran when the deploy finished.
    pub image_ids: BTreeMap<String, String>,
    /// Service -> how many containers it ran.
    pub containers: BTreeMap<String, usize>,
}

impl Generation {
    /// The proof the last deploy of this generation recorded, when there is one.
    pub fn proof(&self, root: &Path) -> Option<Proof> {
        let text = std::fs::read_to_string(self.file(root, layout::GENERATION_PROOF)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records what a deploy of this generation left running (replacing an older record).
    pub fn save_proof(&self, root: &Path, proof: &Proof) -> Result<()> {
        let text = serde_json::to_string_pretty(proof)? + "\n";
        atomic::write_if_changed(
            &self.file(root, layout::GENERATION_PROOF),
            text.as_bytes(),
            0o644,
        )?;
        Ok(())
    }

    pub fn dir(&self, root: &Path) -> PathBuf {
        layout::generation_dir(root, self.number)
    }

    /// One of the generation's files, by the name it keeps there (`docker-compose.yml`).
    pub fn file(&self, root: &Path, name: &str) -> PathBuf {
        self.dir(root).join(name)
    }

    /// Whether the generation's files are exactly `files` (file name -> text).
    pub fn holds(&self, root: &Path, files: &BTreeMap<&str, &str>) -> Result<bool> {
        Ok(self
            .files(root)?
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .eq(files.iter().map(|(k, v)| (*k, *v))))
    }

    /// Every file of the generation but its record and proof: file name -> text.
    pub fn files(&self, root: &Path) -> Result<BTreeMap<String, String>> {
        let dir = self.dir(root);
        let mut out = BTreeMap::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))?
        {
            let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name == layout::GENERATION_RECORD || name == layout::GENERATION_PROOF {
                continue;
            }
            let text = std::fs::read_to_string(entry.path())
                .with_context(|| format!("cannot read `{}`", entry.path().display()))?;
            out.insert(name, text);
        }
        Ok(out)
    }
}

/// Every recorded generation, oldest first, the current one marked.
pub fn generations(root: &Path) -> Result<Vec<Generation>> {
    let dir = layout::generations_dir(root);
    let current = current_number(root);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        // Only complete generations: a folder named by its number (temp folders are not).
        let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let meta = entry.path().join(layout::GENERATION_RECORD);
        let Ok(text) = std::fs::read_to_string(&meta) else {
            continue;
        };
        let mut g: Generation = serde_json::from_str(&text)
            .with_context(|| format!("cannot parse `{}`", meta.display()))?;
        g.number = number;
        g.current = Some(number) == current;
        out.push(g);
    }
    out.sort_by_key(|g| g.number);
    Ok(out)
}

fn current_number(root: &Path) -> Option<u32> {
    std::fs::read_to_string(layout::generations_dir(root).join(layout::CURRENT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The generation running now, according to the last `up` or `rollback` that succeeded.
pub fn current(root: &Path) -> Result<Option<Generation>> {
    Ok(generations(root)?.into_iter().find(|g| g.current))
}

/// Makes generation `number` the current one.
pub fn set_current(root: &Path, number: u32) -> Result<()> {
    let path = layout::generations_dir(root).join(layout::CURRENT_FILE);
    atomic::write_if_changed(&path, format!("{number}\n").as_bytes(), 0o644)?;
    Ok(())
}

/// Records a successful deploy's files (name -> text) as the next generation and makes it
/// current. The folder is filled under a temporary name and renamed into place, so a
/// generation is either complete or absent.
pub fn record(
    root: &Path,
    files: &BTreeMap<&str, &str>,
    images: BTreeMap<String, String>,
) -> Result<Generation> {
    let dir = layout::generations_dir(root);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let number = generations(root)?.last().map_or(1, |g| g.number + 1);
    let generation = Generation {
        number,
        time: now_rfc3339(),
        git_revision: crate::engine::git::revision(root),
        images,
        current: true,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".new-")
        .tempdir_in(&dir)
        .with_context(|| format!("cannot create a folder in `{}`", dir.display()))?;
    let record = serde_json::to_string_pretty(&generation)? + "\n";
    let all = files
        .iter()
        .map(|(name, text)| (*name, *text))
        .chain([(layout::GENERATION_RECORD, record.as_str())]);
    for (name, text) in all {
        atomic::write_if_changed(&tmp.path().join(name), text.as_bytes(), 0o644)?;
    }
    let target = generation.dir(root);
    std::fs::rename(tmp.path(), &target)
        .with_context(|| format!("cannot create `{}`", target.display()))?;
    // The temp dir is now the generation; make sure its guard does not delete it.
    std::mem::forget(tmp);
    set_current(root, number)?;
    Ok(generation)
}

/// Deletes a generation's record (its images are `gc`'s business).
pub fn remove(root: &Path, g: &Generation) -> Result<()> {
    let dir = g.dir(root);
    std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove `{}`", dir.display()))
}

/// UTC now as RFC 3339, from the Unix clock (civil-from-days, no time crate needed).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_are_numbered_and_the_current_one_marked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files =
            |c: &'static str| BTreeMap::from([("docker-compose.yml", c), ("stack.lock", "{}")]);
        let g1 = record(dir.path(), &files("one"), Default::default()).expect("g1");
        let g2 = record(dir.path(), &files("two"), Default::default()).expect("g2");
        assert_eq!((g1.number, g2.number), (1, 2));
        let all = generations(dir.path()).expect("list");
        assert_eq!(
            all.iter()
                .map(|g| (g.number, g.current))
                .collect::<Vec<_>>(),
            [(1, false), (2, true)]
        );
        set_current(dir.path(), 1).expect("set");
        let cur = current(dir.path()).expect("current").expect("some");
        assert_eq!(cur.number, 1);
        let read = cur.files(dir.path()).expect("read");
        assert_eq!(read["docker-compose.yml"], "one");
        assert_eq!(read.len(), 2, "the record is not one of the files");
        // A half-written generation (a temp folder) is ignored.
        std::fs::create_dir_all(layout::generations_dir(dir.path()).join(".new-x")).expect("mkdir");
        assert_eq!(generations(dir.path()).expect("list").len(), 2);
        assert!(now_rfc3339().ends_with('Z') && now_rfc3339().len() == 20);
    }
}
