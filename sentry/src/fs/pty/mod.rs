//! Pseudo-terminals allocated inside the sandbox: opening `/dev/ptmx` (or
//! `/dev/pts/ptmx`) makes a pair, the master the opener holds and the
//! slave `/dev/pts/N`, which exists while the master is open.
//!
//! One [`Pty`] holds both sides' state: the line discipline ([`ldisc`]),
//! the window size, the lock `unlockpt` clears, and the terminal's job
//! control (its session and foreground process group, the same
//! [`JobControl`] the sandbox's host terminals use, so `syscalls/tty.rs`
//! checks background access and answers `TIOCGPGRP` for both alike).
//! Reads and writes never block here: they answer `EAGAIN` and the VFS
//! waits on the side's wait queue, as for pipes.
//!
//! Closing the master hangs the slave up: its reads return end of file,
//! its writes `EIO`, its name goes, and the session leader gets `SIGHUP`
//! and `SIGCONT` (Linux's `tty_vhangup`). Closing the last slave makes the
//! master's reads `EIO` once it has read what was written.

pub mod ldisc;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use abi::consts::{self as req, DT_CHR, O_NOCTTY, S_IFCHR, S_IFMT};
use abi::types::{Termios, Timespec, Winsize};
use abi::Errno;
use parking_lot::Mutex;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::makedev;
use crate::kernel::waiter::WaitQueue;
use crate::kernel::{signal, JobControl, Kernel};
use crate::vfs::{Caller, DirEntry, FileOps, FileRef, Inode, InodeAttr, InodeRef, KResult, SetAttr, UserMem};
use ldisc::{Effects, Ldisc};

/// The device number of `/dev/ptmx` (and `/dev/pts/ptmx`).
pub const DEV_PTMX: u64 = makedev(5, 2);
/// The major of Unix98 pty slaves.
const SLAVE_MAJOR: u64 = 136;
/// How many ptys the sandbox allows at once (`/proc/sys/kernel/pty/max`).
const PTY_MAX: u32 = 4096;
/// A new slave's mode and group (`tty`), as devpts is mounted on common
/// distributions and by container runtimes (`mode=620,gid=5`).
const SLAVE_MODE: u32 = 0o620;
const TTY_GID: u32 = 5;

const POLLIN: u32 = (libc::POLLIN | libc::POLLRDNORM) as u32;
const POLLOUT: u32 = (libc::POLLOUT | libc::POLLWRNORM) as u32;
const POLLHUP: u32 = libc::POLLHUP as u32;
const POLLERR: u32 = libc::POLLERR as u32;

/// The ptys of the sandbox's devpts, by number.
pub struct PtyTable {
    dev: u64,
    ptys: Mutex<BTreeMap<u32, Arc<Pty>>>,
    /// Numbers taken by host terminals.
    reserved: Mutex<BTreeSet<u32>>,
    kernel: Mutex<Weak<Kernel>>,
    me: Weak<PtyTable>,
}

/// The sandbox's devpts's table, which `/dev/ptmx` and `/dev/tty` open
/// through (see [`install`]).
static SANDBOX: OnceLock<Arc<PtyTable>> = OnceLock::new();

/// Make `table` the one `/dev/ptmx` allocates from and `/dev/tty` finds
/// controlling terminals in, signalling through `k`.
pub fn install(table: &Arc<PtyTable>, k: &Arc<Kernel>) {
    table.set_kernel(k);
    let _ = SANDBOX.set(table.clone());
}

/// The sandbox's table, once installed.
fn sandbox() -> KResult<&'static Arc<PtyTable>> {
    SANDBOX.get().ok_or(Errno::ENODEV)
}

impl PtyTable {
    /// An empty table for a devpts whose `st_dev` is `dev`.
    pub fn new(dev: u64) -> Arc<PtyTable> {
        Arc::new_cyclic(|me| PtyTable {
            dev,
            ptys: Mutex::new(BTreeMap::new()),
            reserved: Mutex::new(BTreeSet::new()),
            kernel: Mutex::new(Weak::new()),
            me: me.clone(),
        })
    }

