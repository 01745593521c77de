//! Blocking: a task waits on its own `Waiter`, which anything (a pipe
//! becoming readable, a signal, a futex wake) can notify. Underneath it is a
//! host eventfd, so a wait can also cover donated host descriptors and a
//! timeout in one host `poll`.

#![allow(unsafe_code)]

use parking_lot::Mutex;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Weak};
use std::time::Instant;

use abi::Errno;

use crate::vfs::KResult;

/// What one task blocks on.
pub struct Waiter {
    efd: OwnedFd,
}

impl Waiter {
    pub fn new() -> KResult<Arc<Waiter>> {
        // SAFETY: plain call; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(Errno::ENOMEM);
        }
        // SAFETY: a fresh descriptor we own.
        Ok(Arc::new(Waiter { efd: unsafe { OwnedFd::from_raw_fd(fd) } }))
    }

    /// Wake the task if it is blocked (or make its next wait return at once).
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a local to our eventfd.
        unsafe {
            libc::write(self.efd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Consume pending notifications.
    pub fn clear(&self) {
        let mut v: u64 = 0;
        // SAFETY: reading 8 bytes into a local from our non-blocking eventfd.
        unsafe {
            libc::read(self.efd.as_raw_fd(), (&mut v as *mut u64).cast(), 8);
        }
    }

    /// Block until notified, one of `host` becomes ready for its events, or
    /// `deadline`. Returns the host descriptors' `revents` (in order) and
    /// whether the waiter was notified.
    pub fn wait(&self, host: &[(RawFd, i16)], deadline: Option<Instant>) -> (Vec<i16>, bool) {
        let mut fds: Vec<libc::pollfd> =
            host.iter().map(|&(fd, events)| libc::pollfd { fd, events, revents: 0 }).collect();
        fds.push(libc::pollfd { fd: self.efd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        loop {
            let timeout = match deadline {
                None => -1,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        0
                    } else {
                        i32::try_from((d - now).as_millis() + 1).unwrap_or(i32::MAX)
                    }
                }
            };
            // SAFETY: `fds` is a valid array of pollfd of the given length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return (vec![0; host.len()], false);
            }
            let notified = fds.last().is_some_and(|p| p.revents != 0);
            if notified {
                self.clear();
            }
            let revents: Vec<i16> = fds[..host.len()].iter().map(|p| p.revents).collect();
            if n > 0 || deadline.is_some_and(|d| Instant::now() >= d) {
                return (revents, notified);
            }
        }
    }
}

/// Something told of every notification of a queue for as long as it lives
/// (an epoll watch), unlike a `Waiter`, which is told once.
pub trait Subscriber: Send + Sync {
    /// `events` are the `POLL*` bits that may have changed (all bits when the
    /// notifier does not say).
    fn notify(&self, events: u32);
}

/// Tasks waiting for an object's state to change (a pipe, a socket).
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Weak<Waiter>>>,
    subscribers: Mutex<Vec<Weak<dyn Subscriber>>>,
}

impl WaitQueue {
    /// Add `w`; it stays until notified once.
    pub fn add(&self, w: &Arc<Waiter>) {
        let mut v = self.waiters.lock();
        if !v.iter().any(|x| x.as_ptr() == Arc::as_ptr(w)) {
            v.push(Arc::downgrade(w));
        }
    }

    /// Notify every waiter and forget them.
    pub fn notify_all(&self) {
        self.notify_events(u32::MAX);
    }

    /// Notify every waiter (and forget them) and every subscriber, saying
    /// which `POLL*` readiness bits may have changed. Called with no lock of
    /// the notifying object held is best; subscribers take only leaf locks.
    pub fn notify_events(&self, events: u32) {
        let v = std::mem::take(&mut *self.waiters.lock());
        for w in v {
            if let Some(w) = w.upgrade() {
                w.notify();
            }
        }
        let subs: Vec<Arc<dyn Subscriber>> = {
            let mut s = self.subscribers.lock();
            s.retain(|w| w.strong_count() > 0);
            s.iter().filter_map(Weak::upgrade).collect()
        };
        for s in subs {
            s.notify(events);
        }
    }

    /// Tell `s` of every notification until it is dropped or unsubscribed.
    pub fn subscribe(&self, s: &Arc<dyn Subscriber>) {
        self.subscribers.lock().push(Arc::downgrade(s));
    }

    /// Stop telling `s`.
    pub fn unsubscribe(&self, s: &Arc<dyn Subscriber>) {
        self.subscribers.lock().retain(|w| w.strong_count() > 0 && !std::ptr::addr_eq(w.as_ptr(), Arc::as_ptr(s)));
    }
}
