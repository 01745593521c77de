//! `NETLINK_ROUTE` as the sandbox's kernel answers it, for the sandbox's
//! interfaces: `lo` (127.0.0.1/8, ::1/128) and, with `--network sandbox`,
//! the Ethernet interface of the user-space stack (`stack::interface`).
//! Enough for glibc's `getifaddrs` and `if_nameindex`, and for iproute2's
//! `ip link` and `ip addr`. Requests are answered at once: the replies are
//! queued on the requesting socket. Changes (`RTM_NEWADDR` from the
//! application, ...) are refused with `EPERM`; other requests get
//! `EOPNOTSUPP`, both as netlink error messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use abi::Errno;

use crate::net::stack::IfInfo;

/// `struct nlmsghdr` fields and flags (linux/netlink.h).
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
/// An attribute type's flags (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`) off.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// rtnetlink message types (linux/rtnetlink.h).
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_GETROUTE: u16 = 26;
const RTM_GETNEIGH: u16 = 30;
const RTM_GETRULE: u16 = 34;
/// One past the last rtnetlink message type Linux defines.
const RTM_MAX: u16 = 128;

/// `sizeof(struct ifinfomsg)`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;

/// Link attributes (linux/if_link.h).
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_QDISC: u16 = 6;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_GROUP: u16 = 27;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_NUM_TX_QUEUES: u16 = 31;
const IFLA_NUM_RX_QUEUES: u16 = 32;
const IFLA_CARRIER: u16 = 33;
const IFLA_MIN_MTU: u16 = 50;
const IFLA_MAX_MTU: u16 = 51;
const IFLA_ALT_IFNAME: u16 = 53;

/// Address attributes (linux/if_addr.h).
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_PROTO: u16 = 11;
/// Who added an address (`IFAPROT_*`): the kernel, for `lo`'s ::1 and for
/// a link-local address it derived from the MAC address.
const IFAPROT_KERNEL_LO: u8 = 1;
const IFAPROT_KERNEL_LL: u8 = 3;
const IFA_F_PERMANENT: u8 = 0x80;

/// Address scopes (`enum rt_scope_t`).
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_SITE: u8 = 200;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_HOST: u8 = 254;

/// Link-layer types (linux/if_arp.h).
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;

/// Interface flags (`enum net_device_flags`, linux/if.h).
const IFF_UP: u32 = 0x1;
const IFF_BROADCAST: u32 = 0x2;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_RUNNING: u32 = 0x40;
const IFF_MULTICAST: u32 = 0x1000;
const IFF_LOWER_UP: u32 = 0x1_0000;

/// Operational states (RFC 2863, `IF_OPER_*`).
const IF_OPER_UNKNOWN: u8 = 0;
const IF_OPER_UP: u8 = 6;

/// The transmit queue length Linux gives `lo` and Ethernet devices.
const TXQLEN: u32 = 1000;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// One of the sandbox's network interfaces, as its kernel describes it:
/// here, in the `SIOCGIF*` ioctls, and in `/proc/net/dev` and `if_inet6`.
/// Every one is up and running.
#[derive(Clone, Copy, Debug)]
pub struct Iface<'a> {
    pub name: &'a str,
    pub index: u32,
    /// The loopback `lo`; any other is an Ethernet interface.
    pub loopback: bool,
    pub mac: [u8; 6],
    pub mtu: u32,
    /// Addresses with their prefix lengths.
    pub addrs: &'a [(IpAddr, u8)],
}

static LO_ADDRS: [(IpAddr, u8); 2] = [(IpAddr::V4(Ipv4Addr::LOCALHOST), 8), (IpAddr::V6(Ipv6Addr::LOCALHOST), 128)];

/// The loopback interface every sandbox has.
const LO: Iface<'static> = Iface { name: "lo", index: 1, loopback: true, mac: [0; 6], mtu: 65536, addrs: &LO_ADDRS };

impl<'a> Iface<'a> {
    fn ether(info: &'a IfInfo) -> Iface<'a> {
        Iface { name: &info.name, index: info.index, loopback: false, mac: info.mac, mtu: info.mtu, addrs: &info.addrs }
    }

    /// `ifi_flags`: up, running, with a carrier.
    pub fn flags(&self) -> u32 {
        if self.loopback {
            IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP
        } else {
            IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP
        }
    }

    /// The link-layer type (`ARPHRD_*`).
    fn hw_type(&self) -> u16 {
        if self.loopback {
            ARPHRD_LOOPBACK
        } else {
            ARPHRD_ETHER
        }
    }

    /// The link-layer broadcast address (`lo`'s is all zeros).
    fn hw_broadcast(&self) -> [u8; 6] {
        if self.loopback {
            [0; 6]
        } else {
            [0xff; 6]
        }
    }

    /// The addresses, each prefix length at most the address's width.
    pub fn ips(&self) -> impl Iterator<Item = (IpAddr, u8)> + 'a {
        self.addrs.iter().map(|&(a, p)| (a, if a.is_ipv4() { p.min(32) } else { p.min(128) }))
    }

