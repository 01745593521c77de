//! Job control on the sandbox's terminal (the host terminal donated as
//! stdio): a process of a background process group of the terminal's
//! session that reads it gets SIGTTIN, and one that writes it with TOSTOP
//! set, or changes its settings, gets SIGTTOU, as Linux's
//! `tty_check_change` and `n_tty_read` do.

use abi::consts::TOSTOP;
use std::sync::atomic::Ordering;

use abi::consts::{SIGTTIN, SIGTTOU};
use abi::Errno;

use crate::kernel::{signal, Task};
use crate::vfs::{FileDescription, KResult};

/// May `t` touch the terminal `f` in the way that raises `sig` (SIGTTIN
/// for a read, SIGTTOU for a write or a settings change) from the
/// background? Ok if it is not a terminal, or `t` is in the foreground or
/// outside the terminal's session. Otherwise the signal goes to `t`'s
/// process group and the call restarts after it (`ERESTARTSYS`); a read
/// with SIGTTIN ignored or blocked fails with `EIO`, a write or change with
/// SIGTTOU ignored or blocked goes ahead.
pub fn job_control(t: &Task, f: &FileDescription, sig: u32) -> KResult<()> {
    if !f.file.is_terminal() || !in_background(t, f) {
        return Ok(());
    }
    let pgid = t.proc_.pgid.load(Ordering::Relaxed);
    let blocked = t.sigmask() & signal::bit(sig) != 0;
    if blocked || t.proc_.action(sig).handler == signal::SIG_IGN {
        return if sig == SIGTTIN { Err(Errno::EIO) } else { Ok(()) };
    }
    t.k.signal_group(pgid, signal::info(sig, signal::SI_KERNEL));
    Err(Errno::ERESTARTSYS)
}

/// A write to terminal `f` from the background raises SIGTTOU only with
/// TOSTOP set.
pub fn write_check(t: &Task, f: &FileDescription) -> KResult<()> {
    // The terminal's modes are asked of the host only for a background
    // writer: a foreground one (the usual case) costs no host call.
    if !f.file.is_terminal() || !in_background(t, f) {
        return Ok(());
    }
    match f.file.terminal_lflag() {
        Some(lflag) if lflag & TOSTOP != 0 => job_control(t, f, SIGTTOU),
        _ => Ok(()),
    }
}

/// `t` is in terminal `f`'s session but not its foreground process group.
fn in_background(t: &Task, f: &FileDescription) -> bool {
    let term = t.k.terminal(terminal_rdev(f));
    t.proc_.sid.load(Ordering::Relaxed) == term.sid().load(Ordering::Relaxed)
        && t.proc_.pgid.load(Ordering::Relaxed) != term.pgrp().load(Ordering::Relaxed)
}

/// The host device number of terminal `f` (a donated host terminal).
pub fn terminal_rdev(f: &FileDescription) -> Option<u64> {
    let fd = f.file.host_fd()?;
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_rdev)
}
