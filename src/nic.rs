//! `--network sandbox`: boot takes one interface of its network namespace
//! away from the host kernel and hands it to the sentry's TCP/IP stack.
//!
//! Steps, in order (all before boot unshares anything, while it still has
//! its capabilities in the network namespace):
//! 1. refuse the host's initial network namespace: taking an interface
//!    there would cut the host off;
//! 2. pick the first interface (by index) that is up, is not loopback and
//!    has an IP address (`getifaddrs`);
//! 3. read its MAC and MTU (netlink `RTM_GETLINK`, which answers for this
//!    namespace even where `/sys` is another's) and its default gateways
//!    (`/proc/net/route`, `/proc/net/ipv6_route`);
//! 4. open an `AF_PACKET` socket bound to it for every protocol, not seeing
//!    its own frames (`PACKET_IGNORE_OUTGOING`);
//! 5. remove every IP address of the interface from the host kernel
//!    (netlink `RTM_DELADDR`), so that it neither answers ARP or NDP for
//!    them nor resets TCP connections to them. Their routes go with them,
//!    which is why the gateways are read first.
//!
//! The netlink messages are encoded and decoded here, a few fixed
//! structures (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_addr.h`,
//! `linux/if_link.h`), in native byte order.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use anyhow::{bail, Context};
use nix::net::if_::InterfaceFlags;
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrLike, SockaddrStorage,
};
use nix::sys::time::{TimeVal, TimeValLike};

/// What a permission error here means.
const NEEDS_CAPS: &str = "needs CAP_NET_ADMIN and CAP_NET_RAW in the network namespace";

// linux/netlink.h
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
// linux/rtnetlink.h
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_DELADDR: u16 = 21;
// linux/if_addr.h
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
// linux/if_link.h
const IFLA_ADDRESS: u16 = 1;
const IFLA_MTU: u16 = 4;
/// `sizeof(struct ifinfomsg)`.
const IFINFOMSG_LEN: usize = 16;
/// `ARPHRD_ETHER` (linux/if_arp.h): an Ethernet interface's `ifi_type`.
const ARPHRD_ETHER: u16 = 1;
// linux/if_packet.h, linux/if_ether.h
const PACKET_IGNORE_OUTGOING: i32 = 23;
const ETH_P_ALL: u16 = 0x0003;
// linux/route.h: the flags of /proc/net/route and /proc/net/ipv6_route.
const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// How long the kernel may take to answer a netlink request.
const NETLINK_TIMEOUT_SECS: i64 = 5;

/// Take over the interface of the current network namespace for the
/// sentry's stack: see the module's steps.
pub fn take_over() -> anyhow::Result<sentry::Nic> {
    refuse_initial_netns()?;
    let Candidate { name, index, addrs } = pick_interface()?;
    let mut rtnl = Rtnl::open().map_err(|e| host_error(e, "opening a netlink socket"))?;
    let link = rtnl.link(index).map_err(|e| host_error(e, &format!("reading the link of {name}")))?;
    let (ARPHRD_ETHER, Some(mac), Some(mtu)) = link else {
        bail!("{name} is not an Ethernet interface with a MAC address and an MTU");
    };
    let gateways = default_gateways(&name)?;
    let fd = open_packet_socket(index).map_err(|e| host_error(e, &format!("opening a packet socket on {name}")))?;
    keep_ipv6_away(&name);
    for &(addr, prefix) in &addrs {
        match rtnl.delete_addr(index, addr, prefix) {
            Ok(()) => {}
            // A secondary IPv4 address goes with its primary.
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
                tracing::debug!(%addr, prefix, "address already gone");
            }
            Err(e) => return Err(host_error(e, &format!("removing {addr}/{prefix} from {name}"))),
        }
    }
    tracing::info!(
        name = %name,
        index,
        mac = %format_mac(&mac),
        mtu,
        addrs = ?addrs,
        gateways = ?gateways,
        "took the interface over from the host kernel"
    );
    Ok(sentry::Nic { name, index, fd, mac, mtu, addrs, gateways })
}

/// Stop the host kernel from giving the interface IPv6 addresses again
/// (router advertisements, a link-local address when the link comes up).
/// Best effort: a kernel without IPv6 has none of these files.
fn keep_ipv6_away(name: &str) {
    for (knob, value) in [("accept_ra", "0"), ("autoconf", "0"), ("addr_gen_mode", "1")] {
        let path = format!("/proc/sys/net/ipv6/conf/{name}/{knob}");
        if let Err(e) = std::fs::write(&path, value) {
            tracing::debug!(%path, %e, "left as it was");
        }
    }
}

