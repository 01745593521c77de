//! Time: clocks, sleeping.

use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::{Timespec, Timeval, Timezone};
use abi::Errno;

use sentry_macros::syscall;

use super::args::{ClockId, TimerFlags, UserPtr, UserType};
use crate::kernel::clock::Base;
use crate::kernel::Task;
use crate::vfs::KResult;

/// strace's `{tz_minuteswest=0, tz_dsttime=0}`.
impl UserType for Timezone {
    fn strace(&self) -> Option<String> {
        Some(format!("{{tz_minuteswest={}, tz_dsttime={}}}", self.tz_minuteswest, self.tz_dsttime))
    }
}

/// `time_t`, as `time(2)` stores it.
impl UserType for i64 {}

/// A `struct timespec` from the application as a duration: `EINVAL` for a
/// negative time or nanoseconds outside `0..1e9`.
pub(super) fn duration_of(ts: &Timespec) -> KResult<Duration> {
    let secs = u64::try_from(ts.tv_sec).map_err(|_| Errno::EINVAL)?;
    let nanos = u32::try_from(ts.tv_nsec).ok().filter(|&n| n < 1_000_000_000).ok_or(Errno::EINVAL)?;
    Ok(Duration::new(secs, nanos))
}

/// `d` as a `struct timespec` (seconds saturated at `i64::MAX`).
pub(super) fn timespec_of(d: Duration) -> Timespec {
    Timespec { tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), tv_nsec: i64::from(d.subsec_nanos()) }
}

/// The value of application clock `id`. Realtime, monotonic and boottime
/// come from the sandbox's clock, which the vDSO reads too.
pub fn clock_now(t: &Task, id: i32) -> KResult<Timespec> {
    // Negative ids are CPU-time clocks of other processes/threads (encoded
    // pids): not supported.
    let id = u32::try_from(id).map_err(|_| Errno::EINVAL)?;
    let base = match id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Base::Realtime,
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_COARSE | CLOCK_MONOTONIC_RAW => Base::Monotonic,
        CLOCK_BOOTTIME => Base::Boottime,
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => {
            // CPU time approximated by wall time since the process began.
            return Ok(timespec_of(t.proc_.start.elapsed()));
        }
        8..=11 => Base::Realtime,
        _ => return Err(Errno::EINVAL),
    };
    Ok(t.k.clock.now(base))
}

/// The time of clock `clockid`.
#[syscall]
pub fn clock_gettime(t: &mut Task, clockid: ClockId, tp: UserPtr<Timespec>) -> KResult<u64> {
    let ts = clock_now(t, clockid.0)?;
    tp.write(t, &ts)?;
    Ok(0)
}

/// The resolution of clock `clockid`: 1ns, 4ms for the coarse clocks.
#[syscall]
pub fn clock_getres(t: &mut Task, clockid: ClockId, res: UserPtr<Timespec>) -> KResult<u64> {
    clock_now(t, clockid.0)?;
    let coarse = matches!(u32::try_from(clockid.0), Ok(CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE));
    res.write_opt(t, &Timespec { tv_sec: 0, tv_nsec: if coarse { 4_000_000 } else { 1 } })?;
    Ok(0)
}

/// The realtime clock in microseconds; the time zone is always UTC.
#[syscall]
pub fn gettimeofday(t: &mut Task, tv: UserPtr<Timeval>, tz: UserPtr<Timezone>) -> KResult<u64> {
    if !tv.is_null() {
        let ts = t.k.clock.now(Base::Realtime);
        tv.write(t, &Timeval { tv_sec: ts.tv_sec, tv_usec: ts.tv_nsec / 1000 })?;
    }
    tz.write_opt(t, &Timezone::default())?;
    Ok(0)
}

/// The realtime clock in seconds, also stored at `tloc` unless `NULL`.
#[syscall]
pub fn time(t: &mut Task, tloc: UserPtr<i64>) -> KResult<u64> {
    let s = t.k.clock.now(Base::Realtime).tv_sec;
    tloc.write_opt(t, &s)?;
    // The register holds `time_t`'s bits.
    Ok(s.cast_unsigned())
}

/// Sleep for `d`, interruptible: on a signal, write what is left to `rem`
/// (when given and not `NULL`) and let the signal decide (EINTR with a
/// handler).
fn sleep_for(t: &Task, d: Duration, rem: Option<UserPtr<Timespec>>) -> KResult<u64> {
    let deadline = Instant::now() + d;
    match t.sleep_until(deadline) {
        Ok(()) => Ok(0),
        Err(e) => {
            if let Some(rem) = rem {
                rem.write_opt(t, &timespec_of(deadline.saturating_duration_since(Instant::now())))?;
            }
            Err(if e == Errno::ERESTARTSYS { Errno::ERESTARTNOHAND } else { e })
        }
    }
}

/// Sleep for `req`.
#[syscall]
pub fn nanosleep(t: &mut Task, req: UserPtr<Timespec>, rem: UserPtr<Timespec>) -> KResult<u64> {
    let d = duration_of(&req.read(t)?)?;
    sleep_for(t, d, Some(rem))
}

/// Sleep for `request` on clock `clockid`, or until it reads `request`
/// with `TIMER_ABSTIME` (then nothing is written to `remain`). The CPU-time
/// clock of the thread is `EINVAL`, as in Linux.
#[syscall]
pub fn clock_nanosleep(
    t: &mut Task,
    clockid: ClockId,
    flags: TimerFlags,
    request: UserPtr<Timespec>,
    remain: UserPtr<Timespec>,
) -> KResult<u64> {
    let d = duration_of(&request.read(t)?)?;
    if u32::try_from(clockid.0) == Ok(CLOCK_THREAD_CPUTIME_ID) {
        return Err(Errno::EINVAL);
    }
    let now = clock_now(t, clockid.0)?;
    if flags.0 & TIMER_ABSTIME != 0 {
        sleep_for(t, d.saturating_sub(duration_of(&now).unwrap_or_default()), None)
    } else {
        sleep_for(t, d, Some(remain))
    }
}
