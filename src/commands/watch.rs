//! `stackgen watch`: a long-running loop for a service manager. Every `--interval`
//! seconds it asks what users reach (`status`'s probes: milliseconds, no process) and,
//! when a service does not serve, heals it as `heal` does. It never acts while another
//! stackgen holds the deploy lock (it tries the lock without waiting and checks again
//! next round); after a heal that failed it waits twice as long each time (at most
//! [`MAX_BACKOFF`]) before it tries again. SIGTERM or Ctrl-C ends it between two steps,
//! with exit 0.
//!
//! `--print` prints a systemd unit that runs it; `--install` writes that unit for the
//! user's service manager and says how to enable it (stackgen does not run systemctl).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::cli::{LockArgs, WatchArgs};
use crate::commands::context::{self, Context};
use crate::commands::heal::{self, Healed};
use crate::engine::signal::StopRequested;
use crate::error::Exit;
use crate::output;
use crate::stack::Stack;
use crate::state::generations::now_rfc3339;
use crate::targets::{self, EngineUse, Target};

/// The longest wait after failed heals.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub fn run(ctx: &Context, args: &WatchArgs) -> Result<Exit> {
    let stack = Stack::load(ctx.dir)?;
    if args.print || args.install {
        return unit_file(&stack, args);
    }
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::DeployTool)?;
    let stop = StopRequested::install();
    let interval = Duration::from_secs(args.interval.max(1));
    log(format_args!(
        "watching stack `{}` every {}s",
        stack.name,
        interval.as_secs()
    ));
    let mut wait = interval;
    let mut was_broken = false;
    while !stop.requested() {
        match round(&stack, target.as_ref(), &mut was_broken) {
            Ok(()) => wait = interval,
            Err(e) => {
                wait = (wait * 2).min(MAX_BACKOFF).max(interval);
                log(format_args!(
                    "heal failed: {}; trying again in {}s",
                    crate::error::Error::from(e),
                    wait.as_secs()
                ));
            }
        }
        pause(&stop, wait);
    }
    log(format_args!("stopped"));
    Ok(Exit::Success)
}

/// One check, and a heal when something does not serve and the lock is free.
fn round(stack: &Stack, target: &dyn Target, was_broken: &mut bool) -> Result<()> {
    let faults = heal::faults(target)?;
    if faults.is_empty() {
        if std::mem::take(was_broken) {
            log(format_args!("every service serves"));
        }
        return Ok(());
    }
    *was_broken = true;
    log(format_args!("found: {}", faults.join("; ")));
    let Ok(_lock) = context::lock(stack, LockArgs { lock_timeout: 0 }) else {
        log(format_args!(
            "another stackgen holds the deploy lock; not acting, checking again next round"
        ));
        return Ok(());
    };
    // What the lock's holder did may have healed it already.
    let faults = heal::faults(target)?;
    if let Healed::Done(said) = heal::heal(stack, target, &faults)? {
        log(format_args!("{said}"));
    }
    Ok(())
}

fn log(what: std::fmt::Arguments) {
    output::note(format_args!("{} watch: {what}", now_rfc3339()));
}

/// Sleeps `wait`, waking early for a stop.
fn pause(stop: &StopRequested, wait: Duration) {
    let until = Instant::now() + wait;
    while !stop.requested() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--print`: the unit on stdout. `--install`: written for the user's systemd.
fn unit_file(stack: &Stack, args: &WatchArgs) -> Result<Exit> {
    let exe = std::env::current_exe().context("where this stackgen is")?;
    let dir = std::fs::canonicalize(&stack.root).unwrap_or_else(|_| stack.root.clone());
    let text = unit(&stack.name, &exe, &dir, args.interval);
    if args.print {
        print!("{text}");
        return Ok(Exit::Success);
    }
    let name = format!("stackgen-watch-{}.service", stack.name);
    let home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .context("neither XDG_CONFIG_HOME nor HOME is set")?;
    let path = home.join("systemd/user").join(&name);
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    output::note(format_args!(
        "wrote {}; enable it with `systemctl --user daemon-reload && systemctl --user enable --now {name}` \
         (and `loginctl enable-linger $USER` to keep it running after you log out)",
        path.display()
    ));
    Ok(Exit::Success)
}

/// The systemd unit that runs `exe watch` on the project at `dir`.
fn unit(name: &str, exe: &Path, dir: &Path, interval: u64) -> String {
    let quote = |p: &Path| format!("\"{}\"", p.display().to_string().replace('"', "\\\""));
    format!(
        "[Unit]\n\
         Description=stackgen watch: heal stack {name} when a service stops serving\n\
         After=docker.service network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         WorkingDirectory={dir}\n\
         ExecStart={exe} --dir {dir} watch --interval {interval}\n\
         Restart=on-failure\n\
         RestartSec=10\n\
         # SIGTERM to stackgen alone: a heal under way finishes, then it stops.\n\
         KillMode=mixed\n\
         TimeoutStopSec=300\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        dir = quote(dir),
        exe = quote(exe),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_this_binary_on_the_project_and_stops_it_gently() {
        let text = unit(
            "shop",
            Path::new("/usr/local/bin/stackgen"),
            Path::new("/srv/my shop"),
            15,
        );
        assert!(text.contains(
            "ExecStart=\"/usr/local/bin/stackgen\" --dir \"/srv/my shop\" watch --interval 15\n"
        ));
        assert!(text.contains("WorkingDirectory=\"/srv/my shop\"\n"));
        assert!(text.contains("KillMode=mixed\n"));
        assert!(text.contains("WantedBy=default.target\n"));
    }
}
