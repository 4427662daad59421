//! `stackgen logs` against the real Docker engine (issue 16): one deploy of the shipped
//! stack under its own project name, then what an operator reads: gunicorn's startup
//! line, `--tail`, every service at once, `--since`, `-f` ended by Ctrl-C, an unknown
//! service, and the stack after `down`. The guard removes everything, pass or fail.
//!
//! It fails (never skips) when the engine is unreachable.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{E2eStack, assert_exit, stderr, stdout};

/// Both streams: compose writes a container's stdout lines to its stdout and its stderr
/// lines (gunicorn's own log) to its stderr.
fn both(out: &std::process::Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn logs_show_what_the_services_wrote_and_say_when_nothing_runs() {
    let stack = E2eStack::new("logs");
    stack.up();

    let all = stack.project.stackgen(&["logs", "hello"]);
    assert_exit(&all, 0);
    assert!(
        both(&all).contains("Listening at: http://0.0.0.0:8000"),
        "gunicorn's startup line:\n{}",
        both(&all)
    );
    assert!(
        both(&all).lines().all(|l| l.starts_with("hello-1")),
        "every line names its container:\n{}",
        both(&all)
    );

    let tail = stack.project.stackgen(&["logs", "--tail", "1", "hello"]);
    assert_exit(&tail, 0);
    let lines = both(&tail).lines().count();
    assert!(
        (1..=2).contains(&lines),
        "--tail 1 of one container: {lines} lines:\n{}",
        both(&tail)
    );

    let every = stack.project.stackgen(&["logs", "--tail", "1"]);
    assert_exit(&every, 0);
    for svc in ["db", "edge", "greeter", "hello"] {
        assert!(
            both(&every)
                .lines()
                .any(|l| l.starts_with(&format!("{svc}-1"))),
            "without SERVICE every service's lines come, {svc}'s too:\n{}",
            both(&every)
        );
    }

    let future = stack
        .project
        .stackgen(&["logs", "--since", "2099-01-01T00:00:00Z", "hello"]);
    assert_exit(&future, 0);
    assert_eq!(both(&future), "", "--since reaches docker");

    follow_ends_cleanly_on_ctrl_c(&stack);

    let unknown = stack.project.stackgen(&["logs", "nosuch"]);
    assert_exit(&unknown, 2);
    assert_eq!(
        stderr(&unknown),
        "error: logs: no service `nosuch` in stack.toml\n  hint: services: db, edge, greeter, hello\n"
    );
    assert_eq!(stdout(&unknown), "");

    assert_exit(&stack.project.stackgen(&["down"]), 0);
    let gone = stack.project.stackgen(&["logs"]);
    assert_exit(&gone, 3);
    assert_eq!(
        stderr(&gone),
        format!(
            "error: no container of stack `{}` runs\nhint: deploy it with `stackgen up`\n",
            stack.name
        )
    );
    assert_eq!(stdout(&gone), "");
}

/// `logs -f` in a process group of its own, as a shell runs a foreground job: once
/// gunicorn's line shows, Ctrl-C (SIGINT to the whole group) ends it with exit 0 and
/// leaves no `docker compose logs` behind.
fn follow_ends_cleanly_on_ctrl_c(stack: &E2eStack) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackgen"))
        .arg("--dir")
        .arg(stack.project.path())
        .args(["logs", "-f", "hello"])
        .env("NO_COLOR", "1")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stackgen logs -f");
    let group = i32::try_from(child.id()).expect("pid");
    let reader = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout")));
    let err = reader(Box::new(child.stderr.take().expect("stderr")));
    // gunicorn's startup lines are old ones: `-f` prints them first, then waits.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "`logs -f` keeps following"
    );
    // SAFETY: kill(2) with a negative pid signals the group we just created.
    assert_eq!(unsafe { libc::kill(-group, libc::SIGINT) }, 0, "SIGINT");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "`logs -f` did not end on Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out.join().expect("stdout"), err.join().expect("stderr"));
    assert_eq!(status.code(), Some(0), "Ctrl-C ends -f with 0:\n{out}{err}");
    assert!(
        format!("{out}{err}").contains("Listening at: http://0.0.0.0:8000"),
        "-f printed the old lines first:\n{out}{err}"
    );
    assert!(!err.contains("error:"), "no error on Ctrl-C:\n{err}");
    // SAFETY: signal 0 only asks whether any process of the group is left.
    let left = unsafe { libc::kill(-group, 0) } == 0;
    assert!(!left, "a process of `logs -f` outlived it");
}
