//! Input hashing: the heart of stackgen. A built service's [`ServiceInputs`] covers its
//! Dockerfile, every file of its build context that survives `.dockerignore` (relative
//! path, executable bit, contents), its build args and the base image reference. The
//! digest of that manifest names the image, so the same inputs always give the same tag.
//!
//! Never reads mtimes, never iterates a `HashMap`: the manifest is built from sorted
//! collections, so walk order and the clock cannot change it. Files are hashed in
//! parallel, and a file shared by two services (a shared context) is read once.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use globset::{Glob, GlobMatcher};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Problem};
use crate::stack::{ImageSource, Stack, file};

/// Bumped when the manifest format changes, so old and new hashes never collide.
const MANIFEST_VERSION: &str = "stackgen-inputs-v1";

/// Hex digits of the hash that go into an image tag.
pub const TAG_HEX: usize = 12;

/// One input file, as the build sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileInput {
    /// `644`, `755`, or `link` for a symlink (whose target text is hashed).
    pub mode: String,
    pub sha256: String,
}

/// Everything that goes into one service's image, and the digest over it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceInputs {
    /// sha256 over the manifest below, 64 hex digits.
    pub hash: String,
    pub base_image: String,
    pub build_args: BTreeMap<String, String>,
    /// Project-relative path of the Dockerfile.
    pub dockerfile: String,
    pub dockerfile_sha256: String,
    /// Context-relative path -> file input, after `.dockerignore`.
    pub files: BTreeMap<String, FileInput>,
}

impl ServiceInputs {
    pub fn short(&self) -> &str {
        &self.hash[..TAG_HEX]
    }
}

/// Hashes every built service of the stack. Services that use a ready-made image have no
/// inputs of their own and are absent from the map.
pub fn hash_stack(stack: &Stack) -> Result<BTreeMap<String, ServiceInputs>> {
    // 1. List each service's inputs (cheap: metadata only).
    let mut listings = BTreeMap::new();
    for (name, svc) in &stack.services {
        if let ImageSource::Build {
            context,
            dockerfile,
            args,
        } = &svc.source
        {
            let files = list_context(&stack.root.join(context))?;
            listings.insert(name.clone(), (dockerfile, args, files));
        }
    }

    // 2. Read every distinct file once, in parallel: its mode (fstat on the open file)
    // and its digest. The walk above only read directories, so all per-file system calls
    // happen here, spread over the cores.
    // Paths are ordered by their bytes: `Path`'s own ordering compares component by
    // component, which profiled as the single largest cost on 50,000 small files.
    let mut paths: Vec<(PathBuf, bool)> = Vec::new();
    for (dockerfile, _, files) in listings.values() {
        paths.push((stack.root.join(dockerfile), false));
        paths.extend(files.values().map(|f| (f.path.clone(), f.symlink)));
    }
    paths.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    paths.dedup_by(|a, b| a.0.as_os_str() == b.0.as_os_str());
    let digests: Vec<FileInput> = paths
        .par_iter()
        .map(|(p, symlink)| file_input(p, *symlink))
        .collect::<Result<_>>()?;
    let input_of = |path: &Path| -> FileInput {
        let i = paths
            .binary_search_by(|(p, _)| p.as_os_str().cmp(path.as_os_str()))
            .unwrap_or_default();
        digests[i].clone()
    };

    // 3. Assemble each manifest in sorted order.
    let mut out = BTreeMap::new();
    for (name, (dockerfile, args, files)) in listings {
        let mut build_args = args.clone();
        build_args.insert("BASE_IMAGE".into(), stack.base_image.clone());
        let mut inputs = ServiceInputs {
            hash: String::new(),
            base_image: stack.base_image.clone(),
            build_args,
            dockerfile: dockerfile.clone(),
            dockerfile_sha256: input_of(&stack.root.join(dockerfile)).sha256,
            files: files
                .into_iter()
                .map(|(rel, f)| (rel, input_of(&f.path)))
                .collect(),
        };
        inputs.hash = manifest_digest(&inputs);
        out.insert(name, inputs);
    }
    Ok(out)
}

/// The canonical text the service hash is taken over. Line-based and sorted, so it is
/// stable and easy to reason about; paths are last on a line so any byte is allowed.
fn manifest_digest(inputs: &ServiceInputs) -> String {
    let mut h = Sha256::new();
    let mut line = |s: String| {
        h.update(s.as_bytes());
        h.update(b"\n");
    };
    line(MANIFEST_VERSION.to_string());
    line(format!("base_image {}", inputs.base_image));
    for (k, v) in &inputs.build_args {
        line(format!("build_arg {}={}", k.len(), k));
        line(format!("build_arg_value {}:{}", v.len(), v));
    }
    line(format!("dockerfile {}", inputs.dockerfile_sha256));
    for (path, f) in &inputs.files {
        line(format!(
            "file {} {} {}:{}",
            f.mode,
            f.sha256,
            path.len(),
            path
        ));
    }
    hex(&h.finalize())
}

