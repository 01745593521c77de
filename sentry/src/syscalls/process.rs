//! Process identity and control: ids, exit, execve, arch_prctl, limits,
//! scheduling queries, prctl, resource usage.

use abi::consts::*;
use abi::types::Clone3Args;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi::types::{Rlimit, Rusage, Siginfo, Tms};
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::args::{
    quote, ArchPrctlCode, Call, CloneFlags, DirFd, Exec, Hex, NoReturn, PrctlOption, Resource, SysArg, UserAddr,
    UserCStr, UserPtr, UserType, WaitOptions,
};
use crate::kernel::process::*;
use crate::kernel::signal;
use crate::kernel::{Process, Task, TaskExit};
use crate::vfs::KResult;

/// The caller's process id (its thread group's).
#[syscall]
pub fn getpid(t: &mut Task) -> KResult<u64> {
    Ok(t.pid() as u64)
}

/// The caller's thread id.
#[syscall]
pub fn gettid(t: &mut Task) -> KResult<u64> {
    Ok(t.tid as u64)
}

/// The parent's process id.
#[syscall]
pub fn getppid(t: &mut Task) -> KResult<u64> {
    Ok(t.proc_.ppid() as u64)
}

/// The real user id.
#[syscall]
pub fn getuid(t: &mut Task) -> KResult<u64> {
    Ok(u64::from(t.creds().uid))
}

/// The effective user id.
#[syscall]
pub fn geteuid(t: &mut Task) -> KResult<u64> {
    Ok(u64::from(t.creds().euid))
}

/// The real group id.
#[syscall]
pub fn getgid(t: &mut Task) -> KResult<u64> {
    Ok(u64::from(t.creds().gid))
}

/// The effective group id.
#[syscall]
pub fn getegid(t: &mut Task) -> KResult<u64> {
    Ok(u64::from(t.creds().egid))
}

/// The supplementary groups, or their number for `size` 0.
#[syscall]
pub fn getgroups(t: &mut Task, size: i32, list: UserAddr) -> KResult<u64> {
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
    t.write_bytes(list.0, groups.as_bytes())?;
    Ok(groups.len() as u64)
}

/// An id stored by `getresuid`/`getresgid`, printed `[0]`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(transparent)]
pub struct IdOut(pub u32);

impl UserType for IdOut {
    fn strace(&self) -> Option<String> {
        Some(format!("[{}]", self.0))
    }
}

/// The real, effective and saved user ids.
#[syscall]
pub fn getresuid(t: &mut Task, ruid: UserPtr<IdOut>, euid: UserPtr<IdOut>, suid: UserPtr<IdOut>) -> KResult<u64> {
    let c = t.creds();
    ruid.write(t, &IdOut(c.uid))?;
    euid.write(t, &IdOut(c.euid))?;
    suid.write(t, &IdOut(c.suid))?;
    Ok(0)
}

/// The real, effective and saved group ids.
#[syscall]
pub fn getresgid(t: &mut Task, rgid: UserPtr<IdOut>, egid: UserPtr<IdOut>, sgid: UserPtr<IdOut>) -> KResult<u64> {
    let c = t.creds();
    rgid.write(t, &IdOut(c.gid))?;
    egid.write(t, &IdOut(c.egid))?;
    sgid.write(t, &IdOut(c.sgid))?;
    Ok(0)
}

