//! A deploy cut short, under real traffic: `stackgen up` of a changed app is stopped by
//! Ctrl-C on a real terminal or SIGKILL at each stage (its build, compose's pass, the new
//! container starting, the switch, the drain), while `wrk` (64 keep-alive connections, GETs and
//! POSTs, no retries) runs against the app through the edge. `status` then says a deploy
//! was interrupted; the next `up` finishes it: not one request fails across both, one
//! container is left, `status` is clean and the `up` after is the no-op.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::traffic::{APP, Stream, Wrk, write_app};
use common::{E2eStack, assert_exit, docker, stderr, stdout};

/// Runs `up` and stops it once a line containing `at` appears (after `delay`): with
/// `signal` "TTY" by a Ctrl-C typed on a real terminal (a pty, through `script`: the
/// terminal signals the whole foreground group, docker's commands included), else by
/// `kill -s <signal>` of stackgen. Returns everything it wrote and whether it was
/// stopped.
fn up_interrupted(stack: &E2eStack, at: &str, delay: Duration, signal: &str) -> (String, bool) {
    use std::io::Write;
    let exe = env!("CARGO_BIN_EXE_stackgen");
    let dir = stack.project.path().display().to_string();
    let tty = signal == "TTY";
    let mut cmd = if tty {
        let mut c = Command::new("script");
        c.args([
            "-q",
            "-e",
            "-c",
            &format!("'{exe}' --dir '{dir}' up"),
            "/dev/null",
        ])
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        c
    } else {
        let mut c = Command::new(exe);
        c.args(["--dir", &dir, "up"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let mut child = cmd.env("NO_COLOR", "1").spawn().expect("run stackgen up");
    let (tx, rx) = mpsc::channel();
    let out: Box<dyn std::io::Read + Send> = match (child.stdout.take(), child.stderr.take()) {
        (Some(o), _) if tty => Box::new(o),
        (_, Some(e)) => Box::new(e),
        _ => panic!("no output to read"),
    };
    std::thread::spawn(move || {
        for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
            let _ = tx.send(String::from_utf8_lossy(&line).to_string());
        }
    });
    let mut stdin = child.stdin.take();
    let mut said = String::new();
    let mut sent = false;
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                said.push_str(&line);
                said.push('\n');
                if !sent && line.contains(at) {
                    std::thread::sleep(delay);
                    sent = match stdin.as_mut() {
                        Some(terminal) => terminal
                            .write_all(b"\x03")
                            .and_then(|()| terminal.flush())
                            .is_ok(),
                        None => {
                            let pid = child.id().to_string();
                            let ok = Command::new("kill").args(["-s", signal, &pid]).status();
                            ok.is_ok_and(|s| s.success())
                        }
                    };
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(stdin);
    let _ = child.wait();
    (said, sent)
}

fn containers_of(stack: &E2eStack, service: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label=com.docker.compose.project={}", stack.name),
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ]);
    out.lines().map(str::to_string).collect()
}

#[test]
fn an_up_cut_short_at_any_stage_is_finished_by_the_next_up_with_no_failed_request() {
    let stack = E2eStack::new("interrupt");
    write_app(&stack.project);
    stack.project.edit_stack(|text| {
        text.replace("wait_timeout = 120", "wait_timeout = 25")
            + "\n[services.traffic]\nkind = \"python-web\"\nbuild = \"traffic\"\nport = 8000\n\
               publish = 0\ndrain_timeout = 4\nenvironment = { RELEASE = \"0\" }\n"
    });
    let (_, urls) = stack.up();
    let url = urls["traffic"].clone();
    // Each stage of a deploy of a changed app: its build, compose's pass for the
    // others, the new container starting, ready before the switch, the drain.
    let stages = [
        ("building traffic", Duration::from_millis(300)),
        (" Container ", Duration::ZERO),
        (
            "starting a new container beside the old one",
            Duration::ZERO,
        ),
        ("switching over", Duration::ZERO),
        ("switching over", Duration::from_millis(1500)),
    ];
    let mut release = 0;
    for signal in ["TTY", "KILL"] {
        for (at, delay) in stages {
            release += 1;
            let case = format!("{signal} at `{at}` + {delay:?}");
            stack.project.edit_stack(|t| {
                t.replace(
                    &format!("RELEASE = \"{}\"", release - 1),
                    &format!("RELEASE = \"{release}\""),
                )
            });
            // The app's code changes too, so the deploy builds.
            stack
                .project
                .write("traffic/app.py", &format!("{APP}\n# release {release}\n"));
            // A WebSocket keeps the old container draining until its drain timeout.
            let socket = Stream::websocket(&url);
            let load = Wrk::start(&url, 64, 30);
            std::thread::sleep(Duration::from_secs(1));
            let (said, sent) = up_interrupted(&stack, at, delay, signal);
            assert!(sent, "{case}: the signal was sent: {said}");
            // Cut short before it wrote or started anything (the build), nothing
            // changed; else status says what it left.
            let status = stack.project.stackgen(&["status"]);
            if !at.starts_with("building") {
                assert_ne!(status.status.code(), Some(0), "{case}: {}", stdout(&status));
            }
            let two = containers_of(&stack, "traffic").len() == 2;
            assert!(
                two || !at.starts_with("switching"),
                "{case}: a switch cut short leaves two containers"
            );
            let out = stack.project.stackgen(&["up"]);
            assert_exit(&out, 0);
            assert!(
                !two || stderr(&out)
                    .contains("an interrupted deploy left 2 containers; finishing it"),
                "{case}: {}",
                stderr(&out)
            );
            let load = load.finish();
            drop(socket.finish());
            assert!(
                load.requests > 1_000,
                "{case}: the load ran: {}",
                load.output
            );
            assert_eq!(
                load.failed,
                0,
                "{case}: {} of {} requests failed\n{}\ninterrupted up:\n{said}\nnext up:\n{}",
                load.failed,
                load.requests,
                load.output,
                stderr(&out)
            );
            assert_eq!(
                containers_of(&stack, "traffic").len(),
                1,
                "{case}: one container"
            );
            let status = stack.project.stackgen(&["status"]);
            assert_exit(&status, 0);
            let again = stack.project.stackgen(&["up"]);
            assert_exit(&again, 0);
            assert!(
                stderr(&again).contains("nothing changed"),
                "{case}: {}",
                stderr(&again)
            );
        }
    }
}

/// `GET /visits`: the counter the greeter keeps in PostgreSQL.
fn visits(url: &str) -> u64 {
    let (code, body) = common::http("GET", &format!("{url}visits"));
    assert_eq!(code, 200, "{body}");
    body.trim().parse().expect("a count")
}

#[test]
fn a_restore_cut_short_by_ctrl_c_leaves_the_old_rows_or_the_backups_and_nothing_changes_after() {
    let stack = E2eStack::new("restoreint");
    let (_, urls) = stack.up();
    let greeter = urls["greeter"].clone();
    let post = |n: u32| {
        for _ in 0..n {
            assert_eq!(common::http("POST", &format!("{greeter}visits")).0, 200);
        }
    };
    post(3);
    let backup = stack.project.stackgen(&["backup"]);
    assert_exit(&backup, 0);
    let file = stdout(&backup).trim().to_string();
    post(5);
    let (old, backed_up) = (visits(&greeter), 3);
    assert_eq!(old, 8);
    let mut seen = Vec::new();
    for delay_ms in [150u64, 500, 850, 1300, 2500] {
        // Its own process group, as a shell runs a foreground job: the terminal's
        // Ctrl-C goes to the whole group.
        use std::os::unix::process::CommandExt;
        let child = Command::new(env!("CARGO_BIN_EXE_stackgen"))
            .arg("--dir")
            .arg(stack.project.path())
            .args(["restore", "--yes", &file])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("run stackgen restore");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-s", "INT", "--", &group])
            .status();
        let out = child.wait_with_output().expect("wait for restore");
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        let at_prompt = visits(&greeter);
        std::thread::sleep(Duration::from_secs(2));
        let later = visits(&greeter);
        let case = format!(
            "Ctrl-C {delay_ms} ms in (exit {:?}): {said}",
            out.status.code()
        );
        assert_eq!(
            at_prompt, later,
            "{case}: the rows stay as the prompt saw them"
        );
        match at_prompt {
            n if n == old => assert!(
                out.status.code() != Some(0) && !said.contains("restored `db`"),
                "{case}: the old rows, and no claim of a restore"
            ),
            n if n == backed_up => {
                assert!(said.contains("restored `db`"), "{case}: said so");
                post(5);
            }
            n => panic!("{case}: {n} rows: neither the old ones nor the backup's"),
        }
        if said.contains("finished first") {
            assert_eq!(out.status.code(), Some(130), "{case}");
            assert_eq!(at_prompt, backed_up, "{case}");
        }
        eprintln!("{case}");
        seen.push((delay_ms, at_prompt == backed_up));
    }
    eprintln!("restored after Ctrl-C at (ms, restored): {seen:?}");
}

/// `stackgen <args>` in a process group of its own (a shell's foreground job), sent
/// Ctrl-C (SIGINT to the group, as a terminal does) after `delay`.
fn ctrl_c_after(stack: &E2eStack, args: &[&str], delay: Duration) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let child = Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(stack.project.path())
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run stackgen");
    std::thread::sleep(delay);
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-s", "INT", "--", &group])
        .status();
    child.wait_with_output().expect("wait for stackgen")
}

