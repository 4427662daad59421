//! The shape of `src/`, checked (issue 11): the top-level modules form layers, each one
//! importing only modules below it in [`LAYERS`], and no two files import each other in
//! a loop. The imports are read from the source text: `use` trees, `crate::`, `super::`
//! and `self::` paths, and paths through a child module the file declares. Comments and
//! string literals are skipped. Functions over 100 lines are clippy's to catch
//! (`#![deny(clippy::too_many_lines)]` in `src/lib.rs`, threshold in `clippy.toml`).
//!
//! Inside the layers (issue 24): the commands reach the engine only through a target;
//! each deploy target keeps to its folder (`targets/compose/`, `targets/swarm/`), the
//! files beside them serve every target and name none, and only `targets/mod.rs` (which
//! opens them) names a target's folder. No file holds more than 600 lines of code
//! outside its tests.
//!
//! When this fails, it names the import that breaks the rule; move the code (or the
//! layer) rather than the rule, and say why in the commit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules from the top down: each may import only those after it.
const LAYERS: &[&str] = &[
    "commands", "cli", "output", "targets", "pipeline", "plan", "policy", "render", "document",
    "hash", "stack", "state", "engine", "progress", "error",
];

/// A module path below `crate` (`["target", "compose"]`) and the file that holds it.
type Modules = BTreeMap<Vec<String>, PathBuf>;

fn modules(src: &Path) -> Modules {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.expect("walk src");
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = path.strip_prefix(src).expect("under src");
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts
            .last()
            .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
        {
            parts.pop();
        }
        if rel == Path::new("main.rs") {
            continue; // the binary: a crate of its own
        }
        out.insert(parts, path.to_path_buf());
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Path, // `::`
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Other,
}

/// The source as tokens, without comments, string and character literals.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && raw_string_end(&chars, i).is_some()
        {
            i = raw_string_end(&chars, i).unwrap_or(i + 1);
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{1F}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            out.push(match (c, next) {
                (':', Some(':')) => {
                    i += 1;
                    Token::Path
                }
                ('{', _) => Token::Open,
                ('}', _) => Token::Close,
                (',', _) => Token::Comma,
                (';', _) => Token::Semi,
                ('*', _) => Token::Star,
                _ => Token::Other,
            });
            i += 1;
        }
    }
    out
}

/// Where a raw string starting at `i` (`r"`, `r#"`...) ends, if it is one.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

/// Expands a `use` tree (tokens after `use`, up to `;`) into its paths.
fn use_paths(tree: &[Token], prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut i = 0;
    while i < tree.len() {
        match &tree[i] {
            Token::Ident(name) => path.push(name.clone()),
            Token::Open => {
                let close = matching(tree, i);
                for item in split_top(&tree[i + 1..close]) {
                    use_paths(item, &path, out);
                }
                return;
            }
            Token::Path | Token::Star => {}
            _ => break,
        }
        i += 1;
        if let Some(Token::Ident(word)) = tree.get(i)
            && word == "as"
        {
            break;
        }
    }
    out.push(path);
}

