//! Signal dispositions, which nix marks unsafe in every form (a handler
//! runs asynchronously) and rustix does not offer. Only dispositions that
//! run no Rust code are set here: ignoring, and a handler that returns at
//! once, for signals that are blocked and read from a signalfd.

#![allow(unsafe_code)]

use std::io;

use nix::sys::signal::{sigaction, signal, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Ignore `sig`.
pub fn ignore(sig: Signal) -> io::Result<()> {
    // SAFETY: SIG_IGN runs no code on the signal.
    unsafe { signal(sig, SigHandler::SigIgn) }.map(drop).map_err(io::Error::from)
}

extern "C" fn returns(_sig: libc::c_int) {}

/// Give `sig` a handler that does nothing, so that the signal is neither
/// ignored nor fatal: an init of a pid namespace (the sentry) is sent only
/// the signals it handles, and the caller blocks `sig` and reads it from a
/// signalfd, so the handler never runs.
pub fn catch(sig: Signal) -> io::Result<()> {
    let act = SigAction::new(SigHandler::Handler(returns), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler touches nothing and returns, which is
    // async-signal-safe.
    unsafe { sigaction(sig, &act) }.map(drop).map_err(io::Error::from)
}
