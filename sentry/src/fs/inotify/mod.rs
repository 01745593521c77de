//! inotify: watches on inodes, and the events changes made inside the
//! sandbox raise.
//!
//! A sentry-wide registry maps an inode's identity `(st_dev, st_ino)` to the
//! (instance, watch descriptor) pairs watching it. The syscall layer calls
//! the `notify_*` functions where a change happens (one line per site);
//! each looks up the watchers and queues `struct inotify_event` records on
//! their instances, whose readers wait on the instance's wait queue. With
//! no watch anywhere, a notification costs one atomic load.
//!
//! Lock order: an instance's state, then the registry. Notification
//! collects the watchers under the registry lock and delivers after
//! releasing it, so an instance is never dropped with the registry held.

use parking_lot::Mutex;
use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use abi::consts::*;
use abi::Errno;

use crate::kernel::waiter::WaitQueue;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, FileOps, InodeAttr, InodeRef, KResult, Location, SetAttr};

/// An inode's identity: `(st_dev, st_ino)`.
pub type Identity = (u64, u64);

/// Events one instance queues before it reports `IN_Q_OVERFLOW`
/// (`/proc/sys/fs/inotify/max_queued_events`).
const MAX_QUEUED: usize = 16384;
/// Watches one instance may hold (`max_user_watches`, per instance here).
const MAX_WATCHES: usize = 65536;
/// `sizeof(struct inotify_event)`.
const EVENT_SIZE: usize = 16;

/// One queued event.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

/// The length the name field takes: the name, a NUL, padded to a multiple
/// of the header size (0 for no name).
fn padded_len(name: &[u8]) -> usize {
    if name.is_empty() {
        0
    } else {
        (name.len() + 1).div_ceil(EVENT_SIZE) * EVENT_SIZE
    }
}

impl Event {
    fn size(&self) -> usize {
        EVENT_SIZE + padded_len(&self.name)
    }

    /// Append the `struct inotify_event` record.
    fn encode_into(&self, out: &mut Vec<u8>) {
        let len = padded_len(&self.name);
        out.extend_from_slice(&self.wd.to_ne_bytes());
        out.extend_from_slice(&self.mask.to_ne_bytes());
        out.extend_from_slice(&self.cookie.to_ne_bytes());
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
        let start = out.len();
        out.extend_from_slice(&self.name);
        out.resize(start + len, 0);
    }
}

/// The record `read` returns for one event, as Linux lays it out.
pub fn encode_event(wd: i32, mask: u32, cookie: u32, name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Event { wd, mask, cookie, name: name.to_vec() }.encode_into(&mut out);
    out
}

struct Watch {
    id: Identity,
    mask: u32,
}

#[derive(Default)]
struct State {
    events: VecDeque<Event>,
    /// Bytes the queued events take (`FIONREAD`).
    bytes: usize,
    watches: BTreeMap<i32, Watch>,
    by_id: HashMap<Identity, i32>,
    last_wd: i32,
}

impl State {
    fn push(&mut self, ev: Event) {
        if self.events.back() == Some(&ev) {
            // Linux merges an event identical to the last one queued.
            return;
        }
        if self.events.len() >= MAX_QUEUED {
            let overflow = Event { wd: -1, mask: IN_Q_OVERFLOW, cookie: 0, name: Vec::new() };
            if self.events.back() != Some(&overflow) {
                self.bytes += overflow.size();
                self.events.push_back(overflow);
            }
            return;
        }
        self.bytes += ev.size();
        self.events.push_back(ev);
    }

    fn remove_watch(&mut self, wd: i32) -> Option<Identity> {
        let w = self.watches.remove(&wd)?;
        self.by_id.remove(&w.id);
        self.push(Event { wd, mask: IN_IGNORED, cookie: 0, name: Vec::new() });
        Some(w.id)
    }
}

/// One inotify instance (the file an `inotify_init1` descriptor opens).
pub struct Inotify {
    me: Weak<Inotify>,
    state: Mutex<State>,
    wq: WaitQueue,
}