/// `err` from the host, in context, with what a permission error means.
fn host_error(err: io::Error, what: &str) -> anyhow::Error {
    let denied = matches!(err.raw_os_error(), Some(libc::EPERM | libc::EACCES));
    let err = anyhow::Error::from(err);
    if denied {
        err.context(format!("{what} ({NEEDS_CAPS})"))
    } else {
        err.context(what.to_owned())
    }
}

/// The initial network namespace's inode on kernels that give it a fixed
/// one (seen on 6.18: `NET_NS_INIT_INO`, `linux/nsfs.h`), as they have long
/// done for the other initial namespaces. Dynamic ones start at
/// 0xF0000000, so no other namespace has it on older kernels either.
const NET_NS_INIT_INO: u64 = 0xEFFF_FFF9;

/// Fail in the host's initial network namespace, or where that cannot be
/// told.
fn refuse_initial_netns() -> anyhow::Result<()> {
    let ours = ns_id("/proc/self/ns/net").context("reading /proc/self/ns/net")?;
    // Namespaces known to be the initial one: pid 1's (the host's init,
    // unless in a container's pid namespace), and kthreadd's (pid 2 with
    // no parent: then this is the initial pid namespace, and every kernel
    // thread is in the initial network namespace). Either may be
    // unreadable even to root: reading another's namespace needs ptrace
    // access to it.
    let kthreadd = std::fs::read_to_string("/proc/2/status").is_ok_and(|s| s.lines().any(|l| l == "PPid:\t0"));
    let refs: Vec<(u64, u64)> = ["/proc/1/ns/net", "/proc/2/ns/net"]
        .into_iter()
        .take(if kthreadd { 2 } else { 1 })
        .filter_map(|path| ns_id(path).ok())
        .collect();
    match is_initial_netns(ours, &refs) {
        Some(false) => Ok(()),
        Some(true) => bail!(
            "it takes the addresses of an interface away from the host kernel; \
             run it in a network namespace made for the sandbox (ip netns exec NAME bulwark do ...)"
        ),
        None => bail!(
            "cannot tell whether this is the host's network namespace \
             (neither pid 1's nor kthreadd's network namespace is readable); it will not risk taking the host's interfaces"
        ),
    }
}

/// The device and inode of namespace file `path`.
fn ns_id(path: &str) -> io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Whether network namespace `ours` is the initial one, given namespaces
/// known to be (`refs`); `None` if that cannot be told.
fn is_initial_netns(ours: (u64, u64), refs: &[(u64, u64)]) -> Option<bool> {
    if ours.1 == NET_NS_INIT_INO || refs.contains(&ours) {
        Some(true)
    } else if refs.is_empty() {
        None
    } else {
        Some(false)
    }
}

/// An interface that is up, is not loopback and has IP addresses.
struct Candidate {
    name: String,
    index: u32,
    /// With their prefix lengths.
    addrs: Vec<(IpAddr, u8)>,
}

