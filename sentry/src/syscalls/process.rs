//! Process identity and control: ids, exit, execve, arch_prctl, limits,
//! scheduling queries, prctl, resource usage.

use abi::consts::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi::types::{Rlimit, Rusage, Siginfo, Tms};
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::int_arg;
use crate::kernel::process::*;
use crate::kernel::signal;
use crate::kernel::{Process, Task, TaskExit};
use crate::vfs::{lock, KResult};

pub fn getpid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(t.pid() as u64)
}

pub fn gettid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(t.tid as u64)
}

pub fn getppid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(t.proc_.ppid() as u64)
}

pub fn getuid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(u64::from(t.creds().uid))
}

pub fn geteuid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(u64::from(t.creds().euid))
}

pub fn getgid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(u64::from(t.creds().gid))
}

pub fn getegid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(u64::from(t.creds().egid))
}

pub fn getgroups(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let size = int_arg(a[0]);
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let groups = t.creds().groups;
    if size == 0 {
        return Ok(groups.len() as u64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    t.write_bytes(a[1], groups.as_bytes())?;
    Ok(groups.len() as u64)
}

pub fn getresuid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let c = t.creds();
    t.write_val(a[0], &c.uid)?;
    t.write_val(a[1], &c.euid)?;
    t.write_val(a[2], &c.suid)?;
    Ok(0)
}

pub fn getresgid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let c = t.creds();
    t.write_val(a[0], &c.gid)?;
    t.write_val(a[1], &c.egid)?;
    t.write_val(a[2], &c.sgid)?;
    Ok(0)
}

pub fn getpgrp(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(t.proc_.pgid.load(Ordering::Relaxed) as u64)
}

fn target(t: &Task, pid: i32) -> KResult<Arc<Process>> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 || pid == t.pid() {
        return Ok(t.proc_.clone());
    }
    t.k.process(pid).ok_or(Errno::ESRCH)
}

pub fn getpgid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    Ok(target(t, int_arg(a[0]))?.pgid.load(Ordering::Relaxed) as u64)
}

pub fn getsid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    Ok(target(t, int_arg(a[0]))?.sid.load(Ordering::Relaxed) as u64)
}

pub fn setsid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    let pid = t.pid();
    // A process group leader cannot start a session.
    if t.k.all_processes().iter().any(|p| p.pgid.load(Ordering::Relaxed) == pid) {
        return Err(Errno::EPERM);
    }
    t.proc_.sid.store(pid, Ordering::Relaxed);
    t.proc_.pgid.store(pid, Ordering::Relaxed);
    Ok(pid as u64)
}

pub fn setpgid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    let pgid = int_arg(a[1]);
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let p = if pid == 0 || pid == t.pid() {
        t.proc_.clone()
    } else {
        let p = t.k.process(pid).ok_or(Errno::ESRCH)?;
        if p.parent().map(|x| x.pid) != Some(t.pid()) {
            return Err(Errno::ESRCH);
        }
        p
    };
    let my_sid = t.proc_.sid.load(Ordering::Relaxed);
    if p.sid.load(Ordering::Relaxed) != my_sid {
        return Err(Errno::EPERM);
    }
    if p.sid.load(Ordering::Relaxed) == p.pid {
        return Err(Errno::EPERM);
    }
    let pgid = if pgid == 0 { p.pid } else { pgid };
    if pgid != p.pid
        && !t
            .k
            .all_processes()
            .iter()
            .any(|q| q.pgid.load(Ordering::Relaxed) == pgid && q.sid.load(Ordering::Relaxed) == my_sid)
    {
        return Err(Errno::EPERM);
    }
    p.pgid.store(pgid, Ordering::Relaxed);
    Ok(0)
}

pub fn exit(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    t.exit = Some(TaskExit::Code(int_arg(a[0]) & 0xff));
    Ok(0)
}

pub fn exit_group(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let how = TaskExit::Code(int_arg(a[0]) & 0xff);
    t.proc_.group_exit(how);
    t.exit = Some(how);
    Ok(0)
}

