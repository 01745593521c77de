//! `--network sandbox`: a user-space TCP/IP stack (smoltcp) on one
//! Ethernet interface of the sandbox's network namespace, which boot took
//! over from the host kernel (its addresses removed there, its frames read
//! and written through an `AF_PACKET` socket). The host kernel's TCP/IP
//! code never sees the application's traffic, only Ethernet frames.
//!
//! The stack does not replace the sandbox's sockets: an Internet socket is
//! still a `net::unix::Endpoint` named in `net::inet`'s port table, and
//! traffic between the sandbox's own addresses (the loopback and the
//! interface's) stays on the in-sentry loopback. A TCP connection to or
//! from another host is an endpoint pair like a loopback connection whose
//! far end (`far`) belongs to the stack: the stack thread moves bytes
//! between `far`'s queues and a smoltcp TCP socket, so blocking, readiness,
//! `MSG_PEEK`, shutdown and signals are the endpoints' as for any socket.
//! A UDP port bound by the application has a smoltcp UDP socket whose
//! datagrams are queued on the bound endpoint.
//!
//! Lock order: the stack's lock, then endpoints' (never the reverse:
//! endpoints wake the stack through a pipe, never by taking its lock).

use std::collections::HashMap;
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use abi::types::Ucred;
use abi::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::MsgFlags;
use parking_lot::Mutex;
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags};
use smoltcp::iface::{Config as IfConfig, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint};

use super::addr::Addr;
use super::inet;
use super::unix::{Endpoint, SockType};
use crate::kernel::waiter::Subscriber;
use crate::vfs::KResult;

/// The interface boot took over, as the sentry gets it.
pub struct Nic {
    /// The interface's name (`eth0`).
    pub name: String,
    /// The host's index of the interface.
    pub index: u32,
    /// An `AF_PACKET`/`SOCK_RAW` socket bound to the interface for every
    /// protocol (`ETH_P_ALL`), not seeing its own frames
    /// (`PACKET_IGNORE_OUTGOING`), non-blocking.
    pub fd: OwnedFd,
    pub mac: [u8; 6],
    /// The IP MTU (`ip link` shows it).
    pub mtu: u32,
    /// The addresses the host kernel had on it, with their prefix lengths.
    pub addrs: Vec<(IpAddr, u8)>,
    /// Default routes' gateways (at most one of each family).
    pub gateways: Vec<IpAddr>,
}

/// What the sandbox shows of its interface (netlink, `SIOCGIF*`,
/// `/proc/net`).
#[derive(Clone, Debug)]
pub struct IfInfo {
    pub name: String,
    /// The interface's index in the sandbox (`lo` is 1).
    pub index: u32,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub addrs: Vec<(IpAddr, u8)>,
}

static INTERFACE: OnceLock<IfInfo> = OnceLock::new();
static STACK: OnceLock<Stack> = OnceLock::new();

/// The sandbox's Ethernet interface, with `--network sandbox`.
pub fn interface() -> Option<&'static IfInfo> {
    INTERFACE.get()
}

/// The index the sandbox gives its Ethernet interface.
const INDEX: u32 = 2;
/// Each TCP connection's send and receive buffers in the stack (the
/// endpoints queue as much again on the application's side).
const TCP_BUF: usize = 128 * 1024;
/// Listening sockets kept ready per listening address (the interface is
/// polled a frame at a time, and the pool refilled after each).
const LISTEN_POOL: usize = 2;
/// The most connections being made to one listening address at once
/// (Linux's `tcp_max_syn_backlog` is of this order).
const MAX_HALF_OPEN: usize = 256;
/// Datagrams each UDP port's smoltcp socket queues each way.
const UDP_PACKETS: usize = 64;
const UDP_BUF: usize = 256 * 1024;
/// How long a connection attempt waits for an answer (Linux gives up
/// after ~127 s of SYN retries).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(127);
/// The longest the stack thread sleeps with nothing due (it then sweeps
/// ports nobody holds any more).
const IDLE_TICK: Duration = Duration::from_secs(1);