    /// The IPv4 addresses (the first is the primary one).
    pub fn ipv4(&self) -> impl Iterator<Item = (Ipv4Addr, u8)> + 'a {
        self.ips().filter_map(|(a, p)| match a {
            IpAddr::V4(v4) => Some((v4, p)),
            IpAddr::V6(_) => None,
        })
    }

    /// The IPv6 addresses.
    pub fn ipv6(&self) -> impl Iterator<Item = (Ipv6Addr, u8)> + 'a {
        self.ips().filter_map(|(a, p)| match a {
            IpAddr::V6(v6) => Some((v6, p)),
            IpAddr::V4(_) => None,
        })
    }

    /// The broadcast address of `a`/`prefix` here: the host bits set, as
    /// `ip addr add ... brd +` gives it, for prefixes up to /30 (a /31 or
    /// /32 has none). `lo`'s 127.0.0.1/8 has none either, as on Linux.
    pub fn broadcast(&self, a: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
        (!self.loopback && prefix <= 30).then(|| Ipv4Addr::from(u32::from(a) | !u32::from(netmask(prefix))))
    }
}

/// The sandbox's interfaces: `lo`, then `eth` (the Ethernet interface of
/// `--network sandbox`) if there is one.
pub fn interfaces(eth: Option<&IfInfo>) -> Vec<Iface<'_>> {
    std::iter::once(LO).chain(eth.map(Iface::ether)).collect()
}

/// The IPv4 netmask of a prefix length.
pub fn netmask(prefix: u8) -> Ipv4Addr {
    let host_bits = 32 - u32::from(prefix.min(32));
    Ipv4Addr::from(u32::MAX.checked_shl(host_bits).unwrap_or(0))
}

/// The scope of an IPv6 address, which Linux derives from the address:
/// host for ::1, link for fe80::/10, site for fec0::/10, else universe.
pub fn scope6(a: Ipv6Addr) -> u8 {
    let top = a.segments()[0] & 0xffc0;
    if a.is_loopback() {
        RT_SCOPE_HOST
    } else if top == 0xfe80 {
        RT_SCOPE_LINK
    } else if top == 0xfec0 {
        RT_SCOPE_SITE
    } else {
        RT_SCOPE_UNIVERSE
    }
}

/// The scope of an IPv4 address: host for 127/8 (as Linux's `lo` has
/// it), else universe (`ip addr add`'s default).
fn scope4(a: Ipv4Addr) -> u8 {
    if a.is_loopback() {
        RT_SCOPE_HOST
    } else {
        RT_SCOPE_UNIVERSE
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The `rtattr`s in `buf` (type without its flags, payload), up to the
/// first malformed one.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*buf.first()?, *buf.get(1)?]));
        let ty = u16::from_ne_bytes([*buf.get(2)?, *buf.get(3)?]);
        let payload = buf.get(4..len)?;
        buf = buf.get(align4(len)..).unwrap_or_default();
        Some((ty & NLA_TYPE_MASK, payload))
    })
}