pub fn execve(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let path = t.read_path(a[0])?;
    let argv = t.read_string_array(a[1])?;
    let envp = t.read_string_array(a[2])?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    t.execve(&path, argv, envp)?;
    Ok(0)
}

pub fn execveat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let dirfd = int_arg(a[0]);
    let flags = a[4] as u32;
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(a[1])?;
    let argv = t.read_string_array(a[2])?;
    let envp = t.read_string_array(a[3])?;
    let full = if path.first() == Some(&b'/') {
        path
    } else {
        let loc = super::resolve_at(t, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
        let root = t.fs().root;
        t.k.vfs.path_of(&loc, &root)
    };
    t.execve(&full, argv, envp)?;
    Ok(0)
}

pub fn clone(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    // x86-64: clone(flags, stack, parent_tid, child_tid, tls).
    let flags = a[0];
    let args = CloneArgs {
        flags: flags & !0xff,
        exit_signal: (flags & 0xff) as u32,
        stack: a[1],
        parent_tid: a[2],
        child_tid: a[3],
        tls: a[4],
        pidfd: 0,
    };
    if args.exit_signal > NSIG {
        return Err(Errno::EINVAL);
    }
    do_clone(t, args).map(|tid| tid as u64)
}

pub fn fork(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    let args = CloneArgs { flags: 0, exit_signal: SIGCHLD, stack: 0, parent_tid: 0, child_tid: 0, tls: 0, pidfd: 0 };
    do_clone(t, args).map(|tid| tid as u64)
}

pub fn vfork(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    let args = CloneArgs {
        flags: CLONE_VM | CLONE_VFORK,
        exit_signal: SIGCHLD,
        stack: 0,
        parent_tid: 0,
        child_tid: 0,
        tls: 0,
        pidfd: 0,
    };
    do_clone(t, args).map(|tid| tid as u64)
}

/// `struct clone_args` of clone3 (the first 88 bytes, version 2).
#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct Clone3Args {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub fn clone3(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let size = a[1] as usize;
    if !(64..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; size];
    t.read_bytes(a[0], &mut raw)?;
    let mut ca = Clone3Args::default();
    let n = size.min(std::mem::size_of::<Clone3Args>());
    ca.as_bytes_mut()[..n].copy_from_slice(&raw[..n]);
    if raw[n..].iter().any(|b| *b != 0) {
        return Err(Errno::E2BIG);
    }
    if ca.exit_signal > u64::from(NSIG) || ca.set_tid != 0 || ca.set_tid_size != 0 {
        return Err(Errno::EINVAL);
    }
    if (ca.stack == 0) != (ca.stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let args = CloneArgs {
        flags: ca.flags,
        exit_signal: ca.exit_signal as u32,
        stack: if ca.stack != 0 { ca.stack + ca.stack_size } else { 0 },
        parent_tid: ca.parent_tid,
        child_tid: ca.child_tid,
        tls: ca.tls,
        pidfd: ca.pidfd,
    };
    do_clone(t, args).map(|tid| tid as u64)
}

fn wait_target(pid: i32, t: &Task) -> WaitFor {
    match pid {
        -1 => WaitFor::Any,
        0 => WaitFor::Pgid(t.proc_.pgid.load(Ordering::Relaxed)),
        p if p > 0 => WaitFor::Pid(p),
        p => WaitFor::Pgid(-p),
    }
}

pub fn wait4(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    let options = a[2] as u32;
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let r = do_wait(t, wait_target(pid, t), options | WEXITED)?;
    match r {
        None => Ok(0),
        Some(w) => {
            if a[1] != 0 {
                t.write_val(a[1], &w.wstatus)?;
            }
            if a[3] != 0 {
                t.write_val(a[3], &Rusage::default())?;
            }
            Ok(w.pid as u64)
        }
    }
}

