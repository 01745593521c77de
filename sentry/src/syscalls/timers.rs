//! Interval and POSIX timers: alarm, setitimer, getitimer, timer_create,
//! timer_settime, timer_gettime, timer_getoverrun, timer_delete.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::{Timespec, Timeval};
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::int_arg;
use crate::kernel::timer::{Armed, PosixTimer};
use crate::kernel::{signal, Kernel, Process, Task};
use crate::vfs::{lock, KResult};

#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct Itimerval {
    interval: Timeval,
    value: Timeval,
}

#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct Itimerspec {
    interval: Timespec,
    value: Timespec,
}

#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct Sigevent {
    value: u64,
    signo: i32,
    notify: i32,
    tid: i32,
    pad: [i32; 11],
}

fn tv_dur(tv: &Timeval) -> KResult<Duration> {
    if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(tv.tv_sec as u64, (tv.tv_usec * 1000) as u32))
}

fn ts_dur(ts: &Timespec) -> KResult<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

fn dur_tv(d: Duration) -> Timeval {
    Timeval { tv_sec: d.as_secs() as i64, tv_usec: i64::from(d.subsec_micros()) }
}

fn dur_ts(d: Duration) -> Timespec {
    Timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) }
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
    *lock(&p.itimer_real) = Some(Armed { deadline, interval, handle });
}

fn fire_real(wk: Weak<Kernel>, wp: Weak<Process>, deadline: Instant, interval: Duration) {
    let (Some(k), Some(p)) = (wk.upgrade(), wp.upgrade()) else { return };
    {
        let cur = lock(&p.itimer_real);
        if !cur.is_some_and(|a| a.deadline == deadline) {
            return;
        }
    }
    if interval.is_zero() {
        *lock(&p.itimer_real) = None;
    } else {
        arm_real(&k, &p, deadline + interval, interval);
    }
    k.signal_process(&p, signal::info(SIGALRM, signal::SI_KERNEL));
}

fn set_real(t: &Task, value: Duration, interval: Duration) -> (Duration, Duration) {
    let old = lock(&t.proc_.itimer_real).take();
    if let Some(a) = &old {
        t.k.timers.cancel(a.handle);
    }
    let prev = remaining(&old);
    if !value.is_zero() {
        arm_real(&t.k, &t.proc_, Instant::now() + value, interval);
    }
    prev
}

pub fn alarm(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let secs = a[0] as u32;
    let (left, _) = set_real(t, Duration::from_secs(u64::from(secs)), Duration::ZERO);
    // Round to the nearest second, at least 1 if any time was left.
    let mut s = left.as_secs() + u64::from(left.subsec_nanos() >= 500_000_000);
    if s == 0 && !left.is_zero() {
        s = 1;
    }
    Ok(s)
}

pub fn setitimer(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let which = int_arg(a[0]);
    if which != 0 {
        // ITIMER_VIRTUAL and ITIMER_PROF need CPU accounting.
        return if (1..=2).contains(&which) { Err(Errno::ENOSYS) } else { Err(Errno::EINVAL) };
    }
    let new: Itimerval = if a[1] != 0 { t.read_val(a[1])? } else { Itimerval::default() };
    let (v, i) = (tv_dur(&new.value)?, tv_dur(&new.interval)?);
    let (left, iv) = set_real(t, v, i);
    if a[2] != 0 {
        t.write_val(a[2], &Itimerval { interval: dur_tv(iv), value: dur_tv(left) })?;
    }
    Ok(0)
}

pub fn getitimer(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let which = int_arg(a[0]);
    let (left, iv) = match which {
        0 => remaining(&lock(&t.proc_.itimer_real)),
        1 | 2 => (Duration::ZERO, Duration::ZERO),
        _ => return Err(Errno::EINVAL),
    };
    t.write_val(a[1], &Itimerval { interval: dur_tv(iv), value: dur_tv(left) })?;
    Ok(0)
}

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD_ID: i32 = 4;

pub fn timer_create(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let clock = int_arg(a[0]);
    super::time::clock_now(t, clock)?;
    let ev: Sigevent = if a[1] != 0 {
        t.read_val(a[1])?
    } else {
        Sigevent { signo: SIGALRM as i32, notify: SIGEV_SIGNAL, ..Default::default() }
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
    let mut timers = lock(&t.proc_.posix_timers);
    let id = (0..i32::MAX).find(|i| !timers.contains_key(i)).ok_or(Errno::EAGAIN)?;
    timers.insert(
        id,
        PosixTimer {
            notify: ev.notify,
            signo: ev.signo as u32,
            value: ev.value,
            tid: ev.tid,
            clock,
            armed: None,
            overrun: 0,
        },
    );
    drop(timers);
    t.write_val(a[2], &id)?;
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
        let mut timers = lock(&p.posix_timers);
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

pub fn timer_settime(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let id = int_arg(a[0]);
    let flags = a[1] as u32;
    let new: Itimerspec = t.read_val(a[2])?;
    let (v, i) = (ts_dur(&new.value)?, ts_dur(&new.interval)?);
    let mut timers = lock(&t.proc_.posix_timers);
    let pt = timers.get_mut(&id).ok_or(Errno::EINVAL)?;
    let old = pt.armed.take();
    if let Some(o) = &old {
        t.k.timers.cancel(o.handle);
    }
    let (left, iv) = remaining(&old);
    if !v.is_zero() {
        let rel = if flags & TIMER_ABSTIME != 0 {
            let now = super::time::clock_now(t, pt.clock)?;
            v.saturating_sub(Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32))
        } else {
            v
        };
        pt.armed = Some(arm_posix(&t.k, &t.proc_, id, Instant::now() + rel, i));
    }
    drop(timers);
    if a[3] != 0 {
        t.write_val(a[3], &Itimerspec { interval: dur_ts(iv), value: dur_ts(left) })?;
    }
    Ok(0)
}

pub fn timer_gettime(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let id = int_arg(a[0]);
    let (left, iv) = remaining(&lock(&t.proc_.posix_timers).get(&id).ok_or(Errno::EINVAL)?.armed);
    t.write_val(a[1], &Itimerspec { interval: dur_ts(iv), value: dur_ts(left) })?;
    Ok(0)
}

pub fn timer_getoverrun(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let id = int_arg(a[0]);
    Ok(lock(&t.proc_.posix_timers).get(&id).ok_or(Errno::EINVAL)?.overrun as u64)
}

pub fn timer_delete(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let id = int_arg(a[0]);
    let pt = lock(&t.proc_.posix_timers).remove(&id).ok_or(Errno::EINVAL)?;
    if let Some(a) = pt.armed {
        t.k.timers.cancel(a.handle);
    }
    Ok(0)
}
