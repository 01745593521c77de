//! The one table from system call number to handler and argument formats.
//! Dispatch and `--strace` are both driven by it, so they never disagree.

use std::io::Write;
use std::sync::OnceLock;

use abi::sysno::*;
use abi::Errno;

use super::args::{Call, Entry, Hex, Printer, RetKind, SysArg};
use super::{
    copy, creds, d_path, epoll, eventfd, fadvise, fcntl, fhandle, file, futex, inotify, ioctl, lock as flock, memfd,
    mm, mount, namei, open, pidfd, pipe, poll, process, random, read_write, readdir, rseq, signal, signalfd, socket,
    splice, stat, statfs, sync, sys, sysv, time, timerfd, timers, utimes, xattr,
};
use crate::kernel::Task;
use crate::vfs::{lock, KResult};

fn build() -> Vec<Option<Entry>> {
    let t = std::cell::RefCell::new((0..NR_SYSCALLS).map(|_| None).collect::<Vec<Option<Entry>>>());
    // A call declared with `#[syscall]`.
    let d = |nr: u64, entry: Entry| t.borrow_mut()[nr as usize] = Some(entry);
    // Files: data.
    d(SYS_READ, read_write::READ);
    d(SYS_WRITE, read_write::WRITE);
    d(SYS_PREAD64, read_write::PREAD64);
    d(SYS_PWRITE64, read_write::PWRITE64);
    d(SYS_READV, read_write::READV);
    d(SYS_WRITEV, read_write::WRITEV);
    d(SYS_PREADV, read_write::PREADV);
    d(SYS_PWRITEV, read_write::PWRITEV);
    d(SYS_LSEEK, read_write::LSEEK);
    d(SYS_OPEN, open::OPEN);
    d(SYS_OPENAT, open::OPENAT);
    d(SYS_CREAT, open::CREAT);
    d(SYS_CLOSE, open::CLOSE);
    d(SYS_DUP, file::DUP);
    d(SYS_DUP2, file::DUP2);
    d(SYS_DUP3, file::DUP3);
    d(SYS_FCNTL, fcntl::FCNTL);
    d(SYS_IOCTL, ioctl::IOCTL);
    d(SYS_GETDENTS64, readdir::GETDENTS64);
    d(SYS_FSYNC, sync::FSYNC);
    d(SYS_FDATASYNC, sync::FSYNC);
    d(SYS_FTRUNCATE, open::FTRUNCATE);
    // Files: names and metadata.
    d(SYS_STAT, stat::STAT);
    d(SYS_LSTAT, stat::LSTAT);
    d(SYS_FSTAT, stat::FSTAT);
    d(SYS_NEWFSTATAT, stat::NEWFSTATAT);
    d(SYS_STATX, stat::STATX);
    d(SYS_STATFS, statfs::STATFS);
    d(SYS_FSTATFS, statfs::FSTATFS);
    d(SYS_ACCESS, open::ACCESS);
    d(SYS_FACCESSAT, open::FACCESSAT);
    d(SYS_FACCESSAT2, open::FACCESSAT2);
    d(SYS_READLINK, stat::READLINK);
    d(SYS_READLINKAT, stat::READLINKAT);
    d(SYS_GETCWD, d_path::GETCWD);
    d(SYS_CHDIR, open::CHDIR);
    d(SYS_FCHDIR, open::FCHDIR);
    d(SYS_MKDIR, namei::MKDIR);
    d(SYS_MKDIRAT, namei::MKDIRAT);
    d(SYS_UNLINK, namei::UNLINK);
    d(SYS_UNLINKAT, namei::UNLINKAT);
    d(SYS_RMDIR, namei::RMDIR);
    d(SYS_RENAME, namei::RENAME);
    d(SYS_RENAMEAT, namei::RENAMEAT);
    d(SYS_RENAMEAT2, namei::RENAMEAT2);
    d(SYS_SYMLINK, namei::SYMLINK);
    d(SYS_SYMLINKAT, namei::SYMLINKAT);
    d(SYS_LINK, namei::LINK);
    d(SYS_LINKAT, namei::LINKAT);
    d(SYS_CHMOD, open::CHMOD);
    d(SYS_FCHMOD, open::FCHMOD);
    d(SYS_FCHMODAT, open::FCHMODAT);
    d(SYS_CHOWN, open::CHOWN);
    d(SYS_FCHOWN, open::FCHOWN);
    d(SYS_LCHOWN, open::LCHOWN);
    d(SYS_FCHOWNAT, open::FCHOWNAT);
    d(SYS_UTIMENSAT, utimes::UTIMENSAT);
    d(SYS_TRUNCATE, open::TRUNCATE);
    d(SYS_UMASK, sys::UMASK);
    // Files: locks, openat2, ranges, copies, advice, special files.
    d(SYS_FLOCK, flock::FLOCK);
    d(SYS_OPENAT2, open::OPENAT2);
    d(SYS_CLOSE_RANGE, open::CLOSE_RANGE);
    d(SYS_FCHMODAT2, open::FCHMODAT2);
    d(SYS_COPY_FILE_RANGE, copy::COPY_FILE_RANGE);
    d(SYS_SENDFILE, copy::SENDFILE);
    d(SYS_SPLICE, splice::SPLICE);
    d(SYS_TEE, splice::TEE);
    d(SYS_VMSPLICE, splice::VMSPLICE);
    d(SYS_FALLOCATE, open::FALLOCATE);
    d(SYS_FADVISE64, fadvise::FADVISE64);
    d(SYS_MKNOD, namei::MKNOD);
    d(SYS_MKNODAT, namei::MKNODAT);
    d(SYS_MEMFD_CREATE, memfd::MEMFD_CREATE);
    d(SYS_SYNC, sync::SYNC);
    d(SYS_SYNCFS, sync::SYNCFS);
    d(SYS_NAME_TO_HANDLE_AT, fhandle::NAME_TO_HANDLE_AT);
    d(SYS_OPEN_BY_HANDLE_AT, fhandle::OPEN_BY_HANDLE_AT);
    // Mounts and the root.
    d(SYS_MOUNT, mount::MOUNT);
    d(SYS_UMOUNT2, mount::UMOUNT2);
    d(SYS_CHROOT, mount::CHROOT);
    d(SYS_PIVOT_ROOT, mount::PIVOT_ROOT);
    // Memory.
    d(SYS_BRK, mm::BRK);
    d(SYS_MMAP, mm::MMAP);
    d(SYS_MUNMAP, mm::MUNMAP);
    d(SYS_MPROTECT, mm::MPROTECT);
    d(SYS_MREMAP, mm::MREMAP);
    d(SYS_MADVISE, mm::MADVISE);
    d(SYS_MSYNC, mm::MSYNC);
    // Process identity and control.
    d(SYS_GETPID, process::GETPID);
    d(SYS_GETTID, process::GETTID);
    d(SYS_GETPPID, process::GETPPID);
    d(SYS_GETUID, process::GETUID);
    d(SYS_GETEUID, process::GETEUID);
    d(SYS_GETGID, process::GETGID);
    d(SYS_GETEGID, process::GETEGID);
    d(SYS_GETGROUPS, process::GETGROUPS);
    d(SYS_GETRESUID, process::GETRESUID);
    d(SYS_GETRESGID, process::GETRESGID);
    d(SYS_GETPGRP, process::GETPGRP);
    d(SYS_SETUID, creds::SETUID);
    d(SYS_SETGID, creds::SETGID);
    d(SYS_SETREUID, creds::SETREUID);
    d(SYS_SETREGID, creds::SETREGID);
    d(SYS_SETRESUID, creds::SETRESUID);
    d(SYS_SETRESGID, creds::SETRESGID);
    d(SYS_SETFSUID, creds::SETFSUID);
    d(SYS_SETFSGID, creds::SETFSGID);
    d(SYS_SETGROUPS, creds::SETGROUPS);
    d(SYS_CAPGET, creds::CAPGET);
    d(SYS_CAPSET, creds::CAPSET);
    d(SYS_GETPGID, process::GETPGID);
    d(SYS_GETSID, process::GETSID);
    d(SYS_EXIT, process::EXIT);
    d(SYS_EXIT_GROUP, process::EXIT_GROUP);
    d(SYS_EXECVE, process::EXECVE);
    d(SYS_EXECVEAT, process::EXECVEAT);
    d(SYS_CLONE, process::CLONE);
    d(SYS_CLONE3, process::CLONE3);
    d(SYS_FORK, process::FORK);
    d(SYS_VFORK, process::VFORK);
    d(SYS_WAIT4, process::WAIT4);
    d(SYS_WAITID, process::WAITID);
    d(SYS_SETSID, process::SETSID);
    d(SYS_SETPGID, process::SETPGID);
    d(SYS_PIDFD_OPEN, pidfd::PIDFD_OPEN);
    d(SYS_PIDFD_SEND_SIGNAL, pidfd::PIDFD_SEND_SIGNAL);
    d(SYS_ARCH_PRCTL, process::ARCH_PRCTL);
    d(SYS_SET_TID_ADDRESS, process::SET_TID_ADDRESS);
    d(SYS_SET_ROBUST_LIST, process::SET_ROBUST_LIST);
    d(SYS_PRLIMIT64, process::PRLIMIT64);
    d(SYS_GETRLIMIT, process::GETRLIMIT);
    d(SYS_SETRLIMIT, process::SETRLIMIT);
    d(SYS_SCHED_GETAFFINITY, process::SCHED_GETAFFINITY);
    d(SYS_SCHED_YIELD, process::SCHED_YIELD);
    d(SYS_SCHED_SETAFFINITY, process::SCHED_SETAFFINITY);
    d(SYS_SCHED_GETPARAM, process::SCHED_GETPARAM);
    d(SYS_SCHED_SETPARAM, process::SCHED_SETPARAM);
    d(SYS_SCHED_GETSCHEDULER, process::SCHED_GETSCHEDULER);
    d(SYS_SCHED_SETSCHEDULER, process::SCHED_SETSCHEDULER);
    d(SYS_SCHED_GET_PRIORITY_MAX, process::SCHED_GET_PRIORITY_MAX);
    d(SYS_SCHED_GET_PRIORITY_MIN, process::SCHED_GET_PRIORITY_MIN);
    d(SYS_GETPRIORITY, process::GETPRIORITY);
    d(SYS_SETPRIORITY, process::SETPRIORITY);
    d(SYS_GETCPU, process::GETCPU);
    d(SYS_PRCTL, process::PRCTL);
    d(SYS_GETRUSAGE, process::GETRUSAGE);
    d(SYS_TIMES, process::TIMES);
    d(SYS_FUTEX, futex::FUTEX);
    // Waiting for descriptors.
    d(SYS_POLL, poll::POLL);
    d(SYS_PPOLL, poll::PPOLL);
    d(SYS_SELECT, poll::SELECT);
    d(SYS_PSELECT6, poll::PSELECT6);
    // IPC (pipes, eventfd, timerfd, epoll, sockets).
    d(SYS_PIPE, pipe::PIPE);
    d(SYS_PIPE2, pipe::PIPE2);
    d(SYS_EVENTFD, eventfd::EVENTFD);
    d(SYS_EVENTFD2, eventfd::EVENTFD2);
    d(SYS_TIMERFD_CREATE, timerfd::TIMERFD_CREATE);
    d(SYS_TIMERFD_SETTIME, timerfd::TIMERFD_SETTIME);
    d(SYS_TIMERFD_GETTIME, timerfd::TIMERFD_GETTIME);
    d(SYS_EPOLL_CREATE, epoll::EPOLL_CREATE);
    d(SYS_EPOLL_CREATE1, epoll::EPOLL_CREATE1);
    d(SYS_EPOLL_CTL, epoll::EPOLL_CTL);
    d(SYS_EPOLL_WAIT, epoll::EPOLL_WAIT);
    d(SYS_EPOLL_PWAIT, epoll::EPOLL_PWAIT);
    d(SYS_EPOLL_PWAIT2, epoll::EPOLL_PWAIT2);
    d(SYS_SOCKET, socket::SOCKET);
    d(SYS_SOCKETPAIR, socket::SOCKETPAIR);
    d(SYS_BIND, socket::BIND);
    d(SYS_LISTEN, socket::LISTEN);
    d(SYS_ACCEPT, socket::ACCEPT);
    d(SYS_ACCEPT4, socket::ACCEPT4);
    d(SYS_CONNECT, socket::CONNECT);
    d(SYS_SHUTDOWN, socket::SHUTDOWN);
    d(SYS_SENDTO, socket::SENDTO);
    d(SYS_RECVFROM, socket::RECVFROM);
    d(SYS_SENDMSG, socket::SENDMSG);
    d(SYS_RECVMSG, socket::RECVMSG);
    d(SYS_SENDMMSG, socket::SENDMMSG);
    d(SYS_RECVMMSG, socket::RECVMMSG);
    d(SYS_GETSOCKNAME, socket::GETSOCKNAME);
    d(SYS_GETPEERNAME, socket::GETPEERNAME);
    d(SYS_GETSOCKOPT, socket::GETSOCKOPT);
    d(SYS_SETSOCKOPT, socket::SETSOCKOPT);
    // SysV IPC.
    d(SYS_SHMGET, sysv::SHMGET);
    d(SYS_SHMAT, sysv::SHMAT);
    d(SYS_SHMDT, sysv::SHMDT);
    d(SYS_SHMCTL, sysv::SHMCTL);
    d(SYS_SEMGET, sysv::SEMGET);
    d(SYS_SEMOP, sysv::SEMOP);
    d(SYS_SEMTIMEDOP, sysv::SEMTIMEDOP);
    d(SYS_SEMCTL, sysv::SEMCTL);
    d(SYS_MSGGET, sysv::MSGGET);
    d(SYS_MSGSND, sysv::MSGSND);
    d(SYS_MSGRCV, sysv::MSGRCV);
    d(SYS_MSGCTL, sysv::MSGCTL);
    // Signals.
    d(SYS_RT_SIGACTION, signal::RT_SIGACTION);
    d(SYS_RT_SIGPROCMASK, signal::RT_SIGPROCMASK);
    d(SYS_SIGALTSTACK, signal::SIGALTSTACK);
    d(SYS_RT_SIGRETURN, signal::RT_SIGRETURN);
    d(SYS_RT_SIGPENDING, signal::RT_SIGPENDING);
    d(SYS_RT_SIGSUSPEND, signal::RT_SIGSUSPEND);
    d(SYS_RT_SIGTIMEDWAIT, signal::RT_SIGTIMEDWAIT);
    d(SYS_RT_SIGQUEUEINFO, signal::RT_SIGQUEUEINFO);
    d(SYS_RT_TGSIGQUEUEINFO, signal::RT_TGSIGQUEUEINFO);
    d(SYS_PAUSE, signal::PAUSE);
    d(SYS_SIGNALFD, signalfd::SIGNALFD);
    d(SYS_SIGNALFD4, signalfd::SIGNALFD4);
    d(SYS_KILL, signal::KILL);
    d(SYS_TKILL, signal::TKILL);
    d(SYS_TGKILL, signal::TGKILL);
    // Time.
    d(SYS_CLOCK_GETTIME, time::CLOCK_GETTIME);
    d(SYS_CLOCK_GETRES, time::CLOCK_GETRES);
    d(SYS_GETTIMEOFDAY, time::GETTIMEOFDAY);
    d(SYS_TIME, time::TIME);
    d(SYS_NANOSLEEP, time::NANOSLEEP);
    d(SYS_CLOCK_NANOSLEEP, time::CLOCK_NANOSLEEP);
    d(SYS_ALARM, timers::ALARM);
    d(SYS_SETITIMER, timers::SETITIMER);
    d(SYS_GETITIMER, timers::GETITIMER);
    d(SYS_TIMER_CREATE, timers::TIMER_CREATE);
    d(SYS_TIMER_SETTIME, timers::TIMER_SETTIME);
    d(SYS_TIMER_GETTIME, timers::TIMER_GETTIME);
    d(SYS_TIMER_GETOVERRUN, timers::TIMER_GETOVERRUN);
    d(SYS_TIMER_DELETE, timers::TIMER_DELETE);
    // System.
    d(SYS_UNAME, sys::UNAME);
    d(SYS_SYSINFO, sys::SYSINFO);
    d(SYS_GETRANDOM, random::GETRANDOM);
    d(SYS_SETHOSTNAME, sys::SETHOSTNAME);
    d(SYS_RSEQ, rseq::RSEQ);
    // Extended attributes.
    d(SYS_GETXATTR, xattr::GETXATTR);
    d(SYS_LGETXATTR, xattr::LGETXATTR);
    d(SYS_FGETXATTR, xattr::FGETXATTR);
    d(SYS_SETXATTR, xattr::SETXATTR);
    d(SYS_LSETXATTR, xattr::LSETXATTR);
    d(SYS_FSETXATTR, xattr::FSETXATTR);
    d(SYS_LISTXATTR, xattr::LISTXATTR);
    d(SYS_LLISTXATTR, xattr::LLISTXATTR);
    d(SYS_FLISTXATTR, xattr::FLISTXATTR);
    d(SYS_REMOVEXATTR, xattr::REMOVEXATTR);
    d(SYS_LREMOVEXATTR, xattr::LREMOVEXATTR);
    d(SYS_FREMOVEXATTR, xattr::FREMOVEXATTR);
    // inotify.
    d(SYS_INOTIFY_INIT, inotify::INOTIFY_INIT);
    d(SYS_INOTIFY_INIT1, inotify::INOTIFY_INIT1);
    d(SYS_INOTIFY_ADD_WATCH, inotify::INOTIFY_ADD_WATCH);
    d(SYS_INOTIFY_RM_WATCH, inotify::INOTIFY_RM_WATCH);
    t.into_inner()
}

