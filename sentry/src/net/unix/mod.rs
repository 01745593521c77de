//! Unix domain sockets: stream, datagram and sequenced-packet endpoints,
//! their names, connections and queued messages.
//!
//! An [`Endpoint`] is the socket itself; a [`SocketFile`] is the `FileOps`
//! of one file description holding it, and closes the endpoint when the
//! description goes away (connected endpoints point at each other, so
//! closing is what breaks that cycle). Data is queued on the receiving
//! endpoint; every message remembers its sender so the sender is woken
//! when room frees. Nothing here blocks: calls answer `EAGAIN` and the
//! syscall layer waits on the endpoint's queue.
//!
//! Lock order: an endpoint's state lock is never held while another
//! endpoint's is taken, and nothing that can drop a file description (queued
//! `SCM_RIGHTS` files) is dropped under a lock.

use abi::types::Ucred;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use abi::consts::S_IFSOCK;
use abi::Errno;

use super::addr::{Addr, Domain};
use crate::kernel::waiter::WaitQueue;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, FileOps, FileRef, Inode, InodeAttr, KResult};

const POLLIN: u32 = libc::POLLIN as u32 | libc::POLLRDNORM as u32;
const POLLOUT: u32 = libc::POLLOUT as u32 | libc::POLLWRNORM as u32;
const POLLHUP: u32 = libc::POLLHUP as u32;
const POLLERR: u32 = libc::POLLERR as u32;
const POLLRDHUP: u32 = libc::POLLRDHUP as u32;
const ALL_EVENTS: u32 = u32::MAX;

/// Bytes a receive queue holds before senders wait (Linux's default
/// `wmem_default`/`rmem_default`).
pub const DEFAULT_BUF: usize = 212_992;
/// What each queued datagram costs on top of its data (roughly a Linux
/// `skb`'s truesize), so many small datagrams fill a queue as on Linux.
const DGRAM_OVERHEAD: usize = 512;
/// The most connections a listener queues (`SOMAXCONN`).
pub const SOMAXCONN: usize = 4096;

/// The socket type (`SOCK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    Stream,
    Dgram,
    Seqpacket,
}

impl SockType {
    /// From the `type` argument of `socket` (flags removed); `SOCK_RAW` is
    /// a datagram socket for `AF_UNIX`, as on Linux.
    pub fn from_raw(v: u32) -> KResult<SockType> {
        match v {
            1 => Ok(SockType::Stream),
            2 | 3 => Ok(SockType::Dgram),
            5 => Ok(SockType::Seqpacket),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        }
    }

    pub fn raw(self) -> u32 {
        match self {
            SockType::Stream => 1,
            SockType::Dgram => 2,
            SockType::Seqpacket => 5,
        }
    }

    fn connection_oriented(self) -> bool {
        self != SockType::Dgram
    }
}

/// What the sentry-wide name registry is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NameKey {
    Abstract(Vec<u8>),
    /// A socket node in the file system: `(st_dev, st_ino)`.
    Inode(u64, u64),
}

fn registry() -> &'static Mutex<HashMap<NameKey, Weak<Endpoint>>> {
    static R: OnceLock<Mutex<HashMap<NameKey, Weak<Endpoint>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// The bound socket named `key`, if it is still open.
pub fn lookup(key: &NameKey) -> Option<Arc<Endpoint>> {
    registry().lock().get(key).and_then(Weak::upgrade).filter(|e| !e.state.lock().closed)
}

/// One queued message (for streams, one write's worth of bytes).
struct Message {
    data: Vec<u8>,
    /// Bytes of `data` already read (streams).
    off: usize,
    rights: Vec<Arc<FileDescription>>,
    cred: Ucred,
    from: Addr,
    /// A datagram's destination address, as the receiver names it
    /// (`IP_PKTINFO`).
    to: Option<std::net::SocketAddr>,
    /// When it was queued (`SO_TIMESTAMP`), if the receiver asked.
    stamp: Option<Duration>,
    sender: Weak<Endpoint>,
}

impl Message {
    fn cost(&self, t: SockType) -> usize {
        match t {
            SockType::Stream => self.data.len() - self.off,
            _ => self.data.len() + DGRAM_OVERHEAD,
        }
    }
}

