//! pipe, pipe2, eventfd, eventfd2, timerfd_*, epoll_*.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::Timespec;
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::{fd_arg, file_of, int_arg};
use crate::fs::epoll::{Epoll, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD};
use crate::fs::eventfd::EventFd;
use crate::fs::pipe::{Pipe, PipeInode};
use crate::fs::timerfd::TimerFd;
use crate::kernel::Task;
use crate::vfs::{lock, FileDescription, FileRef, KResult};

/// The descriptor limit of `t` (`RLIMIT_NOFILE`).
pub(super) fn fd_limit(t: &Task) -> i32 {
    i32::try_from(t.rlimit(RLIMIT_NOFILE).rlim_cur.min(1 << 20)).unwrap_or(1 << 20)
}

/// Install `desc` at the lowest free descriptor.
pub(super) fn install(t: &Task, desc: Arc<FileDescription>, cloexec: bool) -> KResult<i32> {
    let limit = fd_limit(t);
    lock(&t.fds).insert_from(0, desc, cloexec, limit)
}

/// An anonymous-inode file (`anon_inode:[name]`) with no inode of its own.
fn install_anon(t: &Task, file: FileRef, flags: u32, name: &str) -> KResult<u64> {
    let desc =
        FileDescription::new_anon(file, None, O_RDWR | (flags & O_NONBLOCK), format!("anon_inode:{name}").into_bytes());
    install(t, desc, flags & O_CLOEXEC != 0).map(|fd| fd as u64)
}

// ---- pipes ----

fn do_pipe2(t: &Task, addr: u64, flags: u32) -> KResult<u64> {
    if flags & !(O_NONBLOCK | O_CLOEXEC | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = Pipe::pair();
    let pipe = r.pipe().clone();
    let creds = t.creds();
    let inode = PipeInode::new(&pipe, creds.fsuid, creds.fsgid);
    let name = format!("pipe:[{}]", pipe.ino()).into_bytes();
    let status = flags & (O_NONBLOCK | O_DIRECT);
    let rd = FileDescription::new_anon(r, Some(inode.clone()), O_RDONLY | status, name.clone());
    let wd = FileDescription::new_anon(w, Some(inode), O_WRONLY | status, name);
    let cloexec = flags & O_CLOEXEC != 0;
    let limit = fd_limit(t);
    let mut fds = lock(&t.fds);
    let rfd = fds.insert_from(0, rd, cloexec, limit)?;
    let wfd = match fds.insert_from(0, wd, cloexec, limit) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = fds.remove(rfd);
            return Err(e);
        }
    };
    drop(fds);
    if let Err(e) = t.write_val(addr, &[rfd, wfd]) {
        let mut fds = lock(&t.fds);
        let removed = (fds.remove(rfd), fds.remove(wfd));
        drop(fds);
        drop(removed);
        return Err(e);
    }
    Ok(0)
}

pub fn pipe(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_pipe2(t, a[0], 0)
}

pub fn pipe2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_pipe2(t, a[0], a[1] as u32)
}

// ---- eventfd ----

const EFD_SEMAPHORE: u32 = 1;

pub fn eventfd(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    install_anon(t, EventFd::new(u64::from(a[0] as u32), false), 0, "[eventfd]")
}

pub fn eventfd2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[1] as u32;
    if flags & !(EFD_SEMAPHORE | O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(t, EventFd::new(u64::from(a[0] as u32), flags & EFD_SEMAPHORE != 0), flags, "[eventfd]")
}

// ---- timerfd ----

const TFD_TIMER_ABSTIME: u32 = 1;
const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// `struct itimerspec`.
#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct Itimerspec {
    interval: Timespec,
    value: Timespec,
}