/// Credentials of the stack's ends of connections.
const NOBODY: Ucred = Ucred { pid: 0, uid: 0, gid: 0 };

/// The stack: one interface, its sockets, and the connections it carries.
pub struct Stack {
    inner: Mutex<Inner>,
    kick: Arc<Kick>,
    epoch: Instant,
    /// The packet socket, for the stack thread to wait on.
    pkt: OwnedFd,
    addrs: Vec<(IpAddr, u8)>,
    gateways: Vec<IpAddr>,
}

/// Wakes the stack thread: endpoints' wait queues notify it.
struct Kick {
    pending: AtomicBool,
    w: OwnedFd,
}

impl Subscriber for Kick {
    fn notify(&self, _events: u32) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            // Full: the thread is already due to wake.
            let _ = nix::unistd::write(&self.w, &[1]);
        }
    }
}

/// A TCP connection (being made, or carried).
struct Conn {
    handle: SocketHandle,
    /// The application's socket (the connecting one; for a connection
    /// accepted from another host, the accepted one).
    app: Weak<Endpoint>,
    /// The stack's end, joined to `app` once the connection is made.
    far: Option<Arc<Endpoint>>,
    started: Instant,
    /// The other host closed its side (FIN).
    got_fin: bool,
    /// The stack closed its side (FIN queued) or aborted.
    closed: bool,
}

impl Conn {
    /// A connection no endpoint carries, kept until its reset is sent.
    fn aborted(handle: SocketHandle) -> Conn {
        Conn { handle, app: Weak::new(), far: None, started: Instant::now(), got_fin: true, closed: true }
    }
}

struct Inner {
    iface: Interface,
    dev: PacketDevice,
    sockets: SocketSet<'static>,
    conns: Vec<Conn>,
    /// Listening sockets ready for SYNs, by listening address.
    listeners: Vec<(IpListenEndpoint, Vec<SocketHandle>)>,
    /// Connections from other hosts waiting for room in their listener's
    /// backlog, since when.
    unqueued: Vec<(SocketHandle, Instant)>,
    /// Listeners whose queue wakes the stack (a connection waited for room).
    watched: Vec<Weak<Endpoint>>,
    /// UDP sockets by port.
    udp: HashMap<u16, SocketHandle>,
    /// Scratch space for moving bytes out of endpoints.
    buf: Vec<u8>,
}

/// The stack, with `--network sandbox`.
pub fn get() -> Option<&'static Stack> {
    STACK.get()
}