fn matching(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// The comma-separated items of a brace group, at its own depth.
fn split_top(tokens: &[Token]) -> Vec<&[Token]> {
    let (mut out, mut start, mut depth) = (Vec::new(), 0, 0);
    for (j, t) in tokens.iter().enumerate() {
        match t {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            Token::Comma if depth == 0 => {
                out.push(&tokens[start..j]);
                start = j + 1;
            }
            _ => {}
        }
    }
    out.push(&tokens[start..]);
    out
}

/// The module paths one file refers to, resolved against `here` (its module path):
/// `use` trees and `crate::`/`super::`/`self::`/child-module paths elsewhere.
fn references(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let toks = tokens(text);
    let children: BTreeSet<String> = toks
        .windows(3)
        .filter_map(|w| match w {
            [Token::Ident(m), Token::Ident(name), Token::Semi] if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect();
    let mut raw: Vec<(Vec<String>, Vec<String>)> = Vec::new(); // (module we are in, path)
    let mut inline: Vec<(String, i32)> = Vec::new(); // inline `mod x {` and its depth
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        let module: Vec<String> = here
            .iter()
            .cloned()
            .chain(inline.iter().map(|(m, _)| m.clone()))
            .collect();
        match &toks[i] {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Token::Ident(w) if w == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Open)) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth));
                }
            }
            Token::Ident(w) if w == "use" => {
                let end = toks[i..]
                    .iter()
                    .position(|t| *t == Token::Semi)
                    .map_or(toks.len(), |p| i + p);
                let mut paths = Vec::new();
                use_paths(&toks[i + 1..end], &[], &mut paths);
                raw.extend(paths.into_iter().map(|p| (module.clone(), p)));
                i = end;
            }
            Token::Ident(first)
                if toks.get(i + 1) == Some(&Token::Path)
                    && !matches!(toks.get(i.wrapping_sub(1)), Some(Token::Path)) =>
            {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while let (Some(Token::Path), Some(Token::Ident(seg))) =
                    (toks.get(j), toks.get(j + 1))
                {
                    path.push(seg.clone());
                    j += 2;
                }
                raw.push((module.clone(), path));
                i = j - 1;
            }
            _ => {}
        }
        i += 1;
    }
    raw.into_iter()
        .filter_map(|(module, path)| resolve(&module, here, &children, &path))
        .collect()
}

