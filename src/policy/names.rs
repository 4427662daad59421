//! What a name says, for the rules over target files and over Dockerfiles alike: whether a
//! user is root, whether a variable's name looks like it holds a secret.

/// `root`, uid 0, or no user at all (which means the image's, by default root).
pub fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user);
    name.is_empty() || name == "0" || name == "root"
}

/// A variable whose name says it holds a secret. `*_FILE` holds a path to one, which is
/// how secrets should be passed, so it is never flagged.
pub fn secret_looking(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper.ends_with("_FILE") {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_secret_names() {
        assert!(is_root("0:0") && is_root("root") && is_root(""));
        assert!(!is_root("10001:10001"));
        assert!(secret_looking("DB_PASSWORD") && secret_looking("api_token"));
        assert!(!secret_looking("DB_PASSWORD_FILE") && !secret_looking("PGUSER"));
    }
}
