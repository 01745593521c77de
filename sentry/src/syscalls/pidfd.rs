//! Process file descriptors: `pidfd_open`, `pidfd_send_signal`, and the
//! pidfd `CLONE_PIDFD` returns. A pidfd polls readable once the process
//! has exited.

use std::any::Any;
use std::sync::Arc;

use abi::consts::*;
use abi::types::Siginfo;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{Signal, UserPtr};
use super::file_of;
use crate::kernel::waiter::WaitQueue;
use crate::kernel::{signal, Process, Task};
use crate::vfs::Caller;
use crate::vfs::{FileDescription, FileOps, KResult};

/// The open file of a pidfd.
pub struct PidFd {
    pub process: Arc<Process>,
}

impl FileOps for PidFd {
    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, _cx: Caller<'_>) -> u32 {
        if self.process.is_zombie() {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.process.exit_wq)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The process of a pidfd description.
pub fn process_of(f: &FileDescription) -> Option<Arc<Process>> {
    f.file.as_any().downcast_ref::<PidFd>().map(|p| p.process.clone())
}

/// Install a pidfd for `p`.
pub fn install(t: &Task, p: &Arc<Process>, flags: u32) -> KResult<i32> {
    let desc = FileDescription::new_anon(
        Arc::new(PidFd { process: p.clone() }),
        None,
        O_RDWR | (flags & O_NONBLOCK),
        b"anon_inode:[pidfd]".to_vec(),
    );
    let limit = t.rlimit(RLIMIT_NOFILE).rlim_cur.min(1 << 20) as i32;
    t.fds.lock().insert_from(0, desc, true, limit)
}

super::args::named_arg!(/// `pidfd_open` flags (`PIDFD_NONBLOCK`).
    PidfdFlags(u32), |v| super::args::flag_str::<abi::flags::PidfdFlags>(v, "0"));

/// A descriptor that refers to process `pid`.
#[syscall]
pub fn pidfd_open(t: &mut Task, pid: i32, flags: PidfdFlags) -> KResult<u64> {
    let flags = flags.0;
    if pid <= 0 || flags & !O_NONBLOCK != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.k.process(pid).ok_or(Errno::ESRCH)?;
    install(t, &p, flags).map(|fd| fd as u64)
}

/// Send signal `sig` to the process a pidfd refers to, with the `siginfo`
/// at `info` when given.
#[syscall]
pub fn pidfd_send_signal(t: &mut Task, pidfd: i32, sig: Signal, info: UserPtr<Siginfo>, flags: u32) -> KResult<u64> {
    let f = file_of(t, pidfd)?;
    let p = process_of(&f).ok_or(Errno::EBADF)?;
    let sig = sig.0;
    if flags != 0 || !(0..=NSIG as i32).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    if p.is_zombie() {
        return Err(Errno::ESRCH);
    }
    if !super::signal::may_signal(t, &p, sig.unsigned_abs()) {
        return Err(Errno::EPERM);
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = match info.read_opt(t)? {
        Some(mut i) => {
            i.si_signo = sig;
            i
        }
        None => signal::info_from(sig as u32, signal::SI_USER, t.pid(), t.creds().uid),
    };
    t.k.signal_process(&p, info);
    Ok(0)
}
