//! A rendered target file, parsed once: its YAML tree for the policy, and each service's
//! config as JSON for plans, records and `status`. Everything that reads a rendered file
//! reads it through a `Document`, so the text is never parsed twice.

use std::collections::BTreeMap;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Problem};

#[derive(Debug, Clone)]
pub struct Document {
    /// The whole file; `Yaml::Null` for an empty one.
    pub yaml: Yaml,
    /// `services:` of the file, each service's config as JSON, by name.
    services: BTreeMap<String, Value>,
}

impl Document {
    /// Parses a file stackgen just rendered; invalid YAML is a template bug, reported at
    /// the rendered line (`file` names the file in the message).
    pub fn parse(file: &str, text: &str) -> Result<Document, Error> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| {
            let line = e.marker().line();
            let shown = text
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or("")
                .trim();
            Error::input(
                Problem::new(
                    format!("{file} (rendered):{line}:{}", e.marker().col() + 1),
                    format!(
                        "the templates rendered invalid YAML: {}: `{shown}`",
                        e.info()
                    ),
                )
                .hint("fix the template that writes this line; nothing was written"),
            )
        })?;
        Ok(Document::from_yaml(
            docs.into_iter().next().unwrap_or(Yaml::Null),
        ))
    }

    /// Parses a file read back from disk (a generated file, a generation's copy); a file
    /// that is not YAML reads as one without services.
    pub fn parse_lenient(text: &str) -> Document {
        let yaml = YamlLoader::load_from_str(text)
            .ok()
            .and_then(|docs| docs.into_iter().next())
            .unwrap_or(Yaml::Null);
        Document::from_yaml(yaml)
    }

    fn from_yaml(yaml: Yaml) -> Document {
        let services = match yaml_to_json(&yaml["services"]) {
            Value::Object(map) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        Document { yaml, services }
    }

    /// Each service's config, by name.
    pub fn services(&self) -> &BTreeMap<String, Value> {
        &self.services
    }

    /// The image a service runs, as the file names it.
    pub fn image(&self, service: &str) -> Option<&str> {
        self.services.get(service)?["image"].as_str()
    }
}

/// A YAML node as JSON, for comparing and printing service configs.
pub fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(s.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => String::new(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_and_images_are_read_once() {
        let doc = Document::parse(
            "f.yml",
            "services:\n  a:\n    image: \"s/a:1\"\n    cpus: 0.5\n  b: {}\n",
        )
        .expect("yaml");
        assert_eq!(doc.image("a"), Some("s/a:1"));
        assert_eq!(doc.services()["a"]["cpus"], serde_json::json!(0.5));
        assert_eq!(doc.image("b"), None);
    }

    #[test]
    fn invalid_yaml_is_bad_input_at_the_rendered_line() {
        let err = Document::parse("generated/x.yml", "a: 1\nb: [unclosed\n").expect_err("bad");
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with("generated/x.yml (rendered):"),
            "{err}"
        );
        assert!(Document::parse_lenient("[").services().is_empty());
    }
}