/// Socket options that are stored and reported.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub sndbuf: usize,
    pub rcvbuf: usize,
    pub passcred: bool,
    pub reuseaddr: bool,
    pub keepalive: bool,
    pub rcvtimeo: Option<Duration>,
    pub sndtimeo: Option<Duration>,
    /// `struct linger` as set.
    pub linger: [u8; 8],
    /// Datagrams are stamped with the time they arrive: `SO_TIMESTAMP`
    /// (microseconds) or `SO_TIMESTAMPNS`.
    pub timestamp: Option<Stamp>,
    /// Internet sockets: `SO_REUSEPORT`, `IPV6_V6ONLY`, `SO_BROADCAST`.
    pub reuseport: bool,
    pub v6only: bool,
    pub broadcast: bool,
    /// Internet options that are stored and reported but change nothing
    /// on the loopback (`TCP_NODELAY`: nothing is delayed; keepalive
    /// timings; `IP_TOS`), by (level, name).
    pub stored: [(i32, i32, i32); STORED_OPTS],
}

/// Which receive timestamps a socket asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    Micros,
    Nanos,
}

/// How many stored-only options a socket keeps.
pub const STORED_OPTS: usize = 8;

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            sndbuf: DEFAULT_BUF,
            rcvbuf: DEFAULT_BUF,
            passcred: false,
            reuseaddr: false,
            keepalive: false,
            rcvtimeo: None,
            sndtimeo: None,
            linger: [0; 8],
            timestamp: None,
            reuseport: false,
            v6only: false,
            broadcast: false,
            stored: [(-1, -1, 0); STORED_OPTS],
        }
    }
}

#[derive(Default)]
struct State {
    addr: Addr,
    key: Option<NameKey>,
    listening: bool,
    backlog: VecDeque<Arc<Endpoint>>,
    max_backlog: usize,
    /// The connected peer (a datagram socket's default destination).
    peer: Option<Arc<Endpoint>>,
    /// A connection existed (so a missing peer is a hang-up, not `ENOTCONN`).
    was_connected: bool,
    /// The name of the peer that closed (`getpeername` still answers it,
    /// as on Linux, until this side closes).
    gone_peer: Option<Addr>,
    /// A TCP connection to another host is being made (`--network
    /// sandbox`): the user-space stack joins this socket to its end of the
    /// connection, or records why it failed.
    connecting: bool,
    rx: VecDeque<Message>,
    rx_used: usize,
    /// This side shut down reading / writing.
    shut_rd: bool,
    shut_wr: bool,
    /// The peer shut down writing (we read end of file) / reading (our
    /// writes get `EPIPE`), or went away.
    peer_shut_wr: bool,
    peer_shut_rd: bool,
    closed: bool,
    /// A pending error (`SO_ERROR`).
    error: Option<Errno>,
    /// A connected UDP socket's peer (its default destination, and the
    /// only sender it takes datagrams from).
    inet_peer: Option<std::net::SocketAddr>,
    /// A TCP socket wrote once to a peer that had closed: the write went
    /// out (Linux's peer answers it with a reset), and the next is EPIPE.
    reset_by_peer: bool,
    peer_cred: Option<Ucred>,
    /// Credentials recorded by `listen`, given to connecting clients.
    listen_cred: Option<Ucred>,
    opts: Opts,
}

impl State {
    fn rcv_shut(&self) -> bool {
        self.shut_rd || self.peer_shut_wr
    }
    fn snd_shut(&self) -> bool {
        self.shut_wr || self.peer_shut_rd
    }
}

/// A socket: Unix domain, or Internet on the loopback.
pub struct Endpoint {
    pub domain: Domain,
    pub stype: SockType,
    state: Mutex<State>,
    queue: WaitQueue,
    ino: u64,
    me: Weak<Endpoint>,
}

/// What a receive produced.
#[derive(Default)]
pub struct Received {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// The whole message's length (datagrams and packets; `len` for streams).
    pub msg_len: usize,
    pub rights: Vec<Arc<FileDescription>>,
    /// The sender's credentials, if the receiver asked for them
    /// (`SO_PASSCRED`).
    pub cred: Option<Ucred>,
    pub from: Addr,
    /// A datagram's destination, as the receiver names it.
    pub to: Option<std::net::SocketAddr>,
    /// When it arrived (since the epoch), with `SO_TIMESTAMP`.
    pub stamp: Option<Duration>,
}

static AUTOBIND: AtomicU64 = AtomicU64::new(1);

/// The arrival time of a datagram for a receiver with options `o`.
fn stamp_now(o: &Opts) -> Option<Duration> {
    o.timestamp.map(|_| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default())
}

impl Endpoint {
    /// A Unix domain socket.
    pub fn new(stype: SockType) -> Arc<Endpoint> {
        Endpoint::new_in(Domain::Unix, stype)
    }