#[derive(Debug)]
struct ListedFile {
    path: PathBuf,
    symlink: bool,
}

/// One file's mode and digest; a symlink is hashed by its target text.
fn file_input(path: &Path, symlink: bool) -> Result<FileInput> {
    if symlink {
        let target = std::fs::read_link(path)
            .with_context(|| format!("cannot read link `{}`", path.display()))?;
        return Ok(FileInput {
            mode: "link".into(),
            sha256: hex(&Sha256::digest(target.to_string_lossy().as_bytes())),
        });
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot stat `{}`", path.display()))?;
    Ok(FileInput {
        mode: if is_executable(&meta) { "755" } else { "644" }.into(),
        sha256: hash_open_file(file, path)?,
    })
}

/// Lists the files of a build context that `.dockerignore` lets through, keyed by
/// context-relative path with `/` separators.
fn list_context(context: &Path) -> Result<BTreeMap<String, ListedFile>> {
    let ignore = DockerIgnore::load(context)?;
    let mut files = BTreeMap::new();
    let walk = walkdir::WalkDir::new(context)
        .follow_links(false)
        .into_iter();
    let walk = walk.filter_entry(|e| {
        // Prune ignored folders early, unless an exception could re-include something.
        let rel = relative(context, e.path());
        rel.is_empty() || !e.file_type().is_dir() || ignore.has_exceptions || !ignore.excludes(&rel)
    });
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot walk `{}`", context.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = relative(context, entry.path());
        if ignore.excludes(&rel) {
            continue;
        }
        let kind = entry.file_type();
        if !kind.is_file() && !kind.is_symlink() {
            // Opening a FIFO would wait for a writer forever, a device could read forever.
            return Err(Error::input(
                Problem::new(
                    entry.path().display().to_string(),
                    format!("not a regular file, but {}", file::describe(kind)),
                )
                .hint("a build context holds files, folders and symlinks: remove it, or list it in `.dockerignore`"),
            )
            .into());
        }
        files.insert(
            rel,
            ListedFile {
                path: entry.path().to_path_buf(),
                // From the directory entry itself: no system call per file here.
                symlink: entry.file_type().is_symlink(),
            },
        );
    }
    Ok(files)
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

/// sha256 of a file's contents, streamed so a large file never sits in memory.
pub fn hash_file(path: &Path) -> Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    hash_open_file(file, path)
}

fn hash_open_file(mut file: std::fs::File, path: &Path) -> Result<String> {
    // One read buffer per thread, reused: allocating 256 KiB per file would cost an
    // mmap and munmap for each of 50,000 small files.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 256 * 1024]);
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let mut h = Sha256::new();
        loop {
            let n = file
                .read(&mut buf)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex(&h.finalize()))
    })
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// `.dockerignore` with Docker's semantics: patterns are matched against the whole
/// context-relative path (`*` does not cross `/`, `**` does); a pattern that matches a
/// folder excludes everything below it; `!` re-includes; the last matching line wins.
struct DockerIgnore {
    rules: Vec<(GlobMatcher, bool)>,
    has_exceptions: bool,
}

impl DockerIgnore {
    fn load(context: &Path) -> Result<DockerIgnore> {
        let path = context.join(".dockerignore");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        };
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let pattern = clean_pattern(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob = globset::GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .or_else(|_| Glob::new(&globset::escape(&pattern)))
                .with_context(|| format!("`{}` line {}: bad pattern", path.display(), n + 1))?;
            rules.push((glob.compile_matcher(), exception));
        }
        let has_exceptions = rules.iter().any(|(_, e)| *e);
        Ok(DockerIgnore {
            rules,
            has_exceptions,
        })
    }

    fn excludes(&self, rel: &str) -> bool {
        let mut excluded = false;
        for (glob, exception) in &self.rules {
            if matches_self_or_parent(glob, rel) {
                excluded = !exception;
            }
        }
        excluded
    }
}

fn matches_self_or_parent(glob: &GlobMatcher, rel: &str) -> bool {
    if glob.is_match(rel) {
        return true;
    }
    rel.match_indices('/')
        .any(|(i, _)| glob.is_match(&rel[..i]))
}

