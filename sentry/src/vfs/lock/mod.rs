//! Advisory file locks: `flock(2)` whole-file locks and `fcntl(2)` byte-range
//! record locks (POSIX locks owned by a process, OFD locks owned by an open
//! file description).
//!
//! Locks are kept per inode identity `(st_dev, st_ino)` in one sentry-wide
//! registry, so every path and every file system object that names the same
//! file shares its locks. [`LockTable`] is the pure data structure (ranges,
//! conflicts, split and merge); [`Registry`] adds the wait-for graph that
//! deadlock detection walks, and a wait queue that every unlock announces.
//!
//! `flock` locks and record locks are independent, as on Linux; POSIX and OFD
//! record locks share one table and conflict with each other.

use parking_lot::{Mutex, MutexGuard};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::kernel::waiter::WaitQueue;

/// The identity of a file for locking: `(st_dev, st_ino)`.
pub type InodeKey = (u64, u64);

/// Who holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A POSIX record lock: the process (thread group) id.
    Process(i32),
    /// An OFD record lock or a `flock` lock: the open file description's
    /// identity (its address while it lives; locks go when it is dropped).
    Description(usize),
}

/// Shared (read) or exclusive (write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Read,
    Write,
}

/// One byte-range lock: `[start, end)`, where `end == u64::MAX` means "to
/// the end of the file, however far it grows".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLock {
    pub owner: Owner,
    pub kind: LockKind,
    pub start: u64,
    pub end: u64,
    /// What `F_GETLK` reports as `l_pid` (-1 for OFD locks).
    pub pid: i32,
}

fn overlaps(a_start: u64, a_end: u64, b_start: u64, b_end: u64) -> bool {
    a_start < b_end && b_start < a_end
}

fn conflicts(a: LockKind, b: LockKind) -> bool {
    a == LockKind::Write || b == LockKind::Write
}

/// The locks of one file.
#[derive(Clone, Debug, Default)]
pub struct LockTable {
    records: Vec<RecordLock>,
    /// `flock` holders, by description.
    flocks: Vec<(usize, LockKind)>,
}

impl LockTable {
    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.flocks.is_empty()
    }

    /// The record locks, in no particular order.
    pub fn records(&self) -> &[RecordLock] {
        &self.records
    }

    /// Every record lock of another owner that a `kind` lock on
    /// `[start, end)` by `owner` would conflict with.
    pub fn record_conflicts(&self, owner: Owner, kind: LockKind, start: u64, end: u64) -> Vec<RecordLock> {
        self.records
            .iter()
            .filter(|l| l.owner != owner && overlaps(l.start, l.end, start, end) && conflicts(l.kind, kind))
            .copied()
            .collect()
    }

    /// Set (or, with `kind == None`, remove) `owner`'s lock on
    /// `[start, end)`, replacing what the owner held there, splitting its
    /// locks that straddle the range and merging with its adjacent or
    /// overlapping locks of the same kind. Conflicts are the caller's to
    /// check first.
    pub fn set_record(&mut self, owner: Owner, kind: Option<LockKind>, start: u64, end: u64, pid: i32) {
        if start >= end {
            return;
        }
        // Take the range out of the owner's locks.
        let mut kept = Vec::with_capacity(self.records.len() + 1);
        for l in self.records.drain(..) {
            if l.owner != owner || !overlaps(l.start, l.end, start, end) {
                kept.push(l);
                continue;
            }
            if l.start < start {
                kept.push(RecordLock { end: start, ..l });
            }
            if l.end > end {
                kept.push(RecordLock { start: end, ..l });
            }
        }
        self.records = kept;
        let Some(kind) = kind else { return };
        // Merge with the owner's touching locks of the same kind.
        let (mut s, mut e) = (start, end);
        self.records.retain(|l| {
            let touches = l.start <= e && s <= l.end;
            if l.owner == owner && l.kind == kind && touches {
                s = s.min(l.start);
                e = e.max(l.end);
                false
            } else {
                true
            }
        });
        self.records.push(RecordLock { owner, kind, start: s, end: e, pid });
    }

    /// Remove every record lock of `owner`; whether there were any.
    pub fn remove_owner(&mut self, owner: Owner) -> bool {
        let before = self.records.len();
        self.records.retain(|l| l.owner != owner);
        before != self.records.len()
    }

    /// Whether description `desc` could take a `kind` flock.
    pub fn flock_conflicts(&self, desc: usize, kind: LockKind) -> bool {
        self.flocks.iter().any(|&(d, k)| d != desc && conflicts(k, kind))
    }

    /// Set (`Some`) or remove (`None`) the flock of description `desc`.
    pub fn set_flock(&mut self, desc: usize, kind: Option<LockKind>) {
        self.flocks.retain(|&(d, _)| d != desc);
        if let Some(k) = kind {
            self.flocks.push((desc, k));
        }
    }

    /// Remove every lock, record or flock, of description `desc`.
    pub fn remove_description(&mut self, desc: usize) -> bool {
        let before = self.flocks.len();
        self.flocks.retain(|&(d, _)| d != desc);
        self.remove_owner(Owner::Description(desc)) || before != self.flocks.len()
    }
}

