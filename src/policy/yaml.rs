//! Small readers of a rendered file's YAML, forgiving on purpose: a key of an unexpected
//! shape reads as absent, so the rule that needs it reports it missing instead of the
//! policy failing.

use yaml_rust2::Yaml;

/// A scalar as text (`true`, `0.5`, `128` and `"x"` alike); `None` for anything else.
pub fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of scalars, or one scalar, as text.
pub fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

/// The names in a key that is either a list (`networks: [a, b]`) or a map of them
/// (`networks: {a: {}, b: {}}`).
pub fn names(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Hash(h) => h.keys().filter_map(scalar).collect(),
        other => strings(other),
    }
}

/// One entry of a service's `volumes:`, short or long syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// `bind`, `volume` or `tmpfs` (long syntax says; short syntax is a bind when the
    /// source is a path).
    pub kind: String,
    /// The host path or volume name; empty for a tmpfs.
    pub source: String,
}

/// Every entry of a service's `volumes:`.
pub fn volumes(y: &Yaml) -> Vec<Volume> {
    y.as_vec()
        .into_iter()
        .flatten()
        .map(|v| match v {
            Yaml::Hash(_) => Volume {
                kind: scalar(&v["type"]).unwrap_or_else(|| "volume".into()),
                source: scalar(&v["source"]).unwrap_or_default(),
            },
            other => {
                let s = scalar(other).unwrap_or_default();
                let source = s.split(':').next().unwrap_or("").to_string();
                let kind = if source.starts_with(['/', '.', '~']) {
                    "bind"
                } else {
                    "volume"
                };
                Volume {
                    kind: kind.to_string(),
                    source,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    fn yaml(text: &str) -> Yaml {
        YamlLoader::load_from_str(text).expect("yaml").remove(0)
    }

    #[test]
    fn volumes_short_and_long_and_tmpfs() {
        let got = volumes(&yaml(
            "- ./data:/data\n- named:/x\n- {type: tmpfs, target: /tmp}\n- {type: bind, source: /etc, target: /e}\n",
        ));
        let kinds: Vec<(&str, &str)> = got
            .iter()
            .map(|v| (v.kind.as_str(), v.source.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("bind", "./data"),
                ("volume", "named"),
                ("tmpfs", ""),
                ("bind", "/etc")
            ]
        );
    }

    #[test]
    fn names_from_a_list_or_a_map() {
        assert_eq!(names(&yaml("[a, b]")), ["a", "b"]);
        assert_eq!(names(&yaml("{a: {}, b: null}")), ["a", "b"]);
        assert!(names(&Yaml::BadValue).is_empty());
    }
}