/// Docker cleans patterns like `filepath.Clean` and drops a leading `/`.
fn clean_pattern(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack_with(files: &[(&str, &str)], services: &[&str]) -> (tempfile::TempDir, Stack) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut all: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        all.push((
            "templates/kinds/python-web/compose.yml.j2".into(),
            String::new(),
        ));
        let mut toml =
            String::from("[stack]\nname = \"t\"\nbase_image = \"debian:bookworm-slim\"\n");
        for s in services {
            all.push((format!("apps/{s}/Dockerfile"), "FROM x\n".into()));
            toml.push_str(&format!(
                "[services.{s}]\nkind = \"python-web\"\nbuild = \"apps/{s}\"\nport = 8000\n"
            ));
        }
        for (p, t) in &all {
            let full = dir.path().join(p);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, t).expect("write");
        }
        let stack = Stack::parse(dir.path(), &toml).expect("valid stack");
        (dir, stack)
    }

    #[test]
    fn same_inputs_same_hash_whatever_the_folder() {
        let files = [("apps/a/app.py", "print(1)\n"), ("apps/a/sub/x.txt", "x")];
        let (_d1, s1) = stack_with(&files, &["a"]);
        let (_d2, s2) = stack_with(&files, &["a"]);
        let h1 = hash_stack(&s1).expect("hash");
        let h2 = hash_stack(&s2).expect("hash");
        assert_eq!(h1, h2);
        assert_eq!(h1["a"].hash.len(), 64);
        assert_eq!(
            h1["a"].files.keys().collect::<Vec<_>>(),
            ["Dockerfile", "app.py", "sub/x.txt"]
        );
    }

    #[test]
    fn one_byte_changes_only_that_services_hash() {
        let (dir, stack) = stack_with(
            &[("apps/a/app.py", "a"), ("apps/b/app.py", "b")],
            &["a", "b"],
        );
        let before = hash_stack(&stack).expect("hash");
        std::fs::write(dir.path().join("apps/a/app.py"), "A").expect("write");
        let after = hash_stack(&stack).expect("hash");
        assert_ne!(before["a"].hash, after["a"].hash);
        assert_eq!(before["b"].hash, after["b"].hash);
    }

    #[test]
    fn a_fifo_in_a_context_is_bad_input_not_a_hang() {
        let (dir, stack) = stack_with(&[("apps/a/app.py", "a")], &["a"]);
        let fifo = dir.path().join("apps/a/pipe");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("cstring");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = hash_stack(&stack).expect_err("a FIFO is refused");
        let input = err.downcast_ref::<Error>().expect("a stackgen error");
        assert_eq!(input.exit_code(), 2, "{input}");
        assert!(
            input.to_string().contains("not a regular file, but a FIFO"),
            "{input}"
        );
    }

    #[test]
    fn mtime_does_not_matter() {
        let (dir, stack) = stack_with(&[("apps/a/app.py", "a")], &["a"]);
        let before = hash_stack(&stack).expect("hash");
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join("apps/a/app.py"))
            .expect("open");
        f.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .expect("set mtime");
        assert_eq!(before, hash_stack(&stack).expect("hash"));
    }

    #[cfg(unix)]
    #[test]
    fn exec_bit_changes_the_hash() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, stack) = stack_with(&[("apps/a/run.sh", "#!/bin/sh\n")], &["a"]);
        let before = hash_stack(&stack).expect("hash");
        let p = dir.path().join("apps/a/run.sh");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let after = hash_stack(&stack).expect("hash");
        assert_ne!(before["a"].hash, after["a"].hash);
        assert_eq!(after["a"].files["run.sh"].mode, "755");
    }

    #[test]
    fn dockerignored_files_do_not_count() {
        let (dir, stack) = stack_with(
            &[
                (
                    "apps/a/.dockerignore",
                    "# comment\n__pycache__\n*.log\n!keep.log\n/docs/**\n",
                ),
                ("apps/a/app.py", "a"),
                ("apps/a/keep.log", "k"),
            ],
            &["a"],
        );
        let before = hash_stack(&stack).expect("hash");
        for (p, t) in [
            ("apps/a/__pycache__/app.cpython-311.pyc", "junk"),
            ("apps/a/debug.log", "junk"),
            ("apps/a/docs/deep/x.md", "junk"),
        ] {
            let full = dir.path().join(p);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, t).expect("write");
        }
        let after = hash_stack(&stack).expect("hash");
        assert_eq!(before, after);
        assert!(after["a"].files.contains_key("keep.log"));
        // A `*` pattern does not cross folders, as in Docker.
        std::fs::create_dir_all(dir.path().join("apps/a/sub")).expect("mkdir");
        std::fs::write(dir.path().join("apps/a/sub/deep.log"), "x").expect("write");
        assert!(
            hash_stack(&stack).expect("hash")["a"]
                .files
                .contains_key("sub/deep.log")
        );
    }

    #[test]
    fn base_image_and_build_args_change_the_hash() {
        let (_dir, stack) = stack_with(&[], &["a"]);
        let base = hash_stack(&stack).expect("hash")["a"].hash.clone();
        let mut other = stack.clone();
        other.base_image = "debian:trixie-slim".into();
        assert_ne!(base, hash_stack(&other).expect("hash")["a"].hash);
        let mut other = stack.clone();
        if let Some(svc) = other.services.get_mut("a")
            && let ImageSource::Build { args, .. } = &mut svc.source
        {
            args.insert("X".into(), "1".into());
        }
        assert_ne!(base, hash_stack(&other).expect("hash")["a"].hash);
    }

    #[test]
    fn hex_and_known_digest() {
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