/// The first interface (by index) that is up, not loopback, and has an IP
/// address.
fn pick_interface() -> anyhow::Result<Candidate> {
    let mut by_name: BTreeMap<String, Vec<(IpAddr, u8)>> = BTreeMap::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from).context("getifaddrs")? {
        if !ifa.flags.contains(InterfaceFlags::IFF_UP) || ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK) {
            continue;
        }
        let Some(addr) = ifa.address.as_ref().and_then(ip_of) else {
            continue;
        };
        let prefix = ifa.netmask.as_ref().and_then(ip_of).map_or(full_prefix(addr), prefix_len);
        // An IPv4 address's entry is named by its label, `eth0:1` for an
        // alias; interface names have no ':'.
        let name = ifa.interface_name.split(':').next().unwrap_or_default().to_owned();
        let addrs = by_name.entry(name).or_default();
        if !addrs.contains(&(addr, prefix)) {
            addrs.push((addr, prefix));
        }
    }
    let mut found = by_name
        .into_iter()
        .map(|(name, addrs)| {
            let index = nix::net::if_::if_nametoindex(name.as_str())
                .map_err(io::Error::from)
                .with_context(|| format!("if_nametoindex({name})"))?;
            Ok(Candidate { name, index, addrs })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    found.sort_by_key(|c| c.index);
    let mut found = found.into_iter();
    let first = found.next().context("no interface with an address in this network namespace")?;
    let others: Vec<String> = found.map(|c| c.name).collect();
    if !others.is_empty() {
        tracing::warn!(used = %first.name, ignored = ?others, "several interfaces have addresses; only {} is used", first.name);
    }
    Ok(first)
}

/// The IP address of an `AF_INET` or `AF_INET6` socket address.
fn ip_of(sa: &SockaddrStorage) -> Option<IpAddr> {
    match sa.family()? {
        AddressFamily::Inet => Some(IpAddr::V4(sa.as_sockaddr_in()?.ip())),
        AddressFamily::Inet6 => Some(IpAddr::V6(sa.as_sockaddr_in6()?.ip())),
        _ => None,
    }
}

/// The prefix length of a netmask (its leading one bits).
fn prefix_len(mask: IpAddr) -> u8 {
    let ones = match mask {
        IpAddr::V4(m) => u32::from(m).leading_ones(),
        IpAddr::V6(m) => u128::from(m).leading_ones(),
    };
    u8::try_from(ones).unwrap_or(u8::MAX)
}

/// A host route's prefix length for `addr`'s family.
fn full_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// The default gateways through `name`: IPv4 first, then IPv6.
fn default_gateways(name: &str) -> anyhow::Result<Vec<IpAddr>> {
    let v4 = std::fs::read_to_string("/proc/net/route").context("reading /proc/net/route")?;
    // Without IPv6 in the kernel there is no ipv6_route, and no gateway.
    let v6 = match std::fs::read_to_string("/proc/net/ipv6_route") {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).context("reading /proc/net/ipv6_route"),
    };
    let v4 = ipv4_gateway(&v4, name).map(IpAddr::V4);
    let v6 = ipv6_gateway(&v6, name).map(IpAddr::V6);
    Ok(v4.into_iter().chain(v6).collect())
}

/// The gateway of `name`'s IPv4 default route with the lowest metric, from
/// `/proc/net/route` (a header line, then `Iface Destination Gateway Flags
/// RefCnt Use Metric Mask ...`, addresses as the hex of a host-order word).
fn ipv4_gateway(table: &str, name: &str) -> Option<Ipv4Addr> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [iface, dest, gateway, flags, _refcnt, _use, metric, mask, ..] = fields.as_slice() else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let up_gateway = flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY;
            if iface != &name || dest != &"00000000" || mask != &"00000000" || !up_gateway {
                return None;
            }
            let gateway = Ipv4Addr::from(u32::from_str_radix(gateway, 16).ok()?.to_ne_bytes());
            Some((metric.parse::<u32>().ok()?, gateway))
        })
        .filter(|(_, gateway)| !gateway.is_unspecified())
        .min_by_key(|&(metric, _)| metric)
        .map(|(_, gateway)| gateway)
}

/// The next hop of `name`'s IPv6 default route (`::/0`) with the lowest
/// metric, from `/proc/net/ipv6_route` (`dest dest_len src src_len
/// next_hop metric refcnt use flags iface`, addresses as 32 hex digits).
fn ipv6_gateway(table: &str, name: &str) -> Option<Ipv6Addr> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [dest, dest_len, _src, _src_len, hop, metric, _refcnt, _use, flags, iface] = fields.as_slice() else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let dest = u128::from_str_radix(dest, 16).ok()?;
            if iface != &name || dest != 0 || u8::from_str_radix(dest_len, 16).ok()? != 0 || flags & RTF_UP == 0 {
                return None;
            }
            let hop = Ipv6Addr::from(u128::from_str_radix(hop, 16).ok()?);
            Some((u32::from_str_radix(metric, 16).ok()?, hop))
        })
        .filter(|(_, hop)| !hop.is_unspecified())
        .min_by_key(|&(metric, _)| metric)
        .map(|(_, hop)| hop)
}

/// An `AF_PACKET`/`SOCK_RAW` socket bound to interface `index` for every
/// protocol, not seeing the frames it sends; non-blocking, close-on-exec.
/// It is made for no protocol and gets `ETH_P_ALL` only at `bind`: made
/// with one, it would queue every interface's frames until bound.
fn open_packet_socket(index: u32) -> io::Result<OwnedFd> {
    let fd = hostsys::net::socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
    hostsys::net::set_option(fd.as_fd(), libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, &1i32.to_ne_bytes())?;
    hostsys::net::bind(fd.as_fd(), &sockaddr_ll(index)?)?;
    Ok(fd)
}

