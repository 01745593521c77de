//! Signal-driven I/O (`O_ASYNC`, Linux's fasync): a file description with
//! `O_ASYNC` set and an owner (`F_SETOWN`) sends the owner `SIGIO`, or the
//! signal `F_SETSIG` chose, whenever the file becomes readable, writable or
//! hung up. Files whose readiness never changes inside the sentry (regular
//! files) take the flag and never signal, as on Linux.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use abi::consts::SIGIO;

use crate::kernel::signal::{self, SI_KERNEL};
use crate::kernel::waiter::Subscriber;
use crate::kernel::Kernel;
use crate::vfs::FileDescription;

/// `si_code` values of a `F_SETSIG` signal: which readiness it reports.
const POLL_IN: i32 = 1;
const POLL_OUT: i32 = 2;
const POLL_ERR: i32 = 4;
const POLL_HUP: i32 = 6;

/// The readiness bits that signal.
const SIGNALLED: u32 = (libc::POLLIN | libc::POLLOUT | libc::POLLERR | libc::POLLHUP | libc::POLLPRI) as u32;

struct Fasync {
    k: Weak<Kernel>,
    file: Weak<FileDescription>,
}

impl Subscriber for Fasync {
    fn notify(&self, events: u32) {
        if events & SIGNALLED == 0 {
            return;
        }
        let (Some(k), Some(f)) = (self.k.upgrade(), self.file.upgrade()) else { return };
        let owner = f.owner.load(Ordering::Relaxed);
        if owner == 0 {
            return;
        }
        let chosen = f.io_signal.load(Ordering::Relaxed);
        let info = if chosen == 0 {
            signal::info(SIGIO, SI_KERNEL)
        } else {
            let code = match events {
                e if e & libc::POLLHUP as u32 != 0 => POLL_HUP,
                e if e & libc::POLLERR as u32 != 0 => POLL_ERR,
                e if e & libc::POLLIN as u32 != 0 => POLL_IN,
                _ => POLL_OUT,
            };
            signal::info(chosen, code)
        };
        if f.owner_is_thread.load(Ordering::Relaxed) {
            if let Some(t) = k.task(owner) {
                k.signal_thread(&t, info);
            }
        } else if owner > 0 {
            if let Some(p) = k.process(owner) {
                k.signal_process(&p, info);
            }
        } else {
            k.signal_group(-owner, info);
        }
    }
}

/// Start (`on`) or stop sending `f`'s owner signals on readiness changes.
pub fn set(k: &Arc<Kernel>, f: &Arc<FileDescription>, on: bool) {
    let Some(q) = f.file.wait_queue() else { return };
    let mut slot = f.fasync.lock();
    match (on, slot.as_ref()) {
        (true, None) => {
            let s: Arc<dyn Subscriber> = Arc::new(Fasync { k: Arc::downgrade(k), file: Arc::downgrade(f) });
            q.subscribe(&s);
            *slot = Some(s);
        }
        (false, Some(s)) => {
            q.unsubscribe(s);
            *slot = None;
        }
        _ => {}
    }
}