/// The caller's process group.
#[syscall]
pub fn getpgrp(t: &mut Task) -> KResult<u64> {
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

/// The process group of process `pid` (0: the caller).
#[syscall]
pub fn getpgid(t: &mut Task, pid: i32) -> KResult<u64> {
    Ok(target(t, pid)?.pgid.load(Ordering::Relaxed) as u64)
}

/// The session of process `pid` (0: the caller).
#[syscall]
pub fn getsid(t: &mut Task, pid: i32) -> KResult<u64> {
    Ok(target(t, pid)?.sid.load(Ordering::Relaxed) as u64)
}

/// Start a new session with the caller as its leader.
#[syscall]
pub fn setsid(t: &mut Task) -> KResult<u64> {
    let pid = t.pid();
    // A process group leader cannot start a session.
    if t.k.all_processes().iter().any(|p| p.pgid.load(Ordering::Relaxed) == pid) {
        return Err(Errno::EPERM);
    }
    t.proc_.sid.store(pid, Ordering::Relaxed);
    t.proc_.pgid.store(pid, Ordering::Relaxed);
    Ok(pid as u64)
}

/// Move process `pid` into process group `pgid` (0s: the caller, its own
/// group).
#[syscall]
pub fn setpgid(t: &mut Task, pid: i32, pgid: i32) -> KResult<u64> {
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

/// End the calling thread with `status`.
#[syscall]
pub fn exit(t: &mut Task, status: i32) -> KResult<NoReturn> {
    t.exit = Some(TaskExit::Code(status & 0xff));
    Ok(NoReturn)
}

/// End every thread of the process with `status`.
#[syscall]
pub fn exit_group(t: &mut Task, status: i32) -> KResult<NoReturn> {
    let how = TaskExit::Code(status & 0xff);
    t.proc_.group_exit(how);
    t.exit = Some(how);
    Ok(NoReturn)
}

/// Most entries of an `argv` strace shows.
const SHOWN_ARGS: usize = 32;

fn argv_str(c: &Call<'_>, i: usize) -> String {
    let addr = c.raw[i];
    if addr == 0 {
        return "NULL".into();
    }
    let mut shown = Vec::new();
    for n in 0..=SHOWN_ARGS as u64 {
        let Ok(p) = c.t.read_val::<u64>(addr.wrapping_add(n * 8)) else { return format!("{addr:#x}") };
        if p == 0 {
            break;
        }
        if n as usize == SHOWN_ARGS {
            shown.push("...".to_string());
            break;
        }
        match c.t.mm.lock().read_cstring(p, 4096) {
            Ok(s) => shown.push(quote(&s, 32, false)),
            Err(_) => shown.push(format!("{p:#x}")),
        }
    }
    format!("[{}]", shown.join(", "))
}

super::args::call_arg!(/// The `argv` of `execve`: printed as strace does, `["ls", "-la"]`.
    Argv(u64), argv_str);

fn envp_str(c: &Call<'_>, i: usize) -> String {
    let addr = c.raw[i];
    if addr == 0 {
        return "NULL".into();
    }
    let mut n = 0u64;
    while n < 4096 && c.t.read_val::<u64>(addr.wrapping_add(n * 8)).is_ok_and(|p| p != 0) {
        n += 1;
    }
    format!("{addr:#x} /* {n} vars */")
}

super::args::call_arg!(/// The `envp` of `execve`: printed as strace does, `0x7ffd... /* 39 vars */`.
    Envp(u64), envp_str);

/// Replace the process image with the program `pathname`.
#[syscall]
pub fn execve(t: &mut Task, pathname: UserCStr, argv: Argv, envp: Envp) -> KResult<Exec> {
    let path = pathname.read(t)?;
    let argv = t.read_string_array(argv.0)?;
    let envp = t.read_string_array(envp.0)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    t.execve(&path, argv, envp)?;
    Ok(Exec)
}

/// `execve` of a program named relative to a directory descriptor.
#[syscall]
pub fn execveat(
    t: &mut Task,
    dirfd: DirFd,
    pathname: UserCStr,
    argv: Argv,
    envp: Envp,
    flags: super::args::AtFlags,
) -> KResult<Exec> {
    let dirfd = dirfd.0;
    let flags = flags.0;
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = pathname.read(t)?;
    let argv = t.read_string_array(argv.0)?;
    let envp = t.read_string_array(envp.0)?;
    let full = if path.first() == Some(&b'/') {
        path
    } else {
        let loc = super::resolve_at(t, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
        let root = t.fs().root;
        t.k.vfs.path_of(&loc, &root)
    };
    t.execve(&full, argv, envp)?;
    Ok(Exec)
}

/// A new thread or process (x86-64 argument order: flags, stack,
/// parent_tid, child_tid, tls).
#[syscall]
pub fn clone(
    t: &mut Task,
    flags: CloneFlags,
    stack: UserAddr,
    parent_tid: UserAddr,
    child_tid: UserAddr,
    tls: Hex,
) -> KResult<u64> {
    let flags = flags.0;
    let args = CloneArgs {
        flags: flags & !0xff,
        exit_signal: (flags & 0xff) as u32,
        stack: stack.0,
        parent_tid: parent_tid.0,
        child_tid: child_tid.0,
        tls: tls.0,
        pidfd: 0,
    };
    if args.exit_signal > NSIG {
        return Err(Errno::EINVAL);
    }
    do_clone(t, args).map(|tid| tid as u64)
}

/// A child process with a copy of the caller's memory.
#[syscall]
pub fn fork(t: &mut Task) -> KResult<u64> {
    let args = CloneArgs { flags: 0, exit_signal: SIGCHLD, stack: 0, parent_tid: 0, child_tid: 0, tls: 0, pidfd: 0 };
    do_clone(t, args).map(|tid| tid as u64)
}

/// A child sharing the caller's memory; the caller waits until it execs
/// or exits.
#[syscall]
pub fn vfork(t: &mut Task) -> KResult<u64> {
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

/// strace's `struct clone_args`: the flags, the exit signal and the
/// stack.
impl UserType for Clone3Args {
    fn strace(&self) -> Option<String> {
        Some(format!(
            "{{flags={}, exit_signal={}, stack={:#x}, stack_size={:#x}, ...}}",
            super::args::flag_str::<abi::flags::CloneFlags>(self.flags, "0"),
            super::args::signal_str(self.exit_signal as i32),
            self.stack,
            self.stack_size
        ))
    }
}

/// `clone` with its arguments in a `struct clone_args` of `size` bytes.
#[syscall]
pub fn clone3(t: &mut Task, cl_args: UserPtr<Clone3Args>, size: usize) -> KResult<u64> {
    if !(64..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; size];
    t.read_bytes(cl_args.addr(), &mut raw)?;
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

/// A wait status as strace decodes it: `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(transparent)]
pub struct WaitStatus(pub i32);

impl UserType for WaitStatus {
    fn strace(&self) -> Option<String> {
        let s = self.0;
        let sig = |n: i32| super::args::signal_str(n);
        let text = if s == 0xffff {
            "WIFCONTINUED(s)".to_string()
        } else if s & 0xff == 0x7f {
            format!("WIFSTOPPED(s) && WSTOPSIG(s) == {}", sig((s >> 8) & 0xff))
        } else if s & 0x7f == 0 {
            format!("WIFEXITED(s) && WEXITSTATUS(s) == {}", (s >> 8) & 0xff)
        } else {
            let core = if s & 0x80 != 0 { " && WCOREDUMP(s)" } else { "" };
            format!("WIFSIGNALED(s) && WTERMSIG(s) == {}{core}", sig(s & 0x7f))
        };
        Some(format!("[{{{text}}}]"))
    }
}

impl UserType for Rusage {}
impl UserType for Tms {}

/// Wait for a child to change state; its status at `wstatus`.
#[syscall]
pub fn wait4(
    t: &mut Task,
    pid: i32,
    wstatus: UserPtr<WaitStatus>,
    options: WaitOptions,
    rusage: UserPtr<Rusage>,
) -> KResult<u64> {
    let options = options.0;
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
            wstatus.write_opt(t, &WaitStatus(w.wstatus))?;
            rusage.write_opt(t, &Rusage::default())?;
            Ok(w.pid as u64)
        }
    }
}

/// Wait for a child that `idtype` and `id` select (`P_ALL`, `P_PID`,
/// `P_PGID`, `P_PIDFD`); what happened at `infop`.
#[syscall]
pub fn waitid(
    t: &mut Task,
    idtype: u32,
    id: i32,
    infop: UserPtr<Siginfo>,
    options: WaitOptions,
    rusage: UserPtr<Rusage>,
) -> KResult<u64> {
    let options = options.0;
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
    if !infop.is_null() {
        let info = match &r {
            None => Siginfo::default(),
            Some(w) => {
                let mut i = signal::info_from(SIGCHLD, w.code, w.pid, w.uid);
                i.fields[1] = u64::from(w.status as u32);
                i
            }
        };
        infop.write(t, &info)?;
    }
    rusage.write_opt(t, &Rusage::default())?;
    Ok(0)
}

/// Set or get the FS and GS bases, or query CPUID faulting. The code is an
/// `int` to Linux, the address an `unsigned long`.
#[syscall]
pub fn arch_prctl(t: &mut Task, code: ArchPrctlCode, addr: Hex) -> KResult<u64> {
    let addr = addr.0;
    match u64::from(code.0 as u32) {
        ARCH_SET_FS => {
            if addr >= t.k.platform.max_user_address() {
                return Err(Errno::EPERM);
            }
            t.regs.fs_base = addr;
            Ok(0)
        }
        ARCH_SET_GS => {
            if addr >= t.k.platform.max_user_address() {
                return Err(Errno::EPERM);
            }
            t.regs.gs_base = addr;
            Ok(0)
        }
        ARCH_GET_FS => {
            let v = t.regs.fs_base;
            t.write_val(addr, &v)?;
            Ok(0)
        }
        ARCH_GET_GS => {
            let v = t.regs.gs_base;
            t.write_val(addr, &v)?;
            Ok(0)
        }
        ARCH_GET_CPUID => Ok(1),
        _ => Err(Errno::EINVAL),
    }
}

/// Where the thread's id is cleared (and a futex woken) when it exits.
#[syscall]
pub fn set_tid_address(t: &mut Task, tidptr: UserAddr) -> KResult<u64> {
    t.clear_child_tid = tidptr.0;
    Ok(t.tid as u64)
}

/// The head of the thread's robust futex list.
#[syscall]
pub fn set_robust_list(t: &mut Task, head: UserAddr, len: usize) -> KResult<u64> {
    if len != 24 {
        return Err(Errno::EINVAL);
    }
    t.robust_list = (head.0, len as u64);
    Ok(0)
}

fn do_prlimit(t: &mut Task, resource: u32, new: UserPtr<Rlimit>, old: UserPtr<Rlimit>) -> KResult<u64> {
    if resource >= RLIMIT_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let r = resource as usize;
    let cur = t.rlimit(resource);
    let newv = new.read_opt(t)?;
    if let Some(n) = &newv {
        if n.rlim_cur > n.rlim_max {
            return Err(Errno::EINVAL);
        }
        if n.rlim_max > cur.rlim_max && !t.creds().capable(CAP_SYS_RESOURCE) {
            return Err(Errno::EPERM);
        }
        if resource == RLIMIT_NOFILE && n.rlim_max > 1 << 20 {
            return Err(Errno::EPERM);
        }
    }
    old.write_opt(t, &cur)?;
    if let Some(n) = newv {
        t.proc_.rlimits.lock()[r] = n;
    }
    Ok(0)
}

/// Get and set a resource limit of process `pid` (0: the caller).
#[syscall]
pub fn prlimit64(
    t: &mut Task,
    pid: i32,
    resource: Resource,
    new_limit: UserPtr<Rlimit>,
    old_limit: UserPtr<Rlimit>,
) -> KResult<u64> {
    if pid != 0 && pid != t.pid() {
        return Err(if t.k.process(pid).is_some() { Errno::EPERM } else { Errno::ESRCH });
    }
    do_prlimit(t, resource.0 as u32, new_limit, old_limit)
}

/// A resource limit of the caller.
#[syscall]
pub fn getrlimit(t: &mut Task, resource: Resource, rlim: UserPtr<Rlimit>) -> KResult<u64> {
    do_prlimit(t, resource.0 as u32, UserPtr::new(0), rlim)
}

/// Set a resource limit of the caller.
#[syscall]
pub fn setrlimit(t: &mut Task, resource: Resource, rlim: UserPtr<Rlimit>) -> KResult<u64> {
    do_prlimit(t, resource.0 as u32, rlim, UserPtr::new(0))
}

/// A CPU mask whose size is argument `LEN`, printed as strace does:
/// `[0 1]` (after the call, the bytes it returned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuMask<const LEN: usize>(pub u64);

impl<const LEN: usize> SysArg for CpuMask<LEN> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(CpuMask(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let addr = c.raw[i];
        let len = match c.result {
            Some(Err(_)) => return format!("{addr:#x}"),
            Some(Ok(n)) if c.raw[LEN] != n && n > 0 => n,
            _ => c.raw[LEN],
        };
        match c.t.read_vec(addr, len.min(128) as usize) {
            Ok(bytes) => super::args::bits_str(&bytes, usize::MAX),
            Err(_) => format!("{addr:#x}"),
        }
    }
}

/// CPUs the sandbox reports (the host's count).
fn ncpus() -> usize {
    crate::kernel::ncpus()
}

/// The CPUs process `pid` may run on; the result is the mask's size.
#[syscall]
pub fn sched_getaffinity(t: &mut Task, pid: i32, cpusetsize: usize, mask: CpuMask<1>) -> KResult<u64> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let p = target(t, pid)?;
    let size = cpusetsize;
    let n = ncpus();
    let need = n.div_ceil(64) * 8;
    if size < need || !size.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let bits = p.affinity.load(Ordering::Relaxed);
    let mut out = vec![0u8; need];
    for c in 0..n.min(64) {
        if bits & (1 << c) != 0 {
            out[c / 8] |= 1 << (c % 8);
        }
    }
    t.write_bytes(mask.0, &out)?;
    Ok(need as u64)
}

/// Let other threads run.
#[syscall]
pub fn sched_yield(_t: &mut Task) -> KResult<u64> {
    std::thread::yield_now();
    Ok(0)
}

/// The CPU and NUMA node the caller runs on (always 0: the sandbox does
/// not expose its placement).
#[syscall]
pub fn getcpu(t: &mut Task, cpu: UserPtr<u32>, node: UserPtr<u32>, tcache: UserAddr) -> KResult<u64> {
    let _ = tcache;
    cpu.write_opt(t, &0)?;
    node.write_opt(t, &0)?;
    Ok(0)
}

/// Process and thread attributes: name, dumpable, the capability bounding
/// and ambient sets, keep-caps (the one securebit modelled), no-new-privs, parent-death signal, child subreaper. The option is
/// an `int` to Linux, the other arguments `unsigned long`.
#[syscall]
pub fn prctl(t: &mut Task, option: PrctlOption, arg2: Hex, arg3: Hex, arg4: Hex, arg5: Hex) -> KResult<u64> {
    let (arg2, arg3, arg4, arg5) = (arg2.0, arg3.0, arg4.0, arg5.0);
    match u64::from(option.0 as u32) {
        PR_SET_NAME => {
            let mut name = t.mm.lock().read_cstring(arg2, 4096).or_else(|e| {
                if e == Errno::ENAMETOOLONG {
                    t.read_vec(arg2, 15)
                } else {
                    Err(e)
                }
            })?;
            name.truncate(15);
            *t.shared.comm.lock() = name.clone();
            if t.tid == t.pid() {
                *t.proc_.comm.lock() = name;
            }
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = t.comm();
            name.resize(16, 0);
            t.write_bytes(arg2, &name)?;
            Ok(0)
        }
        PR_GET_KEEPCAPS => Ok(u64::from(t.proc_.keepcaps.load(Ordering::Relaxed))),
        PR_SET_KEEPCAPS => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            t.proc_.keepcaps.store(arg2 == 1, Ordering::Relaxed);
            Ok(0)
        }
        PR_CAPBSET_READ => {
            let cap = cap_arg(arg2)?;
            Ok(u64::from(t.creds().caps.bounding & crate::caps::bit(cap) != 0))
        }
        PR_CAPBSET_DROP => {
            if !t.creds().capable(CAP_SETPCAP) {
                return Err(Errno::EPERM);
            }
            let cap = cap_arg(arg2)?;
            t.proc_.creds.lock().caps.bounding &= !crate::caps::bit(cap);
            Ok(0)
        }
        PR_CAP_AMBIENT => cap_ambient(t, arg2, arg3, arg4 | arg5),
        PR_GET_SECUREBITS => Ok(if t.proc_.keepcaps.load(Ordering::Relaxed) { SECBIT_KEEP_CAPS } else { 0 }),
        PR_SET_SECUREBITS => {
            // Only SECBIT_KEEP_CAPS is modelled; the others (noroot, no
            // setuid fixup, their locks) are refused rather than ignored.
            if !t.creds().capable(CAP_SETPCAP) {
                return Err(Errno::EPERM);
            }
            if arg2 & !SECBIT_KEEP_CAPS != 0 {
                tracing::warn!("unsupported securebits {arg2:#x} by {}", String::from_utf8_lossy(&t.comm()));
                return Err(Errno::EINVAL);
            }
            t.proc_.keepcaps.store(arg2 != 0, Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(1),
        PR_SET_DUMPABLE => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 || arg3 != 0 || arg4 != 0 || arg5 != 0 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => Ok(1),
        // SECCOMP_MODE_FILTER under the config's profile; no filter else
        // (the calls that would install one are not supported).
        PR_GET_SECCOMP => Ok(if t.k.app_filter.get().is_some() { 2 } else { 0 }),
        PR_GET_PDEATHSIG => {
            let v = t.proc_.pdeathsig.load(Ordering::Relaxed);
            t.write_val(arg2, &v)?;
            Ok(0)
        }
        PR_SET_PDEATHSIG => {
            if arg2 > u64::from(NSIG) {
                return Err(Errno::EINVAL);
            }
            t.proc_.pdeathsig.store(arg2 as i32, Ordering::Relaxed);
            Ok(0)
        }
        PR_SET_CHILD_SUBREAPER => {
            t.proc_.subreaper.store(arg2 != 0, Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let v = i32::from(t.proc_.subreaper.load(Ordering::Relaxed));
            t.write_val(arg2, &v)?;
            Ok(0)
        }
        _ => {
            tracing::warn!("unsupported prctl option {} by {}", option.0, String::from_utf8_lossy(&t.comm()));
            Err(Errno::EINVAL)
        }
    }
}

/// A capability number `prctl` takes: `EINVAL` past `CAP_LAST_CAP`.
fn cap_arg(v: u64) -> KResult<u32> {
    u32::try_from(v).ok().filter(|&c| c <= CAP_LAST_CAP).ok_or(Errno::EINVAL)
}

/// `PR_CAP_AMBIENT`: `op` is `IS_SET`, `RAISE` (the capability must be
/// permitted and inheritable), `LOWER` or `CLEAR_ALL`; `rest`, the unused
/// arguments, must be 0.
fn cap_ambient(t: &Task, op: u64, cap: u64, rest: u64) -> KResult<u64> {
    if op == PR_CAP_AMBIENT_CLEAR_ALL {
        if cap | rest != 0 {
            return Err(Errno::EINVAL);
        }
        t.proc_.creds.lock().caps.ambient = 0;
        return Ok(0);
    }
    if rest != 0 {
        return Err(Errno::EINVAL);
    }
    let b = crate::caps::bit(cap_arg(cap)?);
    let mut c = t.proc_.creds.lock();
    match op {
        PR_CAP_AMBIENT_IS_SET => Ok(u64::from(c.caps.ambient & b != 0)),
        PR_CAP_AMBIENT_RAISE if c.caps.permitted & c.caps.inheritable & b == 0 => Err(Errno::EPERM),
        PR_CAP_AMBIENT_RAISE => {
            c.caps.ambient |= b;
            Ok(0)
        }
        PR_CAP_AMBIENT_LOWER => {
            c.caps.ambient &= !b;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Resource usage of the caller (`RUSAGE_SELF`), its children or its
/// thread.
#[syscall]
pub fn getrusage(t: &mut Task, who: i32, usage: UserPtr<Rusage>) -> KResult<u64> {
    if !(-1..=1).contains(&who) {
        return Err(Errno::EINVAL);
    }
    let mut ru = Rusage::default();
    if who != -1 {
        let d = t.proc_.start.elapsed();
        ru.ru_utime.tv_sec = d.as_secs() as i64;
        ru.ru_utime.tv_usec = i64::from(d.subsec_micros());
    }
    usage.write(t, &ru)?;
    Ok(0)
}

/// Process times in clock ticks; the result is ticks since an arbitrary
/// point.
#[syscall]
pub fn times(t: &mut Task, buf: UserPtr<Tms>) -> KResult<u64> {
    let ticks = (t.proc_.start.elapsed().as_millis() / 10) as i64;
    buf.write_opt(t, &Tms { tms_utime: ticks, ..Default::default() })?;
    Ok((t.k.start.elapsed().as_millis() / 10) as u64 + 100_000)
}

/// Set the CPUs process `pid` may run on (another user's only with
/// `CAP_SYS_NICE`).
#[syscall]
pub fn sched_setaffinity(t: &mut Task, pid: i32, cpusetsize: usize, mask: CpuMask<1>) -> KResult<u64> {
    let p = target(t, pid)?;
    let size = cpusetsize.min(128);
    let mask = t.read_vec(mask.0, size)?;
    // Another user's process takes CAP_SYS_NICE (check_same_owner).
    let me = t.creds();
    let (uid, euid) = {
        let c = p.creds.lock();
        (c.uid, c.euid)
    };
    if me.euid != uid && me.euid != euid && !me.capable(CAP_SYS_NICE) {
        return Err(Errno::EPERM);
    }
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

/// The scheduling priority of process `pid` (0 under `SCHED_OTHER`).
#[syscall]
pub fn sched_getparam(t: &mut Task, pid: i32, param: UserPtr<i32>) -> KResult<u64> {
    target(t, pid)?;
    param.write(t, &0)?;
    Ok(0)
}

/// Set the scheduling priority of process `pid` (only 0 is valid).
#[syscall]
pub fn sched_setparam(t: &mut Task, pid: i32, param: UserPtr<i32>) -> KResult<u64> {
    target(t, pid)?;
    let prio = param.read(t)?;
    if prio != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// The scheduling policy of process `pid` (`SCHED_OTHER`).
#[syscall]
pub fn sched_getscheduler(t: &mut Task, pid: i32) -> KResult<u64> {
    target(t, pid)?;
    Ok(0) // SCHED_OTHER
}

/// Set the scheduling policy of process `pid`: the unprivileged ones only.
#[syscall]
pub fn sched_setscheduler(t: &mut Task, pid: i32, policy: i32, param: UserPtr<i32>) -> KResult<u64> {
    target(t, pid)?;
    let policy = policy & !0x4000_0000; // SCHED_RESET_ON_FORK
    let prio = param.read(t)?;
    match policy {
        0 | 3 | 5 if prio == 0 => Ok(0), // OTHER, BATCH, IDLE
        1 | 2 => Err(Errno::EPERM),      // FIFO, RR need privileges the sandbox does not grant
        _ => Err(Errno::EINVAL),
    }
}

/// The highest priority of `policy`.
#[syscall]
pub fn sched_get_priority_max(_t: &mut Task, policy: i32) -> KResult<u64> {
    match policy {
        1 | 2 => Ok(99),
        0 | 3 | 5 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// The lowest priority of `policy`.
#[syscall]
pub fn sched_get_priority_min(_t: &mut Task, policy: i32) -> KResult<u64> {
    match policy {
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
            t.k.all_processes().into_iter().filter(|p| p.creds.lock().uid == u).collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if v.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(v)
}

super::args::named_arg!(/// `getpriority`/`setpriority` targets (`PRIO_PROCESS`, ...).
    PrioWhich(i32), |v| super::args::value_str(v, abi::names::PRIO_WHICH));

/// The best nice value among the targets, as the raw call reports it
/// (`20 - nice`).
#[syscall]
pub fn getpriority(t: &mut Task, which: PrioWhich, who: i32) -> KResult<u64> {
    let v = prio_targets(t, which.0, who)?;
    let best = v.iter().map(|p| p.nice.load(Ordering::Relaxed)).min().unwrap_or(0);
    // The raw syscall reports 20 - nice.
    Ok((20 - best) as u64)
}

/// Set the nice value of the targets: a process of another user takes
/// `CAP_SYS_NICE` (`EPERM`), and so does lowering it past what the
/// target's `RLIMIT_NICE` allows (`EACCES`). Every target is tried; the
/// result is the last failure.
#[syscall]
pub fn setpriority(t: &mut Task, which: PrioWhich, who: i32, prio: i32) -> KResult<u64> {
    let v = prio_targets(t, which.0, who)?;
    let nice = prio.clamp(-20, 19);
    let me = t.creds();
    let mut result = Ok(0);
    for p in v {
        let (uid, euid) = {
            let c = p.creds.lock();
            (c.uid, c.euid)
        };
        if uid != me.euid && euid != me.euid && !me.capable(CAP_SYS_NICE) {
            result = Err(Errno::EPERM);
            continue;
        }
        // RLIMIT_NICE's soft limit is the lowest nice value as 20 - nice.
        let floor = 20 - i64::try_from(p.rlimits.lock()[RLIMIT_NICE as usize].rlim_cur).unwrap_or(i64::MAX).min(40);
        if nice < p.nice.load(Ordering::Relaxed) && i64::from(nice) < floor && !me.capable(CAP_SYS_NICE) {
            result = Err(Errno::EACCES);
            continue;
        }
        p.nice.store(nice, Ordering::Relaxed);
    }
    result
}
