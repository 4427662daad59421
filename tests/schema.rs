//! The JSON Schema of `stack.toml` (issue 15): the committed `stack.schema.json` is
//! exactly what `stackgen schema` prints; every stack the repository ships is valid under
//! it; it rejects what it says it does (unknown keys, each `unknown key` case of the
//! bad-input corpus, and wrong types); and each constraint beyond types agrees with
//! stackgen at its edges, so an editor never flags a stack stackgen accepts. No engine.

mod common;

use std::collections::BTreeSet;

use common::{TestProject, assert_exit, repo, stderr, stdout};
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use stackgen::stack::Stack;

fn committed() -> String {
    std::fs::read_to_string(repo().join("stack.schema.json")).expect("read stack.schema.json")
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&committed()).expect("stack.schema.json is JSON");
    jsonschema::validator_for(&schema).expect("stack.schema.json is a valid schema")
}

/// TOML text as the JSON value an editor's validator sees.
fn json(toml_text: &str) -> Value {
    toml::from_str(toml_text).expect("TOML")
}

/// Every error the schema finds in `instance`, as `<JSON pointer>: <message>`.
fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path().as_str()))
        .collect()
}

#[test]
fn the_committed_schema_is_what_the_binary_prints() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("schema")
        .output()
        .expect("run stackgen");
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
    assert!(
        out.stdout == committed().as_bytes(),
        "stack.schema.json is stale: run `stackgen schema > stack.schema.json`"
    );
    // The schema itself is a valid draft 7 schema.
    let schema: Value = serde_json::from_str(&committed()).expect("json");
    jsonschema::meta::validate(&schema).expect("valid against its meta-schema");
}

#[test]
fn schema_check_passes_on_the_repository_and_names_a_missing_or_stale_copy() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(repo())
        .args(["schema", "--check"])
        .output()
        .expect("run stackgen");
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "stack.schema.json is up to date\n");
    assert_eq!(stdout(&out), "");

    // The test project is a copy of the shipped one without the schema.
    let project = TestProject::shipped();
    let out = project.stackgen(&["schema", "--check"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        "error: `stack.schema.json` is missing\n\
         hint: run `stackgen schema > stack.schema.json` and commit the result\n"
    );
    project.write(
        "stack.schema.json",
        &committed().replace("\"port\"", "\"prot\""),
    );
    let out = project.stackgen(&["schema", "--check"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        "error: `stack.schema.json` is stale: it differs from what `stackgen schema` prints\n\
         hint: run `stackgen schema > stack.schema.json` and commit the result\n"
    );
    project.write("stack.schema.json", &committed());
    assert_exit(&project.stackgen(&["schema", "--check"]), 0);
}

#[test]
fn every_stack_the_repository_ships_is_valid() {
    let v = validator();
    let mut files = vec![repo().join("stack.toml")];
    for entry in walkdir::WalkDir::new(repo().join("tests/fixtures")) {
        let entry = entry.expect("walk");
        if entry.file_name() == "stack.toml" {
            files.push(entry.into_path());
        }
    }
    files.sort();
    assert!(
        files.len() >= 3,
        "the shipped stack and the render fixtures"
    );
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let found = errors(&v, &json(&text));
        assert!(
            found.is_empty(),
            "{}:\n{}",
            file.display(),
            found.join("\n")
        );
    }
}

/// A minimal stack with one service whose lines are `service`.
fn minimal(service: &str) -> String {
    format!(
        "[stack]\nname = \"s\"\nbase_image = \"debian:bookworm-slim\"\n\n\
         [services.web]\nkind = \"python-web\"\nbuild = \"apps/hello\"\n{service}\n"
    )
}

#[test]
fn an_unknown_key_and_a_wrong_type_are_rejected() {
    let v = validator();
    assert_eq!(
        errors(&v, &json(&minimal("port = 8000"))),
        Vec::<String>::new()
    );

    let unknown = errors(&v, &json(&minimal("port = 8000\nprot = 8000")));
    assert_eq!(
        unknown,
        ["/services/web: Additional properties are not allowed ('prot' was unexpected)"]
    );
    let wrong_type = errors(&v, &json(&minimal("port = \"x\"")));
    assert_eq!(
        wrong_type,
        ["/services/web/port: \"x\" is not of type \"integer\""]
    );
}