/// One netlink message under construction.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, port: u32) -> Msg {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        buf[12..16].copy_from_slice(&port.to_ne_bytes());
        Msg { buf }
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Msg {
        self.buf.extend_from_slice(b);
        self
    }

    /// An `rtattr`: length, type, payload, padded to 4 bytes.
    fn attr(&mut self, ty: u16, payload: &[u8]) -> &mut Msg {
        let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn u32_attr(&mut self, ty: u16, v: u32) -> &mut Msg {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// A NUL-terminated string attribute.
    fn str_attr(&mut self, ty: u16, s: &str) -> &mut Msg {
        self.attr(ty, &[s.as_bytes(), &[0]].concat())
    }

    fn done(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `i`'s `RTM_NEWLINK`, with `flags` (`NLM_F_MULTI` in a dump), its
/// attributes in Linux's order.
fn link(i: &Iface<'_>, flags: u16, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWLINK, flags, seq, port);
    // struct ifinfomsg: family, pad, type, index, flags, change.
    m.bytes(&[AF_UNSPEC, 0])
        .bytes(&i.hw_type().to_ne_bytes())
        .bytes(&i.index.to_ne_bytes())
        .bytes(&i.flags().to_ne_bytes())
        .bytes(&0u32.to_ne_bytes());
    // Linux's `lo` has no carrier to report (its state is unknown) and no
    // MTU bounds; an Ethernet device is up, its MTU from 68 (RFC 791's
    // minimum) to 65535.
    let (operstate, min_mtu, max_mtu) = if i.loopback { (IF_OPER_UNKNOWN, 0, 0) } else { (IF_OPER_UP, 68, 65535) };
    m.str_attr(IFLA_IFNAME, i.name)
        .u32_attr(IFLA_TXQLEN, TXQLEN)
        .attr(IFLA_OPERSTATE, &[operstate])
        .attr(IFLA_LINKMODE, &[0])
        .u32_attr(IFLA_MTU, i.mtu)
        .u32_attr(IFLA_MIN_MTU, min_mtu)
        .u32_attr(IFLA_MAX_MTU, max_mtu)
        .u32_attr(IFLA_GROUP, 0)
        .u32_attr(IFLA_PROMISCUITY, 0)
        .u32_attr(IFLA_NUM_TX_QUEUES, 1)
        .u32_attr(IFLA_NUM_RX_QUEUES, 1)
        .attr(IFLA_CARRIER, &[1])
        .attr(IFLA_ADDRESS, &i.mac)
        .attr(IFLA_BROADCAST, &i.hw_broadcast())
        .str_attr(IFLA_QDISC, "noqueue");
    m.done()
}

/// `RTM_NEWADDR` for address `a`/`prefix` of `i`, its attributes in
/// Linux's order.
fn address(i: &Iface<'_>, a: IpAddr, prefix: u8, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWADDR, NLM_F_MULTI, seq, port);
    let (family, scope) = match a {
        IpAddr::V4(v4) => (AF_INET, scope4(v4)),
        IpAddr::V6(v6) => (AF_INET6, scope6(v6)),
    };
    // struct ifaddrmsg: family, prefixlen, flags (low byte), scope, index.
    m.bytes(&[family, prefix, IFA_F_PERMANENT, scope]).bytes(&i.index.to_ne_bytes());
    // struct ifa_cacheinfo: preferred and valid lifetimes (forever), and
    // the creation and update stamps.
    let mut cacheinfo = Vec::new();
    for v in [u32::MAX, u32::MAX, 0, 0] {
        cacheinfo.extend_from_slice(&v.to_ne_bytes());
    }
    let flags = u32::from(IFA_F_PERMANENT);
    match a {
        IpAddr::V4(v4) => {
            m.attr(IFA_ADDRESS, &v4.octets()).attr(IFA_LOCAL, &v4.octets());
            if let Some(b) = i.broadcast(v4, prefix) {
                m.attr(IFA_BROADCAST, &b.octets());
            }
            m.str_attr(IFA_LABEL, i.name).u32_attr(IFA_FLAGS, flags).attr(IFA_CACHEINFO, &cacheinfo);
        }
        IpAddr::V6(v6) => {
            m.attr(IFA_ADDRESS, &v6.octets()).attr(IFA_CACHEINFO, &cacheinfo).u32_attr(IFA_FLAGS, flags);
            // Linux (6.3 on) says which addresses it made itself; the
            // Ethernet interface's fe80:: one came from the host kernel.
            match scope {
                RT_SCOPE_HOST => m.attr(IFA_PROTO, &[IFAPROT_KERNEL_LO]),
                RT_SCOPE_LINK => m.attr(IFA_PROTO, &[IFAPROT_KERNEL_LL]),
                _ => &mut m,
            };
        }
    }
    m.done()
}

/// `NLMSG_DONE` closing a dump.
fn done(seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(NLMSG_DONE, NLM_F_MULTI, seq, port);
    m.bytes(&0i32.to_ne_bytes());
    m.done()
}

/// `NLMSG_ERROR` for `request`: `err` 0 is an acknowledgement.
fn error(request: &[u8], seq: u32, port: u32, err: Option<Errno>) -> Vec<u8> {
    let mut m = Msg::new(NLMSG_ERROR, 0, seq, port);
    let code = err.map_or(0, |e| -(e as i32));
    m.bytes(&code.to_ne_bytes());
    // The request's header comes back (its payload too, for an error).
    let echoed = if err.is_some() { request } else { &request[..NLMSG_HDRLEN.min(request.len())] };
    m.bytes(echoed);
    m.done()
}

/// The interface a single `RTM_GETLINK` (its payload `req`) asks for: by
/// `ifi_index` if that is positive, else by `IFLA_IFNAME` or
/// `IFLA_ALT_IFNAME`, as Linux's `rtnl_getlink` looks it up.
fn find_link<'i, 'a>(ifaces: &'i [Iface<'a>], req: &[u8]) -> Result<&'i Iface<'a>, Errno> {
    let (head, rest) = req.split_at_checked(IFINFOMSG_LEN).ok_or(Errno::EINVAL)?;
    let index = i32::from_ne_bytes([head[4], head[5], head[6], head[7]]);
    let found = if index > 0 {
        ifaces.iter().find(|i| u32::try_from(index) == Ok(i.index))
    } else {
        let (_, name) = attrs(rest).find(|&(ty, _)| ty == IFLA_IFNAME || ty == IFLA_ALT_IFNAME).ok_or(Errno::EINVAL)?;
        let name = name.split(|&b| b == 0).next().unwrap_or_default();
        ifaces.iter().find(|i| i.name.as_bytes() == name)
    };
    found.ok_or(Errno::ENODEV)
}

/// The replies to the messages in `data`, sent by port `port`.
pub fn answer(data: &[u8], port: u32) -> Vec<Vec<u8>> {
    answer_for(&interfaces(crate::net::stack::interface()), data, port)
}

/// The replies to the messages in `data` about interfaces `ifaces`.
fn answer_for(ifaces: &[Iface<'_>], data: &[u8], port: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= data.len() {
        let h = &data[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < NLMSG_HDRLEN || off + len > data.len() {
            break;
        }
        let msg = &data[off..off + len];
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        let flags = u16::from_ne_bytes([h[6], h[7]]);
        let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        // The family filter of a dump: the first byte of the payload.
        let family = msg.get(NLMSG_HDRLEN).copied().unwrap_or(AF_UNSPEC);
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        if flags & NLM_F_REQUEST == 0 {
            // Not a request: the kernel ignores it.
        } else if dump && ty == RTM_GETLINK {
            out.extend(ifaces.iter().map(|i| link(i, NLM_F_MULTI, seq, port)));
            out.push(done(seq, port));
        } else if dump && ty == RTM_GETADDR {
            // Linux dumps one family after the other; a family with no
            // addresses of its own (AF_PACKET, ...) gets them all.
            for f in [AF_INET, AF_INET6] {
                if family == f || !matches!(family, AF_INET | AF_INET6) {
                    for i in ifaces {
                        let of_f = i.ips().filter(|(a, _)| a.is_ipv4() == (f == AF_INET));
                        out.extend(of_f.map(|(a, p)| address(i, a, p, seq, port)));
                    }
                }
            }
            out.push(done(seq, port));
        } else if dump && matches!(ty, RTM_GETROUTE | RTM_GETNEIGH | RTM_GETRULE) {
            // No routes, neighbours or rules to show.
            out.push(done(seq, port));
        } else if ty == RTM_GETLINK {
            // A single answer is not part of a multipart dump.
            out.push(match find_link(ifaces, &msg[NLMSG_HDRLEN..]) {
                Ok(i) => link(i, 0, seq, port),
                Err(e) => error(msg, seq, port, Some(e)),
            });
        } else if (RTM_NEWLINK..RTM_MAX).contains(&ty) && (ty - RTM_NEWLINK) % 4 != 2 {
            // rtnetlink types come in fours (NEW, DEL, GET, SET): a change.
            out.push(error(msg, seq, port, Some(Errno::EPERM)));
        } else {
            out.push(error(msg, seq, port, Some(Errno::EOPNOTSUPP)));
        }
        if flags & NLM_F_ACK != 0 && !dump && out.last().is_none_or(|m| m.get(4..6) != Some(&NLMSG_ERROR.to_ne_bytes()))
        {
            out.push(error(msg, seq, port, None));
        }
        off += align4(len);
    }
    out
}

/// Interface requests (`SIOCGIF*` ioctls on any socket), answered for the
/// sandbox's interfaces.
pub mod ifreq {
    use std::net::Ipv4Addr;

    use abi::Errno;

    use super::{interfaces, netmask, Iface, TXQLEN};
    use crate::vfs::{KResult, UserMem};

    const SIOCGIFNAME: u32 = 0x8910;
    const SIOCGIFCONF: u32 = 0x8912;
    const SIOCGIFFLAGS: u32 = 0x8913;
    const SIOCGIFADDR: u32 = 0x8915;
    const SIOCGIFDSTADDR: u32 = 0x8917;
    const SIOCGIFBRDADDR: u32 = 0x8919;
    const SIOCGIFNETMASK: u32 = 0x891b;
    const SIOCGIFMETRIC: u32 = 0x891d;
    const SIOCGIFMTU: u32 = 0x8921;
    const SIOCGIFHWADDR: u32 = 0x8927;
    const SIOCGIFINDEX: u32 = 0x8933;
    const SIOCGIFTXQLEN: u32 = 0x8942;
    const SIOCGIFMAP: u32 = 0x8970;
    const SIOCSIFMAP: u32 = 0x8971;
    /// The requests that read one interface, named in the request.
    const GETS: [u32; 12] = [
        SIOCGIFINDEX,
        SIOCGIFFLAGS,
        SIOCGIFMTU,
        SIOCGIFMETRIC,
        SIOCGIFTXQLEN,
        SIOCGIFMAP,
        SIOCGIFHWADDR,
        SIOCGIFADDR,
        SIOCGIFDSTADDR,
        SIOCGIFBRDADDR,
        SIOCGIFNETMASK,
        SIOCGIFNAME,
    ];
    /// SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFDSTADDR, SIOCSIFBRDADDR,
    /// SIOCSIFNETMASK, SIOCSIFMETRIC, SIOCSIFMTU, SIOCSIFNAME,
    /// SIOCSIFHWADDR, SIOCSIFTXQLEN, SIOCSIFMAP.
    const SETS: [u32; 11] =
        [0x8914, 0x8916, 0x8918, 0x891a, 0x891c, 0x891e, 0x8922, 0x8923, 0x8924, 0x8943, SIOCSIFMAP];
    /// `sizeof(struct ifreq)`: a 16-byte name, then a 24-byte union.
    const IFREQ_LEN: usize = 40;
    /// `IFNAMSIZ`, with the name's NUL.
    const IFNAMSIZ: usize = 16;

    /// Whether `req` is an interface request this module answers.
    pub fn is_ifreq(req: u32) -> bool {
        (0x8910..=0x8961).contains(&req) || matches!(req, SIOCGIFMAP | SIOCSIFMAP)
    }

    /// `struct sockaddr_in` for `ip`.
    fn sockaddr_in(ip: Ipv4Addr) -> [u8; 16] {
        let mut sa = [0u8; 16];
        sa[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        sa[4..8].copy_from_slice(&ip.octets());
        sa
    }

    /// `ifr_name` for `i`: its name, NUL-padded.
    fn ifr_name(i: &Iface<'_>) -> [u8; IFNAMSIZ] {
        let mut n = [0u8; IFNAMSIZ];
        let name = i.name.as_bytes();
        let len = name.len().min(IFNAMSIZ - 1);
        n[..len].copy_from_slice(&name[..len]);
        n
    }

    /// Answer interface request `req` with its `struct ifreq` (or, for
    /// `SIOCGIFCONF`, `struct ifconf`) at `arg`.
    pub fn ioctl(req: u32, arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        ioctl_for(&interfaces(crate::net::stack::interface()), req, arg, mem)
    }

    /// `ioctl` about interfaces `ifaces`.
    pub(super) fn ioctl_for(ifaces: &[Iface<'_>], req: u32, arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        if req == SIOCGIFCONF {
            return ifconf(ifaces, arg, mem);
        }
        let mut r = [0u8; IFREQ_LEN];
        mem.read_bytes(arg, &mut r)?;
        fill(ifaces, req, &mut r)?;
        mem.write_bytes(arg, &r)?;
        Ok(0)
    }

    /// Answer `req` in `r`, a `struct ifreq`. As on Linux, only the field
    /// the request reads is written: the rest of the union stays as the
    /// application left it.
    fn fill(ifaces: &[Iface<'_>], req: u32, r: &mut [u8; IFREQ_LEN]) -> KResult<()> {
        // The SIOCSIF* requests change an interface: not from inside.
        if SETS.contains(&req) {
            return Err(Errno::EPERM);
        }
        if !GETS.contains(&req) {
            return Err(Errno::EINVAL);
        }
        let put = |off: usize, b: &[u8], r: &mut [u8; IFREQ_LEN]| r[off..off + b.len()].copy_from_slice(b);
        let i = if req == SIOCGIFNAME {
            let index = i32::from_ne_bytes([r[16], r[17], r[18], r[19]]);
            ifaces.iter().find(|i| u32::try_from(index) == Ok(i.index))
        } else {
            // The kernel reads at most IFNAMSIZ - 1 bytes of the name.
            let name = &r[..IFNAMSIZ - 1];
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            ifaces.iter().find(|i| i.name.as_bytes() == name)
        };
        let i = i.ok_or(Errno::ENODEV)?;
        match req {
            SIOCGIFNAME => {
                // The name and its NUL; the last byte is always NUL.
                let name = ifr_name(i);
                let len = i.name.len().min(IFNAMSIZ - 1);
                put(0, &name[..=len], r);
                r[IFNAMSIZ - 1] = 0;
            }
            SIOCGIFINDEX => put(16, &i.index.to_ne_bytes(), r),
            // ifr_flags is a short: IFF_LOWER_UP and above do not fit.
            SIOCGIFFLAGS => put(16, &u16::try_from(i.flags() & 0xffff).unwrap_or_default().to_ne_bytes(), r),
            SIOCGIFMTU => put(16, &i.mtu.to_ne_bytes(), r),
            SIOCGIFMETRIC => put(16, &0u32.to_ne_bytes(), r),
            SIOCGIFTXQLEN => put(16, &TXQLEN.to_ne_bytes(), r),
            // struct ifmap: no memory, I/O port, IRQ or DMA channel (its
            // 21 bytes of fields; the padding is left alone).
            SIOCGIFMAP => put(16, &[0; 21], r),
            // struct sockaddr: the link-layer type and the 6-byte address.
            SIOCGIFHWADDR => {
                put(16, &i.hw_type().to_ne_bytes(), r);
                put(18, &i.mac, r);
            }
            _ => {
                // SIOCGIFADDR, DSTADDR, BRDADDR, NETMASK: about the
                // interface's primary IPv4 address.
                let (a, prefix) = i.ipv4().next().ok_or(Errno::EADDRNOTAVAIL)?;
                let v = match req {
                    SIOCGIFBRDADDR => i.broadcast(a, prefix).unwrap_or(Ipv4Addr::UNSPECIFIED),
                    SIOCGIFNETMASK => netmask(prefix),
                    // Without a point-to-point peer, the destination is
                    // the address itself.
                    _ => a,
                };
                put(16, &sockaddr_in(v), r);
            }
        }
        Ok(())
    }

    /// `SIOCGIFCONF`: one `struct ifreq` per IPv4 address, named by its
    /// interface, as many as fit whole in the buffer (with no buffer, the
    /// length they all need).
    fn ifconf(ifaces: &[Iface<'_>], arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        // struct ifconf { int ifc_len; (pad); char *ifc_buf; }
        let mut c = [0u8; 16];
        mem.read_bytes(arg, &mut c)?;
        let len = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
        let buf = u64::from_ne_bytes([c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]]);
        let mut entries = Vec::new();
        for i in ifaces {
            for (a, _) in i.ipv4() {
                let mut e = [0u8; IFREQ_LEN];
                e[..IFNAMSIZ].copy_from_slice(&ifr_name(i));
                e[16..32].copy_from_slice(&sockaddr_in(a));
                entries.push(e);
            }
        }
        let n =
            if buf == 0 { entries.len() } else { (usize::try_from(len).unwrap_or(0) / IFREQ_LEN).min(entries.len()) };
        if buf != 0 && n > 0 {
            mem.write_bytes(buf, &entries[..n].concat())?;
        }
        let wrote = i32::try_from(n * IFREQ_LEN).unwrap_or(i32::MAX);
        c[..4].copy_from_slice(&wrote.to_ne_bytes());
        mem.write_bytes(arg, &c[..4])?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ty: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Msg::new(ty, flags, 7, 0);
        m.bytes(payload);
        m.done()
    }

    fn types(replies: &[Vec<u8>]) -> Vec<u16> {
        replies.iter().map(|r| u16::from_ne_bytes([r[4], r[5]])).collect()
    }

    /// An Ethernet interface as `--network sandbox` gives it.
    fn eth0() -> IfInfo {
        IfInfo {
            name: "eth0".into(),
            index: 2,
            mac: [0x02, 0x42, 0xac, 0x11, 0x00, 0x02],
            mtu: 1500,
            addrs: vec![
                ("10.0.2.15".parse().expect("address"), 24),
                ("fd00::2".parse().expect("address"), 64),
                ("fe80::42:acff:fe11:2".parse().expect("address"), 64),
            ],
        }
    }

    /// The payload of attribute `ty` of message `m`, whose fixed header
    /// after the netlink one is `fixed` bytes long.
    fn attr(m: &[u8], fixed: usize, ty: u16) -> Option<Vec<u8>> {
        attrs(&m[NLMSG_HDRLEN + fixed..]).find(|&(t, _)| t == ty).map(|(_, p)| p.to_vec())
    }

    fn u32_at(m: &[u8], off: usize) -> u32 {
        u32::from_ne_bytes([m[off], m[off + 1], m[off + 2], m[off + 3]])
    }

    /// Each reply's length field matches its length.
    fn lengths_agree(replies: &[Vec<u8>]) -> bool {
        replies.iter().all(|r| u32_at(r, 0) as usize == r.len())
    }

    #[test]
    fn dumps_describe_lo_and_end_with_done() {
        let link = answer(&request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &[0; 16]), 42);
        assert_eq!(types(&link), vec![RTM_NEWLINK, NLMSG_DONE]);
        assert!(link[0].windows(3).any(|w| w == b"lo\0"));
        let v4 = answer(&request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &[AF_INET, 0, 0, 0, 0, 0, 0, 0]), 42);
        assert_eq!(types(&v4), vec![RTM_NEWADDR, NLMSG_DONE]);
        let all = answer(&request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &[0; 8]), 42);
        assert_eq!(types(&all), vec![RTM_NEWADDR, RTM_NEWADDR, NLMSG_DONE]);
        // Replies carry the request's sequence number and the port.
        assert_eq!(&all[0][8..12], &7u32.to_ne_bytes());
        assert_eq!(&all[0][12..16], &42u32.to_ne_bytes());
    }

    #[test]
    fn changes_are_refused_and_unknown_requests_unsupported() {
        let e = answer(&request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK, &[0; 8]), 1);
        assert_eq!(types(&e), vec![NLMSG_ERROR]);
        assert_eq!(&e[0][16..20], &(-(Errno::EPERM as i32)).to_ne_bytes());
        let u = answer(&request(9999, NLM_F_REQUEST, &[]), 1);
        assert_eq!(&u[0][16..20], &(-(Errno::EOPNOTSUPP as i32)).to_ne_bytes());
    }

    #[test]
    fn malformed_input_is_ignored_without_panicking() {
        for data in [
            vec![],
            vec![0xff; 3],
            vec![0xff; 64],
            // A length below the header's, and one past the buffer.
            request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &[])[..15].to_vec(),
            {
                let mut r = request(RTM_GETLINK, NLM_F_REQUEST, &[]);
                r[0..4].copy_from_slice(&1000u32.to_ne_bytes());
                r
            },
            {
                let mut r = request(RTM_GETLINK, NLM_F_REQUEST, &[]);
                r[0..4].copy_from_slice(&4u32.to_ne_bytes());
                r
            },
        ] {
            let _ = answer(&data, 1);
        }
        // A single-link request with no payload: no index to read.
        let r = answer(&request(RTM_GETLINK, NLM_F_REQUEST, &[]), 1);
        assert_eq!(types(&r), vec![NLMSG_ERROR]);
    }

    #[test]
    fn link_dump_lists_lo_then_the_ethernet_interface_up() {
        let eth = eth0();
        let ifaces = interfaces(Some(&eth));
        let r = answer_for(&ifaces, &request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &[0; 16]), 42);
        assert_eq!(types(&r), vec![RTM_NEWLINK, RTM_NEWLINK, NLMSG_DONE]);
        assert!(lengths_agree(&r));
        let (lo, e) = (&r[0], &r[1]);
        assert_eq!(u32_at(lo, 20), 1);
        assert_eq!(attr(lo, IFINFOMSG_LEN, IFLA_IFNAME), Some(b"lo\0".to_vec()));
        // struct ifinfomsg: type ARPHRD_ETHER, index 2, flags 0x11043.
        assert_eq!(&e[18..20], &ARPHRD_ETHER.to_ne_bytes());
        assert_eq!(u32_at(e, 20), 2);
        assert_eq!(u32_at(e, 24), 0x1_1043);
        assert_eq!(attr(e, IFINFOMSG_LEN, IFLA_IFNAME), Some(b"eth0\0".to_vec()));
        assert_eq!(attr(e, IFINFOMSG_LEN, IFLA_MTU), Some(1500u32.to_ne_bytes().to_vec()));
        assert_eq!(attr(e, IFINFOMSG_LEN, IFLA_ADDRESS), Some(eth.mac.to_vec()));
        assert_eq!(attr(e, IFINFOMSG_LEN, IFLA_BROADCAST), Some(vec![0xff; 6]));
        assert_eq!(attr(e, IFINFOMSG_LEN, IFLA_OPERSTATE), Some(vec![IF_OPER_UP]));
        assert_eq!(attr(e, IFINFOMSG_LEN, IFLA_TXQLEN), Some(1000u32.to_ne_bytes().to_vec()));
        assert_eq!(attr(e, IFINFOMSG_LEN, IFLA_CARRIER), Some(vec![1]));
    }

    #[test]
    fn without_an_ethernet_interface_only_lo_is_described() {
        let r = answer_for(&interfaces(None), &request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &[0; 16]), 42);
        assert_eq!(types(&r), vec![RTM_NEWLINK, NLMSG_DONE]);
    }

    #[test]
    fn address_dump_gives_each_family_in_turn_with_prefixes_scopes_and_broadcast() {
        let eth = eth0();
        let ifaces = interfaces(Some(&eth));
        let r = answer_for(&ifaces, &request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &[0; 8]), 42);
        assert_eq!(types(&r), vec![RTM_NEWADDR; 5].into_iter().chain([NLMSG_DONE]).collect::<Vec<_>>());
        assert!(lengths_agree(&r));
        // struct ifaddrmsg (family, prefix, flags, scope, index) of each:
        // lo's and eth0's IPv4 addresses, then lo's and eth0's IPv6 ones.
        let heads: Vec<(u8, u8, u8, u32)> = r[..5].iter().map(|m| (m[16], m[17], m[19], u32_at(m, 20))).collect();
        assert_eq!(
            heads,
            vec![
                (AF_INET, 8, RT_SCOPE_HOST, 1),
                (AF_INET, 24, RT_SCOPE_UNIVERSE, 2),
                (AF_INET6, 128, RT_SCOPE_HOST, 1),
                (AF_INET6, 64, RT_SCOPE_UNIVERSE, 2),
                (AF_INET6, 64, RT_SCOPE_LINK, 2),
            ]
        );
        let v4 = &r[1];
        assert_eq!(attr(v4, 8, IFA_LOCAL), Some(vec![10, 0, 2, 15]));
        assert_eq!(attr(v4, 8, IFA_ADDRESS), Some(vec![10, 0, 2, 15]));
        assert_eq!(attr(v4, 8, IFA_BROADCAST), Some(vec![10, 0, 2, 255]));
        assert_eq!(attr(v4, 8, IFA_LABEL), Some(b"eth0\0".to_vec()));
        // lo's 127.0.0.1/8 has no broadcast address, as on Linux.
        assert_eq!(attr(&r[0], 8, IFA_BROADCAST), None);
        let v6 = &r[4];
        let fe80: Ipv6Addr = "fe80::42:acff:fe11:2".parse().expect("address");
        assert_eq!(attr(v6, 8, IFA_ADDRESS), Some(fe80.octets().to_vec()));
        assert_eq!(attr(v6, 8, IFA_LOCAL), None);
        assert_eq!(attr(v6, 8, IFA_PROTO), Some(vec![IFAPROT_KERNEL_LL]));
        assert_eq!(attr(&r[3], 8, IFA_PROTO), None);
    }

    #[test]
    fn address_dump_filters_by_family_and_any_other_family_gets_all() {
        let eth = eth0();
        let ifaces = interfaces(Some(&eth));
        let dump = |family: u8| {
            let r = answer_for(&ifaces, &request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &[family, 0, 0, 0]), 1);
            r.len() - 1
        };
        assert_eq!((dump(AF_INET), dump(AF_INET6), dump(AF_UNSPEC), dump(17)), (2, 3, 5, 5));
    }

    #[test]
    fn no_broadcast_address_for_a_31_or_32_prefix() {
        let mut eth = eth0();
        eth.addrs = vec![("192.0.2.1".parse().expect("address"), 31), ("192.0.2.9".parse().expect("address"), 32)];
        let ifaces = interfaces(Some(&eth));
        let r = answer_for(&ifaces, &request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &[AF_INET, 0, 0, 0]), 1);
        assert_eq!(r[1..3].iter().map(|m| attr(m, 8, IFA_BROADCAST)).collect::<Vec<_>>(), vec![None, None]);
    }

    /// A single `RTM_GETLINK` for `index` and, if given, name attribute.
    fn getlink(index: i32, name: Option<&[u8]>) -> Vec<u8> {
        let mut m = Msg::new(RTM_GETLINK, NLM_F_REQUEST, 7, 0);
        m.bytes(&[AF_UNSPEC, 0, 0, 0]).bytes(&index.to_ne_bytes()).bytes(&[0; 8]);
        // IFLA_EXT_MASK first, as iproute2 sends it.
        m.u32_attr(29, 9);
        if let Some(n) = name {
            m.attr(IFLA_IFNAME, n);
        }
        m.done()
    }

    #[test]
    fn single_link_is_found_by_index_or_else_by_name() {
        let eth = eth0();
        let ifaces = interfaces(Some(&eth));
        let by_index = answer_for(&ifaces, &getlink(2, None), 1);
        let by_name = answer_for(&ifaces, &getlink(0, Some(b"eth0\0")), 1);
        let lo = answer_for(&ifaces, &getlink(0, Some(b"lo\0")), 1);
        assert_eq!(types(&by_index), vec![RTM_NEWLINK]);
        assert_eq!(by_index, by_name);
        // Not part of a dump: no NLM_F_MULTI.
        assert_eq!(&by_index[0][6..8], &0u16.to_ne_bytes());
        assert_eq!(u32_at(&by_index[0], 20), 2);
        assert_eq!(u32_at(&lo[0], 20), 1);
    }

    #[test]
    fn single_link_unknown_is_enodev_and_unnamed_is_einval() {
        let eth = eth0();
        let ifaces = interfaces(Some(&eth));
        let code = |req: Vec<u8>| answer_for(&ifaces, &req, 1)[0][16..20].to_vec();
        assert_eq!(code(getlink(3, None)), (-(Errno::ENODEV as i32)).to_ne_bytes());
        assert_eq!(code(getlink(0, Some(b"eth1\0"))), (-(Errno::ENODEV as i32)).to_ne_bytes());
        assert_eq!(code(getlink(0, None)), (-(Errno::EINVAL as i32)).to_ne_bytes());
    }

    #[test]
    fn truncated_attributes_end_the_walk_without_panicking() {
        let found = |b: &[u8]| attrs(b).count();
        assert_eq!(found(&[8, 0, 3, 0, b'l', b'o', 0, 0, 3, 0]), 1);
        assert_eq!(found(&[2, 0, 3, 0, 0, 0]), 0);
        assert_eq!(found(&[200, 0, 3, 0, 0, 0]), 0);
    }

    mod ifreq_ioctls {
        use std::cell::RefCell;

        use super::super::ifreq::ioctl_for;
        use super::*;
        use crate::vfs::{KResult, UserMem};

        /// Application memory: a flat buffer at address 0.
        struct Mem(RefCell<Vec<u8>>);

        impl UserMem for Mem {
            fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
                let a = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
                buf.copy_from_slice(self.0.borrow().get(a..a + buf.len()).ok_or(Errno::EFAULT)?);
                Ok(())
            }
            fn write_bytes(&self, addr: u64, buf: &[u8]) -> KResult<()> {
                let a = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
                self.0.borrow_mut().get_mut(a..a + buf.len()).ok_or(Errno::EFAULT)?.copy_from_slice(buf);
                Ok(())
            }
        }

        /// `req` on a `struct ifreq` naming `name` (and holding `index`):
        /// the struct afterwards.
        fn ifreq(info: &IfInfo, req: u32, name: &str, index: i32) -> KResult<Vec<u8>> {
            let mut r = vec![0u8; 40];
            r[..name.len()].copy_from_slice(name.as_bytes());
            r[16..20].copy_from_slice(&index.to_ne_bytes());
            let mem = Mem(RefCell::new(r));
            ioctl_for(&interfaces(Some(info)), req, 0, &mem)?;
            Ok(mem.0.into_inner())
        }

        #[test]
        fn ethernet_interface_answers_each_siocgif_request() {
            let eth = eth0();
            let sin = |a: [u8; 4]| [&2u16.to_ne_bytes()[..], &[0, 0], &a, &[0; 8]].concat();
            let union = |req| ifreq(&eth, req, "eth0", 0).map(|r| r[16..].to_vec());
            assert_eq!(union(0x8913).map(|u| u[..2].to_vec()), Ok(0x1043u16.to_ne_bytes().to_vec()));
            assert_eq!(union(0x8933).map(|u| u[..4].to_vec()), Ok(2u32.to_ne_bytes().to_vec()));
            assert_eq!(union(0x8921).map(|u| u[..4].to_vec()), Ok(1500u32.to_ne_bytes().to_vec()));
            assert_eq!(union(0x8915).map(|u| u[..16].to_vec()), Ok(sin([10, 0, 2, 15])));
            assert_eq!(union(0x891b).map(|u| u[..16].to_vec()), Ok(sin([255, 255, 255, 0])));
            assert_eq!(union(0x8919).map(|u| u[..16].to_vec()), Ok(sin([10, 0, 2, 255])));
            let hw = [&ARPHRD_ETHER.to_ne_bytes()[..], &eth.mac, &[0; 8]].concat();
            assert_eq!(union(0x8927).map(|u| u[..16].to_vec()), Ok(hw));
            assert_eq!(
                ifreq(&eth, 0x8910, "", 2).map(|r| r[..16].to_vec()),
                Ok(b"eth0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec())
            );
        }

        #[test]
        fn unknown_interface_is_enodev_and_no_ipv4_address_is_eaddrnotavail() {
            let mut eth = eth0();
            assert_eq!(ifreq(&eth, 0x8913, "eth1", 0), Err(Errno::ENODEV));
            assert_eq!(ifreq(&eth, 0x8910, "", 3), Err(Errno::ENODEV));
            eth.addrs.retain(|(a, _)| a.is_ipv6());
            assert_eq!(ifreq(&eth, 0x8915, "eth0", 0), Err(Errno::EADDRNOTAVAIL));
            assert_eq!(ifreq(&eth, 0x8914, "eth0", 0), Err(Errno::EPERM));
        }

        /// `SIOCGIFCONF` with a buffer of `room` bytes at 16: `ifc_len`
        /// and the names of the entries written.
        fn ifconf(info: &IfInfo, room: i32, with_buf: bool) -> (i32, Vec<String>) {
            let mut m = vec![0u8; 16 + 200];
            m[..4].copy_from_slice(&room.to_ne_bytes());
            m[8..16].copy_from_slice(&(if with_buf { 16u64 } else { 0 }).to_ne_bytes());
            let mem = Mem(RefCell::new(m));
            ioctl_for(&interfaces(Some(info)), 0x8912, 0, &mem).expect("SIOCGIFCONF");
            let m = mem.0.into_inner();
            let len = i32::from_ne_bytes([m[0], m[1], m[2], m[3]]);
            let names = m[16..]
                .chunks(40)
                .take_while(|e| e[0] != 0)
                .map(|e| String::from_utf8_lossy(e[..16].split(|&b| b == 0).next().unwrap_or_default()).into_owned())
                .collect();
            (len, names)
        }

        #[test]
        fn ifconf_lists_each_ipv4_address_that_fits_whole() {
            let eth = eth0();
            assert_eq!(ifconf(&eth, 200, true), (80, vec!["lo".into(), "eth0".into()]));
            assert_eq!(ifconf(&eth, 79, true), (40, vec!["lo".into()]));
            assert_eq!(ifconf(&eth, 0, false), (80, vec![]));
        }
    }
}