type Watchers = HashMap<Identity, Vec<(Weak<Inotify>, i32)>>;

fn registry() -> &'static Mutex<Watchers> {
    static R: OnceLock<Mutex<Watchers>> = OnceLock::new();
    R.get_or_init(Mutex::default)
}

/// Watches registered sandbox-wide: the fast path when zero.
static WATCHES: AtomicUsize = AtomicUsize::new(0);

fn register(id: Identity, inst: &Weak<Inotify>, wd: i32) {
    registry().lock().entry(id).or_default().push((inst.clone(), wd));
    WATCHES.fetch_add(1, Ordering::Relaxed);
}

fn unregister(id: Identity, inst: *const Inotify, wd: i32) {
    let mut r = registry().lock();
    if let Some(v) = r.get_mut(&id) {
        let before = v.len();
        v.retain(|(w, d)| !(w.as_ptr() == inst && *d == wd));
        WATCHES.fetch_sub(before - v.len(), Ordering::Relaxed);
        if v.is_empty() {
            r.remove(&id);
        }
    }
}

impl Inotify {
    pub fn new() -> Arc<Inotify> {
        Arc::new_cyclic(|me| Inotify { me: me.clone(), state: Mutex::default(), wq: WaitQueue::default() })
    }

    /// `inotify_add_watch` on the inode `id` (the VFS resolved the path
    /// and checked `IN_ONLYDIR`). Returns the watch descriptor.
    pub fn add_watch(&self, id: Identity, mask: u32) -> KResult<i32> {
        if mask & (IN_MASK_ADD | IN_MASK_CREATE) == IN_MASK_ADD | IN_MASK_CREATE {
            return Err(Errno::EINVAL);
        }
        let keep = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;
        let mut st = self.state.lock();
        if let Some(&wd) = st.by_id.get(&id) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            let w = st.watches.get_mut(&wd).ok_or(Errno::EINVAL)?;
            w.mask = if mask & IN_MASK_ADD != 0 { w.mask | (mask & keep) } else { mask & keep };
            return Ok(wd);
        }
        if st.watches.len() >= MAX_WATCHES {
            return Err(Errno::ENOSPC);
        }
        let mut wd = st.last_wd;
        loop {
            wd = wd.checked_add(1).unwrap_or(1);
            if !st.watches.contains_key(&wd) {
                break;
            }
        }
        st.last_wd = wd;
        st.watches.insert(wd, Watch { id, mask: mask & keep });
        st.by_id.insert(id, wd);
        register(id, &self.me, wd);
        Ok(wd)
    }

    /// `inotify_rm_watch`: `EINVAL` for an unknown descriptor.
    pub fn rm_watch(&self, wd: i32) -> KResult<()> {
        let id = {
            let mut st = self.state.lock();
            st.remove_watch(wd).ok_or(Errno::EINVAL)?
        };
        unregister(id, self, wd);
        self.wq.notify_all();
        Ok(())
    }

    /// Queue an event for watch `wd` if its mask wants it; a one-shot
    /// watch is removed after its event.
    fn deliver(&self, wd: i32, mask: u32, cookie: u32, name: &[u8]) {
        let gone = {
            let mut st = self.state.lock();
            let Some(w) = st.watches.get(&wd) else { return };
            if mask & w.mask & IN_ALL_EVENTS == 0 {
                return;
            }
            let oneshot = w.mask & IN_ONESHOT != 0;
            st.push(Event { wd, mask, cookie, name: name.to_vec() });
            if oneshot {
                st.remove_watch(wd)
            } else {
                None
            }
        };
        if let Some(id) = gone {
            unregister(id, self, wd);
        }
        self.wq.notify_all();
    }

    /// The inode of watch `wd` is gone: `IN_IGNORED`, and forget the watch.
    fn drop_watch(&self, wd: i32) {
        let gone = self.state.lock().remove_watch(wd);
        if let Some(id) = gone {
            unregister(id, self, wd);
        }
        self.wq.notify_all();
    }

    /// Queued events, for tests.
    #[cfg(test)]
    fn queued(&self) -> Vec<(i32, u32, u32, Vec<u8>)> {
        self.state.lock().events.iter().map(|e| (e.wd, e.mask, e.cookie, e.name.clone())).collect()
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        let st = std::mem::take(&mut *self.state.lock());
        for (wd, w) in st.watches {
            unregister(w.id, self, wd);
        }
    }
}

