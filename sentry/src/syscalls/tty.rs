//! Job control on the sandbox's terminals (the host terminal donated as
//! stdio, an exec'd session's, a pty allocated inside): a process of a
//! background process group of the terminal's session that reads it gets
//! SIGTTIN, and one that writes it with TOSTOP set, or changes its
//! settings, gets SIGTTOU, as Linux's `tty_check_change` and `n_tty_read`
//! do. The requests that need the caller's session (`TIOCSCTTY`,
//! `TIOCSPGRP`, ...) on a pty are answered here too.

use abi::consts::TOSTOP;
use std::sync::atomic::Ordering;

use abi::consts::*;
use abi::Errno;

use super::args::UserPtr;
use crate::fs::pty::{self, Side};
use crate::kernel::{signal, Task, TermCtl};
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

/// `t` is in terminal `f`'s session but not its foreground process group
/// (a pty's master is no one's terminal).
fn in_background(t: &Task, f: &FileDescription) -> bool {
    if pty::pty_of(&*f.file).is_some_and(|(_, side)| side == Side::Master) {
        return false;
    }
    let term = terminal_of(t, f);
    t.proc_.sid.load(Ordering::Relaxed) == term.sid().load(Ordering::Relaxed)
        && t.proc_.pgid.load(Ordering::Relaxed) != term.pgrp().load(Ordering::Relaxed)
}

/// The host device number of terminal `f` (a donated host terminal).
pub fn terminal_rdev(f: &FileDescription) -> Option<u64> {
    let fd = f.file.host_fd()?;
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_rdev)
}

/// The job control of terminal `f`: a pty's own, or a host terminal's.
pub fn terminal_of<'a>(t: &'a Task, f: &FileDescription) -> TermCtl<'a> {
    match pty::pty_of(&*f.file) {
        Some((p, _)) => TermCtl::Own(p.jc.clone()),
        None => t.k.terminal(|| terminal_rdev(f)),
    }
}

/// The requests on a pty (either side) that need the caller: `None` for
/// other files and requests, which the file answers.
pub fn pty_ioctl(t: &Task, f: &FileDescription, req: u32, arg: u64) -> Option<KResult<u64>> {
    let (p, side) = pty::pty_of(&*f.file)?;
    let sid = t.proc_.sid.load(Ordering::Relaxed);
    let ours = p.jc.sid.load(Ordering::Relaxed) == sid;
    let int_ptr = UserPtr::<i32>::new(arg);
    let r = match req {
        TIOCSCTTY => {
            let steal = arg == 1 && t.creds().capable(CAP_SYS_ADMIN);
            if !f.readable() && !t.creds().capable(CAP_SYS_ADMIN) {
                return Some(Err(Errno::EPERM));
            }
            pty::set_controlling(&t.k, &p, &t.proc_, steal).map(|()| 0)
        }
        TIOCNOTTY if side == Side::Slave && ours => {
            pty::give_up(&t.k, &p, &t.proc_);
            Ok(0)
        }
        TIOCNOTTY => Err(Errno::ENOTTY),
        // On the slave, only the caller's controlling terminal answers.
        TIOCGPGRP | TIOCGSID if side == Side::Slave && !ours => Err(Errno::ENOTTY),
        TIOCGPGRP => int_ptr.write(t, &p.jc.pgrp.load(Ordering::Relaxed)).map(|()| 0),
        TIOCGSID => match p.jc.sid.load(Ordering::Relaxed) {
            0 => Err(Errno::ENOTTY),
            s => int_ptr.write(t, &s).map(|()| 0),
        },
        TIOCSPGRP if !ours => Err(Errno::ENOTTY),
        TIOCSPGRP => int_ptr.read(t).and_then(|g| {
            if g < 0 {
                return Err(Errno::EINVAL);
            }
            let group: Vec<_> =
                t.k.all_processes().into_iter().filter(|q| q.pgid.load(Ordering::Relaxed) == g).collect();
            if group.is_empty() {
                return Err(Errno::ESRCH);
            }
            if group.iter().any(|q| q.sid.load(Ordering::Relaxed) != sid) {
                return Err(Errno::EPERM);
            }
            p.jc.pgrp.store(g, Ordering::Relaxed);
            Ok(0)
        }),
        // A descriptor of the slave, opened through its name.
        TIOCGPTPEER if side == Side::Master => {
            let Ok(flags) = u32::try_from(arg) else { return Some(Err(Errno::EINVAL)) };
            let path = format!("/dev/pts/{}", p.number);
            super::open::do_open(t, AT_FDCWD, path.as_bytes(), flags & !(O_CREAT | O_TMPFILE), 0).map(|fd| fd as u64)
        }
        _ => return None,
    };
    Some(r)
}