/// `stackgen` escapes control characters in the keys it quotes; so does this, to compare.
fn printable(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The keys the schema calls unknown, as stackgen names them (`services.hello.prot`).
fn unknown_keys(v: &jsonschema::Validator, instance: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in v.iter_errors(instance) {
        if let ValidationErrorKind::AdditionalProperties { unexpected } = e.kind() {
            let table: Vec<String> = e
                .instance_path()
                .as_str()
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            for key in unexpected {
                let mut path = table.clone();
                path.push(key.clone());
                out.insert(printable(&path.join(".")));
            }
        }
    }
    out
}

/// Regression for the bad-input corpus: every case stackgen answers with `unknown key`,
/// the schema answers with the same keys.
#[test]
fn every_unknown_key_case_of_the_corpus_is_rejected_with_the_same_keys() {
    let v = validator();
    let corpus = repo().join("tests/bad_inputs");
    let mut checked = Vec::new();
    let mut cases: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    cases.sort();
    for case in cases {
        let Ok(expected) = std::fs::read_to_string(case.join("expected")) else {
            continue;
        };
        let wanted: BTreeSet<String> = expected
            .lines()
            .filter_map(|l| l.split_once("unknown key `")?.1.rsplit_once('`'))
            .map(|(key, _)| key.to_string())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        // The case's own stack.toml, else the shipped one it is laid over.
        let text = std::fs::read_to_string(case.join("stack.toml"))
            .unwrap_or_else(|_| std::fs::read_to_string(repo().join("stack.toml")).expect("read"));
        let Ok(instance) = toml::from_str::<Value>(&text) else {
            continue; // not TOML: nothing for a schema to see
        };
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert_eq!(unknown_keys(&v, &instance), wanted, "{name}");
        checked.push(name);
    }
    // Nine today; a filter that silently matched nothing would pass vacuously.
    assert!(checked.len() >= 9, "checked only {checked:?}");
}

/// The shipped stack with one key set to `value` (a TOML literal), as text.
fn shipped_with(path: &str, value: &str) -> String {
    let mut table: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo().join("stack.toml")).expect("read"))
            .expect("shipped stack.toml");
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .expect("a TOML value")
        .remove("v")
        .expect("v");
    let (parents, key) = path.rsplit_once('.').expect("a dotted path");
    let mut t = &mut table;
    for part in parents.split('.') {
        t = t
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("a table");
    }
    t.insert(key.to_string(), value);
    toml::to_string(&table).expect("TOML")
}

const DURATIONS: &[&str] = &[
    "\"500ms\"",
    "\"2s\"",
    "\"1m\"",
    "\"1h\"",
    "\"0s\"",
    "\"2\"",
    "\"s\"",
    "\"1 s\"",
    "\"1.5s\"",
    "\"2S\"",
    "\"1d\"",
];

/// Values on both sides of each constraint the schema adds beyond types.
const EDGES: &[(&str, &[&str])] = &[
    (
        "stack.name",
        &[
            "\"a\"",
            "\"a_b-1\"",
            "\"9\"",
            "\"-a\"",
            "\"_a\"",
            "\"A\"",
            "\"a.b\"",
            "\"\"",
        ],
    ),
    ("stack.wait_timeout", &["1", "0"]),
    (
        "target.default",
        &["\"compose\"", "\"swarm\"", "\"kubernetes\"", "\"\""],
    ),
    (
        "secrets.db_password.length",
        &["16", "256", "15", "257", "0"],
    ),
    ("services.hello.port", &["1", "65535", "0"]),
    ("services.hello.publish", &["0", "65535"]),
    ("services.hello.replicas", &["1", "0"]),
    ("services.db.data", &["\"/x\"", "\"x\"", "\"\""]),
    (
        "services.hello.healthcheck.path",
        &[
            "\"/\"",
            "\"/healthz\"",
            "\"healthz\"",
            "\"\"",
            "\"/a b\"",
            "\"/a%20b?x=1&y='$'\"",
            "\"/100%\"",
            "\"/%zz\"",
            "\"/caf\\u00e9\"",
        ],
    ),
    (
        "services.hello.healthcheck.command",
        &["[\"CMD\", \"true\"]", "[]"],
    ),
    ("services.hello.healthcheck.interval", DURATIONS),
    ("services.hello.healthcheck.timeout", DURATIONS),
    ("services.hello.healthcheck.start_period", DURATIONS),
];

/// Each constraint beyond types, at its edges: the schema accepts a value exactly when
/// stackgen does. Above all it must never reject one stackgen accepts.
#[test]
fn constraints_agree_with_stackgen_at_their_edges() {
    let v = validator();
    let mut cases: Vec<(&str, String)> = EDGES
        .iter()
        .flat_map(|(path, values)| values.iter().map(|value| (*path, value.to_string())))
        .collect();
    // The longest stack name, and one longer.
    for n in [63, 64] {
        cases.push(("stack.name", format!("\"{}\"", "a".repeat(n))));
    }

    let mut disagreements = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for (path, value) in &cases {
        let text = shipped_with(path, value);
        let stackgen = Stack::parse(&repo(), &text);
        let schema = errors(&v, &json(&text));
        match (&stackgen, schema.is_empty()) {
            (Ok(_), true) => accepted += 1,
            (Err(_), false) => rejected += 1,
            (Ok(_), false) => disagreements.push(format!(
                "{path} = {value}: stackgen accepts it, the schema rejects it: {schema:?}"
            )),
            (Err(e), true) => disagreements.push(format!(
                "{path} = {value}: the schema accepts it, stackgen rejects it: {e}"
            )),
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // Both sides of every edge were tried.
    assert!(
        accepted >= 20 && rejected >= 20,
        "{accepted} accepted, {rejected} rejected"
    );
}
