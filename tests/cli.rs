//! CLI tests through the real binary: rendering the shipped stack, determinism, `--check`,
//! and bad input (exit 2, one clear message, nothing written).

mod common;

use common::{TestProject, assert_exit, repo, stderr};

/// The committed `generated/` files are the snapshot of the shipped stack: rendering it
/// now must give exactly those bytes.
#[test]
fn shipped_stack_renders_to_the_committed_files() {
    let project = TestProject::shipped();
    let out = project.stackgen(&["render", "--check"]);
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "generated files are up to date\n");
    // And the repository itself is what was copied.
    assert_eq!(
        project.read("generated/docker-compose.yml"),
        std::fs::read_to_string(repo().join("generated/docker-compose.yml")).expect("read")
    );
}

#[test]
fn rendering_is_byte_identical_whatever_the_folder_cwd_or_mtimes() {
    let a = TestProject::shipped();
    let b = TestProject::shipped();
    for p in [&a, &b] {
        std::fs::remove_dir_all(p.file("generated")).expect("rm generated");
    }
    // Touch every file of b into the past: mtimes must not matter.
    for entry in walkdir::WalkDir::new(b.path()) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let f = std::fs::File::options()
                .write(true)
                .open(entry.path())
                .expect("open");
            f.set_modified(std::time::SystemTime::UNIX_EPOCH)
                .expect("mtime");
        }
    }
    assert_exit(&a.stackgen(&["render"]), 0);
    // Run b from another working directory, pointing at it with a relative path.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .current_dir(b.path().parent().expect("parent"))
        .args(["--dir"])
        .arg(b.path().file_name().expect("name"))
        .arg("render")
        .output()
        .expect("run");
    assert_exit(&out, 0);
    for file in ["generated/docker-compose.yml", "generated/stack.lock"] {
        assert_eq!(a.read(file), b.read(file), "{file} differs");
        assert_eq!(
            a.read(file),
            std::fs::read_to_string(repo().join(file)).expect("read"),
            "{file} differs from the committed one"
        );
    }
}

#[test]
fn render_check_fails_on_stale_files_and_writes_nothing() {
    let project = TestProject::shipped();
    let app = project.read("apps/hello/app.py");
    project.write("apps/hello/app.py", &format!("{app}\n# changed\n"));
    let before = project.snapshot();
    let out = project.stackgen(&["render", "--check"]);
    assert_exit(&out, 1);
    assert_eq!(
        stderr(&out),
        "error: generated files are stale: generated/docker-compose.yml, generated/stack.lock, \
         generated/stack.yml\n\
         hint: run `stackgen render` and commit the result\n"
    );
    assert_eq!(project.snapshot(), before, "--check writes nothing");
    // Rendering fixes it.
    assert_exit(&project.stackgen(&["render"]), 0);
    assert_exit(&project.stackgen(&["render", "--check"]), 0);
}

#[test]
fn bad_stack_file_exits_2_with_every_problem_and_writes_nothing() {
    let project = TestProject::shipped();
    project.edit_stack(|t| {
        t.replace("publish = 8082", "publish = 8081")
            .replace("depends_on = [\"db\"]", "depends_on = [\"database\"]")
    });
    let before = project.snapshot();
    for cmd in [&["render"][..], &["up"], &["render", "--check"]] {
        let out = project.stackgen(cmd);
        assert_exit(&out, 2);
        assert_eq!(
            stderr(&out),
            "error: stack.toml:51:1: services.greeter.depends_on: depends on `database`, which is not declared\n  \
             hint: declare `[services.database]` or remove it from depends_on\n\
             error: stack.toml:44:1: services.hello.publish: host port 8081 is also published by `greeter`, and neither names `hosts`\n  \
             hint: on a shared port, give each service but one its own `hosts`\n",
            "for {cmd:?}"
        );
        assert_eq!(project.snapshot(), before, "{cmd:?} wrote nothing");
    }
    assert!(
        !project.file(".stackgen").exists(),
        "no secret was generated"
    );
}

#[test]
fn missing_stack_file_is_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(dir.path())
        .arg("render")
        .output()
        .expect("run");
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("stack.toml: cannot read"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("hint: run stackgen in the folder holding `stack.toml`"));
}

#[test]
fn usage_errors_exit_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("deploy-everything")
        .output()
        .expect("run");
    assert_exit(&out, 2);
}

