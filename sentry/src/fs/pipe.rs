//! Pipes (and the data path of FIFOs): a bounded byte buffer with reader
//! and writer counts.
//!
//! One [`PipeEnd`] is the `FileOps` of one file description; creating an
//! end counts it and dropping it (when its last descriptor closes) uncounts
//! it, so the pipe knows when all readers or all writers are gone. Reads and
//! writes never block: they answer `EAGAIN` and the VFS waits on the pipe's
//! queue (see `syscalls/file.rs`).

use parking_lot::Mutex;
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use abi::consts::{F_GETPIPE_SZ, F_SETPIPE_SZ, O_ACCMODE, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, S_IFIFO};
use abi::Errno;

use crate::kernel::waiter::WaitQueue;
use crate::vfs::Caller;
use crate::vfs::{FileOps, FileRef, Inode, InodeAttr, KResult};

/// Writes of at most this many bytes are atomic.
pub const PIPE_BUF: usize = 4096;
/// A new pipe's capacity.
pub const DEFAULT_CAPACITY: usize = 65536;
/// The largest capacity `F_SETPIPE_SZ` grants (`/proc/sys/fs/pipe-max-size`).
pub const MAX_CAPACITY: usize = 1 << 20;
const PAGE: usize = 4096;

const POLLIN: u32 = libc::POLLIN as u32 | libc::POLLRDNORM as u32;
const POLLOUT: u32 = libc::POLLOUT as u32 | libc::POLLWRNORM as u32;
const POLLHUP: u32 = libc::POLLHUP as u32;
const POLLERR: u32 = libc::POLLERR as u32;

struct State {
    buf: VecDeque<u8>,
    cap: usize,
    readers: usize,
    writers: usize,
    /// How many writers ever opened (a FIFO reader opened before any writer
    /// waits for one instead of seeing end of file).
    writers_opened: u64,
    readers_opened: u64,
}

/// A pipe's shared state.
pub struct Pipe {
    state: Mutex<State>,
    queue: WaitQueue,
    ino: u64,
}

/// The pseudo file system all pipes live on (for `st_dev`).
fn pipefs_dev() -> u64 {
    static DEV: OnceLock<u64> = OnceLock::new();
    *DEV.get_or_init(super::next_dev)
}