    /// A socket of `domain`.
    pub fn new_in(domain: Domain, stype: SockType) -> Arc<Endpoint> {
        Arc::new_cyclic(|me| Endpoint {
            domain,
            stype,
            state: Mutex::new(State::default()),
            queue: WaitQueue::default(),
            ino: crate::fs::pipe::next_ino(),
            me: me.clone(),
        })
    }

    /// Two connected sockets (`socketpair`), both crediting `cred`.
    pub fn pair(stype: SockType, cred: Ucred) -> (Arc<Endpoint>, Arc<Endpoint>) {
        let a = Endpoint::new(stype);
        let b = Endpoint::new(stype);
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut s = x.state.lock();
            s.peer = Some(y.clone());
            s.was_connected = true;
            s.peer_cred = Some(cred);
        }
        (a, b)
    }

    pub fn ino(&self) -> u64 {
        self.ino
    }

    pub fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn arc(&self) -> Option<Arc<Endpoint>> {
        self.me.upgrade()
    }

    pub fn addr(&self) -> Addr {
        self.state.lock().addr.clone()
    }

    /// The connected peer, if any.
    pub fn peer(&self) -> Option<Arc<Endpoint>> {
        self.state.lock().peer.clone()
    }

    /// The connected peer's name (`ENOTCONN` without one).
    pub fn peer_addr(&self) -> KResult<Addr> {
        let (peer, gone) = {
            let s = self.state.lock();
            (s.peer.clone(), s.gone_peer.clone())
        };
        match peer {
            Some(p) => Ok(p.addr()),
            None => gone.ok_or(Errno::ENOTCONN),
        }
    }

    pub fn peer_cred(&self) -> Option<Ucred> {
        self.state.lock().peer_cred
    }

    pub fn is_listening(&self) -> bool {
        self.state.lock().listening
    }

    pub fn opts(&self) -> Opts {
        self.state.lock().opts
    }

    pub fn set_opts(&self, f: impl FnOnce(&mut Opts)) {
        f(&mut self.state.lock().opts);
    }

    /// `SO_ERROR`: the pending error, cleared.
    pub fn take_error(&self) -> Option<Errno> {
        self.state.lock().error.take()
    }

    /// Whether a name may be given: `EINVAL` if already bound.
    pub fn check_unbound(&self) -> KResult<()> {
        if self.state.lock().addr == Addr::Unnamed {
            Ok(())
        } else {
            Err(Errno::EINVAL)
        }
    }

    /// Give this socket the name `addr`, registered under `key`
    /// (`EADDRINUSE` if another open socket holds it).
    pub fn bind(&self, addr: Addr, key: NameKey) -> KResult<()> {
        let me = self.arc().ok_or(Errno::EINVAL)?;
        let mut reg = registry().lock();
        reg.retain(|_, w| w.strong_count() > 0);
        let mut s = self.state.lock();
        if s.addr != Addr::Unnamed {
            return Err(Errno::EINVAL);
        }
        if reg.get(&key).and_then(Weak::upgrade).is_some() {
            return Err(Errno::EADDRINUSE);
        }
        reg.insert(key.clone(), Arc::downgrade(&me));
        s.addr = addr;
        s.key = Some(key);
        Ok(())
    }

    /// Name an Internet socket (the port table in `net::inet` has checked
    /// the name is free) or a netlink one; `EINVAL` if already named.
    pub fn set_name(&self, addr: Addr) -> KResult<()> {
        let mut s = self.state.lock();
        if s.addr != Addr::Unnamed {
            return Err(Errno::EINVAL);
        }
        s.addr = addr;
        Ok(())
    }

    /// Rename a connected Internet socket bound to a wildcard address to
    /// the address its connection uses.
    pub fn settle_inet_name(&self, addr: std::net::SocketAddr) {
        self.state.lock().addr = Addr::Inet(addr);
    }

    /// The socket's Internet name, if it has one.
    pub fn inet_name(&self) -> Option<std::net::SocketAddr> {
        match self.state.lock().addr {
            Addr::Inet(a) => Some(a),
            _ => None,
        }
    }

    /// A UDP socket's connected peer.
    pub fn inet_peer(&self) -> Option<std::net::SocketAddr> {
        self.state.lock().inet_peer
    }

    /// Connect (`Some`) or disconnect a UDP socket.
    pub fn set_inet_peer(&self, peer: Option<std::net::SocketAddr>) {
        self.state.lock().inet_peer = peer;
    }

    /// Queue datagram `data` from `from` on this socket itself (a netlink
    /// socket's answers from the kernel side); `ENOBUFS` when the receive
    /// queue is full, as netlink reports an overrun.
    pub fn enqueue(&self, data: Vec<u8>, from: Addr, to: Option<std::net::SocketAddr>) -> KResult<()> {
        let mut s = self.state.lock();
        let m = Message {
            data,
            off: 0,
            rights: Vec::new(),
            cred: Ucred { pid: 0, uid: 0, gid: 0 },
            from,
            to,
            stamp: stamp_now(&s.opts),
            sender: Weak::new(),
        };
        let cost = m.cost(self.stype);
        if s.rx_used + cost > s.opts.rcvbuf.max(DEFAULT_BUF) {
            return Err(Errno::ENOBUFS);
        }
        s.rx_used += cost;
        s.rx.push_back(m);
        drop(s);
        self.queue.notify_events(POLLIN);
        Ok(())
    }

    /// Closed: its last file description went away.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Whether a connection exists or existed.
    pub fn is_connected(&self) -> bool {
        let s = self.state.lock();
        s.peer.is_some() || s.was_connected
    }

    /// Whether a connection to another host is being made.
    pub fn is_connecting(&self) -> bool {
        self.state.lock().connecting
    }

    /// Start (`true`) or end a connection attempt to another host; ending
    /// one wakes the socket's waiters.
    pub fn set_connecting(&self, on: bool) {
        self.state.lock().connecting = on;
        if !on {
            self.queue.notify_events(ALL_EVENTS);
        }
    }

    /// Connect `app` to `far`, the user-space stack's end of a TCP
    /// connection to another host (named by `far`'s address): each is the
    /// other's peer, as after a loopback connection.
    pub fn join(app: &Arc<Endpoint>, far: &Arc<Endpoint>) {
        for (x, y) in [(app, far), (far, app)] {
            let mut s = x.state.lock();
            s.peer = Some(y.clone());
            s.was_connected = true;
            s.connecting = false;
        }
        app.queue.notify_events(ALL_EVENTS);
    }

    /// Record a pending error (`SO_ERROR`; returned by the next receive).
    pub fn set_error(&self, e: Errno) {
        self.state.lock().error = Some(e);
        self.queue.notify_events(ALL_EVENTS);
    }

    /// Bind to a fresh abstract name (`bind` with only a family).
    pub fn autobind(&self) -> KResult<()> {
        loop {
            let n = AUTOBIND.fetch_add(1, Ordering::Relaxed) & 0xf_ffff;
            let name = format!("{n:05x}").into_bytes();
            match self.bind(Addr::Abstract(name.clone()), NameKey::Abstract(name)) {
                Err(Errno::EADDRINUSE) => continue,
                r => return r,
            }
        }
    }

    /// `listen`: a bound stream or packet socket accepts connections.
    pub fn listen(&self, backlog: i32, cred: Ucred) -> KResult<()> {
        if !self.stype.connection_oriented() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut s = self.state.lock();
        if s.addr == Addr::Unnamed || s.peer.is_some() || s.was_connected {
            return Err(Errno::EINVAL);
        }
        let b = usize::try_from(backlog).unwrap_or(SOMAXCONN).min(SOMAXCONN);
        s.listening = true;
        s.max_backlog = b + 1;
        s.listen_cred = Some(cred);
        drop(s);
        self.queue.notify_all();
        Ok(())
    }

    /// Connect to the listening socket `target` (`EAGAIN` while its backlog
    /// is full). The connection is complete once queued, as on Linux.
    /// `server_addr` names the accepted end (an Internet connection's
    /// destination); `None`: the listener's name.
    pub fn connect(&self, target: &Arc<Endpoint>, cred: Ucred, server_addr: Option<&Addr>) -> KResult<()> {
        let me = self.arc().ok_or(Errno::EINVAL)?;
        {
            let s = self.state.lock();
            if s.listening {
                return Err(Errno::EINVAL);
            }
            if s.peer.is_some() || s.was_connected {
                return Err(Errno::EISCONN);
            }
        }
        if target.stype != self.stype {
            return Err(Errno::EPROTOTYPE);
        }
        let server = Endpoint::new_in(target.domain, self.stype);
        let mut t = target.state.lock();
        if !t.listening || t.closed {
            return Err(Errno::ECONNREFUSED);
        }
        if t.backlog.len() >= t.max_backlog {
            return Err(Errno::EAGAIN);
        }
        {
            let mut ss = server.state.lock();
            ss.addr = server_addr.cloned().unwrap_or_else(|| t.addr.clone());
            ss.opts.reuseport = false;
            ss.peer = Some(me.clone());
            ss.was_connected = true;
            ss.peer_cred = Some(cred);
            ss.opts.passcred = t.opts.passcred;
        }
        let listen_cred = t.listen_cred;
        t.backlog.push_back(server.clone());
        drop(t);
        {
            let mut s = self.state.lock();
            s.peer = Some(server);
            s.was_connected = true;
            s.peer_cred = listen_cred;
        }
        target.queue.notify_events(POLLIN);
        self.queue.notify_events(POLLOUT);
        Ok(())
    }

    /// Set a datagram socket's default destination.
    pub fn connect_dgram(&self, target: &Arc<Endpoint>) -> KResult<()> {
        if target.stype != SockType::Dgram {
            return Err(Errno::EPROTOTYPE);
        }
        let cred = target.peer_cred_of_self();
        let mut s = self.state.lock();
        s.peer = Some(target.clone());
        s.peer_cred = cred;
        Ok(())
    }

    fn peer_cred_of_self(&self) -> Option<Ucred> {
        self.state.lock().listen_cred
    }

    /// Take the next queued connection (`EAGAIN` if none).
    pub fn accept(&self) -> KResult<Arc<Endpoint>> {
        let mut s = self.state.lock();
        if !s.listening {
            return Err(Errno::EINVAL);
        }
        let c = s.backlog.pop_front().ok_or(Errno::EAGAIN)?;
        drop(s);
        self.queue.notify_events(POLLOUT);
        Ok(c)
    }

    /// `shutdown(how)`: `SHUT_RD` 0, `SHUT_WR` 1, `SHUT_RDWR` 2.
    pub fn shutdown(&self, how: i32) -> KResult<()> {
        let (rd, wr) = match how {
            0 => (true, false),
            1 => (false, true),
            2 => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        let mut s = self.state.lock();
        if self.stype.connection_oriented() && s.peer.is_none() && !s.listening {
            // Linux's TCP marks the socket shut even as it answers
            // ENOTCONN: a later connection reads end of file at once.
            if self.domain.is_inet() {
                s.shut_rd |= rd;
                s.shut_wr |= wr;
            }
            return Err(Errno::ENOTCONN);
        }
        s.shut_rd |= rd;
        s.shut_wr |= wr;
        let peer = s.peer.clone();
        drop(s);
        if let Some(p) = peer.filter(|_| self.stype.connection_oriented()) {
            let mut ps = p.state.lock();
            if ps.peer.as_ref().is_some_and(|x| std::ptr::eq(x.as_ref(), self)) {
                ps.peer_shut_wr |= wr;
                ps.peer_shut_rd |= rd;
            }
            drop(ps);
            p.queue.notify_all();
        }
        self.queue.notify_all();
        Ok(())
    }

    /// Send `data` to the peer, or to `to` (datagrams). Streams take what
    /// fits (at least one byte, else `EAGAIN`); datagrams and packets go
    /// whole. `rights` travel with the first byte queued (taken from the
    /// vector only when something is queued).
    pub fn send(
        &self,
        data: &[u8],
        rights: &mut Vec<Arc<FileDescription>>,
        cred: Ucred,
        to: Option<&Arc<Endpoint>>,
    ) -> KResult<usize> {
        self.send_to(data, rights, cred, to, None)
    }

    /// [`send`](Self::send) of a UDP datagram addressed to `dst` (what the
    /// receiver's `IP_PKTINFO` reports).
    pub fn send_to(
        &self,
        data: &[u8],
        rights: &mut Vec<Arc<FileDescription>>,
        cred: Ucred,
        to: Option<&Arc<Endpoint>>,
        dst: Option<std::net::SocketAddr>,
    ) -> KResult<usize> {
        let (target, from) = {
            let mut s = self.state.lock();
            if s.shut_wr {
                return Err(Errno::EPIPE);
            }
            if s.connecting {
                // Sending waits for the connection, as on Linux.
                return Err(Errno::EAGAIN);
            }
            let target = match (self.stype, to) {
                (SockType::Dgram, Some(t)) => t.clone(),
                (_, _) => match &s.peer {
                    Some(p) => p.clone(),
                    None if self.stype == SockType::Dgram => return Err(Errno::ENOTCONN),
                    // The first TCP write after the peer closed goes out;
                    // the peer's reset makes the next one EPIPE.
                    None if s.was_connected && self.domain.is_inet() && !s.reset_by_peer => {
                        s.reset_by_peer = true;
                        return Ok(data.len());
                    }
                    // TCP answers a send before any connection with EPIPE.
                    None if s.was_connected || self.domain.is_inet() => return Err(Errno::EPIPE),
                    None => return Err(Errno::ENOTCONN),
                },
            };
            if self.stype.connection_oriented() && s.peer_shut_rd {
                return Err(Errno::EPIPE);
            }
            (target, s.addr.clone())
        };
        // A UDP socket bound to a wildcard sends from the address the
        // datagram leaves from (a stream's receiver never reports it).
        let from = match &from {
            Addr::Inet(local) if self.stype == SockType::Dgram => match target.inet_name() {
                Some(dst) => Addr::Inet(super::inet::settled(self, *local, dst)),
                None => from,
            },
            _ => from,
        };
        if self.stype == SockType::Stream && data.is_empty() {
            return Ok(0);
        }
        let max = self.state.lock().opts.sndbuf.max(DEFAULT_BUF);
        if self.stype != SockType::Stream && data.len() + DGRAM_OVERHEAD > max {
            return Err(Errno::EMSGSIZE);
        }
        let mut t = target.state.lock();
        // A UDP datagram nobody can take is dropped, as the network drops
        // it: the send succeeds.
        let udp = self.domain.is_inet() && self.stype == SockType::Dgram;
        if t.closed {
            return match self.stype {
                _ if udp => Ok(data.len()),
                SockType::Dgram => Err(Errno::ECONNREFUSED),
                _ => Err(Errno::EPIPE),
            };
        }
        if self.stype == SockType::Dgram {
            if target.stype != SockType::Dgram {
                return Err(Errno::EPROTOTYPE);
            }
            let other_peer = t.peer.as_ref().is_some_and(|p| !std::ptr::eq(p.as_ref(), self));
            if udp && (other_peer || t.shut_rd) {
                return Ok(data.len());
            }
            if other_peer {
                return Err(Errno::EPERM);
            }
            if t.shut_rd {
                return Err(Errno::EPIPE);
            }
        }
        let cap = t.opts.rcvbuf.max(DEFAULT_BUF);
        if t.rx_used >= cap {
            return Err(Errno::EAGAIN);
        }
        let n = match self.stype {
            SockType::Stream => data.len().min(cap - t.rx_used),
            _ => data.len(),
        };
        let m = Message {
            data: data[..n].to_vec(),
            off: 0,
            rights: std::mem::take(rights),
            cred,
            from,
            to: dst.map(|d| super::inet::name_at(&target, d)),
            stamp: if self.stype == SockType::Stream { None } else { stamp_now(&t.opts) },
            sender: self.me.clone(),
        };
        t.rx_used += m.cost(self.stype);
        t.rx.push_back(m);
        drop(t);
        target.queue.notify_events(POLLIN);
        Ok(n)
    }

    /// Receive into `buf`. `Ok` with `len` 0 at end of file; `EAGAIN` when
    /// nothing is queued yet. With `peek` the data stays queued (and the
    /// rights come as extra references).
    pub fn recv(&self, buf: &mut [u8], peek: bool) -> KResult<Received> {
        let mut s = self.state.lock();
        if s.listening {
            return Err(Errno::EINVAL);
        }
        if s.rx.is_empty() {
            if let Some(e) = s.error.take() {
                return Err(e);
            }
            let eof = match self.stype {
                SockType::Dgram => s.shut_rd,
                _ => s.rcv_shut() || (s.was_connected && s.peer.is_none()),
            };
            if eof {
                return Ok(Received::default());
            }
            if s.connecting {
                return Err(Errno::EAGAIN);
            }
            if self.stype.connection_oriented() && !s.was_connected {
                return Err(Errno::ENOTCONN);
            }
            return Err(Errno::EAGAIN);
        }
        let passcred = s.opts.passcred;
        let mut out = Received::default();
        let mut senders: Vec<Weak<Endpoint>> = Vec::new();
        if self.stype == SockType::Stream {
            let first_cred = s.rx.front().map(|m| m.cred);
            let mut idx = 0;
            while out.len < buf.len() && idx < s.rx.len() {
                let m = &mut s.rx[idx];
                if out.len > 0 && (Some(m.cred) != first_cred || !m.rights.is_empty()) {
                    break;
                }
                if idx == 0 {
                    out.from = m.from.clone();
                    out.cred = Some(m.cred);
                }
                let avail = &m.data[m.off..];
                let k = avail.len().min(buf.len() - out.len);
                buf[out.len..out.len + k].copy_from_slice(&avail[..k]);
                out.len += k;
                let had_rights = !m.rights.is_empty();
                if peek {
                    out.rights.extend(m.rights.iter().cloned());
                } else {
                    out.rights.append(&mut m.rights);
                    m.off += k;
                    senders.push(m.sender.clone());
                }
                let done = m.off == m.data.len();
                if peek || !done {
                    idx += 1;
                } else {
                    // Consumed; its cost was charged as its length.
                    s.rx.remove(idx);
                }
                if had_rights {
                    break;
                }
            }
            if !peek {
                s.rx_used = s.rx.iter().map(|m| m.data.len() - m.off).sum();
            }
            out.msg_len = out.len;
        } else {
            let m = if peek { None } else { s.rx.pop_front() };
            let (data, rights, cred, from) = match &m {
                Some(m) => (&m.data, m.rights.clone(), m.cred, m.from.clone()),
                None => {
                    let f = s.rx.front().ok_or(Errno::EAGAIN)?;
                    (&f.data, f.rights.clone(), f.cred, f.from.clone())
                }
            };
            let head = m.as_ref().or(s.rx.front());
            out.to = head.and_then(|h| h.to);
            out.stamp = head.and_then(|h| h.stamp);
            let k = data.len().min(buf.len());
            buf[..k].copy_from_slice(&data[..k]);
            out.len = k;
            out.msg_len = data.len();
            out.rights = rights;
            out.cred = Some(cred);
            out.from = from;
            if let Some(m) = m {
                s.rx_used = s.rx_used.saturating_sub(m.cost(self.stype));
                senders.push(m.sender.clone());
                // `m.rights` were cloned into `out`; dropping `m` after the
                // lock is released drops only the extra references.
                drop(s);
                drop(m);
            }
        }
        if !passcred {
            out.cred = None;
        }
        if !peek {
            senders.dedup_by(|a, b| a.ptr_eq(b));
            for w in senders {
                if let Some(e) = w.upgrade() {
                    e.queue.notify_events(POLLOUT);
                }
            }
            self.queue.notify_events(POLLOUT);
        }
        Ok(out)
    }

    /// Bytes readable now (`FIONREAD`): all queued stream bytes, or the
    /// next datagram's size.
    pub fn readable_bytes(&self) -> u64 {
        let s = self.state.lock();
        let n = match self.stype {
            SockType::Stream => s.rx.iter().map(|m| m.data.len() - m.off).sum(),
            _ => s.rx.front().map_or(0, |m| m.data.len()),
        };
        n as u64
    }

    /// Current readiness (`POLL*`).
    pub fn poll(&self) -> u32 {
        let s = self.state.lock();
        let mut r = 0;
        if s.listening {
            return if s.backlog.is_empty() { 0 } else { POLLIN };
        }
        if !s.rx.is_empty() {
            r |= POLLIN;
        }
        if s.error.is_some() {
            r |= POLLERR;
        }
        if s.rcv_shut() {
            r |= POLLIN | POLLRDHUP;
        }
        let connection_oriented = self.stype.connection_oriented();
        if s.connecting {
            // A TCP connection in progress: neither readable nor writable.
            return r;
        }
        if connection_oriented && (s.rcv_shut() && s.snd_shut() || (s.was_connected && s.peer.is_none())) {
            r |= POLLHUP | POLLIN | POLLRDHUP;
        }
        if connection_oriented && !s.was_connected {
            // A fresh unconnected socket: writable and hung up, as Linux says;
            // after a refused connection also shut for reading.
            if s.error.is_some() {
                r |= POLLIN | POLLRDHUP;
            }
            return r | POLLOUT | POLLHUP;
        }
        let peer = s.peer.clone();
        let snd_shut = s.snd_shut();
        drop(s);
        let writable = match peer {
            _ if snd_shut => true,
            None => !connection_oriented,
            Some(p) => {
                let ps = p.state.lock();
                ps.closed || ps.rx_used < ps.opts.rcvbuf.max(DEFAULT_BUF)
            }
        };
        if writable {
            r |= POLLOUT;
        }
        r
    }

    /// The last file description holding this socket closed.
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        let peer = s.peer.take();
        let backlog = std::mem::take(&mut s.backlog);
        let rx = std::mem::take(&mut s.rx);
        let had_unread = !rx.is_empty();
        s.rx_used = 0;
        s.listening = false;
        let key = s.key.take();
        let name = s.addr.clone();
        drop(s);
        if let Some(k) = key {
            let mut reg = registry().lock();
            if reg.get(&k).is_some_and(|w| std::ptr::eq(w.as_ptr(), self)) {
                reg.remove(&k);
            }
        }
        for c in &backlog {
            c.close();
        }
        if let Some(p) = peer {
            let mut ps = p.state.lock();
            if ps.peer.as_ref().is_some_and(|x| std::ptr::eq(x.as_ref(), self)) && self.stype.connection_oriented() {
                ps.peer = None;
                ps.gone_peer = Some(name);
                ps.peer_shut_rd = true;
                ps.peer_shut_wr = true;
                if had_unread {
                    ps.error = Some(Errno::ECONNRESET);
                }
            }
            drop(ps);
            p.queue.notify_events(ALL_EVENTS);
        }
        self.queue.notify_events(ALL_EVENTS);
        drop(rx);
        drop(backlog);
    }
}

