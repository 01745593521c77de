//! Signal calls: actions, masks, the alternate stack, sending, waiting,
//! and `rt_sigreturn`.

use std::sync::Arc;
use std::time::Instant;

use abi::consts::*;
use abi::types::{KernelSigaction, Siginfo, StackT, Timespec};
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use sentry_macros::syscall;

use super::args::flag_str;
use super::args::{SigHow, SigReturn, Signal, UserPtr, UserType};
use super::time::duration_of;
use crate::kernel::signal::{self, UNBLOCKABLE};
use crate::kernel::{Process, Task};
use crate::vfs::KResult;

/// A `sigset_t` as the kernel passes it: one bit per signal, bit `n - 1`
/// for signal `n`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(transparent)]
pub struct SigSet(pub u64);

/// strace's name of signal `sig` inside a set: `INT`, `RTMIN`, `RT_1`.
fn set_member_name(sig: u32) -> String {
    let name = super::args::signal_str(i32::try_from(sig).unwrap_or(i32::MAX));
    name.strip_prefix("SIG").map_or(name.clone(), str::to_string)
}

/// strace's form of a set: `[INT CHLD]`, or, when two thirds or more of the
/// signals are in it, the complement: `~[RTMIN RT_1]`.
pub(crate) fn sigset_str(mask: u64) -> String {
    let negated = mask.count_ones() >= 64 * 2 / 3;
    let shown = if negated { !mask } else { mask };
    let names: Vec<String> = (1..=NSIG).filter(|&s| shown & signal::bit(s) != 0).map(set_member_name).collect();
    format!("{}[{}]", if negated { "~" } else { "" }, names.join(" "))
}

impl UserType for SigSet {
    fn strace(&self) -> Option<String> {
        Some(sigset_str(self.0))
    }
}

fn null_or_hex(v: u64) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// strace's `{sa_handler=SIG_IGN, sa_mask=[TERM], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x...}`;
/// the restorer shows only with `SA_RESTORER`.
impl UserType for KernelSigaction {
    fn strace(&self) -> Option<String> {
        let handler = match self.handler {
            signal::SIG_DFL => "SIG_DFL".into(),
            signal::SIG_IGN => "SIG_IGN".into(),
            u64::MAX => "SIG_ERR".into(),
            h => format!("{h:#x}"),
        };
        let restorer = if self.flags & signal::SA_RESTORER != 0 {
            format!(", sa_restorer={}", null_or_hex(self.restorer))
        } else {
            String::new()
        };
        Some(format!(
            "{{sa_handler={handler}, sa_mask={}, sa_flags={}{restorer}}}",
            sigset_str(self.mask),
            flag_str::<abi::flags::SaFlags>(self.flags, "0")
        ))
    }
}

/// strace's `{ss_sp=NULL, ss_flags=SS_DISABLE, ss_size=0}`.
impl UserType for StackT {
    fn strace(&self) -> Option<String> {
        // The flags word's bits, not its value.
        let flags = self.ss_flags.cast_unsigned();
        Some(format!(
            "{{ss_sp={}, ss_flags={}, ss_size={}}}",
            null_or_hex(self.ss_sp),
            flag_str::<abi::flags::SsFlags>(flags, "0"),
            self.ss_size
        ))
    }
}

impl UserType for Siginfo {}

/// `sig` as a signal number, 1 to `NSIG`; `EINVAL` otherwise.
fn check_sig(sig: Signal) -> KResult<u32> {
    u32::try_from(sig.0).ok().filter(|s| (1..=NSIG).contains(s)).ok_or(Errno::EINVAL)
}

/// `sig` as a signal number or 0 (which only probes the target).
fn check_sig_or_probe(sig: Signal) -> KResult<u32> {
    if sig.0 == 0 {
        return Ok(0);
    }
    check_sig(sig)
}

/// The size of `sigset_t` the kernel takes.
pub(super) const SIGSET_SIZE: usize = 8;

