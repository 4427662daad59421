//! In-process benchmarks (divan) of the parts of stackgen that must be fast: hashing a
//! large file and many small ones, and load + validate + hash + render + check of
//! synthetic stacks of 10, 100 and 1000 services. The inputs are generated here, in a
//! temp folder, never committed.
//!
//! `cargo bench --bench pipeline` measures; `cargo test --benches` runs each once (CI's
//! smoke test of the harness). Sizes: `STACKGEN_BENCH_LARGE_MIB` (default 1024) and
//! `STACKGEN_BENCH_SMALL_FILES` (default 50000), or existing inputs in
//! `STACKGEN_BENCH_LARGE_FILE` / `STACKGEN_BENCH_SMALL_DIR`; `just bench` also compares with
//! `sha256sum` and `openssl` and writes BENCHMARKS.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use divan::counter::{BytesCount, ItemsCount};

fn main() {
    divan::main();
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Running under `cargo test --benches`: keep the inputs tiny.
fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

fn workdir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// Deterministic, incompressible-looking bytes (xorshift), so nothing can shortcut them.
fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn large_file() -> &'static (PathBuf, u64) {
    static FILE: OnceLock<(PathBuf, u64)> = OnceLock::new();
    FILE.get_or_init(|| {
        if let Ok(path) = std::env::var("STACKGEN_BENCH_LARGE_FILE") {
            let len = std::fs::metadata(&path)
                .expect("STACKGEN_BENCH_LARGE_FILE")
                .len();
            return (PathBuf::from(path), len);
        }
        let mib = if smoke() {
            4
        } else {
            env_usize("STACKGEN_BENCH_LARGE_MIB", 1024)
        };
        let path = workdir().join("large.bin");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut buf = vec![0u8; 1 << 20];
        for i in 0..mib {
            fill(&mut buf, i as u64 + 1);
            f.write_all(&buf).expect("write");
        }
        f.flush().expect("flush");
        (path, (mib as u64) << 20)
    })
}

/// A project with one service whose build context holds `n` files of 4 KiB.
fn small_files_project() -> &'static (PathBuf, usize) {
    static DIR: OnceLock<(PathBuf, usize)> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(dir) = std::env::var("STACKGEN_BENCH_SMALL_DIR") {
            let n = walkdir::WalkDir::new(&dir)
                .into_iter()
                .filter(|e| e.as_ref().is_ok_and(|e| e.file_type().is_file()));
            return (PathBuf::from(dir), n.count());
        }
        let n = if smoke() {
            50
        } else {
            env_usize("STACKGEN_BENCH_SMALL_FILES", 50_000)
        };
        let root = workdir().join("small");
        let ctx = root.join("apps/many");
        let mut buf = vec![0u8; 4096];
        for i in 0..n {
            let dir = ctx.join(format!("d{:03}", i % 100));
            if i < 100 {
                std::fs::create_dir_all(&dir).expect("mkdir");
            }
            fill(&mut buf, i as u64 + 7);
            std::fs::write(dir.join(format!("f{i}.bin")), &buf).expect("write");
        }
        std::fs::write(
            ctx.join("Dockerfile"),
            "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n",
        )
        .expect("df");
        write_templates(&root);
        std::fs::write(
            root.join("stack.toml"),
            "[stack]\nname = \"bench\"\nbase_image = \"debian:bookworm-slim\"\n\
             [services.many]\nkind = \"python-web\"\nbuild = \"apps/many\"\nport = 8000\n",
        )
        .expect("stack");
        (root, n)
    })
}

fn write_templates(root: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for rel in [
        "templates/docker-compose.yml.j2",
        "templates/kinds/python-web/compose.yml.j2",
        "templates/kinds/python-web/kind.toml",
        "templates/kinds/postgres/compose.yml.j2",
        "templates/kinds/postgres/kind.toml",
    ] {
        let to = root.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo.join(rel), to).expect("copy template");
    }
}

/// A synthetic stack of `n` web services sharing the shipped hello app's context.
pub fn synthetic_stack(root: &Path, n: usize) -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ctx = root.join("apps/hello");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    for f in ["Dockerfile", "app.py", ".dockerignore"] {
        std::fs::copy(repo.join("apps/hello").join(f), ctx.join(f)).expect("copy app");
    }
    write_templates(root);
    let mut text =
        String::from("[stack]\nname = \"bench\"\nbase_image = \"debian:bookworm-slim\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[services.app{i}]\nkind = \"python-web\"\nbuild = \"apps/hello\"\nport = 8000\n\
             publish = {}\nenvironment = {{ APP_INDEX = \"{i}\" }}\n",
            20_000 + i
        ));
    }
    text
}

#[divan::bench]
fn hash_large_file(bencher: divan::Bencher) {
    let (path, bytes) = large_file();
    bencher
        .counter(BytesCount::new(*bytes))
        .bench(|| stackgen::hash::hash_file(path).expect("hash"));
}

#[divan::bench]
fn hash_many_small_files(bencher: divan::Bencher) {
    let (root, n) = small_files_project();
    let stack = stackgen::stack::Stack::load(root).expect("stack");
    bencher
        .counter(ItemsCount::new(*n))
        .bench(|| stackgen::hash::hash_stack(&stack).expect("hash"));
}

#[divan::bench(args = [10, 100, 1000])]
fn load_validate_hash_render_check(bencher: divan::Bencher, n: usize) {
    let root = workdir().join(format!("stack{n}"));
    let text = synthetic_stack(&root, n);
    bencher
        .counter(ItemsCount::new(n))
        .bench(|| stackgen::pipeline::evaluate_text(&root, &text).expect("plan"));
}