impl FileOps for Inotify {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        let mut st = self.state.lock();
        let Some(first) = st.events.front() else {
            return Err(Errno::EAGAIN);
        };
        if first.size() > buf.len() {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::with_capacity(buf.len());
        while let Some(ev) = st.events.front() {
            if out.len() + ev.size() > buf.len() {
                break;
            }
            ev.encode_into(&mut out);
            let size = ev.size();
            st.bytes -= size;
            st.events.pop_front();
        }
        buf[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }

    fn write(&self, _cx: Caller<'_>, _buf: &[u8], _off: u64) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, _cx: Caller<'_>) -> u32 {
        if self.state.lock().events.is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.state.lock().bytes as u64)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Whether any watch exists (else notifications return at once).
fn active() -> bool {
    WATCHES.load(Ordering::Relaxed) != 0
}

fn watchers(id: Identity) -> Vec<(Arc<Inotify>, i32)> {
    registry()
        .lock()
        .get(&id)
        .map(|v| v.iter().filter_map(|(w, wd)| w.upgrade().map(|i| (i, *wd))).collect())
        .unwrap_or_default()
}

/// Queue `mask` (with `cookie`, and `name` for an event about a child of a
/// watched directory) for every watch on inode `id`.
pub fn notify(id: Identity, name: &[u8], mask: u32, cookie: u32) {
    if !active() {
        return;
    }
    for (inst, wd) in watchers(id) {
        inst.deliver(wd, mask, cookie, name);
    }
}

/// The inode `id` is gone: its watches end with `IN_IGNORED`.
fn forget(id: Identity) {
    for (inst, wd) in watchers(id) {
        inst.drop_watch(wd);
    }
}

fn identity(a: &InodeAttr) -> Identity {
    (a.dev, a.ino)
}

fn isdir(a: &InodeAttr) -> u32 {
    if a.is_dir() {
        IN_ISDIR
    } else {
        0
    }
}

fn dir_identity(dir: &Location) -> Option<Identity> {
    dir.inode().attr().ok().map(|a| identity(&a))
}

/// An event about `name` in directory `dir` (for watches on `dir`).
pub fn notify_child(dir: &Location, name: &[u8], mask: u32) {
    if !active() {
        return;
    }
    if let Some(id) = dir_identity(dir) {
        notify(id, name, mask, 0);
    }
}

/// `name` was created in `dir`.
pub fn notify_create(dir: &Location, name: &[u8], is_dir: bool) {
    notify_child(dir, name, IN_CREATE | if is_dir { IN_ISDIR } else { 0 });
}

/// `name` in `dir` became a new link to `target`.
pub fn notify_link(dir: &Location, name: &[u8], target: &InodeRef) {
    if !active() {
        return;
    }
    if let Ok(a) = target.attr() {
        notify(identity(&a), b"", IN_ATTRIB, 0);
    }
    notify_create(dir, name, false);
}

/// An event on the file with `attr` at `loc`: for its directory's watches
/// with its name, then for its own watches (Linux's order).
pub fn notify_inode(loc: Option<&Location>, attr: &InodeAttr, mask: u32) {
    if !active() {
        return;
    }
    let mask = mask | isdir(attr);
    if let Some(parent) = loc.and_then(|l| l.dentry.parent()) {
        if let Ok(pa) = parent.inode.attr() {
            let name = loc.map(|l| l.dentry.name()).unwrap_or_default();
            notify(identity(&pa), &name, mask, 0);
        }
    }
    notify(identity(attr), b"", mask, 0);
}

/// An event on the file open as `f` (none for anonymous files).
pub fn notify_file(f: &FileDescription, mask: u32) {
    if !active() || f.loc.is_none() {
        return;
    }
    if let Some(a) = f.inode.as_ref().and_then(|i| i.attr().ok()) {
        notify_inode(f.loc.as_ref(), &a, mask);
    }
}

/// `done` bytes were written through `f`.
pub fn notify_write(f: &FileDescription, done: usize) {
    if done > 0 {
        notify_file(f, IN_MODIFY);
    }
}

/// The last reference to `f` went away.
pub fn notify_close(f: &FileDescription) {
    if !active() || f.flags() & O_PATH != 0 {
        return;
    }
    notify_file(f, if f.writable() { IN_CLOSE_WRITE } else { IN_CLOSE_NOWRITE });
}

/// `loc` was opened with `flags` (and created by this open if `created`).
pub fn notify_open(loc: &Location, flags: u32, created: bool) {
    if !active() || flags & O_PATH != 0 {
        return;
    }
    let Ok(a) = loc.inode().attr() else { return };
    if created {
        if let Some(parent) = &loc.dentry.parent() {
            if let Ok(pa) = parent.inode.attr() {
                notify(identity(&pa), &loc.dentry.name(), IN_CREATE, 0);
            }
        }
    } else if flags & O_TRUNC != 0 && a.is_regular() && matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
        notify_inode(Some(loc), &a, IN_MODIFY);
    }
    notify_inode(Some(loc), &a, IN_OPEN);
}

/// The events Linux's `fsnotify_change` raises for an attribute change.
fn setattr_mask(sa: &SetAttr) -> u32 {
    let mut mask = 0;
    if sa.uid.is_some() || sa.gid.is_some() || sa.mode.is_some() {
        mask |= IN_ATTRIB;
    }
    if sa.size.is_some() {
        mask |= IN_MODIFY;
    }
    match (sa.atime.is_some(), sa.mtime.is_some()) {
        (true, true) => mask |= IN_ATTRIB,
        (true, false) => mask |= IN_ACCESS,
        (false, true) => mask |= IN_MODIFY,
        (false, false) => {}
    }
    mask
}

/// `sa` was applied to `loc` (chmod, chown, utimensat, truncate).
pub fn notify_setattr(loc: &Location, sa: &SetAttr) {
    let mask = setattr_mask(sa);
    if !active() || mask == 0 {
        return;
    }
    if let Ok(a) = loc.inode().attr() {
        notify_inode(Some(loc), &a, mask);
    }
}

/// `name` (whose attributes before the removal were `victim`) was removed
/// from `dir`.
pub fn notify_unlink(dir: &Location, name: &[u8], victim: &InodeAttr) {
    if !active() {
        return;
    }
    let id = identity(victim);
    if !victim.is_dir() {
        // The link count changed.
        notify(id, b"", IN_ATTRIB, 0);
    }
    if victim.is_dir() || victim.nlink <= 1 {
        // Self events carry no IN_ISDIR.
        notify(id, b"", IN_DELETE_SELF, 0);
        forget(id);
    }
    notify_child(dir, name, IN_DELETE | isdir(victim));
}

/// `old` in `old_dir` (a file with attributes `src`) became `new` in
/// `new_dir`.
pub fn notify_rename(old_dir: &Location, old: &[u8], new_dir: &Location, new: &[u8], src: &InodeAttr) {
    if !active() {
        return;
    }
    static COOKIE: AtomicU32 = AtomicU32::new(0);
    let cookie = COOKIE.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let d = isdir(src);
    if let Some(id) = dir_identity(old_dir) {
        notify(id, old, IN_MOVED_FROM | d, cookie);
    }
    if let Some(id) = dir_identity(new_dir) {
        notify(id, new, IN_MOVED_TO | d, cookie);
    }
    notify(identity(src), b"", IN_MOVE_SELF, 0);
}

#[cfg(test)]
mod tests;
