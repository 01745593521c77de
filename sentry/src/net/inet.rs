//! Internet sockets on the sandbox's own loopback (`--network none`): the
//! names (addresses and ports) of TCP and UDP sockets and which socket a
//! connection or datagram reaches. Data moves through the same endpoint
//! queues as Unix sockets (`net::unix`); nothing reaches the host.
//!
//! Every address of 127.0.0.0/8 and `::1` is local, as are the wildcards
//! (connecting to 0.0.0.0 reaches the loopback, as on Linux). An IPv6
//! socket bound to `::` also takes IPv4 traffic (v4-mapped) unless
//! `IPV6_V6ONLY`; a v4-mapped IPv6 destination reaches IPv4 sockets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use abi::consts::EPHEMERAL_PORTS;
use abi::Errno;
use parking_lot::Mutex;

use super::addr::Domain;
use super::unix::{Endpoint, SockType};
use crate::vfs::KResult;

/// One bound socket.
struct Binding {
    ep: Weak<Endpoint>,
    stype: SockType,
    addr: SocketAddr,
}

/// Where the search for the next ephemeral port starts (an offset into
/// the range).
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// Connections accepted from listeners, for `/proc/net/tcp` only (they
/// share their listener's port and take no part in binding).
fn accepted() -> &'static Mutex<Vec<Weak<Endpoint>>> {
    static A: OnceLock<Mutex<Vec<Weak<Endpoint>>>> = OnceLock::new();
    A.get_or_init(Default::default)
}

/// Note a connection's accepting end, so `/proc/net/tcp` lists it.
pub fn note_accepted(ep: &Arc<Endpoint>) {
    let mut a = accepted().lock();
    a.retain(|w| w.upgrade().is_some_and(|e| !e.is_closed()));
    a.push(Arc::downgrade(ep));
}

fn table() -> &'static Mutex<Vec<Binding>> {
    static T: OnceLock<Mutex<Vec<Binding>>> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// `ip` with a v4-mapped IPv6 address as the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is an address of this host: the loopback's, or with
/// `--network sandbox` the interface's.
pub fn is_local(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    ip.is_loopback() || ip.is_unspecified() || super::stack::get().is_some_and(|s| s.has_addr(ip))
}