pub fn waitid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let idtype = a[0] as u32;
    let id = int_arg(a[1]);
    let options = a[3] as u32;
    if options & !(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE) != 0
        || options & (WEXITED | WSTOPPED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        0 => WaitFor::Any,
        1 if id > 0 => WaitFor::Pid(id),
        2 if id >= 0 => WaitFor::Pgid(if id == 0 { t.proc_.pgid.load(Ordering::Relaxed) } else { id }),
        3 => {
            // P_PIDFD
            let f = super::file_of(t, id)?;
            let p = super::pidfd::process_of(&f).ok_or(Errno::EBADF)?;
            WaitFor::Pid(p.pid)
        }
        _ => return Err(Errno::EINVAL),
    };
    let r = do_wait(t, which, options)?;
    if a[2] != 0 {
        let info = match &r {
            None => Siginfo::default(),
            Some(w) => {
                let mut i = signal::info_from(SIGCHLD, w.code, w.pid, w.uid);
                i.fields[1] = u64::from(w.status as u32);
                i
            }
        };
        t.write_val(a[2], &info)?;
    }
    if a[4] != 0 {
        t.write_val(a[4], &Rusage::default())?;
    }
    Ok(0)
}

pub fn arch_prctl(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    match a[0] {
        ARCH_SET_FS => {
            if a[1] >= t.k.platform.max_user_address() {
                return Err(Errno::EPERM);
            }
            t.regs.fs_base = a[1];
            Ok(0)
        }
        ARCH_SET_GS => {
            if a[1] >= t.k.platform.max_user_address() {
                return Err(Errno::EPERM);
            }
            t.regs.gs_base = a[1];
            Ok(0)
        }
        ARCH_GET_FS => {
            let v = t.regs.fs_base;
            t.write_val(a[1], &v)?;
            Ok(0)
        }
        ARCH_GET_GS => {
            let v = t.regs.gs_base;
            t.write_val(a[1], &v)?;
            Ok(0)
        }
        ARCH_GET_CPUID => Ok(1),
        _ => Err(Errno::EINVAL),
    }
}

pub fn set_tid_address(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    t.clear_child_tid = a[0];
    Ok(t.tid as u64)
}

pub fn set_robust_list(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    t.robust_list = (a[0], a[1]);
    Ok(0)
}

fn do_prlimit(t: &mut Task, resource: u32, new: u64, old: u64) -> KResult<u64> {
    if resource >= RLIMIT_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let r = resource as usize;
    let cur = t.rlimit(resource);
    let newv: Option<Rlimit> = if new != 0 { Some(t.read_val(new)?) } else { None };
    if let Some(n) = &newv {
        if n.rlim_cur > n.rlim_max {
            return Err(Errno::EINVAL);
        }
        if n.rlim_max > cur.rlim_max && t.creds().euid != 0 {
            return Err(Errno::EPERM);
        }
        if resource == RLIMIT_NOFILE && n.rlim_max > 1 << 20 {
            return Err(Errno::EPERM);
        }
    }
    if old != 0 {
        t.write_val(old, &cur)?;
    }
    if let Some(n) = newv {
        lock(&t.proc_.rlimits)[r] = n;
    }
    Ok(0)
}

pub fn prlimit64(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    if pid != 0 && pid != t.pid() {
        return Err(if t.k.process(pid).is_some() { Errno::EPERM } else { Errno::ESRCH });
    }
    do_prlimit(t, a[1] as u32, a[2], a[3])
}

pub fn getrlimit(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_prlimit(t, a[0] as u32, 0, a[1])
}

pub fn setrlimit(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_prlimit(t, a[0] as u32, a[1], 0)
}

/// CPUs the sandbox reports (the host's count).
fn ncpus() -> usize {
    crate::kernel::ncpus()
}

pub fn sched_getaffinity(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let p = target(t, pid)?;
    let size = a[1] as usize;
    let n = ncpus();
    let need = n.div_ceil(64) * 8;
    if size < need || !size.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let bits = p.affinity.load(Ordering::Relaxed);
    let mut mask = vec![0u8; need];
    for c in 0..n.min(64) {
        if bits & (1 << c) != 0 {
            mask[c / 8] |= 1 << (c % 8);
        }
    }
    t.write_bytes(a[2], &mask)?;
    Ok(need as u64)
}