/// A `struct sockaddr_ll` naming interface `index` for every protocol.
fn sockaddr_ll(index: u32) -> io::Result<[u8; 20]> {
    let index = i32::try_from(index).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let family = u16::try_from(libc::AF_PACKET).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut sa = [0u8; 20];
    sa[0..2].copy_from_slice(&family.to_ne_bytes());
    sa[2..4].copy_from_slice(&ETH_P_ALL.to_be_bytes());
    sa[4..8].copy_from_slice(&index.to_ne_bytes());
    // sll_hatype, sll_pkttype, sll_halen and sll_addr stay zero.
    Ok(sa)
}

/// `aa:bb:cc:dd:ee:ff`.
fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A `NETLINK_ROUTE` socket making one request at a time.
struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

/// What `RTM_GETLINK` says of an interface: `ifi_type`, MAC and MTU.
type Link = (u16, Option<[u8; 6]>, Option<u32>);

impl Rtnl {
    fn open() -> io::Result<Self> {
        let fd =
            socket::socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)?;
        let timeout = TimeVal::seconds(NETLINK_TIMEOUT_SECS);
        socket::setsockopt(&fd, socket::sockopt::ReceiveTimeout, &timeout)?;
        Ok(Self { fd, seq: 0 })
    }

    /// Send request `ty` with `flags` and `body`; the answer's type and
    /// payload (`NLMSG_ERROR` and nothing for a positive ACK), or the
    /// error the kernel answered.
    fn request(&mut self, ty: u16, flags: u16, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        self.seq = self.seq.wrapping_add(1);
        let msg = nlmsg(ty, flags, self.seq, body)?;
        socket::send(self.fd.as_raw_fd(), &msg, MsgFlags::empty())?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "the kernel did not answer"));
                }
                Err(e) => return Err(e.into()),
            };
            // Answers to earlier requests (none are expected) are skipped.
            match answer(buf.get(..n).unwrap_or_default(), self.seq) {
                Some(Ok((ty, payload))) => return Ok((ty, payload.to_vec())),
                Some(Err(errno)) => return Err(io::Error::from_raw_os_error(errno)),
                None => {}
            }
        }
    }

    /// `RTM_GETLINK` of interface `index`.
    fn link(&mut self, index: u32) -> io::Result<Link> {
        let (ty, payload) = self.request(RTM_GETLINK, NLM_F_REQUEST, &ifinfomsg(index)?)?;
        if ty != RTM_NEWLINK {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("RTM_GETLINK answered with type {ty}")));
        }
        parse_link(&payload).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short RTM_NEWLINK"))
    }

    /// `RTM_DELADDR` of `addr/prefix` on interface `index`, acknowledged.
    fn delete_addr(&mut self, index: u32, addr: IpAddr, prefix: u8) -> io::Result<()> {
        self.request(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, &ifaddrmsg_del(index, addr, prefix)).map(drop)
    }
}

/// A netlink message: `struct nlmsghdr` (port id 0: the kernel fills in
/// ours) then `body`.
fn nlmsg(ty: u16, flags: u16, seq: u32, body: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(NLMSG_HDRLEN + body.len()).map_err(|_| io::Error::from_raw_os_error(libc::EMSGSIZE))?;
    let mut msg = Vec::with_capacity(NLMSG_HDRLEN + body.len());
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&ty.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(body);
    Ok(msg)
}