/// A fresh inode number for an anonymous object (pipes, sockets).
pub(crate) fn next_ino() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Pipe {
    pub fn new() -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                cap: DEFAULT_CAPACITY,
                readers: 0,
                writers: 0,
                writers_opened: 0,
                readers_opened: 0,
            }),
            queue: WaitQueue::default(),
            ino: next_ino(),
        })
    }

    /// The inode number `fstat` shows and `pipe:[N]` names.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// A new end: counted until dropped.
    pub fn end(self: &Arc<Pipe>, read: bool, write: bool) -> Arc<PipeEnd> {
        self.new_end(read, write, false)
    }

    fn new_end(self: &Arc<Pipe>, read: bool, write: bool, fifo: bool) -> Arc<PipeEnd> {
        let mut s = self.state.lock();
        // A FIFO end opened while the other side is present never waits for it.
        let r0 = if s.readers > 0 { u64::MAX } else { s.readers_opened };
        let w0 = if s.writers > 0 { u64::MAX } else { s.writers_opened };
        if read {
            s.readers += 1;
            s.readers_opened += 1;
        }
        if write {
            s.writers += 1;
            s.writers_opened += 1;
        }
        drop(s);
        self.queue.notify_all();
        Arc::new(PipeEnd { pipe: self.clone(), read, write, writers_seen: w0, readers_seen: r0, fifo })
    }

    /// An anonymous pipe: (read end, write end).
    pub fn pair() -> (Arc<PipeEnd>, Arc<PipeEnd>) {
        let p = Pipe::new();
        (p.end(true, false), p.end(false, true))
    }

    /// Copy up to `max` buffered bytes without consuming them (tee, and
    /// splice before it knows how much the output took). `Ok(None)` when
    /// the pipe is empty and has writers (the caller may wait), `Ok(Some(empty))`
    /// at end of file.
    pub fn peek(&self, max: usize) -> Option<Vec<u8>> {
        let s = self.state.lock();
        if s.buf.is_empty() {
            return if s.writers == 0 { Some(Vec::new()) } else { None };
        }
        Some(s.buf.iter().take(max).copied().collect())
    }

    /// Drop `n` buffered bytes that `peek` showed (splice moved them).
    pub fn consume(&self, n: usize) {
        let mut s = self.state.lock();
        let n = n.min(s.buf.len());
        s.buf.drain(..n);
        drop(s);
        self.queue.notify_events(POLLOUT);
    }

    /// The queue readiness changes are announced on.
    pub fn wait_queue(&self) -> &WaitQueue {
        &self.queue
    }

    pub fn capacity(&self) -> usize {
        self.state.lock().cap
    }

    /// `F_SETPIPE_SZ`: round up to a power-of-two number of pages;
    /// `EBUSY` if the data held would not fit.
    pub fn set_capacity(&self, want: u64) -> KResult<usize> {
        if want > MAX_CAPACITY as u64 {
            return Err(Errno::EPERM);
        }
        let pages = (usize::try_from(want).map_err(|_| Errno::EINVAL)?.div_ceil(PAGE)).max(1).next_power_of_two();
        let cap = pages * PAGE;
        let mut s = self.state.lock();
        if s.buf.len() > cap {
            return Err(Errno::EBUSY);
        }
        s.cap = cap;
        drop(s);
        self.queue.notify_events(POLLOUT);
        Ok(cap)
    }

    fn attr(&self) -> InodeAttr {
        InodeAttr {
            dev: pipefs_dev(),
            ino: self.ino,
            mode: S_IFIFO | 0o600,
            nlink: 1,
            blksize: PAGE as u64,
            ..Default::default()
        }
    }
}

/// One open end of a pipe (the `FileOps` of one file description).
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    read: bool,
    write: bool,
    /// For FIFOs: the pipe's open counts when this end opened (`u64::MAX`
    /// when the other side was open then).
    writers_seen: u64,
    readers_seen: u64,
    fifo: bool,
}

impl PipeEnd {
    pub fn pipe(&self) -> &Arc<Pipe> {
        &self.pipe
    }

    /// A FIFO reader that has not yet seen a writer waits for one.
    fn waiting_for_writer(&self, s: &State) -> bool {
        self.fifo && s.writers == 0 && s.writers_opened == self.writers_seen
    }

    fn waiting_for_reader(&self, s: &State) -> bool {
        self.fifo && s.readers == 0 && s.readers_opened == self.readers_seen
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut s = self.pipe.state.lock();
        if self.read {
            s.readers -= 1;
        }
        if self.write {
            s.writers -= 1;
        }
        drop(s);
        self.pipe.queue.notify_all();
    }
}