fn duration_of(ts: &Timespec) -> KResult<Duration> {
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

// ---- epoll ----

/// Most events one `epoll_wait` returns (Linux's `EP_MAX_EVENTS`).
const EP_MAX_EVENTS: i32 = i32::MAX / 12;

fn do_epoll_create(t: &Task, flags: u32) -> KResult<u64> {
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(t, Epoll::new(), flags, "[eventpoll]")
}

pub fn epoll_create(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if int_arg(a[0]) <= 0 {
        return Err(Errno::EINVAL);
    }
    do_epoll_create(t, 0)
}

pub fn epoll_create1(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_epoll_create(t, a[0] as u32)
}

fn epoll_of(t: &Task, fd: u64) -> KResult<Arc<FileDescription>> {
    let f = file_of(t, fd_arg(fd)?)?;
    if f.file.as_any().downcast_ref::<Epoll>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

pub fn epoll_ctl(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let ep = epoll_of(t, a[0])?;
    let op = int_arg(a[1]);
    let fd = fd_arg(a[2])?;
    let target = file_of(t, fd)?;
    let (events, data) = match op {
        EPOLL_CTL_ADD | EPOLL_CTL_MOD => {
            let mut raw = [0u8; 12];
            t.read_bytes(a[3], &mut raw)?;
            let mut ev = [0u8; 4];
            ev.copy_from_slice(&raw[..4]);
            let mut data = [0u8; 8];
            data.copy_from_slice(&raw[4..]);
            (u32::from_ne_bytes(ev), u64::from_ne_bytes(data))
        }
        EPOLL_CTL_DEL => (0, 0),
        _ => return Err(Errno::EINVAL),
    };
    let Some(e) = ep.file.as_any().downcast_ref::<Epoll>() else { return Err(Errno::EINVAL) };
    e.ctl(op, fd, &target, events, data)?;
    Ok(0)
}

/// Wait on `epfd` for up to `max` events until `deadline`; `mask` replaces
/// the signal mask meanwhile.
fn do_epoll_wait(
    t: &mut Task,
    epfd: u64,
    events: u64,
    max: u64,
    deadline: Option<Instant>,
    mask: Option<u64>,
) -> KResult<u64> {
    let max = int_arg(max);
    if max <= 0 || max > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let f = epoll_of(t, epfd)?;
    let Some(ep) = f.file.as_any().downcast_ref::<Epoll>() else { return Err(Errno::EINVAL) };
    let old_mask = t.sigmask();
    if let Some(m) = mask {
        t.set_sigmask(m);
    }
    let got = loop {
        ep.queue().add(&t.waiter);
        let got = ep.collect(max as usize);
        if !got.is_empty() {
            break Ok(got);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Ok(got);
        }
        if t.signal_pending() {
            break Err(Errno::EINTR);
        }
        let host = ep.host_fds();
        t.waiter.wait(&host, deadline);
    };
    if mask.is_some() {
        // Interrupted: the handler frame restores the old mask (as for
        // rt_sigsuspend); otherwise it returns here.
        if matches!(got, Err(Errno::EINTR)) && t.signal_pending() {
            t.saved_mask = Some(old_mask);
        } else {
            t.set_sigmask(old_mask);
        }
    }
    let got = got?;
    let mut out = Vec::with_capacity(got.len() * 12);
    for (ev, data) in &got {
        out.extend_from_slice(&ev.to_ne_bytes());
        out.extend_from_slice(&data.to_ne_bytes());
    }
    t.write_bytes(events, &out)?;
    Ok(got.len() as u64)
}

fn deadline_ms(ms: u64) -> Option<Instant> {
    let ms = int_arg(ms);
    (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

fn sigmask_arg(t: &Task, addr: u64, size: u64) -> KResult<Option<u64>> {
    if addr == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    t.read_val::<u64>(addr).map(Some)
}

pub fn epoll_wait(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_epoll_wait(t, a[0], a[1], a[2], deadline_ms(a[3]), None)
}

pub fn epoll_pwait(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let mask = sigmask_arg(t, a[4], a[5])?;
    do_epoll_wait(t, a[0], a[1], a[2], deadline_ms(a[3]), mask)
}

pub fn epoll_pwait2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let deadline = if a[3] == 0 {
        None
    } else {
        let ts: Timespec = t.read_val(a[3])?;
        Some(Instant::now() + duration_of(&ts)?)
    };
    let mask = sigmask_arg(t, a[4], a[5])?;
    do_epoll_wait(t, a[0], a[1], a[2], deadline, mask)
}