/// A record lock request that is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub key: InodeKey,
    pub kind: LockKind,
    pub start: u64,
    pub end: u64,
}

/// All lock tables, and who waits for what.
#[derive(Debug, Default)]
pub struct Registry {
    files: HashMap<InodeKey, LockTable>,
    /// Process owners blocked in `F_SETLKW`, and on what.
    waiting: HashMap<i32, Pending>,
    /// How many files each process holds POSIX locks on (so that `close`
    /// finds nothing to do without touching inodes).
    posix_files: HashMap<i32, usize>,
}

impl Registry {
    /// The table of `key`, if it has any locks.
    pub fn table(&self, key: InodeKey) -> Option<&LockTable> {
        self.files.get(&key)
    }

    fn table_mut(&mut self, key: InodeKey) -> &mut LockTable {
        self.files.entry(key).or_default()
    }

    fn tidy(&mut self, key: InodeKey) {
        if self.files.get(&key).is_some_and(LockTable::is_empty) {
            self.files.remove(&key);
        }
    }

    fn recount(&mut self, pid: i32) {
        let n = self.files.values().filter(|t| t.records.iter().any(|l| l.owner == Owner::Process(pid))).count();
        if n == 0 {
            self.posix_files.remove(&pid);
        } else {
            self.posix_files.insert(pid, n);
        }
    }

    /// The first lock conflicting with a request, for `F_GETLK`.
    pub fn test_record(&self, key: InodeKey, owner: Owner, kind: LockKind, start: u64, end: u64) -> Option<RecordLock> {
        let t = self.files.get(&key)?;
        let mut c = t.record_conflicts(owner, kind, start, end);
        c.sort_by_key(|l| l.start);
        c.first().copied()
    }

    /// Take or release a record lock if nothing conflicts; `Err` with the
    /// conflicting owners otherwise.
    pub fn try_set_record(
        &mut self,
        key: InodeKey,
        owner: Owner,
        kind: Option<LockKind>,
        start: u64,
        end: u64,
        pid: i32,
    ) -> Result<(), Vec<Owner>> {
        if let Some(k) = kind {
            let c = self.files.get(&key).map(|t| t.record_conflicts(owner, k, start, end)).unwrap_or_default();
            if !c.is_empty() {
                return Err(c.iter().map(|l| l.owner).collect());
            }
        }
        self.table_mut(key).set_record(owner, kind, start, end, pid);
        self.tidy(key);
        if let Owner::Process(p) = owner {
            self.recount(p);
        }
        Ok(())
    }