/// The source address a connection or datagram to `dst` leaves from, in
/// the family of a socket of `domain`.
fn source_for(domain: Domain, dst: IpAddr) -> IpAddr {
    let dst = canonical(dst);
    if let Some(src) = super::stack::get().filter(|_| !dst.is_loopback()).and_then(|s| s.source_for(dst)) {
        return match (domain, src) {
            (Domain::Inet6, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
            (_, src) => src,
        };
    }
    match (domain, dst) {
        (Domain::Inet6, IpAddr::V4(_)) => IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
        (_, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (_, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// Whether a socket bound at `bound` (with `v6only`) receives traffic for
/// `dst` (port already equal).
fn accepts(bound: IpAddr, v6only: bool, dst: IpAddr) -> bool {
    let dst = canonical(dst);
    match bound {
        IpAddr::V4(b) => matches!(dst, IpAddr::V4(d) if b.is_unspecified() || b == d),
        IpAddr::V6(b) if b.is_unspecified() => dst.is_ipv6() || !v6only,
        IpAddr::V6(b) => match (b.to_ipv4_mapped(), dst) {
            (Some(b4), IpAddr::V4(d)) => b4 == d,
            (None, IpAddr::V6(d)) => b == d,
            _ => false,
        },
    }
}

/// Whether two bindings of one port could receive the same traffic.
fn overlap(a: IpAddr, a_v6only: bool, b: IpAddr, b_v6only: bool) -> bool {
    let wild = |ip: IpAddr| ip.is_unspecified();
    match (canonical(a), canonical(b)) {
        (IpAddr::V4(x), IpAddr::V4(y)) => wild(IpAddr::V4(x)) || wild(IpAddr::V4(y)) || x == y,
        (IpAddr::V6(x), IpAddr::V6(y)) => x.is_unspecified() || y.is_unspecified() || x == y,
        (IpAddr::V6(x), IpAddr::V4(_)) => x.is_unspecified() && !a_v6only,
        (IpAddr::V4(_), IpAddr::V6(y)) => y.is_unspecified() && !b_v6only,
    }
}

/// The live bindings, dropping closed sockets' entries.
fn live(t: &mut Vec<Binding>) -> Vec<(Arc<Endpoint>, SockType, SocketAddr)> {
    t.retain(|b| b.ep.upgrade().is_some_and(|e| !e.is_closed()));
    t.iter().filter_map(|b| b.ep.upgrade().map(|e| (e, b.stype, b.addr))).collect()
}

/// Whether `ep` may share `port` with the live socket `other`: both
/// `SO_REUSEPORT`, or both `SO_REUSEADDR` with neither listening (UDP:
/// both `SO_REUSEADDR`).
fn may_share(ep: &Endpoint, other: &Endpoint) -> bool {
    let (a, b) = (ep.opts(), other.opts());
    if a.reuseport && b.reuseport {
        return true;
    }
    a.reuseaddr && b.reuseaddr && (ep.stype == SockType::Dgram || (!ep.is_listening() && !other.is_listening()))
}

/// The ports below this one take `CAP_NET_BIND_SERVICE` to bind (Linux's
/// `ip_unprivileged_port_start`).
pub const UNPRIVILEGED_PORT_START: u16 = 1024;

/// Bind `ep` to `want` (port 0: a free ephemeral port). `EADDRNOTAVAIL`
/// for an address this host does not have, `EACCES` for a port below
/// [`UNPRIVILEGED_PORT_START`] unless `bind_service` (the caller holds
/// `CAP_NET_BIND_SERVICE`), `EADDRINUSE` for a taken port.
pub fn bind(ep: &Arc<Endpoint>, want: SocketAddr, bind_service: bool) -> KResult<SocketAddr> {
    if !is_local(want.ip()) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    if (1..UNPRIVILEGED_PORT_START).contains(&want.port()) && !bind_service {
        return Err(Errno::EACCES);
    }
    if ep.inet_name().is_some() {
        return Err(Errno::EINVAL);
    }
    let v6only = ep.opts().v6only;
    let mut t = table().lock();
    let bound = live(&mut t);
    let clash = |port: u16| {
        bound.iter().any(|(other, stype, addr)| {
            *stype == ep.stype
                && addr.port() == port
                && overlap(want.ip(), v6only, addr.ip(), other.opts().v6only)
                && !may_share(ep, other)
        })
    };
    let port = if want.port() != 0 {
        if clash(want.port()) {
            return Err(Errno::EADDRINUSE);
        }
        want.port()
    } else {
        // Ephemeral ports are handed out in turn, not lowest first, so a
        // port just given up is not at once someone else's (as Linux).
        let (lo, hi) = (*EPHEMERAL_PORTS.start(), *EPHEMERAL_PORTS.end());
        let span = u32::from(hi - lo) + 1;
        let start = NEXT_PORT.fetch_add(1, Ordering::Relaxed) % span;
        (0..span)
            .filter_map(|i| u16::try_from((start + i) % span).ok().map(|o| lo + o))
            .find(|&p| !clash(p))
            .ok_or(Errno::EADDRINUSE)?
    };
    let addr = SocketAddr::new(want.ip(), port);
    ep.set_name(super::addr::Addr::Inet(addr))?;
    t.push(Binding { ep: Arc::downgrade(ep), stype: ep.stype, addr });
    drop(t);
    // Datagrams from other hosts reach a UDP port not bound to the loopback.
    if let Some(stack) =
        super::stack::get().filter(|_| ep.stype == SockType::Dgram && !canonical(addr.ip()).is_loopback())
    {
        stack.udp_open(port);
    }
    Ok(addr)
}

/// Whether some open socket of type `stype` holds `port`.
pub fn port_bound(stype: SockType, port: u16) -> bool {
    table()
        .lock()
        .iter()
        .any(|b| b.stype == stype && b.addr.port() == port && b.ep.upgrade().is_some_and(|e| !e.is_closed()))
}

/// Whether `ip` is a loopback address (v4-mapped ones too).
pub fn is_loopback(ip: IpAddr) -> bool {
    canonical(ip).is_loopback()
}

/// Send UDP datagram `data` from `ep` to `dst` on another host, through
/// `--network sandbox`'s stack (`ENETUNREACH` without one).
pub fn udp_send_remote(ep: &Endpoint, dst: SocketAddr, data: &[u8]) -> KResult<usize> {
    let stack = super::stack::get().ok_or(Errno::ENETUNREACH)?;
    let local = ep.inet_name().ok_or(Errno::EINVAL)?;
    let src = settled(ep, local, dst);
    let (src, dst) = (unmapped(src), unmapped(dst));
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Errno::ENETUNREACH);
    }
    stack.udp_send(src, dst, data)
}

/// `a` with a v4-mapped IPv6 address as the IPv4 one.
pub fn unmapped(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical(a.ip()), a.port())
}

/// Bind `ep`, if it has no name yet, to an ephemeral port of the wildcard
/// address (`connect`, `sendto` and `listen` of an unbound socket; a
/// connection then settles on its source address). Returns its name.
pub fn autobind(ep: &Arc<Endpoint>) -> KResult<SocketAddr> {
    if let Some(a) = ep.inet_name() {
        return Ok(a);
    }
    let ip = match ep.domain {
        Domain::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    bind(ep, SocketAddr::new(ip, 0), false)
}

/// The socket of type `stype` that traffic to `dst` reaches: a listening
/// stream socket, or a bound datagram socket. An exact address wins over
/// a wildcard.
pub fn lookup(stype: SockType, dst: SocketAddr) -> Option<Arc<Endpoint>> {
    let t = table().lock();
    let mut found: Option<(Arc<Endpoint>, bool)> = None;
    // Only the bindings of this type and port are looked at closely; closed
    // sockets' entries are left for `bind` to sweep.
    for b in t.iter().filter(|b| b.stype == stype && b.addr.port() == dst.port()) {
        let Some(ep) = b.ep.upgrade() else { continue };
        let addr = b.addr;
        if ep.is_closed() || !accepts(addr.ip(), ep.opts().v6only, dst.ip()) {
            continue;
        }
        if stype == SockType::Stream && !ep.is_listening() {
            continue;
        }
        let exact = !addr.ip().is_unspecified();
        if found.as_ref().is_none_or(|(_, e)| exact && !e) {
            found = Some((ep, exact));
        }
    }
    found.map(|(e, _)| e)
}

/// Where a UDP datagram from `ep` to `dst` goes: the socket bound there,
/// or nowhere (`None`: nobody holds the port, or the socket there is
/// connected to another peer; the network drops the datagram). `ep` is
/// bound first if it is not. A connected `ep` sending to its own peer
/// learns of a refusal on its next call (`ECONNREFUSED`), as from the ICMP
/// error Linux would get back.
pub fn udp_route(ep: &Arc<Endpoint>, dst: SocketAddr) -> KResult<Option<Arc<Endpoint>>> {
    let local = autobind(ep)?;
    let Some(target) = lookup(SockType::Dgram, dst) else {
        if ep.inet_peer() == Some(dst) {
            ep.set_error(Errno::ECONNREFUSED);
        }
        return Ok(None);
    };
    // A connected UDP socket takes datagrams from its peer only.
    let from = name_at(&target, settled(ep, local, dst));
    if target.inet_peer().is_some_and(|p| p != from) {
        return Ok(None);
    }
    Ok(Some(target))
}

/// The name a connection's or datagram's far end gives this side's
/// destination `dst`, in the family of the receiving socket `at`: a v4
/// destination reaching an IPv6 socket appears v4-mapped.
pub fn name_at(at: &Endpoint, dst: SocketAddr) -> SocketAddr {
    let ip = match (at.domain, canonical(dst.ip())) {
        (Domain::Inet6, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (_, ip) => ip,
    };
    // Connecting to a wildcard reaches the loopback.
    let ip = match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, dst.port())
}

/// The address this side of a connection to `dst` has when it was bound
/// to `local` (a wildcard takes the source address).
pub fn settled(ep: &Endpoint, local: SocketAddr, dst: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::new(source_for(ep.domain, dst.ip()), local.port())
    } else {
        local
    }
}

/// One bound Internet socket as `/proc/net/{tcp,udp}[6]` lists it.
pub struct Listed {
    pub stype: SockType,
    /// The socket's family is IPv6.
    pub v6: bool,
    pub local: SocketAddr,
    pub peer: Option<SocketAddr>,
    pub listening: bool,
    /// Bytes waiting to be read.
    pub rx_queue: u64,
    pub ino: u64,
}

/// The Internet sockets: listeners, UDP sockets, connected clients and
/// the connections accepted from listeners.
pub fn sockets() -> Vec<Listed> {
    let mut all: Vec<(Arc<Endpoint>, SockType)> = {
        let mut t = table().lock();
        live(&mut t).into_iter().map(|(ep, stype, _)| (ep, stype)).collect()
    };
    all.extend(
        accepted().lock().iter().filter_map(Weak::upgrade).filter(|e| !e.is_closed()).map(|e| (e, SockType::Stream)),
    );
    all.into_iter()
        .map(|(ep, stype)| Listed {
            stype,
            v6: ep.domain == Domain::Inet6,
            local: ep.inet_name().unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)),
            peer: match stype {
                SockType::Dgram => ep.inet_peer(),
                _ => match ep.peer_addr() {
                    Ok(super::addr::Addr::Inet(a)) => Some(a),
                    _ => None,
                },
            },
            listening: ep.is_listening(),
            rx_queue: ep.readable_bytes(),
            ino: ep.ino(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn wildcards_and_mapped_addresses_accept_as_linux() {
        assert!(accepts(v4("0.0.0.0"), false, v4("127.0.0.1")));
        assert!(accepts(v4("::"), false, v4("127.0.0.1")));
        assert!(!accepts(v4("::"), true, v4("127.0.0.1")));
        assert!(accepts(v4("::"), true, v4("::1")));
        assert!(!accepts(v4("0.0.0.0"), false, v4("::1")));
        assert!(accepts(v4("127.0.0.1"), false, v4("::ffff:127.0.0.1")));
        assert!(accepts(v4("::ffff:127.0.0.1"), false, v4("127.0.0.1")));
        assert!(!accepts(v4("127.0.0.2"), false, v4("127.0.0.1")));
    }

    #[test]
    fn only_loopback_and_wildcards_are_local() {
        assert!(is_local(v4("127.3.4.5")));
        assert!(is_local(v4("::1")));
        assert!(is_local(v4("0.0.0.0")));
        assert!(!is_local(v4("10.0.0.1")));
        assert!(!is_local(v4("2001:db8::1")));
    }

    #[test]
    fn overlapping_bindings() {
        assert!(overlap(v4("0.0.0.0"), false, v4("127.0.0.1"), false));
        assert!(overlap(v4("::"), false, v4("127.0.0.1"), false));
        assert!(!overlap(v4("::"), true, v4("127.0.0.1"), false));
        assert!(!overlap(v4("127.0.0.1"), false, v4("127.0.0.2"), false));
    }
}
