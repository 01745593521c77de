//! pipe, pipe2.

use abi::consts::*;
use abi::types::FdPair;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{PipeFlags, UserPtr, UserType};
use super::fd_limit;
use crate::fs::pipe::{Pipe, PipeInode};
use crate::kernel::Task;
use crate::vfs::{FileDescription, KResult};

impl UserType for FdPair {
    fn strace(&self) -> Option<String> {
        Some(format!("[{}, {}]", self.0[0], self.0[1]))
    }
}

fn do_pipe2(t: &Task, pipefd: UserPtr<FdPair>, flags: u32) -> KResult<u64> {
    if flags & !(O_NONBLOCK | O_CLOEXEC | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = Pipe::pair();
    let pipe = r.pipe().clone();
    let creds = t.creds();
    let inode = PipeInode::new(&pipe, creds.fsuid, creds.fsgid);
    let name = format!("pipe:[{}]", pipe.ino()).into_bytes();
    let status = flags & (O_NONBLOCK | O_DIRECT);
    let rd = FileDescription::new_anon(r, Some(inode.clone()), O_RDONLY | status, name.clone());
    let wd = FileDescription::new_anon(w, Some(inode), O_WRONLY | status, name);
    let cloexec = flags & O_CLOEXEC != 0;
    let limit = fd_limit(t);
    let mut fds = t.fds.lock();
    let rfd = fds.insert_from(0, rd, cloexec, limit)?;
    let wfd = match fds.insert_from(0, wd, cloexec, limit) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = fds.remove(rfd);
            return Err(e);
        }
    };
    drop(fds);
    if let Err(e) = pipefd.write(t, &FdPair([rfd, wfd])) {
        let mut fds = t.fds.lock();
        let removed = (fds.remove(rfd), fds.remove(wfd));
        drop(fds);
        drop(removed);
        return Err(e);
    }
    Ok(0)
}

/// A pipe: its read end at `pipefd[0]`, its write end at `pipefd[1]`.
#[syscall]
pub fn pipe(t: &mut Task, pipefd: UserPtr<FdPair>) -> KResult<u64> {
    do_pipe2(t, pipefd, 0)
}

/// `pipe` with `O_NONBLOCK`, `O_CLOEXEC` and `O_DIRECT`.
#[syscall]
pub fn pipe2(t: &mut Task, pipefd: UserPtr<FdPair>, flags: PipeFlags) -> KResult<u64> {
    do_pipe2(t, pipefd, flags.0)
}