    pub fn set_kernel(&self, k: &Arc<Kernel>) {
        *self.kernel.lock() = Arc::downgrade(k);
    }

    /// The pty numbered `n`, while its master is open.
    pub fn get(&self, n: u32) -> Option<Arc<Pty>> {
        self.ptys.lock().get(&n).cloned()
    }

    /// The directory entries of the open ptys.
    pub fn entries(&self) -> Vec<DirEntry> {
        self.ptys
            .lock()
            .keys()
            .map(|n| DirEntry { ino: slave_ino(*n), kind: DT_CHR, name: n.to_string().into_bytes() })
            .collect()
    }

    /// `/dev/pts/<n>` for lookups: it follows the pty numbered `n` (a
    /// number is used again once its master closes, and the VFS keeps the
    /// name it looked up).
    pub fn entry(&self, n: u32) -> Option<InodeRef> {
        self.get(n)?;
        Some(Arc::new(SlaveNode { table: self.me.clone(), number: n }))
    }

    /// The `/dev/pts/ptmx` node.
    pub fn ptmx(&self) -> InodeRef {
        Arc::new(PtmxNode { table: self.me.clone(), dev: self.dev, ino: 2 })
    }

    /// Keep number `n` (a host terminal's) from the ptys made here.
    pub fn reserve(&self, n: u32) {
        self.reserved.lock().insert(n);
    }

    /// Open a master: a new pty numbered with the lowest number neither
    /// reserved nor in use.
    pub fn open_master(&self, cx: Caller<'_>) -> KResult<FileRef> {
        let (uid, gid) = match cx.process() {
            Some(p) => (p.creds.lock().fsuid, TTY_GID),
            None => (0, TTY_GID),
        };
        let reserved = self.reserved.lock().clone();
        let mut ptys = self.ptys.lock();
        let number = (0..PTY_MAX).find(|n| !ptys.contains_key(n) && !reserved.contains(n)).ok_or(Errno::ENOSPC)?;
        let pty = Arc::new(Pty {
            number,
            dev: self.dev,
            ctime: super::now(),
            state: Mutex::new(State {
                ld: Ldisc::default(),
                winsize: Winsize::default(),
                locked: true,
                slaves: 0,
                other_closed: false,
                hung_up: false,
                mode: SLAVE_MODE,
                uid,
                gid,
                read_since: None,
                last_input: Instant::now(),
            }),
            master_q: WaitQueue::default(),
            slave_q: WaitQueue::default(),
            jc: Arc::new(JobControl::default()),
            kernel: self.kernel.lock().clone(),
            table: self.me.clone(),
        });
        ptys.insert(number, pty.clone());
        Ok(Arc::new(PtyFile { pty, side: Side::Master }))
    }

    /// The pty that is session `sid`'s controlling terminal.
    fn of_session(&self, sid: i32) -> Option<Arc<Pty>> {
        self.ptys.lock().values().find(|p| p.jc.sid.load(Ordering::Relaxed) == sid).cloned()
    }
}

/// The inode number of `/dev/pts/<n>` (Linux's: the index plus 3).
fn slave_ino(n: u32) -> u64 {
    u64::from(n) + 3
}

/// The device number of `/dev/pts/<n>`.
pub fn slave_rdev(n: u32) -> u64 {
    makedev(SLAVE_MAJOR + u64::from(n >> 8), u64::from(n & 0xff))
}

struct State {
    ld: Ldisc,
    winsize: Winsize,
    /// Set at creation; `unlockpt` (`TIOCSPTLCK` 0) clears it. The slave
    /// cannot be opened while it is set.
    locked: bool,
    /// Open slave file descriptions.
    slaves: usize,
    /// The slave was open and the last one closed (`TTY_OTHER_CLOSED`).
    other_closed: bool,
    /// The master closed.
    hung_up: bool,
    mode: u32,
    uid: u32,
    gid: u32,
    /// When a non-canonical read with `VTIME` began waiting.
    read_since: Option<Instant>,
    /// When input last arrived (`VTIME`'s inter-byte timer).
    last_input: Instant,
}

