//! Futexes: wait queues keyed by address space and address.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use abi::Errno;

use crate::vfs::{lock, KResult};

/// The key of a futex word: (address space identity, address).
pub type FutexKey = (usize, u64);

struct Waiter {
    bitset: u32,
    woken: Mutex<bool>,
    cv: Condvar,
}

/// All futex wait queues of the sandbox.
#[derive(Default)]
pub struct Futexes {
    queues: Mutex<HashMap<FutexKey, Vec<Arc<Waiter>>>>,
}

impl Futexes {
    /// Block while the word at `key` holds `expected` (checked by `check`
    /// under the queue lock), until woken or `deadline`.
    pub fn wait(
        &self,
        key: FutexKey,
        bitset: u32,
        deadline: Option<Instant>,
        check: impl FnOnce() -> KResult<bool>,
    ) -> KResult<()> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let w = Arc::new(Waiter { bitset, woken: Mutex::new(false), cv: Condvar::new() });
        {
            let mut q = lock(&self.queues);
            if !check()? {
                return Err(Errno::EAGAIN);
            }
            q.entry(key).or_default().push(w.clone());
        }
        let mut woken = lock(&w.woken);
        while !*woken {
            match deadline {
                None => woken = w.cv.wait(woken).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        drop(woken);
                        self.remove(key, &w);
                        // A wake may have raced with the timeout.
                        if *lock(&w.woken) {
                            return Ok(());
                        }
                        return Err(Errno::ETIMEDOUT);
                    }
                    woken = w.cv.wait_timeout(woken, d - now).map(|r| r.0).unwrap_or_else(|e| e.into_inner().0);
                }
            }
        }
        Ok(())
    }

    fn remove(&self, key: FutexKey, w: &Arc<Waiter>) {
        let mut q = lock(&self.queues);
        if let Some(v) = q.get_mut(&key) {
            v.retain(|x| !Arc::ptr_eq(x, w));
            if v.is_empty() {
                q.remove(&key);
            }
        }
    }

    /// Wake up to `n` waiters on `key` whose bitset intersects `bitset`.
    pub fn wake(&self, key: FutexKey, n: u32, bitset: u32) -> KResult<u64> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let mut q = lock(&self.queues);
        let Some(v) = q.get_mut(&key) else { return Ok(0) };
        let mut woken = 0u64;
        v.retain(|w| {
            if woken < u64::from(n) && w.bitset & bitset != 0 {
                *lock(&w.woken) = true;
                w.cv.notify_one();
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
        let mut q = lock(&self.queues);
        let Some(mut v) = q.remove(&from) else { return 0 };
        let mut done = 0u64;
        let mut moved = Vec::new();
        let mut rest = Vec::new();
        for w in v.drain(..) {
            if done < u64::from(n) {
                *lock(&w.woken) = true;
                w.cv.notify_one();
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
