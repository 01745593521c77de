//! timerfd_create, timerfd_settime, timerfd_gettime.

// The handlers take pointers to structures this file defines for itself;
// they are reached only through their table entries.
#![allow(private_interfaces)]

use abi::consts::{TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET};
use abi::types::Itimerspec;
use std::sync::Arc;
use std::time::Instant;

use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{ClockId, Fd, TimerSetFlags, TimerfdFlags, UserPtr};
use super::time::{clock_now, timespec_of};
use super::{file_of, install_anon};
use crate::fs::timerfd::TimerFd;
use crate::kernel::Task;
use crate::vfs::{FileDescription, KResult};

/// Kept here for `epoll.rs`, which takes its timeout check from this
/// module; the check itself lives with the time calls.
pub(super) use super::time::duration_of;

fn timerfd_of(t: &Task, fd: Fd) -> KResult<Arc<FileDescription>> {
    let f = file_of(t, fd.0)?;
    if f.file.as_any().downcast_ref::<TimerFd>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

/// A timer descriptor on `clockid` (realtime, monotonic, boottime and
/// their alarm variants).
#[syscall]
pub fn timerfd_create(t: &mut Task, clockid: ClockId, flags: TimerfdFlags) -> KResult<u64> {
    let (clock, flags) = (clockid.0, flags.0);
    if !matches!(clock, 0 | 1 | 7 | 8 | 9) {
        return Err(Errno::EINVAL);
    }
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(t, TimerFd::new(clock, t.k.timers.clone()), flags, "[timerfd]")
}

/// Arm (or, with a zero value, disarm) timer descriptor `fd`; the value is
/// absolute on its clock with `TFD_TIMER_ABSTIME`. `TFD_TIMER_CANCEL_ON_SET`
/// is accepted; the sandbox's realtime clock is never set.
#[syscall]
pub fn timerfd_settime(
    t: &mut Task,
    fd: Fd,
    flags: TimerSetFlags,
    new_value: UserPtr<Itimerspec>,
    old_value: UserPtr<Itimerspec>,
) -> KResult<u64> {
    let f = timerfd_of(t, fd)?;
    let flags = flags.0;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let new = new_value.read(t)?;
    let value = duration_of(&new.value)?;
    let interval = duration_of(&new.interval)?;
    let Some(tfd) = f.file.as_any().downcast_ref::<TimerFd>() else { return Err(Errno::EINVAL) };
    let deadline = if value.is_zero() {
        None
    } else if flags & TFD_TIMER_ABSTIME != 0 {
        let clock = match tfd.clock {
            8 => 0,
            9 => 7,
            c => c,
        };
        let now = duration_of(&clock_now(t, clock)?).unwrap_or_default();
        Some(Instant::now() + value.saturating_sub(now))
    } else {
        Some(Instant::now() + value)
    };
    let (left, old_interval) = tfd.set(deadline, interval);
    old_value.write_opt(t, &Itimerspec { interval: timespec_of(old_interval), value: timespec_of(left) })?;
    Ok(0)
}

/// What is left of timer descriptor `fd` and its interval.
#[syscall]
pub fn timerfd_gettime(t: &mut Task, fd: Fd, curr_value: UserPtr<Itimerspec>) -> KResult<u64> {
    let f = timerfd_of(t, fd)?;
    let Some(tfd) = f.file.as_any().downcast_ref::<TimerFd>() else { return Err(Errno::EINVAL) };
    let (left, interval) = tfd.get();
    curr_value.write(t, &Itimerspec { interval: timespec_of(interval), value: timespec_of(left) })?;
    Ok(0)
}