fn table() -> &'static [Option<Entry>] {
    static T: OnceLock<Vec<Option<Entry>>> = OnceLock::new();
    T.get_or_init(build)
}

/// Carry out the system call the task stopped at, and set its result.
pub fn dispatch(t: &mut Task) {
    let nr = t.regs.syscall_nr();
    let args = t.regs.syscall_args();
    let entry = usize::try_from(nr).ok().and_then(|n| table().get(n)).and_then(Option::as_ref);
    let kind = entry.map_or(RetKind::Value, |e| e.ret);
    let mut pre = None;
    if t.k.strace.is_some() && kind.prints_before() {
        pre = Some(format_call(t, nr, &args, entry, None));
    }
    let result = match entry {
        Some(e) => (e.handler)(t, &args),
        None => {
            t.k.report_unsupported(nr, &t.comm());
            Err(Errno::ENOSYS)
        }
    };
    // Internal restart codes never reach the application: the signal
    // delivery that follows decides between a restart and EINTR.
    if let Err(
        e @ (Errno::ERESTARTSYS | Errno::ERESTARTNOINTR | Errno::ERESTARTNOHAND | Errno::ERESTART_RESTARTBLOCK),
    ) = result
    {
        t.restart = Some(e);
    }
    match (kind, result) {
        // The new image's registers are already set; rax starts at 0.
        (RetKind::Exec, Ok(_)) => t.regs.rax = 0,
        // The restored registers are the result.
        (RetKind::SigReturn, Ok(_)) => {}
        (_, r) => t.regs.set_return(match r {
            Ok(v) => v,
            Err(e) => e.as_ret(),
        }),
    }
    if let Some(out) = &t.k.strace {
        let call = pre.unwrap_or_else(|| format_call(t, nr, &args, entry, Some(result)));
        let line = match result {
            Ok(_) if kind == RetKind::NoReturn => format!("[pid {}] {call} = ?\n", t.tid),
            Ok(v) if kind == RetKind::Addr => format!("[pid {}] {call} = {v:#x}\n", t.tid),
            Ok(v) => format!("[pid {}] {call} = {}\n", t.tid, v as i64),
            Err(e) => format!("[pid {}] {call} = -1 {} ({})\n", t.tid, e.name(), describe(e)),
        };
        let _ = lock(out).write_all(line.as_bytes());
    }
}

/// strace's message for an errno (`strerror`).
pub fn describe(e: Errno) -> String {
    e.message().to_string()
}

fn format_call(t: &Task, nr: u64, raw: &[u64; 6], entry: Option<&Entry>, result: Option<KResult<u64>>) -> String {
    let name = syscall_name(nr).map_or_else(|| format!("syscall_{nr}"), str::to_string);
    let unknown: [Printer; 6] = [<Hex as SysArg>::strace; 6];
    let printers: &[Printer] = entry.map_or(&unknown, |e| e.args);
    let call = Call { t, raw, result };
    let parts: Vec<String> = printers.iter().enumerate().map(|(i, p)| p(&call, i)).filter(|s| !s.is_empty()).collect();
    format!("{name}({})", parts.join(", "))
}