#[test]
fn undefined_template_variable_names_the_file_and_line() {
    let project = TestProject::shipped();
    let t = project.read("templates/kinds/python-web/compose.yml.j2");
    project.write(
        "templates/kinds/python-web/compose.yml.j2",
        &t.replace("svc.healthcheck.interval", "svc.healthcheck.intervall"),
    );
    let before = project.snapshot();
    let out = project.stackgen(&["render"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.starts_with("error: templates/kinds/python-web/compose.yml.j2:"),
        "{err}"
    );
    assert!(err.contains("undefined"), "{err}");
    assert_eq!(project.snapshot(), before);
}

#[test]
fn shipped_stack_passes_the_security_check() {
    let project = TestProject::shipped();
    let out = project.stackgen(&["check"]);
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "check: 0 errors, 13 warnings, 0 relaxed\n");
    let lines: Vec<String> = common::stdout(&out)
        .lines()
        .map(|l| l.split(" (why:").next().unwrap_or("").to_string())
        .collect();
    // The compose file's warnings, and the swarm file's (the shipped stack names a
    // registry, so it renders generated/stack.yml too): what Swarm cannot express
    // (`no-new-privileges`, the edge's ports on one address); `db/init` is a swarm config.
    assert_eq!(
        lines,
        [
            "warning: db: build: the image is built on this host",
            "warning: db: volumes: bind-mounts the host path `../db/init`",
            "warning: db (swarm): security_opt: `no-new-privileges` cannot be set on a swarm service",
            "warning: edge: build: the image is built on this host",
            "warning: edge: volumes: bind-mounts the host path `../.stackgen/edge-admin`",
            "warning: edge: volumes: bind-mounts the host path `../.stackgen/edge`",
            "warning: edge (swarm): ports: port 8081 is published on every interface of the node, not on the stack's `127.0.0.1`",
            "warning: edge (swarm): ports: port 8082 is published on every interface of the node, not on the stack's `127.0.0.1`",
            "warning: edge (swarm): security_opt: `no-new-privileges` cannot be set on a swarm service",
            "warning: greeter: build: the image is built on this host",
            "warning: greeter (swarm): security_opt: `no-new-privileges` cannot be set on a swarm service",
            "warning: hello: build: the image is built on this host",
            "warning: hello (swarm): security_opt: `no-new-privileges` cannot be set on a swarm service",
        ]
    );
}

/// `stackgen check --json` of a project with exactly two errors: each one as
/// `target service key message`.
fn check_json_errors(project: &TestProject) -> Vec<String> {
    let out = project.stackgen(&["check", "--json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_str(&common::stdout(&out)).expect("json");
    assert_eq!(report["errors"], 2);
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            format!(
                "{} {} {} {}",
                f["target"], f["service"], f["key"], f["message"]
            )
        })
        .collect()
}

/// Adds `privileged: true` to a partial of the python-web kind, before `before`.
fn make_privileged(project: &TestProject, partial: &str, before: &str) {
    let path = format!("templates/kinds/python-web/{partial}");
    let t = project.read(&path);
    assert!(t.contains(before), "{t}");
    project.write(
        &path,
        &t.replacen(before, &format!("    privileged: true\n{before}"), 1),
    );
}

#[test]
fn a_template_that_breaks_the_policy_is_caught_and_up_refuses_it() {
    let project = TestProject::shipped();
    make_privileged(&project, "compose.yml.j2", "    healthcheck:\n");
    let errors = check_json_errors(&project);
    assert_eq!(
        errors,
        [
            r#""compose" "greeter" "privileged" "the container is privileged""#,
            r#""compose" "hello" "privileged" "the container is privileged""#
        ]
    );
    let before = project.snapshot();
    let up = project.stackgen(&["up"]);
    assert_exit(&up, 2);
    assert!(
        stderr(&up).contains("error: policy: 2 security findings above; nothing was deployed"),
        "{}",
        stderr(&up)
    );
    assert_eq!(
        project.snapshot(),
        before,
        "a refused deploy writes nothing"
    );
}