/// Examine and change the action of `signum`. Setting `SIG_IGN` (or a
/// `SIG_DFL` whose default is to ignore) discards what is pending.
#[syscall]
pub fn rt_sigaction(
    t: &mut Task,
    signum: Signal,
    act: UserPtr<KernelSigaction>,
    oldact: UserPtr<KernelSigaction>,
    sigsetsize: usize,
) -> KResult<u64> {
    let sig = check_sig(signum)?;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new = act.read_opt(t)?;
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let slot = (sig - 1) as usize;
    let old = {
        let mut acts = t.proc_.actions.lock();
        let old = acts[slot];
        if let Some(mut n) = new {
            n.mask &= !UNBLOCKABLE;
            acts[slot] = n;
        }
        old
    };
    if let Some(n) = new {
        if signal::ignored(sig, &n) {
            t.proc_.pending.lock().discard(sig);
            for th in t.proc_.threads.lock().iter() {
                th.pending.lock().discard(sig);
            }
        }
    }
    oldact.write_opt(t, &old)?;
    Ok(0)
}

/// Examine and change the calling thread's blocked signals. The set is
/// read before `how` is checked, as Linux does (`EFAULT` first).
#[syscall]
pub fn rt_sigprocmask(
    t: &mut Task,
    how: SigHow,
    set: UserPtr<SigSet>,
    oldset: UserPtr<SigSet>,
    sigsetsize: usize,
) -> KResult<u64> {
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let old = t.sigmask();
    if let Some(SigSet(set)) = set.read_opt(t)? {
        let new = match u32::try_from(how.0) {
            Ok(SIG_BLOCK) => old | set,
            Ok(SIG_UNBLOCK) => old & !set,
            Ok(SIG_SETMASK) => set,
            _ => return Err(Errno::EINVAL),
        };
        t.set_sigmask(new);
    }
    oldset.write_opt(t, &SigSet(old))?;
    Ok(0)
}