impl FileOps for PipeEnd {
    fn is_stream(&self) -> bool {
        true
    }

    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        if !self.read {
            return Err(Errno::EBADF);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut s = self.pipe.state.lock();
        if s.buf.is_empty() {
            if s.writers == 0 && !self.waiting_for_writer(&s) {
                return Ok(0);
            }
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(s.buf.len());
        for (d, b) in buf.iter_mut().zip(s.buf.drain(..n)) {
            *d = b;
        }
        drop(s);
        self.pipe.queue.notify_events(POLLOUT);
        Ok(n)
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        let mut s = self.pipe.state.lock();
        if s.readers == 0 {
            if self.waiting_for_reader(&s) {
                return Err(Errno::EAGAIN);
            }
            return Err(Errno::EPIPE);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let free = s.cap.saturating_sub(s.buf.len());
        let n = if buf.len() <= PIPE_BUF {
            if free < buf.len() {
                return Err(Errno::EAGAIN);
            }
            buf.len()
        } else {
            if free == 0 {
                return Err(Errno::EAGAIN);
            }
            buf.len().min(free)
        };
        s.buf.extend(&buf[..n]);
        drop(s);
        self.pipe.queue.notify_events(POLLIN);
        Ok(n)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, _cx: Caller<'_>) -> u32 {
        let s = self.pipe.state.lock();
        let mut r = 0;
        if self.read {
            if !s.buf.is_empty() {
                r |= POLLIN;
            }
            if s.writers == 0 && !self.waiting_for_writer(&s) {
                r |= POLLHUP;
            }
        }
        if self.write {
            if s.cap.saturating_sub(s.buf.len()) >= PIPE_BUF {
                r |= POLLOUT;
            }
            if s.readers == 0 && !self.waiting_for_reader(&s) {
                r |= POLLERR;
            }
        }
        r
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.queue)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.pipe.state.lock().buf.len() as u64)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The inode `fstat` shows for an anonymous pipe, owned by its creator.
pub struct PipeInode {
    pipe: Weak<Pipe>,
    ino: u64,
    uid: u32,
    gid: u32,
}

impl PipeInode {
    pub fn new(pipe: &Arc<Pipe>, uid: u32, gid: u32) -> Arc<PipeInode> {
        Arc::new(PipeInode { pipe: Arc::downgrade(pipe), ino: pipe.ino, uid, gid })
    }
}

impl Inode for PipeInode {
    fn attr(&self) -> KResult<InodeAttr> {
        let attr = match self.pipe.upgrade() {
            Some(p) => p.attr(),
            None => {
                InodeAttr { dev: pipefs_dev(), ino: self.ino, mode: S_IFIFO | 0o600, nlink: 1, ..Default::default() }
            }
        };
        Ok(InodeAttr { uid: self.uid, gid: self.gid, ..attr })
    }

    /// Re-open the pipe (`/proc/<pid>/fd/N`): a new end with the access
    /// mode asked for, whichever end N is. An anonymous pipe's open never
    /// waits for the other side (Linux's `fifo_open` for pipefs).
    fn open(&self, _cx: Caller<'_>, flags: u32) -> KResult<FileRef> {
        let pipe = self.pipe.upgrade().ok_or(Errno::ENXIO)?;
        let (read, write) = access_of(flags)?;
        Ok(pipe.end(read, write))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Which ends an open with `flags` asks for: (read, write).
fn access_of(flags: u32) -> KResult<(bool, bool)> {
    match flags & O_ACCMODE {
        O_RDONLY => Ok((true, false)),
        O_WRONLY => Ok((false, true)),
        O_RDWR => Ok((true, true)),
        _ => Err(Errno::EINVAL),
    }
}

/// The pipe behind `file`, if it is a pipe end.
pub fn pipe_of(file: &dyn FileOps) -> Option<&Arc<Pipe>> {
    file.as_any().downcast_ref::<PipeEnd>().map(PipeEnd::pipe)
}

/// `F_GETPIPE_SZ` for `file`, if it is a pipe.
pub fn pipe_size(file: &dyn FileOps) -> Option<usize> {
    pipe_of(file).map(|p| p.capacity())
}

/// `fcntl(F_GETPIPE_SZ / F_SETPIPE_SZ)`: `EBADF` for files that are not pipes.
pub fn fcntl(file: &dyn FileOps, cmd: u32, arg: u64) -> KResult<u64> {
    let p = pipe_of(file).ok_or(Errno::EBADF)?;
    match cmd {
        F_GETPIPE_SZ => Ok(p.capacity() as u64),
        F_SETPIPE_SZ => p.set_capacity(u64::from(arg as u32)).map(|n| n as u64),
        _ => Err(Errno::EINVAL),
    }
}

/// Named pipes: the pipe of each FIFO inode that is open somewhere, by
/// `(st_dev, st_ino)`.
type FifoMap = Mutex<HashMap<(u64, u64), Weak<Pipe>>>;

fn fifos() -> &'static FifoMap {
    static FIFOS: OnceLock<FifoMap> = OnceLock::new();
    FIFOS.get_or_init(Default::default)
}

/// Open the FIFO with identity `(dev, ino)` with `open(2)` `flags`.
///
/// Opens do not block: a reader opened before any writer waits for one at
/// its first read (instead of in `open`), and a writer opened before any
/// reader waits at its first write; a non-blocking writer with no reader
/// gets `ENXIO` as on Linux.
pub fn open_fifo(dev: u64, ino: u64, flags: u32) -> KResult<FileRef> {
    let mut map = fifos().lock();
    map.retain(|_, w| w.strong_count() > 0);
    let pipe = match map.get(&(dev, ino)).and_then(Weak::upgrade) {
        Some(p) => p,
        None => {
            let p = Pipe::new();
            map.insert((dev, ino), Arc::downgrade(&p));
            p
        }
    };
    drop(map);
    let (read, write) = access_of(flags)?;
    if write && !read && flags & O_NONBLOCK != 0 && pipe.state.lock().readers == 0 {
        return Err(Errno::ENXIO);
    }
    Ok(pipe.new_end(read, write, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_returns_the_bytes_in_order() {
        let (r, w) = Pipe::pair();
        let mut buf = [0u8; 8];

        assert_eq!(w.write(Caller::SENTRY, b"hello", 0), Ok(5));
        assert_eq!(r.read(Caller::SENTRY, &mut buf, 0), Ok(5));
        assert_eq!(&buf[..5], b"hello");
    }

    #[test]
    fn read_of_empty_pipe_with_writer_returns_eagain() {
        let (r, _w) = Pipe::pair();

        assert_eq!(r.read(Caller::SENTRY, &mut [0u8; 4], 0), Err(Errno::EAGAIN));
    }

    #[test]
    fn read_after_last_writer_closes_returns_eof() {
        let (r, w) = Pipe::pair();
        w.write(Caller::SENTRY, b"x", 0).expect("write");
        drop(w);
        let mut buf = [0u8; 4];

        assert_eq!(r.read(Caller::SENTRY, &mut buf, 0), Ok(1));
        assert_eq!(r.read(Caller::SENTRY, &mut buf, 0), Ok(0));
        assert_ne!(r.poll(Caller::SENTRY) & POLLHUP, 0);
    }

    #[test]
    fn write_after_last_reader_closes_returns_epipe() {
        let (r, w) = Pipe::pair();
        drop(r);

        assert_eq!(w.write(Caller::SENTRY, b"x", 0), Err(Errno::EPIPE));
        assert_ne!(w.poll(Caller::SENTRY) & POLLERR, 0);
    }

    #[test]
    fn pipe_holds_exactly_its_capacity() {
        let (_r, w) = Pipe::pair();
        let big = vec![7u8; 100_000];

        assert_eq!(w.write(Caller::SENTRY, &big, 0), Ok(DEFAULT_CAPACITY));
        assert_eq!(w.write(Caller::SENTRY, b"y", 0), Err(Errno::EAGAIN));
        assert_eq!(w.poll(Caller::SENTRY) & POLLOUT, 0);
    }

    #[test]
    fn small_write_is_all_or_eagain() {
        let (_r, w) = Pipe::pair();
        w.write(Caller::SENTRY, &vec![0u8; DEFAULT_CAPACITY - 100], 0).expect("fill");

        assert_eq!(w.write(Caller::SENTRY, &[1u8; 200], 0), Err(Errno::EAGAIN));
        assert_eq!(w.write(Caller::SENTRY, &[1u8; 100], 0), Ok(100));
    }

    #[test]
    fn large_write_into_partly_full_pipe_writes_what_fits() {
        let (_r, w) = Pipe::pair();
        w.write(Caller::SENTRY, &vec![0u8; DEFAULT_CAPACITY - 100], 0).expect("fill");

        assert_eq!(w.write(Caller::SENTRY, &[1u8; 5000], 0), Ok(100));
    }

    #[test]
    fn readable_bytes_counts_buffered_data() {
        let (r, w) = Pipe::pair();
        w.write(Caller::SENTRY, b"abc", 0).expect("write");

        assert_eq!(r.readable_bytes(), Some(3));
    }

    #[test]
    fn set_capacity_rounds_up_to_power_of_two_pages_and_refuses_to_drop_data() {
        let (r, w) = Pipe::pair();
        w.write(Caller::SENTRY, &[0u8; 10_000], 0).expect("write");

        assert_eq!(fcntl(&*r, F_SETPIPE_SZ, 5000), Err(Errno::EBUSY));
        assert_eq!(fcntl(&*r, F_SETPIPE_SZ, 12_000), Ok(16384));
        assert_eq!(pipe_size(&*w), Some(16384));
        assert_eq!(fcntl(&*r, F_SETPIPE_SZ, 0), Err(Errno::EBUSY));
    }

    #[test]
    fn poll_reports_readable_only_with_data() {
        let (r, w) = Pipe::pair();
        let before = r.poll(Caller::SENTRY);
        w.write(Caller::SENTRY, b"z", 0).expect("write");

        assert_eq!(before & POLLIN, 0);
        assert_ne!(r.poll(Caller::SENTRY) & POLLIN, 0);
        assert_ne!(w.poll(Caller::SENTRY) & POLLOUT, 0);
    }

    #[test]
    fn fifo_reader_opened_before_writer_waits_instead_of_eof() {
        let (dev, ino) = (u64::MAX, next_ino());
        let r = open_fifo(dev, ino, O_RDONLY).expect("open reader");

        assert_eq!(r.read(Caller::SENTRY, &mut [0u8; 1], 0), Err(Errno::EAGAIN));
        let w = open_fifo(dev, ino, O_WRONLY).expect("open writer");
        w.write(Caller::SENTRY, b"q", 0).expect("write");
        drop(w);
        assert_eq!(r.read(Caller::SENTRY, &mut [0u8; 4], 0), Ok(1));
        assert_eq!(r.read(Caller::SENTRY, &mut [0u8; 4], 0), Ok(0));
    }

    #[test]
    fn reopen_of_a_pipe_read_only_gives_a_reader_of_the_same_pipe() {
        let (_r, w) = Pipe::pair();
        let inode = PipeInode::new(w.pipe(), 1000, 1000);

        let again = inode.open(Caller::SENTRY, O_RDONLY).expect("reopen");
        w.write(Caller::SENTRY, b"hi", 0).expect("write");
        let mut buf = [0u8; 4];

        assert_eq!(again.read(Caller::SENTRY, &mut buf, 0), Ok(2));
        assert_eq!(&buf[..2], b"hi");
    }

    #[test]
    fn reopen_of_a_pipe_for_writing_counts_a_writer() {
        let (r, w) = Pipe::pair();
        let inode = PipeInode::new(r.pipe(), 0, 0);

        let again = inode.open(Caller::SENTRY, O_WRONLY).expect("reopen");
        drop(w);
        again.write(Caller::SENTRY, b"z", 0).expect("write");
        drop(again);

        assert_eq!(r.read(Caller::SENTRY, &mut [0u8; 4], 0), Ok(1));
        assert_eq!(r.read(Caller::SENTRY, &mut [0u8; 4], 0), Ok(0));
    }

    #[test]
    fn pipe_inode_is_owned_by_its_creator() {
        let (r, _w) = Pipe::pair();

        let attr = PipeInode::new(r.pipe(), 1000, 100).attr().expect("attr");

        assert_eq!((attr.uid, attr.gid, attr.mode), (1000, 100, S_IFIFO | 0o600));
    }

    #[test]
    fn nonblocking_fifo_writer_without_reader_gets_enxio() {
        let r = open_fifo(u64::MAX, next_ino(), O_WRONLY | O_NONBLOCK);

        assert_eq!(r.err(), Some(Errno::ENXIO));
    }
}
