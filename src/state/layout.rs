//! Every path stackgen reads or writes, named once. Project-relative paths use `/`; the
//! functions join them onto a project root (or, for the deploy lock, onto the host's lock
//! folder).

use std::path::{Path, PathBuf};

/// The stack file at the project root.
pub const STACK_FILE: &str = "stack.toml";
/// The JSON Schema of the stack file, as `stackgen schema` prints it (committed, for
/// editors).
pub const SCHEMA_FILE: &str = "stack.schema.json";

/// The templates folder, and inside it the kinds: one folder per kind of service.
pub const TEMPLATES_DIR: &str = "templates";
pub const KINDS_DIR: &str = "templates/kinds";
/// The optional file in a kind's folder that says what stackgen must know of the kind.
pub const KIND_FILE: &str = "kind.toml";

/// Rendered files: committed, so reviews see the real diff.
pub const GENERATED_DIR: &str = "generated";
pub const COMPOSE_FILE: &str = "generated/docker-compose.yml";
pub const SWARM_FILE: &str = "generated/stack.yml";
pub const LOCK_FILE: &str = "generated/stack.lock";
/// The edge proxy's config as rendered (committed, like the compose file).
pub const EDGE_FILE: &str = "generated/edge.cfg";
/// The swarm edge's config, a swarm config of the stack file (when it renders one).
pub const EDGE_SWARM_FILE: &str = "generated/edge-swarm.cfg";

/// stackgen's own state, beside the project: never committed, private to the deploying user.
pub const STATE_DIR: &str = ".stackgen";
pub const SECRETS_DIR: &str = ".stackgen/secrets";
pub const GENERATIONS_DIR: &str = ".stackgen/generations";
/// Dumps of the stack's data (`state::backups`), 0700, each file 0600.
pub const BACKUPS_DIR: &str = ".stackgen/backups";
/// The edge's config as it is loaded now, mounted read-only into the edge container, so
/// that a restarted edge comes back with the routes it had, not with a newer render.
pub const EDGE_RUNTIME_DIR: &str = ".stackgen/edge";
/// The folder the edge's admin API socket is in (mounted read-write into the edge; the
/// folder is writable by the edge's user, so `.stackgen/` itself is kept private).
pub const EDGE_ADMIN_DIR: &str = ".stackgen/edge-admin";
/// The certificates the edge serves, one PEM (chain and key) per app with `tls`.
pub const EDGE_CERTS_DIR: &str = ".stackgen/edge/certs";
/// stackgen's local CA: its root certificate (for clients to trust), its key (0600), and
/// the certificates it issued, each with the names it was issued for.
pub const CA_DIR: &str = ".stackgen/ca";
pub const CA_ROOT: &str = ".stackgen/ca/root.crt";
/// [`EDGE_RUNTIME_DIR`]'s config file, from the project folder.
pub const EDGE_RUNTIME_CONFIG: &str = ".stackgen/edge/haproxy.cfg";
/// Inside the generations folder: the current generation's number.
pub const CURRENT_FILE: &str = "current";
/// Inside one generation's folder: its record (time, git revision, images).
pub const GENERATION_RECORD: &str = "generation.json";
/// Inside a generation's folder: what its last deploy left running ([`generations::Proof`]).
///
/// [`generations::Proof`]: crate::state::generations::Proof
pub const GENERATION_PROOF: &str = "proof.json";

/// Overrides the folder holding the deploy locks (tests, hosts with an unusual `/tmp`).
pub const LOCK_DIR_ENV: &str = "STACKGEN_LOCK_DIR";

/// The file name a generated file keeps inside a generation's folder.
pub fn file_name(project_rel: &str) -> &str {
    project_rel.rsplit('/').next().unwrap_or(project_rel)
}

/// A kind's folder, project-relative: `templates/kinds/<kind>`.
pub fn kind_dir(kind: &str) -> String {
    format!("{KINDS_DIR}/{kind}")
}

pub fn secret_file(root: &Path, name: &str) -> PathBuf {
    root.join(SECRETS_DIR).join(name)
}

/// The secret's path as the compose file names it: relative to `generated/`.
pub fn secret_from_generated(name: &str) -> String {
    format!("../{SECRETS_DIR}/{name}")
}

pub fn generations_dir(root: &Path) -> PathBuf {
    root.join(GENERATIONS_DIR)
}

pub fn generation_dir(root: &Path, number: u32) -> PathBuf {
    generations_dir(root).join(number.to_string())
}

/// The host-wide folder of deploy locks: `$STACKGEN_LOCK_DIR`, else
/// `/tmp/stackgen-locks`. Host-wide, not per checkout, because what a lock protects is
/// the compose project in the engine, which two checkouts of one stack share.
pub fn lock_dir() -> PathBuf {
    std::env::var_os(LOCK_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/stackgen-locks"))
}

/// The deploy lock of one compose project.
pub fn lock_file(project: &str) -> PathBuf {
    lock_dir().join(format!("{project}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(COMPOSE_FILE), "docker-compose.yml");
        assert_eq!(file_name("x"), "x");
        assert_eq!(kind_dir("postgres"), "templates/kinds/postgres");
        assert_eq!(
            secret_from_generated("db_password"),
            "../.stackgen/secrets/db_password"
        );
    }
}
