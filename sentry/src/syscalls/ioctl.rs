//! ioctl, as Linux's fs/ioctl.c.

use std::sync::atomic::Ordering;

use abi::consts::*;
use abi::types::Winsize;
use abi::Errno;
use zerocopy::AsBytes;

use sentry_macros::syscall;

use super::args::{Call, Fd, IoctlReq, SysArg, UserBytes, UserPtr};
use super::file_of;
use crate::kernel::Task;
use crate::vfs::{KResult, UserMem};

/// `UserMem` over a task, for `ioctl` handlers.
pub struct TaskMem<'a>(pub &'a Task);

impl UserMem for TaskMem<'_> {
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        UserBytes::new(addr).read_into(self.0, buf)
    }
    fn write_bytes(&self, addr: u64, buf: &[u8]) -> KResult<()> {
        UserBytes::new(addr).write(self.0, buf)
    }
}

/// A `UserMem` over one sentry-side value, for asking a file an ioctl
/// whose answer the sentry only needs to know succeeded.
struct ScratchMem<'a>(&'a mut abi::types::Termios);

impl UserMem for ScratchMem<'_> {
    fn read_bytes(&self, _addr: u64, buf: &mut [u8]) -> KResult<()> {
        let src = self.0.as_bytes();
        let n = buf.len().min(src.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(())
    }
    fn write_bytes(&self, _addr: u64, _buf: &[u8]) -> KResult<()> {
        Ok(())
    }
}

/// `ioctl`'s third argument, whose meaning is the request's (argument 1):
/// the `int` the request points at shown as strace does (`[1]`), a window
/// size decoded, left out for the requests that take none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlArg(u64);

impl SysArg for IoctlArg {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(IoctlArg(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let arg = c.raw[i];
        let failed = matches!(c.result, Some(Err(_)));
        match c.raw[1] as u32 {
            FIOCLEX | FIONCLEX => String::new(),
            TIOCGWINSZ | TIOCSWINSZ => <UserPtr<Winsize> as SysArg>::strace(c, i),
            FIONBIO | FIOASYNC | FIONREAD | TIOCGPGRP | TIOCSPGRP | TIOCGSID if !failed => {
                match UserPtr::<i32>::new(arg).read(c.t) {
                    Ok(v) => format!("[{v}]"),
                    Err(_) => format!("{arg:#x}"),
                }
            }
            _ => format!("{arg:#x}"),
        }
    }
}

/// Device-specific requests on `fd`: the descriptor flags and non-blocking
/// mode here, the terminal's process group and session from the sandbox's
/// own job control, readable bytes of files that know them; the rest go to
/// the file, which decodes `arg` itself.
#[syscall]
pub fn ioctl(t: &mut Task, fd: Fd, request: IoctlReq, arg: IoctlArg) -> KResult<u64> {
    let (fd, req) = (fd.0, request.0);
    let f = file_of(t, fd)?;
    // Changing a terminal's settings from the background raises SIGTTOU.
    if matches!(req, TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ | TIOCSPGRP) {
        super::tty::job_control(t, &f, SIGTTOU)?;
    }
    if let Some(r) = super::tty::pty_ioctl(t, &f, req, arg.0) {
        return r;
    }
    let int_ptr = UserPtr::<i32>::new(arg.0);
    match req {
        FIOCLEX => t.fds.lock().set_cloexec(fd, true).map(|_| 0),
        FIONCLEX => t.fds.lock().set_cloexec(fd, false).map(|_| 0),
        FIONBIO => {
            let on = int_ptr.read(t)?;
            let fl = f.flags();
            f.set_status_flags(if on != 0 { fl | O_NONBLOCK } else { fl & !O_NONBLOCK });
            f.file.set_status_flags(f.flags())?;
            Ok(0)
        }
        // `O_ASYNC` on or off, as `F_SETFL` (fs/fasync.rs).
        FIOASYNC => {
            let on = int_ptr.read(t)? != 0;
            let fl = f.flags();
            f.set_status_flags(if on { fl | O_ASYNC } else { fl & !O_ASYNC });
            crate::fs::fasync::set(&t.k, &f, on);
            Ok(0)
        }

        // The terminal's foreground process group and session are the
        // sandbox's own (the host's numbers mean nothing inside); the
        // terminal itself answers whether it is one (TCGETS).
        TIOCGPGRP | TIOCSPGRP | TIOCGSID => {
            let mut probe = abi::types::Termios::default();
            let scratch = ScratchMem(&mut probe);
            f.file.ioctl(TCGETS, 0, &scratch)?;
            let term = super::tty::terminal_of(t, &f);
            match req {
                TIOCGPGRP => int_ptr.write(t, &term.pgrp().load(Ordering::Relaxed))?,
                TIOCGSID => int_ptr.write(t, &term.sid().load(Ordering::Relaxed))?,
                _ => {
                    let g = int_ptr.read(t)?;
                    if g < 0 {
                        return Err(Errno::EINVAL);
                    }
                    let exists = t.k.all_processes().iter().any(|p| p.pgid.load(Ordering::Relaxed) == g);
                    if !exists {
                        return Err(Errno::ESRCH);
                    }
                    term.pgrp().store(g, Ordering::Relaxed);
                }
            }
            Ok(0)
        }
        FIONREAD => {
            let n = match f.file.readable_bytes() {
                Some(n) => n,
                None => {
                    let is_reg = f.inode.as_ref().and_then(|i| i.attr().ok()).is_some_and(|a| a.is_regular());
                    if is_reg {
                        let size = f.inode.as_ref().and_then(|i| i.attr().ok()).map_or(0, |a| a.size);
                        size.saturating_sub(*f.offset())
                    } else {
                        return f.file.ioctl(req, arg.0, &TaskMem(t));
                    }
                }
            };
            int_ptr.write(t, &i32::try_from(n).unwrap_or(i32::MAX))?;
            Ok(0)
        }
        _ => f.file.ioctl(req, arg.0, &TaskMem(t)),
    }
}
