//! Futexes: wait queues keyed by address space and address (or, for
//! shared memory, by MemoryFile offset). A waiting task sleeps on its own
//! `Waiter`, so signals interrupt futex waits like any other.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use abi::Errno;

use super::waiter::Waiter;
use crate::vfs::KResult;

/// The key of a futex word: (address space identity or 0, address or
/// MemoryFile offset).
pub type FutexKey = (usize, u64);

struct FutexWaiter {
    bitset: u32,
    woken: AtomicBool,
    waiter: Arc<Waiter>,
}

/// All futex wait queues of the sandbox.
#[derive(Default)]
pub struct Futexes {
    queues: Mutex<HashMap<FutexKey, Vec<Arc<FutexWaiter>>>>,
}

impl Futexes {
    /// Block while the word at `key` holds the expected value (`check`,
    /// evaluated under the queue lock), until woken (`Ok`), `interrupted()`
    /// says a signal is pending (`ERESTARTSYS`) or `deadline` (`ETIMEDOUT`).
    pub fn wait(
        &self,
        key: FutexKey,
        bitset: u32,
        deadline: Option<Instant>,
        waiter: &Arc<Waiter>,
        interrupted: impl Fn() -> bool,
        check: impl FnOnce() -> KResult<bool>,
    ) -> KResult<()> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let w = Arc::new(FutexWaiter { bitset, woken: AtomicBool::new(false), waiter: waiter.clone() });
        {
            let mut q = self.queues.lock();
            if !check()? {
                return Err(Errno::EAGAIN);
            }
            q.entry(key).or_default().push(w.clone());
        }
        loop {
            if w.woken.load(Ordering::Acquire) {
                return Ok(());
            }
            let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
            if timed_out || interrupted() {
                self.remove(key, &w);
                // A wake may have raced with the timeout or the signal.
                if w.woken.load(Ordering::Acquire) {
                    return Ok(());
                }
                return Err(if timed_out { Errno::ETIMEDOUT } else { Errno::ERESTARTSYS });
            }
            waiter.wait(&[], deadline);
        }
    }

    fn remove(&self, key: FutexKey, w: &Arc<FutexWaiter>) {
        let mut q = self.queues.lock();
        if let Some(v) = q.get_mut(&key) {
            v.retain(|x| !Arc::ptr_eq(x, w));
            if v.is_empty() {
                q.remove(&key);
            }
        }
    }

    fn wake_one(w: &FutexWaiter) {
        w.woken.store(true, Ordering::Release);
        w.waiter.notify();
    }

    /// Wake up to `n` waiters on `key` whose bitset intersects `bitset`.
    pub fn wake(&self, key: FutexKey, n: u32, bitset: u32) -> KResult<u64> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let mut q = self.queues.lock();
        let Some(v) = q.get_mut(&key) else { return Ok(0) };
        let mut woken = 0u64;
        v.retain(|w| {
            if woken < u64::from(n) && w.bitset & bitset != 0 {
                Self::wake_one(w);
                woken += 1;
                false
            } else {
                true
            }
        });
        if v.is_empty() {
            q.remove(&key);
        }
        Ok(woken)
    }

    /// Wake up to `n` waiters on `from` and move up to `requeue` of the rest
    /// to `to`.
    pub fn requeue(&self, from: FutexKey, to: FutexKey, n: u32, requeue: u32) -> u64 {
        let mut q = self.queues.lock();
        let Some(mut v) = q.remove(&from) else { return 0 };
        let mut done = 0u64;
        let mut moved = Vec::new();
        let mut rest = Vec::new();
        for w in v.drain(..) {
            if done < u64::from(n) {
                Self::wake_one(&w);
                done += 1;
            } else if (moved.len() as u64) < u64::from(requeue) {
                moved.push(w);
            } else {
                rest.push(w);
            }
        }
        let m = moved.len() as u64;
        if !rest.is_empty() {
            q.insert(from, rest);
        }
        if !moved.is_empty() {
            q.entry(to).or_default().extend(moved);
        }
        done + m
    }
}
