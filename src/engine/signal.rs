//! The signals between stackgen and the `docker` processes it starts, and the only
//! `unsafe` code of the engine (used by [`super::docker`]'s process runner, and by the
//! commands that must not stop half way or run until told to stop): each child dies with stackgen (`PR_SET_PDEATHSIG`), and
//! while commands stream to the terminal, Ctrl-C is noted instead of ending stackgen and
//! passed on to them.

use std::sync::atomic::{AtomicBool, Ordering};

/// Makes the command's process get SIGTERM when stackgen dies. Without this, `kill -9`
/// of stackgen would leave its `docker compose up` or `docker build` running on, racing
/// the next `stackgen up` once the deploy lock is free.
pub(crate) fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Sends SIGINT to `pid`, a child stackgen started and has not reaped yet.
pub(crate) fn interrupt(pid: u32) {
    // SAFETY: kill(2) of a child we started and have not reaped yet, so its pid cannot
    // have been reused.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the children started now get a process group of their own, out of the
/// terminal's reach: its Ctrl-C then stops none of them, only stackgen hears it.
static SHIELDED: AtomicBool = AtomicBool::new(false);

/// Puts the command's process in a group of its own while a [`Shield`] lives.
pub(crate) fn own_group_if_shielded(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    if SHIELDED.load(Ordering::SeqCst) {
        cmd.process_group(0);
    }
}

/// While it lives, Ctrl-C neither ends stackgen nor reaches the `docker` commands it
/// starts (a group of their own): work that must not stop half way (a restore, whose
/// one-off container would replace the data after stackgen returned) runs to its end,
/// and the caller asks [`Shield::interrupted`] between steps.
pub struct Shield {
    noted: SigintNoted,
}

impl Shield {
    pub fn install() -> Shield {
        let noted = SigintNoted::install();
        SHIELDED.store(true, Ordering::SeqCst);
        Shield { noted }
    }

    /// Whether Ctrl-C came since it was installed.
    pub fn interrupted(&self) -> bool {
        self.noted.interrupted()
    }
}

impl Drop for Shield {
    fn drop(&mut self) {
        SHIELDED.store(false, Ordering::SeqCst);
    }
}

extern "C" fn note_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While it lives, SIGINT is noted instead of ending stackgen; dropped, the handler
/// before it is back. A handler rather than `SIG_IGN`: `exec` resets a handler to the
/// default in the children, while an ignored signal would stay ignored there. Where
/// SIGINT is ignored already (a background job of a script, `nohup`), it stays so.
pub(crate) struct SigintNoted {
    old: Option<libc::sigaction>,
}

impl SigintNoted {
    pub(crate) fn install() -> SigintNoted {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: sigaction is given valid, zero-initialised structs; the handler only
        // stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                return SigintNoted { old: None };
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = note_interrupt as extern "C" fn(libc::c_int) as usize;
            new.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            let ok = libc::sigaction(libc::SIGINT, &new, &mut old) == 0;
            SigintNoted {
                old: ok.then_some(old),
            }
        }
    }

    pub(crate) fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

impl Drop for SigintNoted {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            // SAFETY: puts back the disposition sigaction reported, unchanged.
            unsafe {
                libc::sigaction(libc::SIGINT, old, std::ptr::null_mut());
            }
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn note_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// For a long-running loop (`watch`): SIGTERM and SIGINT are noted instead of ending
/// stackgen, so the loop finishes what it does and stops cleanly. Lives as long as
/// the process.
pub struct StopRequested;

impl StopRequested {
    pub fn install() -> StopRequested {
        STOP.store(false, Ordering::SeqCst);
        // SAFETY: sigaction is given valid, zero-initialised structs; the handler only
        // stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = note_stop as extern "C" fn(libc::c_int) as usize;
            new.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            for signal in [libc::SIGTERM, libc::SIGINT] {
                libc::sigaction(signal, &new, std::ptr::null_mut());
            }
        }
        StopRequested
    }

    /// Whether SIGTERM or SIGINT came.
    pub fn requested(&self) -> bool {
        STOP.load(Ordering::SeqCst)
    }
}
