//! Interval and POSIX timers: alarm, setitimer, getitimer, timer_create,
//! timer_settime, timer_gettime, timer_getoverrun, timer_delete.

// The handlers take pointers to structures this file defines for itself;
// they are reached only through their table entries.
#![allow(private_interfaces)]

use abi::consts::{SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD_ID};
use abi::types::{Itimerspec, Itimerval, Sigevent};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::Timeval;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{ClockId, TimerFlags, UserPtr, UserType, Which};
use super::time::{clock_now, duration_of, timespec_of};
use crate::kernel::timer::{Armed, PosixTimer};
use crate::kernel::{signal, Kernel, Process, Task};
use crate::vfs::KResult;

/// strace's `{it_interval=..., it_value=...}` of an `itimerval` or
/// `itimerspec`.
pub(super) fn itimer_strace<T: UserType>(interval: &T, value: &T) -> Option<String> {
    Some(format!("{{it_interval={}, it_value={}}}", interval.strace()?, value.strace()?))
}

impl UserType for Itimerval {
    fn strace(&self) -> Option<String> {
        itimer_strace(&self.interval, &self.value)
    }
}

impl UserType for Itimerspec {
    fn strace(&self) -> Option<String> {
        itimer_strace(&self.interval, &self.value)
    }
}

impl UserType for Sigevent {}

/// A `struct timeval` from the application as a duration: `EINVAL` for a
/// negative time or microseconds outside `0..1e6`.
fn tv_dur(tv: &Timeval) -> KResult<Duration> {
    let secs = u64::try_from(tv.tv_sec).map_err(|_| Errno::EINVAL)?;
    let micros = u32::try_from(tv.tv_usec).ok().filter(|&u| u < 1_000_000).ok_or(Errno::EINVAL)?;
    Ok(Duration::new(secs, micros * 1000))
}

fn dur_tv(d: Duration) -> Timeval {
    Timeval { tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), tv_usec: i64::from(d.subsec_micros()) }
}

fn remaining(a: &Option<Armed>) -> (Duration, Duration) {
    match a {
        None => (Duration::ZERO, Duration::ZERO),
        Some(a) => {
            let left = a.deadline.saturating_duration_since(Instant::now());
            // An expired-but-not-yet-run timer reports a tiny remainder, not 0.
            (if left.is_zero() { Duration::from_micros(1) } else { left }, a.interval)
        }
    }
}

/// Arm ITIMER_REAL of `p` to fire at `deadline`, then every `interval`.
fn arm_real(k: &Arc<Kernel>, p: &Arc<Process>, deadline: Instant, interval: Duration) {
    let (wk, wp) = (Arc::downgrade(k), Arc::downgrade(p));
    let handle = k.timers.add(deadline, Box::new(move || fire_real(wk, wp, deadline, interval)));
    *p.itimer_real.lock() = Some(Armed { deadline, interval, handle });
}

fn fire_real(wk: Weak<Kernel>, wp: Weak<Process>, deadline: Instant, interval: Duration) {
    let (Some(k), Some(p)) = (wk.upgrade(), wp.upgrade()) else { return };
    {
        let cur = p.itimer_real.lock();
        if !cur.is_some_and(|a| a.deadline == deadline) {
            return;
        }
    }
    if interval.is_zero() {
        *p.itimer_real.lock() = None;
    } else {
        arm_real(&k, &p, deadline + interval, interval);
    }
    k.signal_process(&p, signal::info(SIGALRM, signal::SI_KERNEL));
}

fn set_real(t: &Task, value: Duration, interval: Duration) -> (Duration, Duration) {
    let old = t.proc_.itimer_real.lock().take();
    if let Some(a) = &old {
        t.k.timers.cancel(a.handle);
    }
    let prev = remaining(&old);
    if !value.is_zero() {
        arm_real(&t.k, &t.proc_, Instant::now() + value, interval);
    }
    prev
}

/// Arm `ITIMER_REAL` to send `SIGALRM` in `seconds` (0 disarms); the
/// seconds that were left.
#[syscall]
pub fn alarm(t: &mut Task, seconds: u32) -> KResult<u64> {
    let (left, _) = set_real(t, Duration::from_secs(u64::from(seconds)), Duration::ZERO);
    // Round to the nearest second, at least 1 if any time was left.
    let mut s = left.as_secs() + u64::from(left.subsec_nanos() >= 500_000_000);
    if s == 0 && !left.is_zero() {
        s = 1;
    }
    Ok(s)
}