/// A `struct rtattr` of type `ty` holding `data`, padded to 4 bytes.
/// `data` is an address (at most 16 bytes).
fn rtattr(ty: u16, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
    let mut attr = Vec::with_capacity(align4(4 + data.len()));
    attr.extend_from_slice(&len.to_ne_bytes());
    attr.extend_from_slice(&ty.to_ne_bytes());
    attr.extend_from_slice(data);
    attr.resize(align4(attr.len()), 0);
    attr
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The body of `RTM_DELADDR` for `addr/prefix` on interface `index`:
/// `struct ifaddrmsg`, then `IFA_LOCAL` and `IFA_ADDRESS` (IPv4, as
/// iproute2 sends them) or `IFA_ADDRESS` (IPv6).
fn ifaddrmsg_del(index: u32, addr: IpAddr, prefix: u8) -> Vec<u8> {
    let (family, octets): (i32, Vec<u8>) = match addr {
        IpAddr::V4(a) => (libc::AF_INET, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6, a.octets().to_vec()),
    };
    let mut body = vec![u8::try_from(family).unwrap_or_default(), prefix, 0, 0];
    body.extend_from_slice(&index.to_ne_bytes());
    if addr.is_ipv4() {
        body.extend(rtattr(IFA_LOCAL, &octets));
    }
    body.extend(rtattr(IFA_ADDRESS, &octets));
    body
}

/// The body of `RTM_GETLINK` for interface `index`: `struct ifinfomsg`.
fn ifinfomsg(index: u32) -> io::Result<[u8; IFINFOMSG_LEN]> {
    let index = i32::try_from(index).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut body = [0u8; IFINFOMSG_LEN];
    body[4..8].copy_from_slice(&index.to_ne_bytes());
    Ok(body)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The messages of one netlink datagram: (type, sequence number, payload).
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let len = usize::try_from(u32_at(rest, 0)?).ok()?;
        let msg = rest.get(NLMSG_HDRLEN..len)?;
        let (ty, seq) = (u16_at(rest, 4)?, u32_at(rest, 8)?);
        rest = rest.get(align4(len)..).unwrap_or_default();
        Some((ty, seq, msg))
    })
}

/// The answer to request `seq` in `buf`, if there: its type and payload
/// (`NLMSG_ERROR` and an empty payload for an ACK), or the errno the
/// kernel answered (`struct nlmsgerr`'s `-error`).
fn answer(buf: &[u8], seq: u32) -> Option<Result<(u16, &[u8]), i32>> {
    let (ty, _, payload) = messages(buf).find(|&(_, s, _)| s == seq)?;
    if ty != NLMSG_ERROR {
        return Some(Ok((ty, payload)));
    }
    let error = i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?);
    Some(if error == 0 { Ok((NLMSG_ERROR, &[])) } else { Err(error.saturating_neg()) })
}