    /// Whether process `pid` blocking on `req` would close a cycle in the
    /// wait-for graph: some owner it would wait for is itself (through the
    /// requests they are blocked on) waiting for `pid`.
    pub fn would_deadlock(&self, pid: i32, req: &Pending) -> bool {
        let me = Owner::Process(pid);
        let conflicts_of = |p: &Pending, who: Owner| -> Vec<Owner> {
            self.files
                .get(&p.key)
                .map(|t| t.record_conflicts(who, p.kind, p.start, p.end).iter().map(|l| l.owner).collect())
                .unwrap_or_default()
        };
        let mut stack = conflicts_of(req, me);
        let mut seen = HashSet::new();
        while let Some(o) = stack.pop() {
            if o == me {
                return true;
            }
            let Owner::Process(q) = o else { continue };
            if !seen.insert(q) {
                continue;
            }
            if let Some(p) = self.waiting.get(&q) {
                stack.extend(conflicts_of(p, o));
            }
        }
        false
    }

    /// Record that `pid` is blocked on `req` (or, `None`, no longer).
    pub fn set_waiting(&mut self, pid: i32, req: Option<Pending>) {
        match req {
            Some(r) => self.waiting.insert(pid, r),
            None => self.waiting.remove(&pid),
        };
    }

    /// Take or release a flock; `false` if another description conflicts.
    pub fn try_flock(&mut self, key: InodeKey, desc: usize, kind: Option<LockKind>) -> bool {
        if let Some(k) = kind {
            if self.files.get(&key).is_some_and(|t| t.flock_conflicts(desc, k)) {
                return false;
            }
        }
        self.table_mut(key).set_flock(desc, kind);
        self.tidy(key);
        true
    }

    /// Drop every POSIX lock of `pid` on `key` (or on every file).
    pub fn release_process(&mut self, pid: i32, key: Option<InodeKey>) -> bool {
        if !self.posix_files.contains_key(&pid) {
            return false;
        }
        let keys: Vec<InodeKey> = match key {
            Some(k) => vec![k],
            None => self.files.keys().copied().collect(),
        };
        let mut any = false;
        for k in keys {
            if let Some(t) = self.files.get_mut(&k) {
                any |= t.remove_owner(Owner::Process(pid));
            }
            self.tidy(k);
        }
        self.recount(pid);
        any
    }

    /// Whether `pid` holds any POSIX lock.
    pub fn holds_posix(&self, pid: i32) -> bool {
        self.posix_files.contains_key(&pid)
    }

    /// Drop every OFD lock and flock of description `desc`.
    pub fn release_description(&mut self, desc: usize) -> bool {
        let mut any = false;
        let keys: Vec<InodeKey> = self.files.keys().copied().collect();
        for k in keys {
            if let Some(t) = self.files.get_mut(&k) {
                any |= t.remove_description(desc);
            }
            self.tidy(k);
        }
        any
    }
}

/// The sentry-wide registry and the queue every lock release announces.
pub struct Locks {
    reg: Mutex<Registry>,
    queue: WaitQueue,
}

impl Locks {
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock()
    }

    /// Where blocked lockers wait; notified on every release.
    pub fn queue(&self) -> &WaitQueue {
        &self.queue
    }
}

/// The sentry's lock registry.
pub fn locks() -> &'static Locks {
    static L: OnceLock<Locks> = OnceLock::new();
    L.get_or_init(|| Locks { reg: Mutex::new(Registry::default()), queue: WaitQueue::default() })
}

/// Release every POSIX record lock process `pid` holds (process exit).
pub fn release_posix_locks(pid: i32) {
    let l = locks();
    if l.registry().release_process(pid, None) {
        l.queue.notify_all();
    }
}

/// Release `pid`'s POSIX locks on one file (the process closed a
/// descriptor of it). Cheap when the process holds no locks.
pub fn release_posix_locks_on(pid: i32, key: impl FnOnce() -> Option<InodeKey>) {
    let l = locks();
    if !l.registry().holds_posix(pid) {
        return;
    }
    let Some(k) = key() else { return };
    if l.registry().release_process(pid, Some(k)) {
        l.queue.notify_all();
    }
}

/// Release the OFD locks and flocks of a description that is going away.
pub fn release_description_locks(desc: usize) {
    let l = locks();
    if l.registry().release_description(desc) {
        l.queue.notify_all();
    }
}

#[cfg(test)]
mod tests;