/// Start the stack on `nic`, with its thread.
pub fn start(nic: Nic) -> std::io::Result<()> {
    let pkt = nic.fd.try_clone()?;
    let mut dev = PacketDevice::new(nic.fd, nic.mtu);
    let mut cfg = IfConfig::new(HardwareAddress::Ethernet(EthernetAddress(nic.mac)));
    let mut seed = [0u8; 8];
    crate::kernel::getrandom(&mut seed);
    cfg.random_seed = u64::from_ne_bytes(seed);
    let epoch = Instant::now();
    let mut iface = Interface::new(cfg, &mut dev, SInstant::from_micros(0));
    iface.update_ip_addrs(|a| {
        for &(ip, prefix) in &nic.addrs {
            // smoltcp asserts a prefix fits its family.
            let prefix = prefix.min(if ip.is_ipv4() { 32 } else { 128 });
            if a.push(IpCidr::new(IpAddress::from(ip), prefix)).is_err() {
                tracing::warn!(%ip, "interface address beyond the stack's limit, not used");
            }
        }
    });
    for gw in &nic.gateways {
        let r = match gw {
            IpAddr::V4(v4) => iface.routes_mut().add_default_ipv4_route(*v4).map(|_| ()),
            IpAddr::V6(v6) => iface.routes_mut().add_default_ipv6_route(*v6).map(|_| ()),
        };
        if r.is_err() {
            tracing::warn!(%gw, "route table full: default route not used");
        }
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
        .map_err(std::io::Error::from)?;
    let _ = INTERFACE.set(IfInfo {
        name: nic.name.clone(),
        index: INDEX,
        mac: nic.mac,
        mtu: nic.mtu,
        addrs: nic.addrs.clone(),
    });
    let stack = Stack {
        inner: Mutex::new(Inner {
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            conns: Vec::new(),
            listeners: Vec::new(),
            unqueued: Vec::new(),
            watched: Vec::new(),
            udp: HashMap::new(),
            buf: vec![0; TCP_BUF],
        }),
        kick: Arc::new(Kick { pending: AtomicBool::new(false), w }),
        epoch,
        pkt,
        addrs: nic.addrs,
        gateways: nic.gateways,
    };
    if STACK.set(stack).is_err() {
        return Err(std::io::Error::other("the network stack is already running"));
    }
    tracing::info!(name = %nic.name, "network stack started");
    std::thread::Builder::new().name("bulwark-netstack".into()).spawn(move || {
        if let Some(s) = get() {
            s.run(r);
        }
    })?;
    Ok(())
}

impl Stack {
    fn now(&self) -> SInstant {
        SInstant::from_micros(i64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(i64::MAX))
    }

    /// Whether `ip` is one of the interface's addresses.
    pub fn has_addr(&self, ip: IpAddr) -> bool {
        self.addrs.iter().any(|&(a, _)| a == ip)
    }

    /// The interface address a packet to `dst` leaves from (`dst` itself if
    /// it is one), in `dst`'s family.
    pub fn source_for(&self, dst: IpAddr) -> Option<IpAddr> {
        if self.has_addr(dst) {
            return Some(dst);
        }
        let same_family = |a: &IpAddr| a.is_ipv4() == dst.is_ipv4();
        let on_link = self.addrs.iter().find(|&&(a, p)| same_family(&a) && in_prefix(a, p, dst));
        let link_local = |a: &IpAddr| matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
        on_link
            .or_else(|| self.addrs.iter().find(|(a, _)| same_family(a) && !link_local(a)))
            .or_else(|| self.addrs.iter().find(|(a, _)| same_family(a)))
            .map(|&(a, _)| a)
    }

    /// Whether `dst` is reachable: on a link of the interface, or through
    /// a default route of its family.
    fn routable(&self, dst: IpAddr) -> bool {
        self.addrs.iter().any(|&(a, p)| a.is_ipv4() == dst.is_ipv4() && in_prefix(a, p, dst))
            || self.gateways.iter().any(|g| g.is_ipv4() == dst.is_ipv4())
    }

    /// Start a TCP connection from `ep` (named `local`) to `dst` on
    /// another host: `ep` is connecting until the stack joins it to its
    /// end or records the failure (`ECONNREFUSED`, `ETIMEDOUT`).
    pub fn connect(&self, ep: &Arc<Endpoint>, local: SocketAddr, dst: SocketAddr) -> KResult<()> {
        if !self.routable(dst.ip()) {
            return Err(Errno::ENETUNREACH);
        }
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let mut sock = tcp_socket();
        let opts = ep.opts();
        sock.set_keep_alive(opts.keepalive.then(|| Duration::from_secs(7200).into()));
        let local = IpListenEndpoint { addr: Some(IpAddress::from(local.ip())), port: local.port() };
        if sock.connect(inner.iface.context(), IpEndpoint::from(dst), local).is_err() {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let handle = inner.sockets.add(sock);
        ep.set_connecting(true);
        inner.conns.push(Conn {
            handle,
            app: Arc::downgrade(ep),
            far: None,
            started: Instant::now(),
            got_fin: false,
            closed: false,
        });
        self.service(inner);
        Ok(())
    }

    /// Take connections from other hosts to `at` (a listening socket's
    /// name: a wildcard or an interface address).
    pub fn listen(&self, at: SocketAddr) {
        let want = listen_endpoint(at);
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if inner.listeners.iter().any(|(e, _)| *e == want) {
            return;
        }
        inner.listeners.push((want, Vec::new()));
        inner.refill_listeners();
        self.service(inner);
    }

    /// Receive UDP datagrams from other hosts for `port`.
    pub fn udp_open(&self, port: u16) {
        let mut g = self.inner.lock();
        g.udp_socket(port);
    }

    /// Send datagram `data` from `ep`'s `port` (source address `src`) to
    /// `dst` on another host.
    pub fn udp_send(&self, src: SocketAddr, dst: SocketAddr, data: &[u8]) -> KResult<usize> {
        if !self.routable(dst.ip()) {
            return Err(Errno::ENETUNREACH);
        }
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let handle = inner.udp_socket(src.port()).ok_or(Errno::ENOBUFS)?;
        let sock = inner.sockets.get_mut::<udp::Socket>(handle);
        if data.len() > sock.payload_send_capacity() {
            return Err(Errno::EMSGSIZE);
        }
        let local = (!src.ip().is_unspecified()).then(|| IpAddress::from(src.ip()));
        let meta = udp::UdpMetadata { endpoint: IpEndpoint::from(dst), local_address: local, meta: Default::default() };
        sock.send_slice(data, meta).map_err(|_| Errno::ENOBUFS)?;
        self.service(inner);
        Ok(data.len())
    }

    /// The stack thread: poll the interface when frames arrive, a socket
    /// has work, or smoltcp has a timer due.
    fn run(&self, kick: OwnedFd) {
        let mut drain = [0u8; 64];
        let mut swept = Instant::now();
        loop {
            let delay = {
                let mut g = self.inner.lock();
                let inner = &mut *g;
                self.service(inner);
                if swept.elapsed() >= IDLE_TICK {
                    inner.sweep();
                    swept = Instant::now();
                }
                inner.iface.poll_delay(self.now(), &inner.sockets)
            };
            let timeout = delay.map_or(IDLE_TICK, |d| Duration::from_micros(d.total_micros()).min(IDLE_TICK));
            let ms = u16::try_from(timeout.as_millis().max(u128::from(!timeout.is_zero()))).unwrap_or(u16::MAX);
            let mut fds =
                [PollFd::new(kick.as_fd(), PollFlags::POLLIN), PollFd::new(self.pkt.as_fd(), PollFlags::POLLIN)];
            let r = nix::poll::poll(&mut fds, PollTimeout::from(ms));
            if r.is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.kick.pending.store(false, Ordering::Release);
            while matches!(nix::unistd::read(&kick, &mut drain), Ok(n) if n > 0) {}
        }
    }

    /// Poll the interface and move data until nothing more moves.
    fn service(&self, inner: &mut Inner) {
        for _ in 0..16 {
            let now = self.now();
            inner.iface.poll_maintenance(now);
            // One frame at a time, so that each SYN finds a socket listening
            // (a listening smoltcp socket takes one connection).
            while inner.iface.poll_ingress_single(now, &mut inner.dev, &mut inner.sockets)
                != PollIngressSingleResult::None
            {
                inner.refill_listeners();
            }
            while inner.iface.poll_egress(now, &mut inner.dev, &mut inner.sockets) != PollResult::None {}
            inner.dev.flush();
            let moved = inner.pump(&self.kick);
            if !moved {
                break;
            }
        }
    }
}

/// A TCP socket with the stack's buffers.
fn tcp_socket() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; TCP_BUF]), tcp::SocketBuffer::new(vec![0; TCP_BUF]));
    // Linux acknowledges at once on a fresh connection (quick ACKs); a
    // delayed ACK with Nagle on the other side stalls request/response
    // traffic by 40 ms.
    s.set_ack_delay(None);
    s.set_nagle_enabled(false);
    s
}