/// The swarm file is checked too: a swarm partial that breaks the policy is caught, and
/// its findings name the swarm target.
#[test]
fn a_swarm_template_that_breaks_the_policy_is_caught() {
    let project = TestProject::shipped();
    // Its own project name: a deployed `stackgen` stack on this host (its volume) must
    // not decide where the compose deploy below stops.
    project.edit_stack(|t| t.replacen("name = \"stackgen\"", "name = \"sgcli-policy\"", 1));
    make_privileged(&project, "swarm.yml.j2", "    healthcheck:\n");
    let errors = check_json_errors(&project);
    assert_eq!(
        errors,
        [
            r#""swarm" "greeter" "privileged" "the container is privileged""#,
            r#""swarm" "hello" "privileged" "the container is privileged""#
        ]
    );

    let out = project.stackgen(&["check"]);
    assert_exit(&out, 1);
    assert_eq!(stderr(&out), "check: 2 errors, 13 warnings, 0 relaxed\n");
    let text = common::stdout(&out);
    for service in ["greeter", "hello"] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!(
                "error: {service} (swarm): privileged: the container is privileged (why: "
            ))),
            "{text}"
        );
    }

    // `up` is refused for the target whose file breaks the policy, and writes nothing...
    let before = project.snapshot();
    let up = project.stackgen(&["up", "--target", "swarm"]);
    assert_exit(&up, 2);
    assert!(
        stderr(&up).contains("error: policy: 2 security findings above; nothing was deployed"),
        "{}",
        stderr(&up)
    );
    assert_eq!(
        project.snapshot(),
        before,
        "a refused deploy writes nothing"
    );
    // ...but not for another target: a compose deploy gets past the policy (and here
    // stops at the engine check, since `docker` is made missing).
    let up = std::process::Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(project.path())
        .args(["up", "--target", "compose"])
        .env("STACKGEN_DOCKER", "/nonexistent/docker")
        .output()
        .expect("run stackgen");
    // It got as far as the deploy lock: its file goes with the test.
    let _ = std::fs::remove_file(common::lock_file("sgcli-policy"));
    assert_exit(&up, 3);
    assert!(
        stderr(&up).contains("error: `/nonexistent/docker` is not installed"),
        "{}",
        stderr(&up)
    );
    assert_eq!(project.snapshot(), before);
}

#[test]
fn relaxations_in_stack_toml_show_up_in_check_and_the_compose_file() {
    let project = TestProject::shipped();
    project.edit_stack(|t| {
        t.replace(
            "build = \"apps/hello\"\n",
            "build = \"apps/hello\"\nsecurity = { read_only = false, cap_add = [\"NET_BIND_SERVICE\"] }\n",
        )
    });
    let out = project.stackgen(&["check"]);
    assert_exit(&out, 0);
    // Relaxed in both rendered files: the compose file and the swarm file.
    assert_eq!(stderr(&out), "check: 0 errors, 13 warnings, 4 relaxed\n");
    let text = common::stdout(&out);
    for service in ["hello", "hello (swarm)"] {
        assert!(
            text.contains(&format!(
                "relaxed: {service}: read_only: the root filesystem is writable, as stack.toml asks"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("relaxed: {service}: cap_add: capability `NET_BIND_SERVICE` is added back, as stack.toml asks")), "{text}");
    }
    assert_exit(&project.stackgen(&["render"]), 0);
    let compose = project.read("generated/docker-compose.yml");
    assert!(compose.contains("io.stackgen.relaxed: \"read_only=false; cap_add=NET_BIND_SERVICE\""));
    assert!(compose.contains("    read_only: false\n"));
}

/// The completion scripts and the man page come from the same clap definition as
/// `--help`: every command is in them, and an unknown shell is a usage error.
#[test]
fn completions_and_man_page_list_every_command() {
    let project = TestProject::shipped();
    let help = project.stackgen(&["--help"]);
    assert_exit(&help, 0);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    // The commands `--help` lists: the first word of each line under "Commands:".
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's line is indented two spaces; a wrapped description, more.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(
        commands.contains(&"logs") && commands.len() > 15,
        "{commands:?}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = project.stackgen(&["completions", shell]);
        assert_exit(&out, 0);
        let script = String::from_utf8_lossy(&out.stdout);
        for command in &commands {
            assert!(
                script.contains(command),
                "{shell} completion lacks `{command}`"
            );
        }
    }
    let man = project.stackgen(&["man"]);
    assert_exit(&man, 0);
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.contains(".TH stackgen 1"),
        "not a roff man page: {page:.200}"
    );
    for command in &commands {
        assert!(page.contains(command), "the man page lacks `{command}`");
    }
    let bad = project.stackgen(&["completions", "tcsh"]);
    assert_exit(&bad, 2);
    assert!(
        stderr(&bad).contains("invalid value 'tcsh'"),
        "{}",
        stderr(&bad)
    );
}