#[test]
fn a_rotation_or_a_backup_cut_short_by_ctrl_c_finishes_and_locks_no_app_out() {
    let stack = E2eStack::new("rotateint");
    let (_, urls) = stack.up();
    let visits = format!("{}visits", urls["greeter"]);
    for delay_ms in [300u64, 1500, 4000] {
        let out = ctrl_c_after(
            &stack,
            &["secrets", "rotate", "db_password"],
            Duration::from_millis(delay_ms),
        );
        let said = stderr(&out);
        let case = format!(
            "rotate, Ctrl-C {delay_ms} ms in (exit {:?}): {said}",
            out.status.code()
        );
        if said.contains("wrote .stackgen/secrets") {
            assert_eq!(
                out.status.code().map(|c| c == 0 || c == 130),
                Some(true),
                "{case}"
            );
            assert!(
                said.contains("rotated `db_password`"),
                "{case}: it finished"
            );
        }
        eprintln!("{case}");
        assert_eq!(
            common::http("POST", &visits).0,
            200,
            "{case}: the greeter is not locked out"
        );
        let up = stack.project.stackgen(&["up"]);
        assert_exit(&up, 0);
        assert_eq!(common::http("POST", &visits).0, 200, "{case}: after up");
    }
    let out = ctrl_c_after(&stack, &["backup"], Duration::from_millis(400));
    let file = stdout(&out).trim().to_string();
    if !file.is_empty() {
        let text = std::fs::read(&file).expect("the backup file");
        assert!(text.len() > 100, "a whole backup: {file}");
        assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
        assert!(stderr(&out).contains("finished first"), "{}", stderr(&out));
    }
}
