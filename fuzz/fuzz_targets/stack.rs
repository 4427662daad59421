//! Fuzz target: any bytes as `stack.toml`, through loading, validation, hashing,
//! rendering and the policy check, against a copy of the shipped templates and build
//! contexts. The only acceptable outcomes are `Ok` or an error; a panic is a bug.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// The shipped project's templates and build contexts, compiled in so the target runs
/// from any folder.
const FILES: &[(&str, &str)] = &[
    ("templates/docker-compose.yml.j2", include_str!("../../templates/docker-compose.yml.j2")),
    ("templates/swarm/stack.yml.j2", include_str!("../../templates/swarm/stack.yml.j2")),
    ("templates/swarm/macros.j2", include_str!("../../templates/swarm/macros.j2")),
    ("templates/kinds/python-web/compose.yml.j2", include_str!("../../templates/kinds/python-web/compose.yml.j2")),
    ("templates/kinds/python-web/swarm.yml.j2", include_str!("../../templates/kinds/python-web/swarm.yml.j2")),
    ("templates/kinds/python-web/kind.toml", include_str!("../../templates/kinds/python-web/kind.toml")),
    ("templates/kinds/postgres/compose.yml.j2", include_str!("../../templates/kinds/postgres/compose.yml.j2")),
    ("templates/kinds/postgres/swarm.yml.j2", include_str!("../../templates/kinds/postgres/swarm.yml.j2")),
    ("templates/kinds/postgres/kind.toml", include_str!("../../templates/kinds/postgres/kind.toml")),
    ("apps/hello/Dockerfile", include_str!("../../apps/hello/Dockerfile")),
    ("apps/hello/app.py", include_str!("../../apps/hello/app.py")),
    ("apps/hello/.dockerignore", include_str!("../../apps/hello/.dockerignore")),
    ("apps/greeter/Dockerfile", include_str!("../../apps/greeter/Dockerfile")),
    ("apps/greeter/app.py", include_str!("../../apps/greeter/app.py")),
    ("images/postgres/Dockerfile", include_str!("../../images/postgres/Dockerfile")),
    ("db/init/01-schema.sql", include_str!("../../db/init/01-schema.sql")),
];

fn project() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, text) in FILES {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    })
    .path()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stackgen::pipeline::evaluate_text(project(), text);
    }
});