/// Set interval timer `which`; only `ITIMER_REAL` is implemented
/// (`ITIMER_VIRTUAL` and `ITIMER_PROF` are `ENOSYS`). A `NULL` new value
/// disarms.
#[syscall]
pub fn setitimer(
    t: &mut Task,
    which: Which,
    new_value: UserPtr<Itimerval>,
    old_value: UserPtr<Itimerval>,
) -> KResult<u64> {
    let which = which.0;
    if which != 0 {
        // ITIMER_VIRTUAL and ITIMER_PROF need CPU accounting.
        return if (1..=2).contains(&which) { Err(Errno::ENOSYS) } else { Err(Errno::EINVAL) };
    }
    let new = new_value.read_opt(t)?.unwrap_or_default();
    let (v, i) = (tv_dur(&new.value)?, tv_dur(&new.interval)?);
    let (left, iv) = set_real(t, v, i);
    old_value.write_opt(t, &Itimerval { interval: dur_tv(iv), value: dur_tv(left) })?;
    Ok(0)
}

/// Interval timer `which`: what is left and its interval (`ITIMER_VIRTUAL`
/// and `ITIMER_PROF` never run, so read as disarmed).
#[syscall]
pub fn getitimer(t: &mut Task, which: Which, curr_value: UserPtr<Itimerval>) -> KResult<u64> {
    let (left, iv) = match which.0 {
        0 => remaining(&t.proc_.itimer_real.lock()),
        1 | 2 => (Duration::ZERO, Duration::ZERO),
        _ => return Err(Errno::EINVAL),
    };
    curr_value.write(t, &Itimerval { interval: dur_tv(iv), value: dur_tv(left) })?;
    Ok(0)
}

/// Create a POSIX timer on `clockid` that notifies as `sevp` says
/// (`SIGALRM` to the process when `NULL`); its id is stored at `timerid`.
/// `SIGEV_THREAD` (a libc-level notification) is `EINVAL` here.
#[syscall]
pub fn timer_create(t: &mut Task, clockid: ClockId, sevp: UserPtr<Sigevent>, timerid: UserPtr<i32>) -> KResult<u64> {
    let clock = clockid.0;
    clock_now(t, clock)?;
    let ev = match sevp.read_opt(t)? {
        Some(ev) => ev,
        None => Sigevent { signo: SIGALRM.cast_signed(), notify: SIGEV_SIGNAL, ..Default::default() },
    };
    match ev.notify {
        SIGEV_SIGNAL | SIGEV_NONE => {}
        SIGEV_THREAD_ID => {
            let th = t.k.task(ev.tid).ok_or(Errno::EINVAL)?;
            if th.process.upgrade().map(|p| p.pid) != Some(t.pid()) {
                return Err(Errno::EINVAL);
            }
        }
        _ => return Err(Errno::EINVAL),
    }
    if ev.notify != SIGEV_NONE && !(1..=NSIG as i32).contains(&ev.signo) {
        return Err(Errno::EINVAL);
    }
    let mut timers = t.proc_.posix_timers.lock();
    let id = (0..i32::MAX).find(|i| !timers.contains_key(i)).ok_or(Errno::EAGAIN)?;
    timers.insert(
        id,
        PosixTimer {
            notify: ev.notify,
            // Unused (and unchecked) with `SIGEV_NONE`.
            signo: ev.signo.cast_unsigned(),
            value: ev.value,
            tid: ev.tid,
            clock,
            armed: None,
            overrun: 0,
        },
    );
    drop(timers);
    timerid.write(t, &id)?;
    Ok(0)
}

fn arm_posix(k: &Arc<Kernel>, p: &Arc<Process>, id: i32, deadline: Instant, interval: Duration) -> Armed {
    let (wk, wp) = (Arc::downgrade(k), Arc::downgrade(p));
    let handle = k.timers.add(deadline, Box::new(move || fire_posix(wk, wp, id, deadline)));
    Armed { deadline, interval, handle }
}