/// An absolute module path (below `crate`) for `path` as written in `module`; `None` for
/// what is not this crate's (std, other crates, local names).
fn resolve(
    module: &[String],
    file_module: &[String],
    children: &BTreeSet<String>,
    path: &[String],
) -> Option<Vec<String>> {
    let mut base = module.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") | Some("self") => {
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        Some(first) if module == file_module && children.contains(first) => {}
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file a module path lands in: its longest prefix that is a module file.
fn file_of(modules: &Modules, path: &[String]) -> Option<PathBuf> {
    (0..=path.len())
        .rev()
        .find_map(|k| modules.get(&path[..k]).cloned())
}

fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeMap<PathBuf, Vec<String>>> {
    let modules = modules(src);
    let mut edges: BTreeMap<PathBuf, BTreeMap<PathBuf, Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).expect("read source");
        let from = edges.entry(file.clone()).or_default();
        for path in references(&text, module) {
            if let Some(to) = file_of(&modules, &path)
                && &to != file
            {
                from.entry(to).or_default().push(path.join("::"));
            }
        }
    }
    edges
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn top(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

#[test]
fn every_top_level_module_imports_only_the_layers_below_it() {
    let src = src();
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for (from, tos) in graph(&src) {
        let a = top(&src, &from);
        if a == "lib" {
            continue; // the crate root declares and runs everything
        }
        let Some(ra) = rank(&a) else {
            wrong.push(format!(
                "`{a}` is not in LAYERS: place it in tests/structure.rs"
            ));
            continue;
        };
        for (to, names) in tos {
            let b = top(&src, &to);
            if a != b && rank(&b).is_none_or(|rb| rb <= ra) {
                wrong.push(format!(
                    "{} imports {} ({}): `{a}` may only import layers below it",
                    from.strip_prefix(&src).unwrap_or(&from).display(),
                    to.strip_prefix(&src).unwrap_or(&to).display(),
                    names.join(", ")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_files_import_each_other_in_a_loop() {
    let src = src();
    let edges = graph(&src);
    let mut cycles = Vec::new();
    for start in edges.keys() {
        // A path from `start` back to itself, by depth-first search.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in edges.get(&node).into_iter().flat_map(|t| t.keys()) {
                if next == start {
                    let names: Vec<String> = path
                        .iter()
                        .chain([start])
                        .map(|p| p.strip_prefix(&src).unwrap_or(p).display().to_string())
                        .collect();
                    cycles.push(names.join(" -> "));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// The file's path below `src/`, with `/` separators.
fn rel(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every import from one file to another, as `(from, to, names)` paths below `src/`.
fn imports() -> Vec<(String, String, Vec<String>)> {
    let src = src();
    let mut out = Vec::new();
    for (from, tos) in graph(&src) {
        for (to, names) in tos {
            out.push((rel(&src, &from), rel(&src, &to), names));
        }
    }
    out
}

#[test]
fn the_commands_reach_the_engine_only_through_a_target() {
    let wrong: Vec<String> = imports()
        .into_iter()
        .filter(|(from, to, _)| from.starts_with("commands/") && to.starts_with("engine/docker/"))
        .map(|(from, to, names)| format!("{from} imports {to} ({})", names.join(", ")))
        .collect();
    assert!(
        wrong.is_empty(),
        "ask the target (`Target::check_engine`, its methods) or `targets::images` instead:\n{}",
        wrong.join("\n")
    );
}

/// The folder of a target a file of `targets/` lives in (`compose`), if it lives in one.
fn target_folder(file: &str) -> Option<&str> {
    let rest = file.strip_prefix("targets/")?;
    rest.split_once('/').map(|(folder, _)| folder)
}

#[test]
fn each_target_keeps_to_its_folder_and_the_shared_files_name_none() {
    let mut wrong = Vec::new();
    for (from, to, names) in imports() {
        let Some(theirs) = target_folder(&to) else {
            continue;
        };
        let allowed = match target_folder(&from) {
            Some(ours) => ours == theirs,
            // Only `targets/mod.rs` opens a target; nothing outside `targets/` reaches in.
            None => from == "targets/mod.rs",
        };
        if !allowed {
            wrong.push(format!("{from} imports {to} ({})", names.join(", ")));
        }
    }
    assert!(
        wrong.is_empty(),
        "a target's files are its own; what several targets need goes in a file of \
         `targets/` beside the folders:\n{}",
        wrong.join("\n")
    );
}

/// Lines of code outside tests: not blank, not only a comment, before the file's
/// `#[cfg(test)]` module.
fn lines_of_code(text: &str) -> usize {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

#[test]
fn no_file_holds_more_than_600_lines_of_code() {
    let src = src();
    let mut wrong = Vec::new();
    for (_, file) in modules(&src) {
        let text = std::fs::read_to_string(&file).expect("read source");
        let n = lines_of_code(&text);
        if n > 600 {
            wrong.push(format!("{}: {n} lines of code", rel(&src, &file)));
        }
    }
    assert!(
        wrong.is_empty(),
        "split these into files of one concern each:\n{}",
        wrong.join("\n")
    );
    assert_eq!(
        lines_of_code("//! doc\nfn a() {}\n\n    // note\nfn b() {}\n#[cfg(test)]\nmod tests {}\n"),
        2
    );
}

/// The reader itself, on a file that exercises what it must get right.
#[test]
fn imports_are_read_from_use_trees_and_paths_but_not_comments_or_strings() {
    let text = r##"
        //! see crate::fake in a comment
        use crate::{a::{b, c::D}, e};
        use super::sibling::Thing;
        mod child;
        pub use child::Item;
        fn f() { let s = "crate::nope"; let r = r#"crate::nope2"#; crate::g::h(); let c = '{'; }
        #[cfg(test)]
        mod tests { use super::*; fn t<'a>(x: &'a str) { crate::i::j(x); } }
    "##;
    let here = vec!["m".to_string(), "n".to_string()];
    let got: BTreeSet<String> = references(text, &here)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    let want: BTreeSet<String> = [
        "a::b",
        "a::c::D",
        "e",
        "m::sibling::Thing",
        "m::n::child::Item",
        "g::h",
        "m::n",
        "i::j",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(got, want);
}
