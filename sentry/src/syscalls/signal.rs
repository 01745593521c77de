//! Signal calls: actions, masks, the alternate stack, sending, waiting,
//! and `rt_sigreturn`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::{KernelSigaction, Siginfo, StackT, Timespec};
use abi::Errno;

use super::int_arg;
use crate::kernel::signal::{self, UNBLOCKABLE};
use crate::kernel::{Process, Task};
use crate::vfs::{lock, KResult};

fn check_sig(sig: i32) -> KResult<u32> {
    if (1..=NSIG as i32).contains(&sig) {
        Ok(sig as u32)
    } else {
        Err(Errno::EINVAL)
    }
}

pub fn rt_sigaction(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let sig = check_sig(int_arg(a[0]))?;
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let new: Option<KernelSigaction> = if a[1] != 0 { Some(t.read_val(a[1])?) } else { None };
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let old = {
        let mut acts = lock(&t.proc_.actions);
        let old = acts[(sig - 1) as usize];
        if let Some(mut n) = new {
            n.mask &= !UNBLOCKABLE;
            acts[(sig - 1) as usize] = n;
        }
        old
    };
    // Setting SIG_IGN (or a default-ignore SIG_DFL) discards what is pending.
    if let Some(n) = new {
        if signal::ignored(sig, &n) {
            lock(&t.proc_.pending).discard(sig);
            for th in lock(&t.proc_.threads).iter() {
                lock(&th.pending).discard(sig);
            }
        }
    }
    if a[2] != 0 {
        t.write_val(a[2], &old)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.sigmask();
    if a[1] != 0 {
        let set: u64 = t.read_val(a[1])?;
        let new = match int_arg(a[0]) as u32 {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        t.set_sigmask(new);
    }
    if a[2] != 0 {
        t.write_val(a[2], &old)?;
    }
    Ok(0)
}

pub fn sigaltstack(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let old = t.altstack;
    let on = old.ss_flags & SS_DISABLE == 0 && t.regs.rsp > old.ss_sp && t.regs.rsp <= old.ss_sp + old.ss_size;
    if a[0] != 0 {
        let ss: StackT = t.read_val(a[0])?;
        if on {
            return Err(Errno::EPERM);
        }
        if ss.ss_flags & !(SS_DISABLE | (1 << 31)) != 0 {
            return Err(Errno::EINVAL);
        }
        if ss.ss_flags & SS_DISABLE != 0 {
            t.altstack = StackT { ss_flags: SS_DISABLE, ..Default::default() };
        } else {
            if ss.ss_size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            t.altstack = StackT { ss_flags: 0, ..ss };
        }
    }
    if a[1] != 0 {
        let mut o = old;
        if on {
            o.ss_flags = SS_ONSTACK;
        }
        t.write_val(a[1], &o)?;
    }
    Ok(0)
}

pub fn rt_sigreturn(t: &mut Task, _a: &[u64; 6]) -> KResult<u64> {
    t.sigreturn()?;
    Ok(t.regs.rax)
}

pub fn rt_sigpending(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[1] > 8 {
        return Err(Errno::EINVAL);
    }
    let set = (lock(&t.shared.pending).set | lock(&t.proc_.pending).set) & t.sigmask();
    t.write_val(a[0], &set)?;
    Ok(0)
}

pub fn rt_sigsuspend(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let set: u64 = t.read_val(a[0])?;
    let old = t.sigmask();
    t.set_sigmask(set);
    let _ = t.wait_until(&[], None, || Ok(None::<()>));
    // The handler frame restores `old`; without a handler the mask returns
    // here.
    t.saved_mask = Some(old);
    if !t.signal_pending() {
        t.set_sigmask(old);
        t.saved_mask = None;
    }
    Err(Errno::ERESTARTNOHAND)
}

pub fn pause(t: &mut Task, _a: &[u64; 6]) -> KResult<u64> {
    let _ = t.wait_until(&[], None, || Ok(None::<()>));
    Err(Errno::ERESTARTNOHAND)
}

pub fn rt_sigtimedwait(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let set: u64 = t.read_val::<u64>(a[0])? & !UNBLOCKABLE;
    let deadline = if a[2] != 0 {
        let ts: Timespec = t.read_val(a[2])?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Some(Instant::now() + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    } else {
        None
    };
    let take = |t: &Task| -> Option<Siginfo> {
        let block = !set;
        lock(&t.shared.pending).take(block).or_else(|| lock(&t.proc_.pending).take(block))
    };
    // Wait with the set unblocked for wake-up purposes only.
    let old = t.sigmask();
    let r = {
        let tt: &Task = t;
        tt.set_sigmask(old & !set);
        let r = tt.wait_until(&[], deadline, || Ok(take(tt)));
        tt.set_sigmask(old);
        r
    };
    match r {
        Ok(info) => {
            if a[1] != 0 {
                t.write_val(a[1], &info)?;
            }
            Ok(info.si_signo as u64)
        }
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        Err(e) => Err(e),
    }
}

/// Processes `pid` designates for kill(2).
fn kill_targets(t: &Task, pid: i32) -> KResult<Vec<Arc<Process>>> {
    let all = t.k.all_processes();
    let v: Vec<Arc<Process>> = match pid {
        p if p > 0 => all.into_iter().filter(|x| x.pid == p).collect(),
        0 => {
            let g = t.proc_.pgid.load(std::sync::atomic::Ordering::Relaxed);
            all.into_iter().filter(|x| x.pgid.load(std::sync::atomic::Ordering::Relaxed) == g).collect()
        }
        -1 => all.into_iter().filter(|x| x.pid != 1 && !Arc::ptr_eq(x, &t.proc_)).collect(),
        p => {
            let g = p.checked_neg().ok_or(Errno::ESRCH)?;
            all.into_iter().filter(|x| x.pgid.load(std::sync::atomic::Ordering::Relaxed) == g).collect()
        }
    };
    let v: Vec<Arc<Process>> = v.into_iter().filter(|x| !x.is_zombie() || pid > 0).collect();
    if v.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(v)
}

pub fn kill(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    let sig = int_arg(a[1]);
    if !(0..=NSIG as i32).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let targets = kill_targets(t, pid)?;
    let uid = t.creds().uid;
    for p in targets {
        if sig != 0 {
            t.k.signal_process(&p, signal::info_from(sig as u32, signal::SI_USER, t.pid(), uid));
        }
    }
    Ok(0)
}

fn thread_signal(t: &Task, tgid: Option<i32>, tid: i32, sig: i32) -> KResult<u64> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    if !(0..=NSIG as i32).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let th = t.k.task(tid).ok_or(Errno::ESRCH)?;
    if let Some(g) = tgid {
        if th.process.upgrade().map(|p| p.pid) != Some(g) {
            return Err(Errno::ESRCH);
        }
    }
    if sig != 0 {
        t.k.signal_thread(&th, signal::info_from(sig as u32, signal::SI_TKILL, t.pid(), t.creds().uid));
    }
    Ok(0)
}

pub fn tkill(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    thread_signal(t, None, int_arg(a[0]), int_arg(a[1]))
}

pub fn tgkill(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    thread_signal(t, Some(int_arg(a[0])), int_arg(a[1]), int_arg(a[2]))
}

pub fn rt_sigqueueinfo(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let pid = int_arg(a[0]);
    let sig = check_sig(int_arg(a[1]))?;
    let mut info: Siginfo = t.read_val(a[2])?;
    if (info.si_code >= 0 || info.si_code == signal::SI_TKILL) && pid != t.pid() {
        return Err(Errno::EPERM);
    }
    info.si_signo = sig as i32;
    let p = t.k.process(pid).ok_or(Errno::ESRCH)?;
    t.k.signal_process(&p, info);
    Ok(0)
}

pub fn rt_tgsigqueueinfo(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let sig = check_sig(int_arg(a[2]))?;
    let mut info: Siginfo = t.read_val(a[3])?;
    info.si_signo = sig as i32;
    let th = t.k.task(int_arg(a[1])).ok_or(Errno::ESRCH)?;
    if th.process.upgrade().map(|p| p.pid) != Some(int_arg(a[0])) {
        return Err(Errno::ESRCH);
    }
    t.k.signal_thread(&th, info);
    Ok(0)
}