/// Set and get the alternate signal stack. `EPERM` while running on it;
/// `SS_AUTODISARM` is accepted and ignored.
#[syscall]
pub fn sigaltstack(t: &mut Task, ss: UserPtr<StackT>, old_ss: UserPtr<StackT>) -> KResult<u64> {
    let old = t.altstack;
    let sp = t.regs.rsp;
    // Linux's `on_sig_stack`, written so that no sum can overflow.
    let on = old.ss_flags & SS_DISABLE == 0 && sp > old.ss_sp && sp - old.ss_sp <= old.ss_size;
    if let Some(ss) = ss.read_opt(t)? {
        if on {
            return Err(Errno::EPERM);
        }
        if ss.ss_flags & !(SS_DISABLE | SS_AUTODISARM) != 0 {
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
    let mut o = old;
    if on {
        o.ss_flags = SS_ONSTACK;
    }
    old_ss.write_opt(t, &o)?;
    Ok(0)
}

/// Return from a signal handler: restore the registers and mask the frame
/// saved. strace shows the restored `rax`.
#[syscall]
pub fn rt_sigreturn(t: &mut Task) -> KResult<SigReturn> {
    t.sigreturn()?;
    Ok(SigReturn(t.regs.rax))
}

/// The blocked signals pending for the thread or its process.
#[syscall]
pub fn rt_sigpending(t: &mut Task, set: UserPtr<SigSet>, sigsetsize: usize) -> KResult<u64> {
    if sigsetsize > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let pending = (t.shared.pending.lock().set | t.proc_.pending.lock().set) & t.sigmask();
    set.write(t, &SigSet(pending))?;
    Ok(0)
}

/// Wait for a signal with `mask` blocked instead of the thread's mask.
#[syscall]
pub fn rt_sigsuspend(t: &mut Task, mask: UserPtr<SigSet>, sigsetsize: usize) -> KResult<u64> {
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let SigSet(set) = mask.read(t)?;
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

/// Wait for a signal.
#[syscall]
pub fn pause(t: &mut Task) -> KResult<u64> {
    let _ = t.wait_until(&[], None, || Ok(None::<()>));
    Err(Errno::ERESTARTNOHAND)
}

/// Take a pending signal of `set` (waiting until `timeout`, forever when
/// `NULL`); `EAGAIN` when none came.
#[syscall]
pub fn rt_sigtimedwait(
    t: &mut Task,
    set: UserPtr<SigSet>,
    info: UserPtr<Siginfo>,
    timeout: UserPtr<Timespec>,
    sigsetsize: usize,
) -> KResult<u64> {
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let set = set.read(t)?.0 & !UNBLOCKABLE;
    let deadline = match timeout.read_opt(t)? {
        Some(ts) => Some(Instant::now() + duration_of(&ts)?),
        None => None,
    };
    let take = |t: &Task| -> Option<Siginfo> {
        let block = !set;
        t.shared.pending.lock().take(block).or_else(|| t.proc_.pending.lock().take(block))
    };
    // The set stays blocked (so init and ignored-signal rules see it as
    // blocked); arrivals wake every thread's waiter.
    let r = {
        let tt: &Task = t;
        tt.wait_until(&[], deadline, || Ok(take(tt)))
    };
    match r {
        Ok(si) => {
            info.write_opt(t, &si)?;
            u64::try_from(si.si_signo).map_err(|_| Errno::EINVAL)
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

/// Whether the caller may send `sig` (0: the probe) to process `p`
/// (Linux's `check_kill_permission`): its own process always; another
/// when a real or effective uid of the caller is the target's real or
/// saved uid, or with `CAP_KILL`; `SIGCONT` any process of its session.
pub(super) fn may_signal(t: &Task, p: &Process, sig: u32) -> bool {
    if p.pid == t.pid() {
        return true;
    }
    let me = t.creds();
    let (uid, suid) = {
        let c = p.creds.lock();
        (c.uid, c.suid)
    };
    let by_cred = [me.uid, me.euid].iter().any(|u| *u == uid || *u == suid) || me.capable(CAP_KILL);
    let same_session = || {
        use std::sync::atomic::Ordering::Relaxed;
        p.sid.load(Relaxed) == t.proc_.sid.load(Relaxed)
    };
    by_cred || (sig == SIGCONT && same_session())
}

/// Send `sig` to a process, a process group, or every process but init and
/// the caller (`pid` -1); signal 0 checks that the targets exist. A
/// target the caller may not signal is passed over: `EPERM` when that
/// leaves none of a process or group (every process, `pid` -1, is still 0,
/// as Linux answers).
#[syscall]
pub fn kill(t: &mut Task, pid: i32, sig: Signal) -> KResult<u64> {
    let sig = check_sig_or_probe(sig)?;
    let targets = kill_targets(t, pid)?;
    let uid = t.creds().uid;
    let mut sent = false;
    for p in targets {
        if !may_signal(t, &p, sig) {
            continue;
        }
        sent = true;
        if sig != 0 {
            t.k.signal_process(&p, signal::info_from(sig, signal::SI_USER, t.pid(), uid));
        }
    }
    if !sent && pid != -1 {
        return Err(Errno::EPERM);
    }
    Ok(0)
}

/// Send `sig` to thread `tid` (of thread group `tgid` when given).
fn thread_signal(t: &Task, tgid: Option<i32>, tid: i32, sig: Signal) -> KResult<u64> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    let sig = check_sig_or_probe(sig)?;
    let th = t.k.task(tid).ok_or(Errno::ESRCH)?;
    let p = th.process.upgrade().ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| p.pid != g) {
        return Err(Errno::ESRCH);
    }
    if !may_signal(t, &p, sig) {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        t.k.signal_thread(&th, signal::info_from(sig, signal::SI_TKILL, t.pid(), t.creds().uid));
    }
    Ok(0)
}

/// Send `sig` to thread `tid`.
#[syscall]
pub fn tkill(t: &mut Task, tid: i32, sig: Signal) -> KResult<u64> {
    thread_signal(t, None, tid, sig)
}

/// Send `sig` to thread `tid` of thread group `tgid`.
#[syscall]
pub fn tgkill(t: &mut Task, tgid: i32, tid: i32, sig: Signal) -> KResult<u64> {
    thread_signal(t, Some(tgid), tid, sig)
}

/// Queue `sig` with the caller's `info` to process `tgid`. Only the caller
/// itself may be sent a kernel-looking (`si_code >= 0`) or `SI_TKILL` info.
#[syscall]
pub fn rt_sigqueueinfo(t: &mut Task, tgid: i32, sig: Signal, info: UserPtr<Siginfo>) -> KResult<u64> {
    check_sig(sig)?;
    let mut si = info.read(t)?;
    if (si.si_code >= 0 || si.si_code == signal::SI_TKILL) && tgid != t.pid() {
        return Err(Errno::EPERM);
    }
    si.si_signo = sig.0;
    let p = t.k.process(tgid).ok_or(Errno::ESRCH)?;
    if !may_signal(t, &p, check_sig(sig)?) {
        return Err(Errno::EPERM);
    }
    t.k.signal_process(&p, si);
    Ok(0)
}

/// Queue `sig` with the caller's `info` to thread `tid` of group `tgid`.
#[syscall]
pub fn rt_tgsigqueueinfo(t: &mut Task, tgid: i32, tid: i32, sig: Signal, info: UserPtr<Siginfo>) -> KResult<u64> {
    check_sig(sig)?;
    let mut si = info.read(t)?;
    si.si_signo = sig.0;
    let th = t.k.task(tid).ok_or(Errno::ESRCH)?;
    let p = th.process.upgrade().ok_or(Errno::ESRCH)?;
    if p.pid != tgid {
        return Err(Errno::ESRCH);
    }
    if !may_signal(t, &p, check_sig(sig)?) {
        return Err(Errno::EPERM);
    }
    t.k.signal_thread(&th, si);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigset_prints_member_names_as_strace_does() {
        let set = SigSet(signal::bit(SIGINT) | signal::bit(SIGCHLD) | signal::bit(40));
        assert_eq!(set.strace().as_deref(), Some("[INT CHLD RT_8]"));
    }

    #[test]
    fn empty_sigset_prints_empty_brackets() {
        assert_eq!(SigSet(0).strace().as_deref(), Some("[]"));
    }

    #[test]
    fn sigset_of_two_thirds_or_more_prints_its_complement() {
        let glibc_all = !(signal::bit(32) | signal::bit(33));
        assert_eq!(SigSet(glibc_all).strace().as_deref(), Some("~[RTMIN RT_1]"));
        assert_eq!(SigSet(u64::MAX).strace().as_deref(), Some("~[]"));
    }

    #[test]
    fn sigset_of_forty_one_signals_is_listed_not_complemented() {
        let first_41 = (1u64 << 41) - 1;
        assert!(SigSet(first_41).strace().is_some_and(|s| s.starts_with("[HUP INT ") && s.ends_with(" RT_9]")));
    }

    #[test]
    fn sigaction_prints_handler_mask_flags_and_restorer() {
        let act = KernelSigaction {
            handler: signal::SIG_IGN,
            flags: signal::SA_RESTORER | signal::SA_RESTART,
            restorer: 0x7f00_0000_1000,
            mask: signal::bit(SIGTERM),
        };
        assert_eq!(
            act.strace().as_deref(),
            Some("{sa_handler=SIG_IGN, sa_mask=[TERM], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x7f0000001000}")
        );
    }

    #[test]
    fn sigaction_without_sa_restorer_omits_the_restorer() {
        let act = KernelSigaction::default();
        assert_eq!(act.strace().as_deref(), Some("{sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}"));
    }

    #[test]
    fn sigaction_flags_strace_cannot_name_print_in_hex() {
        let flags = signal::SA_RESTORER | signal::SA_SIGINFO | 0xffff_ffff_0000_0000;
        assert_eq!(flag_str::<abi::flags::SaFlags>(flags, "0"), "SA_RESTORER|SA_SIGINFO|0xffffffff00000000");
    }

    #[test]
    fn stack_prints_pointer_flags_and_size() {
        let ss = StackT { ss_flags: SS_DISABLE, ..Default::default() };
        assert_eq!(ss.strace().as_deref(), Some("{ss_sp=NULL, ss_flags=SS_DISABLE, ss_size=0}"));
    }
}
