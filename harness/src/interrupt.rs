//! Ctrl-C and SIGTERM during a simulated run: stop between two simulation
//! steps and report what was measured so far, instead of dying with no report.
//!
//! The simulator runs on the calling thread and never awaits a signal, so the
//! CLI installs [`install`] before a simulated run: the handler only sets a
//! flag, and `sim::run` polls [`requested`] between steps (one relaxed atomic
//! load). A second signal while the first is being handled ends the process
//! at once with the shell's usual code (128 + the signal), for a run that
//! does not stop quickly enough. The Docker backend has its own handling
//! (tokio's signal streams, then healing): do not install this for it.
//!
//! A library user who never calls [`install`] gets the default behaviour:
//! [`requested`] stays false and the signal kills the process.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a Ctrl-C or SIGTERM arrived since [`install`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Asks the running simulation to stop, as a signal would (for tests and
/// embedders that have their own way to cancel).
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

extern "C" fn on_signal(signal: libc::c_int) {
    if REQUESTED.swap(true, Ordering::Relaxed) {
        // Only async-signal-safe calls here: `_exit` is one.
        unsafe { libc::_exit(128 + signal) };
    }
}

/// Routes SIGINT and SIGTERM to the flag [`requested`] reads. Returns an
/// error when the handler cannot be installed (the signals then keep their
/// default effect).
pub fn install() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` only touches an atomic and calls `_exit`, both
        // async-signal-safe; the zeroed `sigaction` is then filled in fully.
        let ok = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if ok != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