/// One pseudo-terminal pair.
pub struct Pty {
    pub number: u32,
    dev: u64,
    ctime: Timespec,
    state: Mutex<State>,
    /// Told when the master's readiness changes.
    master_q: WaitQueue,
    /// Told when the slave's readiness changes.
    slave_q: WaitQueue,
    /// The session this is the controlling terminal of (0: none) and its
    /// foreground process group.
    pub jc: Arc<JobControl>,
    kernel: Weak<Kernel>,
    table: Weak<PtyTable>,
}

/// Which end of a pty a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Master,
    Slave,
}

/// The pty and side of open file `file`, if it is one.
pub fn pty_of(file: &dyn FileOps) -> Option<(Arc<Pty>, Side)> {
    file.as_any().downcast_ref::<PtyFile>().map(|f| (f.pty.clone(), f.side))
}

/// Copy a `T` from the application at `arg`.
fn take<T: AsBytes + FromBytes + FromZeroes>(mem: &dyn UserMem, arg: u64) -> KResult<T> {
    let mut v = T::new_zeroed();
    mem.read_bytes(arg, v.as_bytes_mut())?;
    Ok(v)
}

/// Copy `v` to the application at `arg`.
fn put<T: AsBytes>(mem: &dyn UserMem, arg: u64, v: &T) -> KResult<u64> {
    mem.write_bytes(arg, v.as_bytes())?;
    Ok(0)
}

impl Pty {
    fn kernel(&self) -> Option<Arc<Kernel>> {
        self.kernel.upgrade()
    }

    /// Tell both sides' waiters that readiness may have changed.
    fn wake(&self) {
        self.master_q.notify_all();
        self.slave_q.notify_all();
    }

    /// Send `sig` to the foreground process group.
    fn signal_foreground(&self, sig: u32) {
        let pgrp = self.jc.pgrp.load(Ordering::Relaxed);
        if let (Some(k), true) = (self.kernel(), pgrp > 0) {
            k.signal_group(pgrp, signal::info(sig, signal::SI_KERNEL));
        }
    }

    fn attr(&self) -> InodeAttr {
        let s = self.state.lock();
        InodeAttr {
            dev: self.dev,
            ino: slave_ino(self.number),
            mode: S_IFCHR | s.mode,
            nlink: 1,
            uid: s.uid,
            gid: s.gid,
            rdev: slave_rdev(self.number),
            blksize: 1024,
            atime: self.ctime,
            mtime: self.ctime,
            ctime: self.ctime,
            ..Default::default()
        }
    }

    /// Open the slave (`flags` are `open(2)`'s). A session leader with no
    /// controlling terminal opening it without `O_NOCTTY` makes it its
    /// session's, if it is no other session's.
    fn open_slave(self: &Arc<Self>, cx: Caller<'_>, flags: u32) -> KResult<FileRef> {
        {
            let mut s = self.state.lock();
            if s.locked || s.hung_up {
                return Err(Errno::EIO);
            }
            s.slaves += 1;
            s.other_closed = false;
        }
        let file = Arc::new(PtyFile { pty: self.clone(), side: Side::Slave });
        if let (Some(p), Some(k), true) = (cx.process(), self.kernel(), flags & O_NOCTTY == 0) {
            let (pid, sid) = (p.pid, p.sid.load(Ordering::Relaxed));
            if pid == sid && self.jc.sid.load(Ordering::Relaxed) == 0 && !session_has_terminal(&k, sid) {
                self.jc.pgrp.store(p.pgid.load(Ordering::Relaxed), Ordering::Relaxed);
                self.jc.sid.store(sid, Ordering::Relaxed);
            }
        }
        self.master_q.notify_all();
        Ok(file)
    }

