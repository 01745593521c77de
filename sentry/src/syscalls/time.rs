//! Time: clocks, sleeping.

use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::{Timespec, Timeval};
use abi::Errno;

use super::int_arg;
use crate::kernel::clock::Base;
use crate::kernel::Task;
use crate::vfs::KResult;

/// The value of application clock `id`. Realtime, monotonic and boottime
/// come from the sandbox's clock, which the vDSO reads too.
pub fn clock_now(t: &Task, id: i32) -> KResult<Timespec> {
    if id < 0 {
        // CPU-time clocks of other processes/threads (encoded pids).
        return Err(Errno::EINVAL);
    }
    let base = match id as u32 {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Base::Realtime,
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_COARSE | CLOCK_MONOTONIC_RAW => Base::Monotonic,
        CLOCK_BOOTTIME => Base::Boottime,
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => {
            // CPU time approximated by wall time since the process began.
            let d = t.proc_.start.elapsed();
            return Ok(Timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) });
        }
        8..=11 => Base::Realtime,
        _ => return Err(Errno::EINVAL),
    };
    Ok(t.k.clock.now(base))
}

pub fn clock_gettime(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let ts = clock_now(t, int_arg(a[0]))?;
    t.write_val(a[1], &ts)?;
    Ok(0)
}

pub fn clock_getres(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    clock_now(t, int_arg(a[0]))?;
    if a[1] != 0 {
        let coarse = matches!(int_arg(a[0]) as u32, CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE);
        let res = Timespec { tv_sec: 0, tv_nsec: if coarse { 4_000_000 } else { 1 } };
        t.write_val(a[1], &res)?;
    }
    Ok(0)
}

pub fn gettimeofday(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[0] != 0 {
        let ts = t.k.clock.now(Base::Realtime);
        t.write_val(a[0], &Timeval { tv_sec: ts.tv_sec, tv_usec: ts.tv_nsec / 1000 })?;
    }
    if a[1] != 0 {
        t.write_val(a[1], &abi::types::Timezone::default())?;
    }
    Ok(0)
}

pub fn time(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let s = t.k.clock.now(Base::Realtime).tv_sec;
    if a[0] != 0 {
        t.write_val(a[0], &s)?;
    }
    Ok(s as u64)
}

fn check_ts(ts: &Timespec) -> KResult<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Sleep for `d`, interruptible: on a signal, write what is left to `rem`
/// (when non-zero) and let the signal decide (EINTR with a handler).
fn sleep_for(t: &Task, d: Duration, rem: u64) -> KResult<u64> {
    let deadline = Instant::now() + d;
    match t.sleep_until(deadline) {
        Ok(()) => Ok(0),
        Err(e) => {
            if rem != 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                t.write_val(rem, &Timespec { tv_sec: left.as_secs() as i64, tv_nsec: i64::from(left.subsec_nanos()) })?;
            }
            Err(if e == Errno::ERESTARTSYS { Errno::ERESTARTNOHAND } else { e })
        }
    }
}

pub fn nanosleep(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let ts: Timespec = t.read_val(a[0])?;
    let d = check_ts(&ts)?;
    sleep_for(t, d, a[1])
}

pub fn clock_nanosleep(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let id = int_arg(a[0]);
    let flags = a[1] as u32;
    let ts: Timespec = t.read_val(a[2])?;
    let d = check_ts(&ts)?;
    if matches!(id as u32, CLOCK_THREAD_CPUTIME_ID) {
        return Err(Errno::EINVAL);
    }
    let now = clock_now(t, id)?;
    let abs = flags & TIMER_ABSTIME != 0;
    let dur = if abs { d.saturating_sub(Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32)) } else { d };
    sleep_for(t, dur, if abs { 0 } else { a[3] })
}
