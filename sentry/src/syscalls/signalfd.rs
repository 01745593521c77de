//! `signalfd4`: pending signals read as `struct signalfd_siginfo`.

use abi::types::SignalfdSiginfo;
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use abi::consts::*;
use abi::types::Siginfo;
use abi::Errno;
use zerocopy::AsBytes;

use sentry_macros::syscall;

use super::args::{SignalfdFlags, UserPtr};
use super::signal::{SigSet, SIGSET_SIZE};
use super::{file_of, install_anon};
use crate::kernel::signal::UNBLOCKABLE;
use crate::kernel::waiter::WaitQueue;
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{FileOps, KResult};

/// A signalfd: reads take signals in `mask` pending for the reading thread
/// or its process.
pub struct SignalFd {
    mask: AtomicU64,
    wq: WaitQueue,
}

/// Take one signal in `mask` pending for the reading thread or its process.
fn take(cx: Caller<'_>, mask: u64) -> Option<Siginfo> {
    let th = cx.thread()?;
    let p = th.process.upgrade()?;
    let block = !mask;
    let i = th.pending.lock().take(block).or_else(|| p.pending.lock().take(block));
    i
}

fn convert(i: &Siginfo) -> SignalfdSiginfo {
    SignalfdSiginfo {
        signo: i.si_signo as u32,
        errno: i.si_errno,
        code: i.si_code,
        pid: i.fields[0] as u32,
        uid: (i.fields[0] >> 32) as u32,
        status: i.fields[1] as i32,
        int: i.fields[1] as i32,
        ptr: i.fields[1],
        addr: i.fields[0],
        ..Default::default()
    }
}

impl FileOps for SignalFd {
    fn read(&self, cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        let sz = std::mem::size_of::<SignalfdSiginfo>();
        if buf.len() < sz {
            return Err(Errno::EINVAL);
        }
        let mask = self.mask.load(Ordering::Relaxed);
        let mut n = 0;
        while n + sz <= buf.len() {
            let Some(i) = take(cx, mask) else { break };
            buf[n..n + sz].copy_from_slice(convert(&i).as_bytes());
            n += sz;
        }
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        Ok(n)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, cx: Caller<'_>) -> u32 {
        let mask = self.mask.load(Ordering::Relaxed);
        let pending = cx
            .thread()
            .map(|th| {
                let p = th.process.upgrade().map_or(0, |p| p.pending.lock().set);
                th.pending.lock().set | p
            })
            .unwrap_or(0);
        if pending & mask != 0 {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        // Arriving signals wake the target thread's waiter directly.
        Some(&self.wq)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Create a signalfd for `mask` (`fd` -1) or change the mask of signalfd
/// `fd`.
fn do_signalfd(t: &Task, fd: i32, mask: UserPtr<SigSet>, sizemask: usize, flags: u32) -> KResult<u64> {
    if sizemask != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask = mask.read(t)?.0 & !UNBLOCKABLE;
    if fd != -1 {
        let f = file_of(t, fd)?;
        let s = f.file.as_any().downcast_ref::<SignalFd>().ok_or(Errno::EINVAL)?;
        s.mask.store(mask, Ordering::Relaxed);
        return u64::try_from(fd).map_err(|_| Errno::EBADF);
    }
    let file = Arc::new(SignalFd { mask: AtomicU64::new(mask), wq: WaitQueue::default() });
    install_anon(t, file, flags, "[signalfd]")
}

/// A descriptor that reads the signals of `mask` pending for the reader;
/// `fd` other than -1 changes an existing one's mask. `fd` is a C `int`
/// (only its low half counts, so -1 as 32 bits is -1).
#[syscall]
pub fn signalfd4(t: &mut Task, fd: i32, mask: UserPtr<SigSet>, sizemask: usize, flags: SignalfdFlags) -> KResult<u64> {
    do_signalfd(t, fd, mask, sizemask, flags.0)
}

/// `signalfd4` without flags.
#[syscall]
pub fn signalfd(t: &mut Task, fd: i32, mask: UserPtr<SigSet>, sizemask: usize) -> KResult<u64> {
    do_signalfd(t, fd, mask, sizemask, 0)
}
