//! Ctrl-C and SIGTERM for the whole process: by default they end mailsync at once with the shell's code
//! (130 for SIGINT, 143 for SIGTERM); code that has something to finish or to stop first (a sync committing
//! what it fetched, a password command to kill) holds a [`Watch`] and looks at [`interrupted`] instead.
//!
//! Owns the process's handlers for SIGINT and SIGTERM (through signal-hook's registry, which the async
//! runtime's own `ctrl_c` shares). Must never: leave a signal ignored (without a watch, the default is
//! emulated: the process exits), or do anything in a handler but set flags and exit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};

/// The process's signal state.
struct State {
    /// Set by the first SIGINT or SIGTERM.
    interrupted: Arc<AtomicBool>,
    /// True while nobody watches: the handlers then end the process.
    unwatched: Arc<AtomicBool>,
    watchers: AtomicUsize,
    lock: Mutex<()>,
}

static STATE: OnceLock<State> = OnceLock::new();

/// Installs the handlers (once, early in `main`).
pub fn install() {
    let state = STATE.get_or_init(|| State {
        interrupted: Arc::new(AtomicBool::new(false)),
        unwatched: Arc::new(AtomicBool::new(true)),
        watchers: AtomicUsize::new(0),
        lock: Mutex::new(()),
    });
    for (signal, code) in [(SIGINT, 130), (SIGTERM, 143)] {
        // The exit first: it sees the watch state as it was when the signal came.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, code, state.unwatched.clone());
        let _ = signal_hook::flag::register(signal, state.interrupted.clone());
    }
}

/// Whether SIGINT or SIGTERM arrived (while someone watched).
pub fn interrupted() -> bool {
    STATE.get().is_some_and(|s| s.interrupted.load(Ordering::SeqCst))
}

/// While it lives, SIGINT and SIGTERM only set [`interrupted`]; the holder must act on it.
#[derive(Debug)]
pub struct Watch(());

impl Watch {
    /// Starts watching.
    pub fn new() -> Watch {
        if let Some(s) = STATE.get() {
            let _g = s.lock.lock();
            s.watchers.fetch_add(1, Ordering::SeqCst);
            s.unwatched.store(false, Ordering::SeqCst);
        }
        Watch(())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(s) = STATE.get() {
            let _g = s.lock.lock();
            if s.watchers.fetch_sub(1, Ordering::SeqCst) == 1 {
                s.unwatched.store(true, Ordering::SeqCst);
            }
        }
    }
}