    /// The master closed: hang the slave up.
    fn master_closed(&self) {
        self.state.lock().hung_up = true;
        if let Some(t) = self.table.upgrade() {
            t.ptys.lock().remove(&self.number);
        }
        self.wake();
        let sid = self.jc.sid.swap(0, Ordering::Relaxed);
        self.jc.pgrp.store(0, Ordering::Relaxed);
        let Some(k) = self.kernel() else { return };
        if let Some(leader) = k.process(sid).filter(|p| sid > 0 && p.sid.load(Ordering::Relaxed) == sid) {
            for sig in [abi::consts::SIGHUP, abi::consts::SIGCONT] {
                k.signal_process(&leader, signal::info(sig, signal::SI_KERNEL));
            }
        }
    }

    fn slave_closed(&self) {
        {
            let mut s = self.state.lock();
            s.slaves = s.slaves.saturating_sub(1);
            if s.slaves == 0 {
                s.other_closed = true;
            }
        }
        self.master_q.notify_all();
    }

    /// The terminal requests both sides answer (the settings are the
    /// slave's on either side).
    fn ioctl(&self, side: Side, req: u32, arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        match req {
            req::TCGETS => put(mem, arg, &self.state.lock().ld.termios()),
            req::TCSETS | req::TCSETSW | req::TCSETSF => {
                let t: Termios = take(mem, arg)?;
                {
                    let mut s = self.state.lock();
                    if req == req::TCSETSF {
                        s.ld.flush_input();
                    }
                    s.ld.set_termios(t);
                }
                self.wake();
                Ok(0)
            }
            req::TIOCGWINSZ => put(mem, arg, &self.state.lock().winsize),
            req::TIOCSWINSZ => {
                let w: Winsize = take(mem, arg)?;
                let changed = {
                    let mut s = self.state.lock();
                    let changed = s.winsize.as_bytes() != w.as_bytes();
                    s.winsize = w;
                    changed
                };
                if changed {
                    self.signal_foreground(req::SIGWINCH);
                }
                Ok(0)
            }
            req::TCFLSH => {
                let (input, output) = match arg {
                    0 => (true, false),
                    1 => (false, true),
                    2 => (true, true),
                    _ => return Err(Errno::EINVAL),
                };
                // As Linux's: a side's input is its own read buffer and
                // what is on its way there; its output, what is on its way
                // to the other side's (the slave's output has always
                // arrived at the master's read buffer already).
                {
                    let mut s = self.state.lock();
                    match side {
                        Side::Slave if input => s.ld.flush_input(),
                        Side::Master if input => s.ld.flush_output(),
                        _ => {}
                    }
                    if side == Side::Master && output {
                        s.ld.flush_pending();
                    }
                }
                self.wake();
                Ok(0)
            }
            // Output drains at once and flow control is not modelled.
            req::TCSBRK | req::TCSBRKP | req::TCXONC => Ok(0),
            req::TIOCGPTN if side == Side::Master => put(mem, arg, &self.number),
            req::TIOCSPTLCK if side == Side::Master => {
                let v: i32 = take(mem, arg)?;
                self.state.lock().locked = v != 0;
                Ok(0)
            }
            req::TIOCGPTLCK if side == Side::Master => put(mem, arg, &i32::from(self.state.lock().locked)),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn lflag(&self) -> u32 {
        self.state.lock().ld.termios().c_lflag
    }
}

/// Whether session `sid` has a controlling terminal: a pty of the
/// sandbox's, the host terminal an exec'd session leads, or the sandbox's
/// own host terminal.
pub fn session_has_terminal(k: &Kernel, sid: i32) -> bool {
    let pty = sandbox().ok().is_some_and(|t| t.of_session(sid).is_some());
    let exec = k.exec_ttys.lock().values().any(|j| j.sid.load(Ordering::Relaxed) == sid);
    let main = k.host_tty.get().is_some() && k.tty_sid.load(Ordering::Relaxed) == sid;
    pty || exec || main
}

/// The pty that is session `sid`'s controlling terminal: its device number
/// and foreground process group (`/proc/<pid>/stat`'s `tty_nr`, `tpgid`).
pub fn controlling_terminal(sid: i32) -> Option<(u64, i32)> {
    let pty = sandbox().ok()?.of_session(sid)?;
    Some((slave_rdev(pty.number), pty.jc.pgrp.load(Ordering::Relaxed)))
}

/// Make `pty` the controlling terminal of the session process `p` leads
/// (`TIOCSCTTY`): `EPERM` if `p` leads none, its session has another, or
/// the terminal is another session's and `steal` is not allowed.
pub fn set_controlling(k: &Kernel, pty: &Pty, p: &crate::kernel::Process, steal: bool) -> KResult<()> {
    let (pid, sid) = (p.pid, p.sid.load(Ordering::Relaxed));
    let cur = pty.jc.sid.load(Ordering::Relaxed);
    if pid == sid && cur == sid {
        return Ok(());
    }
    if pid != sid || session_has_terminal(k, sid) {
        return Err(Errno::EPERM);
    }
    if cur != 0 && !steal {
        return Err(Errno::EPERM);
    }
    pty.jc.sid.store(sid, Ordering::Relaxed);
    pty.jc.pgrp.store(p.pgid.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(())
}

/// The session of `p` gives up `pty` (`TIOCNOTTY`): from the session
/// leader, the foreground group gets `SIGHUP` and `SIGCONT` and the
/// terminal is no session's.
pub fn give_up(k: &Kernel, pty: &Pty, p: &crate::kernel::Process) {
    if p.pid != p.sid.load(Ordering::Relaxed) {
        return;
    }
    let pgrp = pty.jc.pgrp.swap(0, Ordering::Relaxed);
    pty.jc.sid.store(0, Ordering::Relaxed);
    if pgrp > 0 {
        for sig in [abi::consts::SIGHUP, abi::consts::SIGCONT] {
            k.signal_group(pgrp, signal::info(sig, signal::SI_KERNEL));
        }
    }
}

/// Open `/dev/ptmx`: a new pty of the sandbox's devpts.
pub fn open_ptmx(cx: Caller<'_>) -> KResult<FileRef> {
    sandbox()?.open_master(cx)
}

/// Open `/dev/tty`: the caller's controlling terminal, if it is a pty of
/// the sandbox's; `ENXIO` if it has none.
pub fn open_controlling(cx: Caller<'_>) -> KResult<FileRef> {
    let p = cx.process().ok_or(Errno::ENXIO)?;
    let pty = sandbox().ok().and_then(|t| t.of_session(p.sid.load(Ordering::Relaxed))).ok_or(Errno::ENXIO)?;
    pty.open_slave(Caller::SENTRY, O_NOCTTY)
}

/// `/dev/pts/<n>` of a sandbox pty.
struct SlaveNode {
    table: Weak<PtyTable>,
    number: u32,
}

impl SlaveNode {
    fn pty(&self) -> KResult<Arc<Pty>> {
        self.table.upgrade().and_then(|t| t.get(self.number)).ok_or(Errno::ENOENT)
    }
}

impl Inode for SlaveNode {
    fn attr(&self) -> KResult<InodeAttr> {
        Ok(self.pty()?.attr())
    }

    /// `grantpt`'s `chown` and `chmod` (the VFS checks who may).
    fn set_attr(&self, a: &SetAttr) -> KResult<()> {
        let pty = self.pty()?;
        let mut s = pty.state.lock();
        if let Some(m) = a.mode {
            s.mode = m & !S_IFMT & 0o7777;
        }
        if let Some(u) = a.uid {
            s.uid = u;
        }
        if let Some(g) = a.gid {
            s.gid = g;
        }
        Ok(())
    }

    fn open(&self, cx: Caller<'_>, flags: u32) -> KResult<FileRef> {
        self.pty().map_err(|_| Errno::EIO)?.open_slave(cx, flags)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/pts/ptmx`: opening it makes a new pty of its devpts.
struct PtmxNode {
    table: Weak<PtyTable>,
    dev: u64,
    ino: u64,
}

impl Inode for PtmxNode {
    fn attr(&self) -> KResult<InodeAttr> {
        let t = super::now();
        Ok(InodeAttr {
            dev: self.dev,
            ino: self.ino,
            // Container runtimes mount devpts with `ptmxmode=0666`.
            mode: S_IFCHR | 0o666,
            nlink: 1,
            rdev: DEV_PTMX,
            blksize: 1024,
            atime: t,
            mtime: t,
            ctime: t,
            ..Default::default()
        })
    }

    fn open(&self, cx: Caller<'_>, _flags: u32) -> KResult<FileRef> {
        self.table.upgrade().ok_or(Errno::ENODEV)?.open_master(cx)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open end of a pty: the master reads the slave's output and writes
/// its input; the slave is the terminal programs use.
pub struct PtyFile {
    pty: Arc<Pty>,
    side: Side,
}

impl Drop for PtyFile {
    fn drop(&mut self) {
        match self.side {
            Side::Master => self.pty.master_closed(),
            Side::Slave => self.pty.slave_closed(),
        }
    }
}

/// When a waiting non-canonical read with `VTIME` gives up: `VTIME` after
/// it began (`VMIN` 0) or after the last byte arrived (`VMIN` > 0, once
/// some input is there).
fn vtime_deadline(s: &State) -> Option<Instant> {
    let (min, time) = s.ld.min_time();
    if time == 0 {
        return None;
    }
    let tenths = Duration::from_millis(100 * u64::from(time));
    if min == 0 {
        s.read_since.map(|t| t + tenths)
    } else if s.ld.input_len() > 0 {
        Some(s.last_input + tenths)
    } else {
        None
    }
}

impl Pty {
    fn master_read(&self, buf: &mut [u8]) -> KResult<usize> {
        let n = {
            let mut s = self.state.lock();
            let n = s.ld.read_output(buf);
            if n == 0 && !buf.is_empty() {
                return Err(if s.other_closed { Errno::EIO } else { Errno::EAGAIN });
            }
            n
        };
        self.slave_q.notify_all();
        Ok(n)
    }

    fn master_write(&self, buf: &[u8]) -> KResult<usize> {
        let mut fx = Effects::default();
        let n = {
            let mut s = self.state.lock();
            if s.slaves == 0 {
                return Err(Errno::EIO);
            }
            let n = s.ld.write_input(buf, &mut fx);
            if n == 0 && !buf.is_empty() {
                return Err(Errno::EAGAIN);
            }
            s.last_input = Instant::now();
            n
        };
        self.wake();
        for sig in fx.signals {
            self.signal_foreground(sig);
        }
        Ok(n)
    }

    fn master_poll(&self) -> u32 {
        let s = self.state.lock();
        let mut r = 0;
        if s.ld.output_len() > 0 {
            r |= POLLIN;
        }
        if s.ld.input_room() > 0 {
            r |= POLLOUT;
        }
        if s.other_closed {
            r |= POLLHUP;
        }
        r
    }

    fn slave_read(self: &Arc<Self>, buf: &mut [u8]) -> KResult<usize> {
        let n = {
            let mut s = self.state.lock();
            if s.hung_up {
                return Ok(0);
            }
            let (min, time) = s.ld.min_time();
            let canonical = s.ld.termios().c_lflag & libc::ICANON != 0;
            let now = Instant::now();
            let expired = !canonical && vtime_deadline(&s).is_some_and(|d| now >= d);
            let force = !canonical && ((min == 0 && time == 0) || expired);
            match s.ld.read_input(buf, force) {
                Some(n) => {
                    s.read_since = None;
                    n
                }
                None => {
                    if !canonical && time > 0 && s.read_since.is_none() {
                        s.read_since = Some(now);
                    }
                    let deadline = if canonical { None } else { vtime_deadline(&s) };
                    drop(s);
                    if let Some(d) = deadline {
                        self.wake_slave_at(d);
                    }
                    return Err(Errno::EAGAIN);
                }
            }
        };
        self.master_q.notify_all();
        Ok(n)
    }

    /// Arm a wake-up of the slave's readers at `at` (a `VTIME` expiry).
    fn wake_slave_at(self: &Arc<Self>, at: Instant) {
        let Some(k) = self.kernel() else { return };
        let pty = Arc::downgrade(self);
        let wake = move || {
            if let Some(p) = pty.upgrade() {
                p.slave_q.notify_all();
            }
        };
        k.timers.add(at, Box::new(wake));
    }

    fn slave_write(&self, buf: &[u8]) -> KResult<usize> {
        let n = {
            let mut s = self.state.lock();
            if s.hung_up {
                return Err(Errno::EIO);
            }
            let n = s.ld.write_output(buf);
            if n == 0 && !buf.is_empty() {
                return Err(Errno::EAGAIN);
            }
            n
        };
        self.master_q.notify_all();
        Ok(n)
    }

    fn slave_poll(&self) -> u32 {
        let s = self.state.lock();
        if s.hung_up {
            return POLLIN | POLLOUT | POLLHUP | POLLERR;
        }
        let mut r = 0;
        let expired = vtime_deadline(&s).is_some_and(|d| Instant::now() >= d);
        if s.ld.input_ready() || expired {
            r |= POLLIN;
        }
        if s.ld.output_room() {
            r |= POLLOUT;
        }
        r
    }
}

impl FileOps for PtyFile {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        match self.side {
            Side::Master => self.pty.master_read(buf),
            Side::Slave => self.pty.slave_read(buf),
        }
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        match self.side {
            Side::Master => self.pty.master_write(buf),
            Side::Slave => self.pty.slave_write(buf),
        }
    }

    fn seekable(&self) -> bool {
        false
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn poll(&self, _cx: Caller<'_>) -> u32 {
        match self.side {
            Side::Master => self.pty.master_poll(),
            Side::Slave => self.pty.slave_poll(),
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        match self.side {
            Side::Master => Some(&self.pty.master_q),
            Side::Slave => Some(&self.pty.slave_q),
        }
    }

    fn ioctl(&self, req: u32, arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        if self.side == Side::Slave && self.pty.state.lock().hung_up {
            return Err(Errno::EIO);
        }
        self.pty.ioctl(self.side, req, arg, mem)
    }

    fn is_terminal(&self) -> bool {
        true
    }

    fn terminal_lflag(&self) -> Option<u32> {
        Some(self.pty.lflag())
    }

    fn readable_bytes(&self) -> Option<u64> {
        let s = self.pty.state.lock();
        let n = match self.side {
            Side::Master => s.ld.output_len(),
            Side::Slave => s.ld.input_len(),
        };
        Some(n as u64)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use abi::consts::O_RDWR;

    fn sid_of(p: &Pty) -> i32 {
        p.jc.sid.load(Ordering::Relaxed)
    }

    struct Mem(Mutex<Vec<u8>>);

    impl UserMem for Mem {
        fn read_bytes(&self, _addr: u64, buf: &mut [u8]) -> KResult<()> {
            let v = self.0.lock();
            buf.copy_from_slice(&v[..buf.len()]);
            Ok(())
        }
        fn write_bytes(&self, _addr: u64, buf: &[u8]) -> KResult<()> {
            *self.0.lock() = buf.to_vec();
            Ok(())
        }
    }

    fn pair(table: &Arc<PtyTable>) -> (FileRef, FileRef, u32) {
        let master = table.open_master(Caller::SENTRY).expect("master");
        let (pty, _) = pty_of(&*master).expect("a pty");
        let zero = Mem(Mutex::new(vec![0; 4]));
        master.ioctl(req::TIOCSPTLCK, 0, &zero).expect("unlock");
        let slave = table.entry(pty.number).expect("entry").open(Caller::SENTRY, O_RDWR).expect("slave");
        (master, slave, pty.number)
    }

    #[test]
    fn numbers_skip_taken_ones_and_the_slave_is_locked_until_unlockpt() {
        let table = PtyTable::new(9);
        table.reserve(0);
        let master = table.open_master(Caller::SENTRY).expect("master");
        let (pty, side) = pty_of(&*master).expect("a pty");
        let node = table.entry(1).expect("entry 1");

        assert_eq!((pty.number, side), (1, Side::Master));
        assert_eq!(node.open(Caller::SENTRY, O_RDWR).err(), Some(Errno::EIO));
        let attr = node.attr().expect("attr");
        assert_eq!((attr.dev, attr.rdev, attr.mode), (9, makedev(136, 1), S_IFCHR | 0o620));
        assert_eq!(sid_of(&pty), 0);
    }

    #[test]
    fn master_writes_are_cooked_input_and_slave_writes_reach_the_master_with_crlf() {
        let table = PtyTable::new(9);
        let (master, slave, _) = pair(&table);
        let mut buf = [0u8; 64];

        master.write(Caller::SENTRY, b"hi\r", 0).expect("write master");
        let n = slave.read(Caller::SENTRY, &mut buf, 0).expect("read slave");
        assert_eq!(&buf[..n], b"hi\n");
        slave.write(Caller::SENTRY, b"ok\n", 0).expect("write slave");
        let n = master.read(Caller::SENTRY, &mut buf, 0).expect("read master");

        assert_eq!(&buf[..n], b"hi\r\nok\r\n");
        assert_eq!(master.read(Caller::SENTRY, &mut buf, 0), Err(Errno::EAGAIN));
    }

    #[test]
    fn closing_the_last_slave_makes_master_reads_eio_after_the_data() {
        let table = PtyTable::new(9);
        let (master, slave, _) = pair(&table);
        slave.write(Caller::SENTRY, b"x", 0).expect("write");
        let mut buf = [0u8; 8];

        drop(slave);

        assert_eq!(master.poll(Caller::SENTRY) & POLLHUP, POLLHUP);
        assert_eq!(master.read(Caller::SENTRY, &mut buf, 0), Ok(1));
        assert_eq!(master.read(Caller::SENTRY, &mut buf, 0), Err(Errno::EIO));
    }

    #[test]
    fn closing_the_master_hangs_up_the_slave_and_removes_its_name() {
        let table = PtyTable::new(9);
        let (master, slave, n) = pair(&table);
        let mut buf = [0u8; 8];

        drop(master);

        assert!(table.entry(n).is_none());
        assert_eq!(slave.read(Caller::SENTRY, &mut buf, 0), Ok(0));
        assert_eq!(slave.write(Caller::SENTRY, b"x", 0), Err(Errno::EIO));
    }

    #[test]
    fn master_reports_the_number_and_shares_the_slaves_settings() {
        let table = PtyTable::new(9);
        let (master, slave, n) = pair(&table);
        let mem = Mem(Mutex::new(vec![0; 64]));

        master.ioctl(req::TIOCGPTN, 0, &mem).expect("TIOCGPTN");
        assert_eq!(mem.0.lock()[..4], n.to_ne_bytes());
        let mut raw = ldisc::default_termios();
        raw.c_lflag = 0;
        *mem.0.lock() = raw.as_bytes().to_vec();
        slave.ioctl(req::TCSETS, 0, &mem).expect("TCSETS");
        master.ioctl(req::TCGETS, 0, &mem).expect("TCGETS");

        assert_eq!(mem.0.lock().as_slice(), raw.as_bytes());
        assert_eq!(slave.ioctl(req::TIOCGPTN, 0, &mem), Err(Errno::ENOTTY));
    }
}
