//! epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::flags::EpollEvents;
use abi::types::{EpollEvent, Timespec};
use abi::Errno;
use sentry_macros::syscall;

use super::args::{array_str, flag_str, Call, EpollCreateFlags, EpollOp, Fd, UserPtr, UserType};
use super::file_of;
use super::install_anon;
use super::signal::SigSet;
use super::timerfd::duration_of;
use crate::fs::epoll::Epoll;
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, KResult};

/// Most events one `epoll_wait` returns (Linux's `EP_MAX_EVENTS`).
const EP_MAX_EVENTS: i32 = i32::MAX / 12;

fn do_epoll_create(t: &Task, flags: u32) -> KResult<u64> {
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(t, Epoll::new(), flags, "[eventpoll]")
}

/// strace's `struct epoll_event`: `{events=EPOLLIN, data={u32=3, u64=3}}`.
impl UserType for EpollEvent {
    fn strace(&self) -> Option<String> {
        let (events, data) = (self.events, self.data);
        Some(format!("{{events={}, data={{u32={}, u64={data}}}}}", flag_str::<EpollEvents>(events, "0"), data as u32))
    }
}

fn epoll_events_out_str(c: &Call<'_>, i: usize) -> String {
    let addr = c.raw[i];
    let Some(Ok(n)) = c.result else { return format!("{addr:#x}") };
    array_str(c, addr, n, |e: &EpollEvent| e.strace().unwrap_or_default()).unwrap_or_else(|| format!("{addr:#x}"))
}

super::args::call_arg!(/// The array `epoll_wait` fills: printed after the call with the events it
    /// returned.
    EpollEventsOut(u64), epoll_events_out_str);

/// A new epoll instance; `size` is a hint that must be positive.
#[syscall]
pub fn epoll_create(t: &mut Task, size: i32) -> KResult<u64> {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    do_epoll_create(t, 0)
}

/// A new epoll instance, with `EPOLL_CLOEXEC`.
#[syscall]
pub fn epoll_create1(t: &mut Task, flags: EpollCreateFlags) -> KResult<u64> {
    do_epoll_create(t, flags.0)
}

fn epoll_of(t: &Task, fd: Fd) -> KResult<Arc<FileDescription>> {
    let f = file_of(t, fd.0)?;
    if f.file.as_any().downcast_ref::<Epoll>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

/// Add, change or remove the entry for `fd` in epoll instance `epfd`.
#[syscall]
pub fn epoll_ctl(t: &mut Task, epfd: Fd, op: EpollOp, fd: Fd, event: UserPtr<EpollEvent>) -> KResult<u64> {
    let ep = epoll_of(t, epfd)?;
    let (op, fd) = (op.0, fd.0);
    let target = file_of(t, fd)?;
    let (events, data) = match op {
        EPOLL_CTL_ADD | EPOLL_CTL_MOD => {
            let ev = event.read(t)?;
            (ev.events, ev.data)
        }
        EPOLL_CTL_DEL => (0, 0),
        _ => return Err(Errno::EINVAL),
    };
    let Some(e) = ep.file.as_any().downcast_ref::<Epoll>() else { return Err(Errno::EINVAL) };
    e.ctl(Caller::of(t), op, fd, &target, events, data)?;
    Ok(0)
}

/// Wait on `epfd` for up to `max` events until `deadline`; `mask` replaces
/// the signal mask meanwhile.
fn do_epoll_wait(
    t: &mut Task,
    epfd: Fd,
    events: EpollEventsOut,
    max: i32,
    deadline: Option<Instant>,
    mask: Option<u64>,
) -> KResult<u64> {
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
        let got = ep.collect(Caller::of(t), max as usize);
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
    t.write_bytes(events.0, &out)?;
    Ok(got.len() as u64)
}

fn deadline_ms(ms: i32) -> Option<Instant> {
    (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

fn sigmask_arg(t: &Task, sigmask: UserPtr<SigSet>, size: usize) -> KResult<Option<u64>> {
    if sigmask.is_null() {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    sigmask.read(t).map(|s| Some(s.0))
}

/// Wait up to `timeout` milliseconds (forever when negative) for events.
#[syscall]
pub fn epoll_wait(t: &mut Task, epfd: Fd, events: EpollEventsOut, maxevents: i32, timeout: i32) -> KResult<u64> {
    do_epoll_wait(t, epfd, events, maxevents, deadline_ms(timeout), None)
}

/// `epoll_wait` with the signal mask replaced while it waits.
#[syscall]
pub fn epoll_pwait(
    t: &mut Task,
    epfd: Fd,
    events: EpollEventsOut,
    maxevents: i32,
    timeout: i32,
    sigmask: UserPtr<SigSet>,
    sigsetsize: usize,
) -> KResult<u64> {
    let mask = sigmask_arg(t, sigmask, sigsetsize)?;
    do_epoll_wait(t, epfd, events, maxevents, deadline_ms(timeout), mask)
}

/// `epoll_pwait` with a `timespec` timeout (`NULL`: forever).
#[syscall]
pub fn epoll_pwait2(
    t: &mut Task,
    epfd: Fd,
    events: EpollEventsOut,
    maxevents: i32,
    timeout: UserPtr<Timespec>,
    sigmask: UserPtr<SigSet>,
    sigsetsize: usize,
) -> KResult<u64> {
    let deadline = match timeout.read_opt(t)? {
        None => None,
        Some(ts) => Some(Instant::now() + duration_of(&ts)?),
    };
    let mask = sigmask_arg(t, sigmask, sigsetsize)?;
    do_epoll_wait(t, epfd, events, maxevents, deadline, mask)
}