/// Issue 16: `-q` and `-v` are one choice; both at once is a usage error.
#[test]
fn quiet_and_verbose_together_are_a_usage_error() {
    let project = TestProject::shipped();
    for args in [["-q", "-v", "render"], ["render", "--quiet", "--verbose"]] {
        let out = project.stackgen(&args);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("error: the argument '--quiet' cannot be used with '--verbose'"),
            "{}",
            stderr(&out)
        );
    }
}

/// Issue 16: with `-q` a successful command says nothing on stderr; stdout is the same.
#[test]
fn quiet_commands_print_nothing_on_stderr_and_the_same_stdout() {
    let project = TestProject::shipped();
    for args in [&["render"][..], &["render", "--check"], &["check"]] {
        let plain = project.stackgen(args);
        assert_exit(&plain, 0);
        assert!(
            !stderr(&plain).is_empty(),
            "{args:?} says something by default"
        );
        let quiet = project.stackgen(&[&["-q"][..], args].concat());
        assert_exit(&quiet, 0);
        assert_eq!(stderr(&quiet), "", "-q {args:?}");
        assert_eq!(
            common::stdout(&quiet),
            common::stdout(&plain),
            "-q {args:?}"
        );
    }
    // Errors and their hints still show.
    project.write("stack.toml", "name = 1\n");
    let bad = project.stackgen(&["-q", "check"]);
    assert_exit(&bad, 2);
    assert!(stderr(&bad).starts_with("error: "), "{}", stderr(&bad));
}

/// Issue 16: on a terminal a command that builds nothing prints the same plain lines,
/// no escape codes (run under util-linux `script`, which gives it a pty; `script` is in
/// Debian's essential bsdutils, so a machine without it fails this test, never skips it).
#[test]
fn on_a_terminal_a_build_free_command_prints_plain_lines() {
    let project = TestProject::shipped();
    let pty = |args: &str| {
        let command = format!(
            "{} --dir {} {args}",
            env!("CARGO_BIN_EXE_stackgen"),
            project.path().display()
        );
        let out = std::process::Command::new("script")
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .output()
            .expect("run script");
        assert_exit(&out, 0);
        common::stdout(&out).replace("\r\n", "\n")
    };
    assert_eq!(pty("render"), "generated files are up to date\n");
    assert_eq!(pty("-q render"), "");
    assert_eq!(pty("-v render --check"), "generated files are up to date\n");
}

/// Issue 16: "no" at `restore`'s prompt is a restore not confirmed: exit 2, nothing
/// changed, and no engine asked (the prompt comes before it). Run under `script`, since
/// the prompt needs a terminal.
#[test]
fn restore_answered_no_at_its_prompt_exits_2_and_changes_nothing() {
    use std::io::Write;
    let project = TestProject::shipped();
    let dump = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad_inputs/restore-needs-yes/dump.sql.gz");
    let file = project.file("dump.sql.gz");
    std::fs::copy(&dump, &file).expect("copy the dump");
    let before = project.snapshot();
    let command = format!(
        "{} --dir {} restore {}",
        env!("CARGO_BIN_EXE_stackgen"),
        project.path().display(),
        file.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        // Asked nothing: a docker that does not exist would fail any engine question.
        .env("STACKGEN_DOCKER", "/nonexistent/docker")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"n\n")
        .expect("answer the prompt");
    let out = child.wait_with_output().expect("wait for script");
    assert_exit(&out, 2);
    let shown = common::stdout(&out).replace("\r\n", "\n");
    assert!(shown.contains("[y/N]"), "the prompt was shown: {shown}");
    assert!(
        shown.contains("restore cancelled; nothing was changed"),
        "{shown}"
    );
    assert_eq!(project.snapshot(), before, "no file written");
}

/// Issue 24: a failure that comes from below says what caused it, one `Caused by:` line
/// each, and is a runtime failure (3), not an answer (1): here `schema --check` cannot
/// read a `stack.schema.json` that is a folder.
#[test]
fn a_failure_from_below_shows_its_causes() {
    let project = TestProject::shipped();
    std::fs::create_dir(project.file("stack.schema.json")).expect("mkdir");
    let out = project.stackgen(&["schema", "--check"]);
    assert_exit(&out, 3);
    assert_eq!(
        stderr(&out).replace(&project.path().display().to_string(), "[PROJECT]"),
        "error: cannot read `[PROJECT]/stack.schema.json`\n  Caused by: Is a directory (os error 21)\n"
    );
}
