//! The checks of what a built service is built from: its Dockerfile, read line by line
//! (continuation lines joined first), and the build args stack.toml gives it. These are
//! about no target file: their findings have `target: None`.

use crate::stack::{ImageSource, Stack};

use super::finding::{At, Findings};
use super::names::{is_root, secret_looking};

/// One Dockerfile instruction, continuation lines joined.
struct Instruction {
    /// The line it starts on, 1-based.
    line: usize,
    /// The whole instruction, continuations joined by a space.
    text: String,
    /// Its first word, upper-cased (`FROM`, `RUN`, ...).
    word: String,
}

/// A Dockerfile being checked, and whose it is.
struct Dockerfile<'a> {
    at: At<'a>,
    /// Its path as stack.toml names it, for the finding's key.
    path: &'a str,
    instructions: Vec<Instruction>,
}

impl Dockerfile<'_> {
    /// The key of a finding at `line`: `<path>:<line>`.
    fn key(&self, line: usize) -> String {
        format!("{}:{line}", self.path)
    }
}

/// The Dockerfile checks, in the order they were written; each reports into `Findings`.
const CHECKS: &[fn(&Dockerfile, &mut Findings)] = &[
    base_image_from_arg,
    apt_no_install_recommends,
    apt_lists_removed,
    no_secret_build_arg,
    non_root_user,
];

/// Checks every built service's Dockerfile and build args.
pub fn check_builds(stack: &Stack, out: &mut Findings) {
    for (name, svc) in &stack.services {
        let ImageSource::Build {
            dockerfile, args, ..
        } = &svc.source
        else {
            continue;
        };
        let at = At::build(name);
        match std::fs::read_to_string(stack.root.join(dockerfile)) {
            Ok(text) => check_dockerfile(out, at, dockerfile, &text),
            Err(e) => out.error(
                at,
                dockerfile,
                &format!("cannot read: {e}"),
                "an unreadable Dockerfile cannot be checked",
                "make the file readable",
            ),
        }
        for arg in args.keys().filter(|a| secret_looking(a)) {
            out.error(
                at,
                "build.args",
                &format!("build argument `{arg}` looks like a secret"),
                "build arguments are stored in the image's history for anyone with the image to read",
                "pass secrets at run time as file secrets, never at build time",
            );
        }
    }
}

/// Line-based checks of one Dockerfile's text.
fn check_dockerfile(out: &mut Findings, at: At, path: &str, text: &str) {
    let file = Dockerfile {
        at,
        path,
        instructions: instructions(text),
    };
    for check in CHECKS {
        check(&file, out);
    }
}

/// The instructions of a Dockerfile: comments and blank lines skipped, a line ending in
/// `\` joined with the next (comments inside a continuation are skipped too, as Docker
/// does).
fn instructions(text: &str) -> Vec<Instruction> {
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || (current.is_none() && line.is_empty()) {
            continue;
        }
        let (start, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(part) => {
                acc.push_str(part);
                acc.push(' ');
                current = Some((start, acc));
            }
            None => {
                acc.push_str(line);
                joined.push((start, acc));
            }
        }
    }
    joined.extend(current);
    joined
        .into_iter()
        .map(|(line, text)| Instruction {
            line,
            word: text
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase(),
            text,
        })
        .collect()
}

/// The first `FROM` takes its base from `ARG BASE_IMAGE`, declared before it.
fn base_image_from_arg(file: &Dockerfile, out: &mut Findings) {
    let Some(first_from) = file.instructions.iter().position(|i| i.word == "FROM") else {
        return;
    };
    let arg_base = file.instructions[..first_from].iter().any(|i| {
        i.word == "ARG"
            && i.text
                .split_whitespace()
                .nth(1)
                .is_some_and(|a| a.starts_with("BASE_IMAGE"))
    });
    let from = &file.instructions[first_from];
    let uses_arg = from.text.contains("${BASE_IMAGE}") || from.text.contains("$BASE_IMAGE");
    if !arg_base || !uses_arg {
        out.error(
            file.at,
            &file.key(from.line),
            "the base image is not taken from `ARG BASE_IMAGE`",
            "stackgen pins one base for every image and hashes it; a hard-coded FROM escapes both",
            "start with `ARG BASE_IMAGE` and `FROM ${BASE_IMAGE}`",
        );
    }
}

fn is_apt_install(i: &Instruction) -> bool {
    i.word == "RUN" && i.text.contains("apt-get") && i.text.contains(" install")
}

/// Every `apt-get install` says `--no-install-recommends`.
fn apt_no_install_recommends(file: &Dockerfile, out: &mut Findings) {
    for i in file.instructions.iter().filter(|i| is_apt_install(i)) {
        if !i.text.contains("--no-install-recommends") {
            out.error(
                file.at,
                &file.key(i.line),
                "`apt-get install` without `--no-install-recommends`",
                "recommended packages add size and attack surface nobody asked for",
                "add `--no-install-recommends`",
            );
        }
    }
}

/// A Dockerfile that installs packages removes the apt lists somewhere.
fn apt_lists_removed(file: &Dockerfile, out: &mut Findings) {
    let installs = file.instructions.iter().any(is_apt_install);
    let removed = file.instructions.iter().any(|i| {
        i.word == "RUN" && i.text.contains("/var/lib/apt/lists") && i.text.contains("rm ")
    });
    if installs && !removed {
        out.error(
            file.at,
            file.path,
            "apt lists are left in the image",
            "stale package lists add size and date the image",
            "end the install with `&& rm -rf /var/lib/apt/lists/*`",
        );
    }
}

/// No `ARG` whose name looks like a secret.
fn no_secret_build_arg(file: &Dockerfile, out: &mut Findings) {
    for i in file.instructions.iter().filter(|i| i.word == "ARG") {
        if let Some(name) = i.text.split_whitespace().nth(1)
            && secret_looking(name.split('=').next().unwrap_or(name))
        {
            out.error(
                file.at,
                &file.key(i.line),
                &format!("build argument `{name}` looks like a secret"),
                "build arguments are stored in the image's history for anyone with the image to read",
                "pass secrets at run time as file secrets",
            );
        }
    }
}

/// The last `USER` exists and is not root.
fn non_root_user(file: &Dockerfile, out: &mut Findings) {
    match file.instructions.iter().rev().find(|i| i.word == "USER") {
        None => out.error(
            file.at,
            file.path,
            "no `USER`: the image runs as root",
            "whoever runs the image without stackgen's `user:` gets a root process",
            "create a user and set `USER <uid>:<gid>` (the last `USER` is the one that runs)",
        ),
        Some(i) => {
            let user = i.text.split_whitespace().nth(1).unwrap_or("");
            if is_root(user) {
                out.error(
                    file.at,
                    &file.key(i.line),
                    "the last `USER` is root",
                    "whoever runs the image without stackgen's `user:` gets a root process",
                    "make the last `USER` a non-root one, `USER <uid>:<gid>`",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_are_joined_and_comments_skipped() {
        let got = instructions("# c\n\nFROM x\nRUN a \\\n  # inside\n  b\nUSER 1\n");
        let lines: Vec<(usize, &str, &str)> = got
            .iter()
            .map(|i| (i.line, i.word.as_str(), i.text.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (3, "FROM", "FROM x"),
                (4, "RUN", "RUN a  b"),
                (7, "USER", "USER 1")
            ]
        );
    }
}