/// smoltcp's listening endpoint for a socket named `at`.
fn listen_endpoint(at: SocketAddr) -> IpListenEndpoint {
    let addr = (!at.ip().is_unspecified()).then(|| IpAddress::from(at.ip()));
    IpListenEndpoint { addr, port: at.port() }
}

/// Whether `ip` is in `net/prefix`.
fn in_prefix(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn std_addr(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(e.addr), e.port)
}

impl Inner {
    /// The UDP socket of `port`, bound on first use.
    fn udp_socket(&mut self, port: u16) -> Option<SocketHandle> {
        if let Some(&h) = self.udp.get(&port) {
            return Some(h);
        }
        let buf = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; UDP_PACKETS], vec![0; UDP_BUF]);
        let mut s = udp::Socket::new(buf(), buf());
        s.bind(IpListenEndpoint { addr: None, port }).ok()?;
        let h = self.sockets.add(s);
        self.udp.insert(port, h);
        Some(h)
    }

    /// Keep `LISTEN_POOL` sockets listening on each listening address.
    fn refill_listeners(&mut self) {
        for (at, pool) in &mut self.listeners {
            let listening = pool.iter().filter(|&&h| self.sockets.get::<tcp::Socket>(h).is_listening()).count();
            // Half-made connections beyond Linux's SYN backlog are reset.
            let room = MAX_HALF_OPEN.saturating_sub(pool.len() - listening);
            for _ in listening..LISTEN_POOL.min(room) {
                let mut s = tcp_socket();
                if s.listen(*at).is_ok() {
                    pool.push(self.sockets.add(s));
                }
            }
        }
    }

    /// Move data between the stack's sockets and the endpoints; returns
    /// whether anything moved (so the interface is polled again).
    fn pump(&mut self, kick: &Arc<Kick>) -> bool {
        let mut moved = self.accept_from_pools(kick);
        let mut i = 0;
        while i < self.conns.len() {
            let (m, keep) = self.pump_conn(i, kick);
            moved |= m;
            if keep {
                i += 1;
            } else {
                let c = self.conns.swap_remove(i);
                self.sockets.remove(c.handle);
            }
        }
        moved |= self.pump_udp();
        moved
    }

    /// Connections from other hosts that completed their handshake on a
    /// pool socket: queue them on the listener, as a loopback connection
    /// is queued.
    fn accept_from_pools(&mut self, kick: &Arc<Kick>) -> bool {
        let mut done = Vec::new();
        for (_, pool) in &mut self.listeners {
            pool.retain(|&h| {
                // Listening, or a handshake under way: it stays in the pool.
                let waiting =
                    matches!(self.sockets.get::<tcp::Socket>(h).state(), tcp::State::Listen | tcp::State::SynReceived);
                if !waiting {
                    done.push(h);
                }
                waiting
            });
        }
        let refill = !done.is_empty();
        self.unqueued.extend(done.into_iter().map(|h| (h, Instant::now())));
        let mut moved = false;
        let mut i = 0;
        while i < self.unqueued.len() {
            let (h, since) = self.unqueued[i];
            match self.queue_accepted(h, kick) {
                Ok(conn) => {
                    self.unqueued.swap_remove(i);
                    self.conns.push(conn);
                    moved = true;
                }
                // The listener's backlog is full: the connection waits, as
                // Linux leaves it half-made, unless it waited too long or
                // the other host gave up.
                Err(Errno::EAGAIN)
                    if since.elapsed() < CONNECT_TIMEOUT
                        && self.sockets.get::<tcp::Socket>(h).state() != tcp::State::Closed =>
                {
                    i += 1
                }
                Err(_) => {
                    // Nobody listens there now.
                    self.unqueued.swap_remove(i);
                    self.sockets.get_mut::<tcp::Socket>(h).abort();
                    self.conns.push(Conn::aborted(h));
                }
            }
        }
        if refill {
            self.refill_listeners();
        }
        moved
    }

    /// Queue the connection on pool socket `h`, made with another host, on
    /// the listener it reached, as a loopback connection is queued
    /// (`EAGAIN`: the backlog is full).
    fn queue_accepted(&mut self, h: SocketHandle, kick: &Arc<Kick>) -> KResult<Conn> {
        let s = self.sockets.get::<tcp::Socket>(h);
        let (Some(local), Some(remote)) = (s.local_endpoint(), s.remote_endpoint()) else {
            return Err(Errno::ECONNABORTED);
        };
        let (local, remote) = (std_addr(local), std_addr(remote));
        let listener = inet::lookup(SockType::Stream, local).ok_or(Errno::ECONNREFUSED)?;
        let far = Endpoint::new_in(listener.domain, SockType::Stream);
        far.set_name(Addr::Inet(inet::name_at(&listener, remote)))?;
        let server = Addr::Inet(inet::name_at(&listener, local));
        if let Err(e) = far.connect(&listener, NOBODY, Some(&server)) {
            if e == Errno::EAGAIN {
                // Wake when the application accepts and room frees.
                self.watched.retain(|w| w.strong_count() > 0);
                if !self.watched.iter().any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&listener))) {
                    listener.queue().subscribe(&(kick.clone() as Arc<dyn Subscriber>));
                    self.watched.push(Arc::downgrade(&listener));
                }
            }
            return Err(e);
        }
        let accepted = far.peer().ok_or(Errno::ECONNABORTED)?;
        inet::note_accepted(&accepted);
        far.queue().subscribe(&(kick.clone() as Arc<dyn Subscriber>));
        Ok(Conn {
            handle: h,
            app: Arc::downgrade(&accepted),
            far: Some(far),
            started: Instant::now(),
            got_fin: false,
            closed: false,
        })
    }

    /// Service connection `i`; returns (moved anything, keep it).
    fn pump_conn(&mut self, i: usize, kick: &Arc<Kick>) -> (bool, bool) {
        let c = &mut self.conns[i];
        let s = self.sockets.get_mut::<tcp::Socket>(c.handle);
        let state = s.state();
        let Some(far) = c.far.clone() else {
            // Connecting, or an aborted connection winding down.
            let Some(app) = c.app.upgrade().filter(|a| !a.is_closed()) else {
                if !c.closed {
                    s.abort();
                    c.closed = true;
                }
                return (false, state != tcp::State::Closed);
            };
            return match state {
                tcp::State::SynSent | tcp::State::SynReceived => {
                    if c.started.elapsed() > CONNECT_TIMEOUT {
                        s.abort();
                        app.set_error(Errno::ETIMEDOUT);
                        app.set_connecting(false);
                        return (true, false);
                    }
                    (false, true)
                }
                tcp::State::Closed => {
                    app.set_error(Errno::ECONNREFUSED);
                    app.set_connecting(false);
                    (true, false)
                }
                _ => {
                    let remote = s.remote_endpoint().map(std_addr);
                    let far = Endpoint::new_in(app.domain, SockType::Stream);
                    if let Some(r) = remote {
                        let _ = far.set_name(Addr::Inet(inet::name_at(&app, r)));
                    }
                    far.queue().subscribe(&(kick.clone() as Arc<dyn Subscriber>));
                    Endpoint::join(&app, &far);
                    c.far = Some(far);
                    (true, true)
                }
            };
        };
        let mut moved = false;
        // The application's bytes out to the other host.
        while !c.closed && s.may_send() {
            let room = s.send_capacity() - s.send_queue();
            if room == 0 {
                break;
            }
            let n = room.min(self.buf.len());
            match far.recv(&mut self.buf[..n], false) {
                Ok(r) if r.len > 0 => {
                    let _ = s.send_slice(&self.buf[..r.len]);
                    moved = true;
                }
                Ok(_) => {
                    // The application shut its side or closed: FIN after
                    // what is queued.
                    s.close();
                    c.closed = true;
                    moved = true;
                }
                Err(Errno::EAGAIN) => break,
                Err(_) => {
                    // Closed with unread data (ECONNRESET): reset, as Linux.
                    s.abort();
                    c.closed = true;
                    moved = true;
                }
            }
        }
        // The other host's bytes in to the application.
        let app_gone = far.peer().is_none();
        while s.can_recv() {
            if app_gone {
                // Nobody will read: Linux answers data after close with a reset.
                s.abort();
                c.closed = true;
                break;
            }
            let r = s.recv(|b| match far.send(b, &mut Vec::new(), NOBODY, None) {
                Ok(n) => (n, n),
                Err(_) => (0, 0),
            });
            match r {
                Ok(n) if n > 0 => moved = true,
                _ => break,
            }
        }
        if !c.got_fin && !s.may_recv() && s.recv_queue() == 0 && state != tcp::State::Closed {
            // The other host's FIN, after all its data: end of file.
            if matches!(state, tcp::State::CloseWait | tcp::State::LastAck | tcp::State::Closing | tcp::State::TimeWait)
            {
                c.got_fin = true;
                let _ = far.shutdown(1);
                moved = true;
            }
        }
        let finished = matches!(state, tcp::State::Closed | tcp::State::TimeWait) && s.recv_queue() == 0;
        if finished {
            if state == tcp::State::Closed && !c.got_fin && !c.closed {
                // Reset by the other host.
                if let Some(app) = far.peer() {
                    app.set_error(Errno::ECONNRESET);
                }
            }
            if !c.got_fin {
                let _ = far.shutdown(1);
            }
            if app_gone || state == tcp::State::Closed {
                far.close();
                return (true, false);
            }
        }
        (moved, true)
    }

    /// Datagrams from other hosts to the bound UDP sockets.
    fn pump_udp(&mut self) -> bool {
        let mut moved = false;
        for (&port, &h) in &self.udp {
            let s = self.sockets.get_mut::<udp::Socket>(h);
            while let Ok((data, meta)) = s.recv() {
                moved = true;
                let src = std_addr(meta.endpoint);
                let Some(dst_ip) = meta.local_address.map(IpAddr::from) else { continue };
                let Some(target) = inet::lookup(SockType::Dgram, SocketAddr::new(dst_ip, port)) else { continue };
                let from = inet::name_at(&target, src);
                if target.inet_peer().is_some_and(|p| p != from) {
                    continue;
                }
                // A full queue drops the datagram, as the host's would.
                let to = inet::name_at(&target, SocketAddr::new(dst_ip, port));
                let _ = target.enqueue(data.to_vec(), Addr::Inet(from), Some(to));
            }
        }
        moved
    }

    /// Close what nobody holds any more: listening pools without a
    /// listener, UDP sockets of ports nobody has bound.
    fn sweep(&mut self) {
        let mut dead = Vec::new();
        self.listeners.retain(|(at, pool)| {
            let probe = |ip: IpAddr| inet::lookup(SockType::Stream, SocketAddr::new(ip, at.port)).is_some();
            let held = match at.addr {
                Some(a) => probe(IpAddr::from(a)),
                None => {
                    probe(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
                        || probe(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
                }
            };
            if !held {
                dead.extend(pool.iter().copied());
            }
            held
        });
        for h in dead {
            let s = self.sockets.get_mut::<tcp::Socket>(h);
            if s.is_listening() {
                self.sockets.remove(h);
            } else {
                s.abort();
                self.conns.push(Conn::aborted(h));
            }
        }
        let bound: Vec<u16> = self.udp.keys().copied().filter(|&p| inet::port_bound(SockType::Dgram, p)).collect();
        let gone: Vec<u16> = self.udp.keys().copied().filter(|p| !bound.contains(p)).collect();
        for p in gone {
            if let Some(h) = self.udp.remove(&p) {
                self.sockets.remove(h);
            }
        }
    }
}

/// The interface's frames, through the `AF_PACKET` socket.
struct PacketDevice {
    fd: OwnedFd,
    mtu: usize,
    rx: Vec<u8>,
    /// Frames made since the last [`flush`](Self::flush), sent together.
    tx: Tx,
}

/// Frames waiting to be sent, and spent buffers to make the next ones in.
#[derive(Default)]
struct Tx {
    frames: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
}

/// The most frames sent in one `sendmmsg`.
const TX_BATCH: usize = 64;

impl PacketDevice {
    fn new(fd: OwnedFd, mtu: u32) -> PacketDevice {
        // Frames from the host side of a veth may be coalesced (GRO/TSO)
        // beyond the MTU: take anything up to an IP packet's largest.
        PacketDevice { fd, mtu: usize::try_from(mtu).unwrap_or(1500), rx: vec![0; 65536 + 14], tx: Tx::default() }
    }

    /// Send the frames made so far, up to `TX_BATCH` a system call. A frame
    /// the host cannot take now is lost, as on a wire: TCP sends it again.
    fn flush(&mut self) {
        let frames = std::mem::take(&mut self.tx.frames);
        for chunk in frames.chunks(TX_BATCH) {
            let iovs: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|f| [IoSlice::new(f)]).collect();
            let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> =
                chunk.iter().map(|_| SendAncillaryBuffer::default()).collect();
            let mut msgs: Vec<MMsgHdr<'_>> =
                iovs.iter().zip(controls.iter_mut()).map(|(iov, c)| MMsgHdr::new(iov, c)).collect();
            let mut sent = 0;
            while sent < msgs.len() {
                match rustix::net::sendmmsg(&self.fd, &mut msgs[sent..], SendFlags::DONTWAIT) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sent += n,
                }
            }
        }
        self.tx.spare.extend(frames);
        self.tx.spare.truncate(TX_BATCH);
    }
}

