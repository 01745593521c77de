//! timerfd_create, timerfd_settime, timerfd_gettime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::Timespec;
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::install_anon;
use super::{fd_arg, file_of, int_arg};
use crate::fs::timerfd::TimerFd;
use crate::kernel::Task;
use crate::vfs::{FileDescription, KResult};

const TFD_TIMER_ABSTIME: u32 = 1;
const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// `struct itimerspec`.
#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct Itimerspec {
    interval: Timespec,
    value: Timespec,
}

pub(super) fn duration_of(ts: &Timespec) -> KResult<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

fn timespec_of(d: Duration) -> Timespec {
    Timespec { tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), tv_nsec: i64::from(d.subsec_nanos()) }
}

fn timerfd_of(t: &Task, fd: u64) -> KResult<Arc<FileDescription>> {
    let f = file_of(t, fd_arg(fd)?)?;
    if f.file.as_any().downcast_ref::<TimerFd>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

pub fn timerfd_create(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let clock = int_arg(a[0]);
    let flags = a[1] as u32;
    if !matches!(clock, 0 | 1 | 7 | 8 | 9) {
        return Err(Errno::EINVAL);
    }
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(t, TimerFd::new(clock), flags, "[timerfd]")
}

pub fn timerfd_settime(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = timerfd_of(t, a[0])?;
    let flags = a[1] as u32;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let new: Itimerspec = t.read_val(a[2])?;
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
        let now = duration_of(&super::time::clock_now(t, clock)?).unwrap_or_default();
        Some(Instant::now() + value.saturating_sub(now))
    } else {
        Some(Instant::now() + value)
    };
    let (left, old_interval) = tfd.set(deadline, interval);
    if a[3] != 0 {
        t.write_val(a[3], &Itimerspec { interval: timespec_of(old_interval), value: timespec_of(left) })?;
    }
    Ok(0)
}

pub fn timerfd_gettime(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = timerfd_of(t, a[0])?;
    let Some(tfd) = f.file.as_any().downcast_ref::<TimerFd>() else { return Err(Errno::EINVAL) };
    let (left, interval) = tfd.get();
    t.write_val(a[1], &Itimerspec { interval: timespec_of(interval), value: timespec_of(left) })?;
    Ok(0)
}