/// The pseudo file system sockets live on (for `st_dev`).
fn sockfs_dev() -> u64 {
    static DEV: OnceLock<u64> = OnceLock::new();
    *DEV.get_or_init(crate::fs::next_dev)
}

/// The `FileOps` of one socket file description. `read`/`write` are
/// `recv`/`send` without flags, crediting the opener.
pub struct SocketFile {
    pub ep: Arc<Endpoint>,
    pub cred: Ucred,
}

impl SocketFile {
    pub fn new(ep: Arc<Endpoint>, cred: Ucred) -> Arc<SocketFile> {
        Arc::new(SocketFile { ep, cred })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.ep.close();
    }
}

impl FileOps for SocketFile {
    fn is_stream(&self) -> bool {
        self.ep.stype == SockType::Stream
    }

    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        // Rights received by a plain read are dropped, as on Linux.
        self.ep.recv(buf, false).map(|r| r.len)
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        // A connected UDP socket writes to its peer's port, wherever that
        // socket is now.
        if self.ep.domain.is_inet() && self.ep.stype == SockType::Dgram {
            let peer = self.ep.inet_peer().ok_or(Errno::EDESTADDRREQ)?;
            if !super::inet::is_local(peer.ip()) {
                return super::inet::udp_send_remote(&self.ep, peer, buf);
            }
            return match super::inet::udp_route(&self.ep, peer)? {
                Some(target) => self.ep.send_to(buf, &mut Vec::new(), self.cred, Some(&target), Some(peer)),
                None => Ok(buf.len()),
            };
        }
        self.ep.send(buf, &mut Vec::new(), self.cred, None)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, _cx: Caller<'_>) -> u32 {
        self.ep.poll()
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.ep.queue)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.ep.readable_bytes())
    }

    fn ioctl(&self, req: u32, arg: u64, mem: &dyn crate::vfs::UserMem) -> KResult<u64> {
        if super::netlink::ifreq::is_ifreq(req) {
            return super::netlink::ifreq::ioctl(req, arg, mem);
        }
        Err(Errno::ENOTTY)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The inode `fstat` shows for a socket.
pub struct SockInode {
    ino: u64,
    uid: u32,
    gid: u32,
}

impl SockInode {
    pub fn new(ep: &Endpoint, cred: Ucred) -> Arc<SockInode> {
        SockInode::with_ino(ep.ino, cred)
    }

    /// The inode of a socket numbered `ino` (a host socket's).
    pub fn with_ino(ino: u64, cred: Ucred) -> Arc<SockInode> {
        Arc::new(SockInode { ino, uid: cred.uid, gid: cred.gid })
    }
}

impl Inode for SockInode {
    fn attr(&self) -> KResult<InodeAttr> {
        Ok(InodeAttr {
            dev: sockfs_dev(),
            ino: self.ino,
            mode: S_IFSOCK | 0o777,
            nlink: 1,
            uid: self.uid,
            gid: self.gid,
            blksize: 4096,
            ..Default::default()
        })
    }

    fn open(&self, _cx: Caller<'_>, _flags: u32) -> KResult<FileRef> {
        Err(Errno::ENXIO)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The endpoint behind `file`, if it is a socket.
pub fn endpoint_of(file: &dyn FileOps) -> Option<&Arc<Endpoint>> {
    file.as_any().downcast_ref::<SocketFile>().map(|s| &s.ep)
}

#[cfg(test)]
mod tests;