struct RxToken<'a>(&'a mut [u8]);
struct TxToken<'a>(&'a mut Tx);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = self.0.spare.pop().unwrap_or_default();
        frame.clear();
        frame.resize(len, 0);
        let r = f(&mut frame);
        self.0.frames.push(frame);
        r
    }
}

impl Device for PacketDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: SInstant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.fd);
        let n = nix::sys::socket::recv(fd, &mut self.rx, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC).ok()?;
        let n = n.min(self.rx.len());
        Some((RxToken(&mut self.rx[..n]), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _now: SInstant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + 14;
        // The host fills in (or never checks) the checksums of frames
        // between its own interfaces: a veth's frames arrive with partial
        // ones. Compute them on sending, never check them on receipt.
        let mut sums = ChecksumCapabilities::default();
        sums.ipv4 = Checksum::Tx;
        sums.tcp = Checksum::Tx;
        sums.udp = Checksum::Tx;
        sums.icmpv4 = Checksum::Tx;
        sums.icmpv6 = Checksum::Tx;
        caps.checksum = sums;
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn prefixes() {
        assert!(in_prefix(ip("10.1.2.3"), 24, ip("10.1.2.200")));
        assert!(!in_prefix(ip("10.1.2.3"), 24, ip("10.1.3.1")));
        assert!(in_prefix(ip("10.1.2.3"), 0, ip("192.168.0.1")));
        assert!(in_prefix(ip("fd00::1"), 64, ip("fd00::99")));
        assert!(!in_prefix(ip("fd00::1"), 64, ip("fd01::1")));
        assert!(!in_prefix(ip("fd00::1"), 64, ip("10.0.0.1")));
    }
}
