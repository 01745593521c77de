//! Process identity and control: ids, exit, execve, arch_prctl, limits,
//! scheduling queries, prctl, resource usage.

use abi::consts::*;
use abi::types::{Rlimit, Rusage, Tms};
use abi::Errno;
use zerocopy::AsBytes;

use super::int_arg;
use crate::kernel::{Task, TaskExit};
use crate::vfs::{lock, KResult};

pub fn getpid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(t.pid() as u64)
}

pub fn gettid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(t.tid as u64)
}

pub fn getppid(t: &mut Task, _: &[u64; 6]) -> KResult<u64> {
    Ok(*lock(&t.proc_.ppid) as u64)
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
    Ok(t.pid() as u64)
}

fn check_pid(t: &Task, pid: i32) -> KResult<u64> {
    if pid == 0 || pid == t.pid() {
        return Ok(t.pid() as u64);
    }
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if t.k.process(pid).is_some() {
        Ok(pid as u64)
    } else {
        Err(Errno::ESRCH)
    }
}

pub fn getpgid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    check_pid(t, int_arg(a[0]))
}

pub fn getsid(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    check_pid(t, int_arg(a[0]))
}

pub fn exit(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    // One thread per process for now: exit ends the process.
    t.exit = Some(TaskExit::Code(int_arg(a[0]) & 0xff));
    Ok(0)
}

pub fn exit_group(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    t.exit = Some(TaskExit::Code(int_arg(a[0]) & 0xff));
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
    let newv: Option<Rlimit> = if new != 0 { Some(t.read_val(new)?) } else { None };
    if let Some(n) = &newv {
        if n.rlim_cur > n.rlim_max {
            return Err(Errno::EINVAL);
        }
        if n.rlim_max > t.rlimits[r].rlim_max && t.creds().euid != 0 {
            return Err(Errno::EPERM);
        }
        if resource == RLIMIT_NOFILE && n.rlim_max > 1 << 20 {
            return Err(Errno::EPERM);
        }
    }
    if old != 0 {
        let v = t.rlimits[r];
        t.write_val(old, &v)?;
    }
    if let Some(n) = newv {
        t.rlimits[r] = n;
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
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn sched_getaffinity(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    check_pid(t, pid)?;
    let size = a[1] as usize;
    let n = ncpus();
    let need = n.div_ceil(64) * 8;
    if size < need || !size.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let mut mask = vec![0u8; need];
    for c in 0..n {
        mask[c / 8] |= 1 << (c % 8);
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
const PR_SET_DUMPABLE: u64 = 4;
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const PR_SET_NO_NEW_PRIVS: u64 = 38;
const PR_GET_NO_NEW_PRIVS: u64 = 39;

pub fn prctl(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    match a[0] {
        PR_SET_NAME => {
            let mut name = lock(&t.proc_.mm).read_cstring(a[1], 4096).or_else(|e| {
                if e == Errno::ENAMETOOLONG {
                    t.read_vec(a[1], 15)
                } else {
                    Err(e)
                }
            })?;
            name.truncate(15);
            *lock(&t.proc_.comm) = name;
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = t.comm();
            name.resize(16, 0);
            t.write_bytes(a[1], &name)?;
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
            t.write_val(a[1], &0i32)?;
            Ok(0)
        }
        PR_SET_PDEATHSIG => Err(Errno::ENOSYS),
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
