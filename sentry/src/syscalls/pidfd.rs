//! Process file descriptors: `pidfd_open`, `pidfd_send_signal`, and the
//! pidfd `CLONE_PIDFD` returns. A pidfd polls readable once the process
//! has exited.

use std::any::Any;
use std::sync::Arc;

use abi::consts::*;
use abi::types::Siginfo;
use abi::Errno;

use super::{file_of, int_arg};
use crate::kernel::waiter::WaitQueue;
use crate::kernel::{signal, Process, Task};
use crate::vfs::{lock, FileDescription, FileOps, KResult};

/// The open file of a pidfd.
pub struct PidFd {
    pub process: Arc<Process>,
}

impl FileOps for PidFd {
    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self) -> u32 {
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
    lock(&t.fds).insert_from(0, desc, true, limit)
}

pub fn pidfd_open(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    let flags = a[1] as u32;
    if pid <= 0 || flags & !O_NONBLOCK != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.k.process(pid).ok_or(Errno::ESRCH)?;
    install(t, &p, flags).map(|fd| fd as u64)
}

pub fn pidfd_send_signal(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, int_arg(a[0]))?;
    let p = process_of(&f).ok_or(Errno::EBADF)?;
    let sig = int_arg(a[1]);
    if a[3] != 0 || !(0..=NSIG as i32).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    if p.is_zombie() {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = if a[2] != 0 {
        let mut i: Siginfo = t.read_val(a[2])?;
        i.si_signo = sig;
        i
    } else {
        signal::info_from(sig as u32, signal::SI_USER, t.pid(), t.creds().uid)
    };
    t.k.signal_process(&p, info);
    Ok(0)
}