pub fn sched_yield(_t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    std::thread::yield_now();
    Ok(0)
}

pub fn getcpu(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[0] != 0 {
        t.write_val(a[0], &0u32)?;
    }
    if a[1] != 0 {
        t.write_val(a[1], &0u32)?;
    }
    Ok(0)
}

const PR_SET_PDEATHSIG: u64 = 1;
const PR_GET_PDEATHSIG: u64 = 2;
const PR_GET_DUMPABLE: u64 = 3;
const PR_GET_KEEPCAPS: u64 = 7;
const PR_SET_KEEPCAPS: u64 = 8;
const PR_CAPBSET_READ: u64 = 23;
const PR_CAPBSET_DROP: u64 = 24;
const PR_SET_DUMPABLE: u64 = 4;
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const PR_SET_CHILD_SUBREAPER: u64 = 36;
const PR_GET_CHILD_SUBREAPER: u64 = 37;
const PR_SET_NO_NEW_PRIVS: u64 = 38;
const PR_GET_NO_NEW_PRIVS: u64 = 39;

pub fn prctl(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    match a[0] {
        PR_SET_NAME => {
            let mut name = lock(&t.mm).read_cstring(a[1], 4096).or_else(|e| {
                if e == Errno::ENAMETOOLONG {
                    t.read_vec(a[1], 15)
                } else {
                    Err(e)
                }
            })?;
            name.truncate(15);
            *lock(&t.shared.comm) = name.clone();
            if t.tid == t.pid() {
                *lock(&t.proc_.comm) = name;
            }
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = t.comm();
            name.resize(16, 0);
            t.write_bytes(a[1], &name)?;
            Ok(0)
        }
        PR_GET_KEEPCAPS => Ok(u64::from(t.proc_.keepcaps.load(Ordering::Relaxed))),
        PR_SET_KEEPCAPS => {
            if a[1] > 1 {
                return Err(Errno::EINVAL);
            }
            t.proc_.keepcaps.store(a[1] == 1, Ordering::Relaxed);
            Ok(0)
        }
        PR_CAPBSET_READ => {
            if a[1] > 40 {
                return Err(Errno::EINVAL);
            }
            Ok((t.proc_.capbset.load(Ordering::Relaxed) >> a[1]) & 1)
        }
        PR_CAPBSET_DROP => {
            if a[1] > 40 {
                return Err(Errno::EINVAL);
            }
            if t.creds().euid != 0 {
                return Err(Errno::EPERM);
            }
            t.proc_.capbset.fetch_and(!(1u64 << a[1]), Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(1),
        PR_SET_DUMPABLE => {
            if a[1] > 1 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => {
            if a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => Ok(1),
        PR_GET_PDEATHSIG => {
            let v = t.proc_.pdeathsig.load(Ordering::Relaxed);
            t.write_val(a[1], &v)?;
            Ok(0)
        }
        PR_SET_PDEATHSIG => {
            if a[1] > u64::from(NSIG) {
                return Err(Errno::EINVAL);
            }
            t.proc_.pdeathsig.store(a[1] as i32, Ordering::Relaxed);
            Ok(0)
        }
        PR_SET_CHILD_SUBREAPER => {
            t.proc_.subreaper.store(a[1] != 0, Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let v = i32::from(t.proc_.subreaper.load(Ordering::Relaxed));
            t.write_val(a[1], &v)?;
            Ok(0)
        }
        _ => {
            t.k.log(&format!("bulwark: unsupported prctl option {} by {}", a[0], String::from_utf8_lossy(&t.comm())));
            Err(Errno::EINVAL)
        }
    }
}

pub fn getrusage(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let who = int_arg(a[0]);
    if !(-1..=1).contains(&who) {
        return Err(Errno::EINVAL);
    }
    let mut ru = Rusage::default();
    if who != -1 {
        let d = t.proc_.start.elapsed();
        ru.ru_utime.tv_sec = d.as_secs() as i64;
        ru.ru_utime.tv_usec = i64::from(d.subsec_micros());
    }
    t.write_val(a[1], &ru)?;
    Ok(0)
}

pub fn times(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let ticks = (t.proc_.start.elapsed().as_millis() / 10) as i64;
    if a[0] != 0 {
        t.write_val(a[0], &Tms { tms_utime: ticks, ..Default::default() })?;
    }
    Ok((t.k.start.elapsed().as_millis() / 10) as u64 + 100_000)
}

pub fn sched_setaffinity(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = target(t, int_arg(a[0]))?;
    let size = (a[1] as usize).min(128);
    let mask = t.read_vec(a[2], size)?;
    // Recorded for sched_getaffinity; the sentry keeps its own placement of
    // host threads. A set with no CPU of the sandbox is invalid.
    let n = ncpus().min(64);
    let bits =
        (0..n).filter(|&c| c / 8 < mask.len() && mask[c / 8] & (1 << (c % 8)) != 0).fold(0u64, |b, c| b | 1 << c);
    if bits == 0 {
        return Err(Errno::EINVAL);
    }
    p.affinity.store(bits, Ordering::Relaxed);
    Ok(0)
}

pub fn sched_getparam(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    target(t, int_arg(a[0]))?;
    t.write_val(a[1], &0i32)?;
    Ok(0)
}

pub fn sched_setparam(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    target(t, int_arg(a[0]))?;
    let prio: i32 = t.read_val(a[1])?;
    if prio != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub fn sched_getscheduler(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    target(t, int_arg(a[0]))?;
    Ok(0) // SCHED_OTHER
}

pub fn sched_setscheduler(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    target(t, int_arg(a[0]))?;
    let policy = int_arg(a[1]) & !0x4000_0000; // SCHED_RESET_ON_FORK
    let prio: i32 = t.read_val(a[2])?;
    match policy {
        0 | 3 | 5 if prio == 0 => Ok(0), // OTHER, BATCH, IDLE
        1 | 2 => Err(Errno::EPERM),      // FIFO, RR need privileges the sandbox does not grant
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_get_priority_max(_t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    match int_arg(a[0]) {
        1 | 2 => Ok(99),
        0 | 3 | 5 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_get_priority_min(_t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    match int_arg(a[0]) {
        1 | 2 => Ok(1),
        0 | 3 | 5 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

fn prio_targets(t: &Task, which: i32, who: i32) -> KResult<Vec<Arc<Process>>> {
    let v: Vec<Arc<Process>> = match which {
        0 => vec![target(t, who)?],
        1 => {
            let g = if who == 0 { t.proc_.pgid.load(Ordering::Relaxed) } else { who };
            t.k.all_processes().into_iter().filter(|p| p.pgid.load(Ordering::Relaxed) == g).collect()
        }
        2 => {
            let u = if who == 0 { t.creds().uid } else { who as u32 };
            t.k.all_processes().into_iter().filter(|p| lock(&p.creds).uid == u).collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if v.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(v)
}

pub fn getpriority(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let v = prio_targets(t, int_arg(a[0]), int_arg(a[1]))?;
    let best = v.iter().map(|p| p.nice.load(Ordering::Relaxed)).min().unwrap_or(0);
    // The raw syscall reports 20 - nice.
    Ok((20 - best) as u64)
}

pub fn setpriority(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let v = prio_targets(t, int_arg(a[0]), int_arg(a[1]))?;
    let nice = int_arg(a[2]).clamp(-20, 19);
    for p in v {
        if nice < p.nice.load(Ordering::Relaxed) && t.creds().euid != 0 {
            return Err(Errno::EACCES);
        }
        p.nice.store(nice, Ordering::Relaxed);
    }
    Ok(0)
}
