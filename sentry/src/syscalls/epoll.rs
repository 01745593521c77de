//! epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::Timespec;
use abi::Errno;

use super::install_anon;
use super::timerfd::duration_of;
use super::{fd_arg, file_of, int_arg};
use crate::fs::epoll::{Epoll, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD};
use crate::kernel::Task;
use crate::vfs::{FileDescription, KResult};

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