/// `ifi_type`, `IFLA_ADDRESS` (when 6 bytes) and `IFLA_MTU` of an
/// `RTM_NEWLINK` payload; `None` if it is shorter than `struct ifinfomsg`.
fn parse_link(payload: &[u8]) -> Option<Link> {
    let ty = u16_at(payload, 2)?;
    let (mut mac, mut mtu) = (None, None);
    let mut attrs = payload.get(IFINFOMSG_LEN..)?;
    while let (Some(len), Some(kind)) = (u16_at(attrs, 0), u16_at(attrs, 2)) {
        let len = usize::from(len);
        let Some(data) = attrs.get(4..len) else { break };
        match kind {
            IFLA_ADDRESS => mac = <[u8; 6]>::try_from(data).ok(),
            IFLA_MTU => mtu = u32_at(data, 0),
            _ => {}
        }
        attrs = attrs.get(align4(len)..).unwrap_or_default();
    }
    Some((ty, mac, mtu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_delete_request_has_ifaddrmsg_then_local_and_address() {
        let body = ifaddrmsg_del(3, IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)), 24);

        let msg = nlmsg(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, 7, &body).expect("small message");

        #[rustfmt::skip]
        let expected: [u8; 40] = [
            40, 0, 0, 0, 21, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
            2, 24, 0, 0, 3, 0, 0, 0,                          // ifaddrmsg
            8, 0, 2, 0, 10, 77, 0, 2,                         // IFA_LOCAL
            8, 0, 1, 0, 10, 77, 0, 2,                         // IFA_ADDRESS
        ];
        assert_eq!(msg, expected);
    }

    #[test]
    fn ipv6_delete_request_has_ifaddrmsg_then_address_only() {
        let addr: Ipv6Addr = "fe80::1".parse().expect("address");

        let body = ifaddrmsg_del(2, IpAddr::V6(addr), 64);

        let mut expected = vec![10, 64, 0, 0, 2, 0, 0, 0, 20, 0, 1, 0];
        expected.extend_from_slice(&addr.octets());
        assert_eq!(body, expected);
    }

    #[test]
    fn rtattr_pads_data_to_four_bytes_but_counts_it_unpadded() {
        let attr = rtattr(IFLA_ADDRESS, &[1, 2, 3, 4, 5, 6]);

        assert_eq!(attr, [10, 0, 1, 0, 1, 2, 3, 4, 5, 6, 0, 0]);
    }

    #[test]
    fn getlink_request_names_the_interface_by_index() {
        let body = ifinfomsg(5).expect("index fits");

        assert_eq!(body, [0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn sockaddr_ll_names_the_index_and_eth_p_all_in_network_order() {
        let sa = sockaddr_ll(4).expect("index fits");

        assert_eq!(sa, [17, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    /// An `NLMSG_ERROR` answer to `seq` with `error`.
    fn nlmsgerr(seq: u32, error: i32) -> Vec<u8> {
        let mut body = error.to_ne_bytes().to_vec();
        body.extend(nlmsg(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq, &[]).expect("small message"));
        nlmsg(NLMSG_ERROR, 0, seq, &body).expect("small message")
    }

    #[test]
    fn zero_error_is_an_ack() {
        let buf = nlmsgerr(3, 0);

        assert_eq!(answer(&buf, 3), Some(Ok((NLMSG_ERROR, &[][..]))));
    }

    #[test]
    fn negative_error_is_the_errno() {
        let buf = nlmsgerr(3, -libc::EADDRNOTAVAIL);

        assert_eq!(answer(&buf, 3), Some(Err(libc::EADDRNOTAVAIL)));
    }

    #[test]
    fn answer_to_an_earlier_request_is_skipped() {
        let mut buf = nlmsgerr(2, -libc::EPERM);
        buf.extend(nlmsgerr(3, 0));

        assert_eq!((answer(&buf, 3), answer(&buf[..buf.len() / 2], 3)), (Some(Ok((NLMSG_ERROR, &[][..]))), None));
    }

    #[test]
    fn newlink_gives_type_mac_and_mtu() {
        let mut payload = vec![0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        payload.extend(rtattr(3, b"bws\0"));
        payload.extend(rtattr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 9]));
        payload.extend(rtattr(IFLA_MTU, &1500u32.to_ne_bytes()));

        let link = parse_link(&payload);

        assert_eq!(link, Some((ARPHRD_ETHER, Some([2, 0, 0, 0, 0, 9]), Some(1500))));
    }

    const ROUTE: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
bws\t00000000\t01004D0A\t0003\t0\t0\t100\t00000000\t0\t0\t0
bws\t00000000\t02004D0A\t0003\t0\t0\t50\t00000000\t0\t0\t0
bws\t00004D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn ipv4_gateway_is_the_lowest_metric_default_route_of_the_interface() {
        let gw = ipv4_gateway(ROUTE, "bws");

        assert_eq!(gw, Some(Ipv4Addr::new(10, 77, 0, 2)));
    }

    #[test]
    fn ipv4_gateway_of_an_interface_without_default_route_is_none() {
        let gw = ipv4_gateway(ROUTE, "eth0");

        assert_eq!(gw, None);
    }

    const IPV6_ROUTE: &str = "\
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     bws
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     bws
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    #[test]
    fn ipv6_gateway_is_the_next_hop_of_the_interface_default_route() {
        let gw = ipv6_gateway(IPV6_ROUTE, "bws");

        assert_eq!(gw, Some("fe80::1".parse().expect("address")));
    }

    #[test]
    fn ipv6_default_route_without_next_hop_is_no_gateway() {
        let gw = ipv6_gateway(IPV6_ROUTE, "lo");

        assert_eq!(gw, None);
    }

    #[test]
    fn netns_of_a_known_initial_process_is_initial() {
        let initial = is_initial_netns((4, 0xF000_0098), &[(4, 0xF000_0001), (4, 0xF000_0098)]);

        assert_eq!(initial, Some(true));
    }

    #[test]
    fn netns_with_the_fixed_initial_inode_is_initial_without_references() {
        let initial = is_initial_netns((4, NET_NS_INIT_INO), &[]);

        assert_eq!(initial, Some(true));
    }

    #[test]
    fn netns_unlike_the_references_is_not_initial_and_without_any_is_unknown() {
        let ours = (4, 0xF000_0200);

        assert_eq!((is_initial_netns(ours, &[(4, 0xF000_0098)]), is_initial_netns(ours, &[])), (Some(false), None));
    }

    #[test]
    fn netmask_gives_its_prefix_length() {
        let masks =
            [IpAddr::V4(Ipv4Addr::new(255, 255, 255, 0)), IpAddr::V6("ffff:ffff:ffff:ffff::".parse().expect("mask"))];

        assert_eq!(masks.map(prefix_len), [24, 64]);
    }
}
