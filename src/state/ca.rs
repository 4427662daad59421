//! stackgen's local CA, in `.stackgen/ca/`: made on the first deploy that needs it, a
//! root certificate (`root.crt`, for clients to trust: `curl --cacert`) and its key
//! (`root.key`, 0600). For each app with `tls` and no certificate files it issues a
//! certificate for the app's host names plus `localhost` and the loopback address,
//! valid a year, kept as `<service>.pem` (chain and key, 0600) beside `<service>.names`
//! (the names and the expiry it was issued with). It is issued again only when the names
//! change or the expiry is 30 days away, so a deploy that changes nothing changes no
//! certificate.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::OffsetDateTime;

use crate::state::{atomic, layout};

/// The root's name, the same whenever the key signs: what a certificate names as issuer.
const ROOT_NAME: &str = "stackgen local CA";
const ROOT_YEARS: i64 = 10;
const LEAF_DAYS: i64 = 365;
/// A certificate closer to its expiry than this is issued again.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

fn dir(root: &Path) -> PathBuf {
    root.join(layout::CA_DIR)
}

fn root_params() -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, ROOT_NAME);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// The CA's key, made (with its root certificate) when there is none yet. The second
/// value says whether it was made now.
fn root_key(root: &Path) -> Result<(KeyPair, bool)> {
    let key_file = dir(root).join("root.key");
    if let Ok(pem) = std::fs::read_to_string(&key_file) {
        let key = KeyPair::from_pem(&pem)
            .with_context(|| format!("`{}` is not a key stackgen wrote", key_file.display()))?;
        return Ok((key, false));
    }
    let key = KeyPair::generate()?;
    let mut params = root_params()?;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365 * ROOT_YEARS);
    let cert = params.self_signed(&key)?;
    std::fs::create_dir_all(dir(root))?;
    std::fs::set_permissions(dir(root), atomic::permissions(0o700))?;
    atomic::write_if_changed(&key_file, key.serialize_pem().as_bytes(), 0o600)?;
    atomic::write_if_changed(&root.join(layout::CA_ROOT), cert.pem().as_bytes(), 0o644)?;
    Ok((key, true))
}

/// What a certificate was issued for, as `<service>.names` keeps it.
fn names_record(names: &[String], expires: u64) -> String {
    format!("{}\nexpires {expires}\n", names.join(" "))
}

/// Whether `service`'s stored certificate was issued for `names` and is not close to
/// its expiry: then [`issue`] keeps it.
pub fn current(root: &Path, service: &str, names: &[String]) -> bool {
    let record = std::fs::read_to_string(dir(root).join(format!("{service}.names")));
    let Ok(record) = record else { return false };
    let mut lines = record.lines();
    let same = lines.next() == Some(names.join(" ").as_str());
    let expires = lines
        .next()
        .and_then(|l| l.strip_prefix("expires "))
        .and_then(|e| e.parse::<u64>().ok())
        .map(|e| UNIX_EPOCH + Duration::from_secs(e));
    let fresh = expires.is_some_and(|e| e > SystemTime::now() + RENEW_BEFORE);
    same && fresh && dir(root).join(format!("{service}.pem")).is_file()
}

/// `service`'s certificate and key as one PEM (the certificate, then the key), issued
/// now unless the stored one is [`current`]. The second value says whether the CA
/// itself was made now (its root is then new for clients to trust).
pub fn issue(root: &Path, service: &str, names: &[String]) -> Result<(String, bool)> {
    let pem_file = dir(root).join(format!("{service}.pem"));
    if current(root, service, names) {
        return Ok((std::fs::read_to_string(&pem_file)?, false));
    }
    let (ca_key, made) = root_key(root)?;
    let issuer = Issuer::new(root_params()?, ca_key);
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(DnType::CommonName, service);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(LEAF_DAYS);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let pem = format!("{}{}", cert.pem(), key.serialize_pem());
    atomic::write_if_changed(&pem_file, pem.as_bytes(), 0o600)?;
    let expires = u64::try_from(params.not_after.unix_timestamp()).unwrap_or(0);
    let record = dir(root).join(format!("{service}.names"));
    atomic::write_if_changed(&record, names_record(names, expires).as_bytes(), 0o600)?;
    Ok((pem, made))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_issued_once_for_its_names_and_again_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["a.test".to_string(), "127.0.0.1".to_string()];
        assert!(!current(dir.path(), "a", &names));
        let (first, made) = issue(dir.path(), "a", &names).unwrap();
        assert!(made, "the CA is made on first use");
        assert!(first.contains("BEGIN CERTIFICATE") && first.contains("PRIVATE KEY"));
        assert!(dir.path().join(layout::CA_ROOT).is_file());
        assert!(current(dir.path(), "a", &names));
        let (again, made) = issue(dir.path(), "a", &names).unwrap();
        assert_eq!(
            (again.as_str(), made),
            (first.as_str(), false),
            "kept as it was"
        );
        let other = vec!["b.test".to_string()];
        assert!(!current(dir.path(), "a", &other));
        let (renamed, made) = issue(dir.path(), "a", &other).unwrap();
        assert!(
            !made && renamed != first,
            "new names, a new certificate, the same CA"
        );
    }
}
