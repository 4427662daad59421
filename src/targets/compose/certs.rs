//! The certificates the edge serves, one PEM per app with `tls` in
//! `.stackgen/edge/certs/<service>.pem` (the certificate chain, then the key), readable
//! by the edge's user inside the private `.stackgen/`: from the files stack.toml names
//! (kept out of `generated/`, like secrets), or issued by stackgen's local CA.

use std::path::Path;

use anyhow::{Context, Result};

use crate::stack::{Service, Stack};
use crate::state::{atomic, ca, layout};

/// What writing the certificates did.
pub struct Written {
    /// Some PEM the edge reads changed: it must reload to serve it.
    pub changed: bool,
    /// The local CA was made now: its root is new for clients to trust.
    pub new_ca: bool,
}

fn with_tls(stack: &Stack) -> impl Iterator<Item = &Service> {
    stack.services.values().filter(|s| s.tls.is_some())
}

/// The names a local CA certificate is issued for: the app's host names, `localhost`,
/// the loopback address and the stack's bind address.
fn names(stack: &Stack, svc: &Service) -> Vec<String> {
    let mut names = svc.hosts.clone();
    names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
    let bind = stack.bind_address.trim_matches(['[', ']']);
    let specific = bind
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| !ip.is_unspecified());
    if specific && !names.iter().any(|n| n == bind) {
        names.push(bind.to_string());
    }
    names
}

/// The PEM stack.toml's files make: the certificate (chain), then the key.
fn from_files(root: &Path, cert: &str, key: &str) -> Result<String> {
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel)).with_context(|| format!("cannot read `{rel}`"))
    };
    let (mut cert, key) = (read(cert)?, read(key)?);
    if !cert.ends_with('\n') {
        cert.push('\n');
    }
    Ok(cert + &key)
}

fn edge_file(root: &Path, service: &str) -> std::path::PathBuf {
    root.join(layout::EDGE_CERTS_DIR)
        .join(format!("{service}.pem"))
}

/// Writes every app's PEM where the edge reads it, issuing from the local CA what it
/// must (see [`ca::issue`]).
pub fn write(stack: &Stack) -> Result<Written> {
    let mut written = Written {
        changed: false,
        new_ca: false,
    };
    let dir = stack.root.join(layout::EDGE_CERTS_DIR);
    for svc in with_tls(stack) {
        let pem = match svc.tls.as_ref().and_then(|t| t.files.as_ref()) {
            Some((cert, key)) => from_files(&stack.root, cert, key)?,
            None => {
                let (pem, made) = ca::issue(&stack.root, &svc.name, &names(stack, svc))?;
                written.new_ca |= made;
                pem
            }
        };
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, atomic::permissions(0o755))?;
        let file = edge_file(&stack.root, &svc.name);
        written.changed |= atomic::write_if_changed(&file, pem.as_bytes(), 0o644)?;
    }
    Ok(written)
}

/// Why a deploy would give the edge other certificates than it has, if it would: a
/// certificate file changed, or a local CA certificate is missing, for other names, or
/// close to its expiry.
pub fn doubt(stack: &Stack) -> Option<String> {
    for svc in with_tls(stack) {
        let have = std::fs::read_to_string(edge_file(&stack.root, &svc.name)).ok();
        let want = match svc.tls.as_ref().and_then(|t| t.files.as_ref()) {
            Some((cert, key)) => from_files(&stack.root, cert, key).ok(),
            None if ca::current(&stack.root, &svc.name, &names(stack, svc)) => {
                std::fs::read_to_string(
                    stack
                        .root
                        .join(layout::CA_DIR)
                        .join(format!("{}.pem", svc.name)),
                )
                .ok()
            }
            None => None,
        };
        if want.is_none() || want != have {
            return Some(format!(
                "`{}`'s certificate is not the one the edge has",
                svc.name
            ));
        }
    }
    None
}