fn fire_posix(wk: Weak<Kernel>, wp: Weak<Process>, id: i32, deadline: Instant) {
    let (Some(k), Some(p)) = (wk.upgrade(), wp.upgrade()) else { return };
    let (notify, signo, value, tid) = {
        let mut timers = p.posix_timers.lock();
        let Some(pt) = timers.get_mut(&id) else { return };
        let Some(a) = pt.armed else { return };
        if a.deadline != deadline {
            return;
        }
        pt.armed =
            if a.interval.is_zero() { None } else { Some(arm_posix(&k, &p, id, deadline + a.interval, a.interval)) };
        (pt.notify, pt.signo, pt.value, pt.tid)
    };
    if notify == SIGEV_NONE {
        return;
    }
    let mut info = signal::info(signo, signal::SI_TIMER);
    info.fields[0] = id as u32 as u64;
    info.fields[1] = value;
    if notify == SIGEV_THREAD_ID {
        if let Some(th) = k.task(tid) {
            k.signal_thread(&th, info);
        }
    } else {
        k.signal_process(&p, info);
    }
}

/// Arm (or, with a zero value, disarm) POSIX timer `timerid`; the value
/// is absolute on the timer's clock with `TIMER_ABSTIME`.
#[syscall]
pub fn timer_settime(
    t: &mut Task,
    timerid: i32,
    flags: TimerFlags,
    new_value: UserPtr<Itimerspec>,
    old_value: UserPtr<Itimerspec>,
) -> KResult<u64> {
    let new = new_value.read(t)?;
    let (v, i) = (duration_of(&new.value)?, duration_of(&new.interval)?);
    let mut timers = t.proc_.posix_timers.lock();
    let pt = timers.get_mut(&timerid).ok_or(Errno::EINVAL)?;
    let old = pt.armed.take();
    if let Some(o) = &old {
        t.k.timers.cancel(o.handle);
    }
    let (left, iv) = remaining(&old);
    if !v.is_zero() {
        let rel = if flags.0 & TIMER_ABSTIME != 0 {
            let now = clock_now(t, pt.clock)?;
            v.saturating_sub(duration_of(&now).unwrap_or_default())
        } else {
            v
        };
        pt.armed = Some(arm_posix(&t.k, &t.proc_, timerid, Instant::now() + rel, i));
    }
    drop(timers);
    old_value.write_opt(t, &Itimerspec { interval: timespec_of(iv), value: timespec_of(left) })?;
    Ok(0)
}

/// What is left of POSIX timer `timerid` and its interval.
#[syscall]
pub fn timer_gettime(t: &mut Task, timerid: i32, curr_value: UserPtr<Itimerspec>) -> KResult<u64> {
    let (left, iv) = remaining(&t.proc_.posix_timers.lock().get(&timerid).ok_or(Errno::EINVAL)?.armed);
    curr_value.write(t, &Itimerspec { interval: timespec_of(iv), value: timespec_of(left) })?;
    Ok(0)
}

/// Expirations of POSIX timer `timerid` not delivered as signals.
#[syscall]
pub fn timer_getoverrun(t: &mut Task, timerid: i32) -> KResult<u64> {
    let overrun = t.proc_.posix_timers.lock().get(&timerid).ok_or(Errno::EINVAL)?.overrun;
    Ok(u64::try_from(overrun).unwrap_or(0))
}

/// Disarm and delete POSIX timer `timerid`.
#[syscall]
pub fn timer_delete(t: &mut Task, timerid: i32) -> KResult<u64> {
    let pt = t.proc_.posix_timers.lock().remove(&timerid).ok_or(Errno::EINVAL)?;
    if let Some(a) = pt.armed {
        t.k.timers.cancel(a.handle);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use abi::types::Timespec;

    use super::*;

    #[test]
    fn itimerspec_prints_interval_then_value() {
        let its = Itimerspec { interval: Timespec::default(), value: Timespec { tv_sec: 1, tv_nsec: 0 } };
        assert_eq!(
            its.strace().as_deref(),
            Some("{it_interval={tv_sec=0, tv_nsec=0}, it_value={tv_sec=1, tv_nsec=0}}")
        );
    }

    #[test]
    fn itimerval_prints_microseconds() {
        let itv = Itimerval { interval: Timeval::default(), value: Timeval { tv_sec: 0, tv_usec: 5 } };
        assert_eq!(
            itv.strace().as_deref(),
            Some("{it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=0, tv_usec=5}}")
        );
    }

    #[test]
    fn timeval_with_a_million_microseconds_is_einval() {
        assert_eq!(tv_dur(&Timeval { tv_sec: 0, tv_usec: 1_000_000 }), Err(Errno::EINVAL));
    }
}
