//! `NETLINK_ROUTE` as the sandbox's kernel answers it: one interface, `lo`,
//! with 127.0.0.1/8 and ::1/128, enough for glibc's `getifaddrs` and for
//! iproute2's `ip link` and `ip addr`. Requests are answered at once: the
//! replies are queued on the requesting socket. Changes (`RTM_NEWADDR`
//! from the application, ...) are refused with `EPERM`; other requests get
//! `EOPNOTSUPP`, both as netlink error messages.

use abi::Errno;

/// `struct nlmsghdr` fields and flags (linux/netlink.h).
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;

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

/// Address attributes (linux/if_addr.h).
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_HOST: u8 = 254;

const ARPHRD_LOOPBACK: u16 = 772;
/// `IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP`.
const LO_FLAGS: u32 = 0x1 | 0x8 | 0x40 | 0x1_0000;
const LO_INDEX: u32 = 1;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

fn align4(n: usize) -> usize {
    (n + 3) & !3
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

    fn done(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `lo`'s `RTM_NEWLINK`.
fn link(seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWLINK, NLM_F_MULTI, seq, port);
    // struct ifinfomsg: family, pad, type, index, flags, change.
    m.bytes(&[AF_UNSPEC, 0])
        .bytes(&ARPHRD_LOOPBACK.to_ne_bytes())
        .bytes(&LO_INDEX.to_ne_bytes())
        .bytes(&LO_FLAGS.to_ne_bytes())
        .bytes(&0u32.to_ne_bytes());
    m.attr(IFLA_IFNAME, b"lo\0")
        .u32_attr(IFLA_TXQLEN, 1000)
        .attr(IFLA_OPERSTATE, &[0]) // IF_OPER_UNKNOWN, as Linux's lo
        .attr(IFLA_LINKMODE, &[0])
        .u32_attr(IFLA_MTU, 65536)
        .u32_attr(IFLA_MIN_MTU, 0)
        .u32_attr(IFLA_MAX_MTU, 0)
        .u32_attr(IFLA_GROUP, 0)
        .u32_attr(IFLA_PROMISCUITY, 0)
        .u32_attr(IFLA_NUM_TX_QUEUES, 1)
        .u32_attr(IFLA_NUM_RX_QUEUES, 1)
        .attr(IFLA_CARRIER, &[1])
        .attr(IFLA_QDISC, b"noqueue\0")
        .attr(IFLA_ADDRESS, &[0; 6])
        .attr(IFLA_BROADCAST, &[0; 6]);
    m.done()
}

/// `lo`'s address of `family` (`AF_INET`: 127.0.0.1/8, `AF_INET6`: ::1/128).
fn address(family: u8, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWADDR, NLM_F_MULTI, seq, port);
    let (prefix, addr, flags): (u8, Vec<u8>, u32) = match family {
        AF_INET => (8, vec![127, 0, 0, 1], IFA_F_PERMANENT),
        _ => (128, std::net::Ipv6Addr::LOCALHOST.octets().to_vec(), IFA_F_PERMANENT),
    };
    // struct ifaddrmsg: family, prefixlen, flags (low byte), scope, index.
    m.bytes(&[family, prefix, flags as u8, RT_SCOPE_HOST]).bytes(&LO_INDEX.to_ne_bytes());
    m.attr(IFA_ADDRESS, &addr);
    if family == AF_INET {
        m.attr(IFA_LOCAL, &addr).attr(IFA_LABEL, b"lo\0");
    }
    m.u32_attr(IFA_FLAGS, flags);
    // struct ifa_cacheinfo: preferred and valid lifetimes (forever), and
    // the creation and update stamps.
    let mut ci = Vec::new();
    for v in [u32::MAX, u32::MAX, 0, 0] {
        ci.extend_from_slice(&v.to_ne_bytes());
    }
    m.attr(IFA_CACHEINFO, &ci);
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

/// The replies to the messages in `data`, sent by port `port`.
pub fn answer(data: &[u8], port: u32) -> Vec<Vec<u8>> {
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
            out.push(link(seq, port));
            out.push(done(seq, port));
        } else if dump && ty == RTM_GETADDR {
            for f in [AF_INET, AF_INET6] {
                if family == AF_UNSPEC || family == f {
                    out.push(address(f, seq, port));
                }
            }
            out.push(done(seq, port));
        } else if dump && matches!(ty, RTM_GETROUTE | RTM_GETNEIGH | RTM_GETRULE) {
            // No routes, neighbours or rules beyond the loopback's own.
            out.push(done(seq, port));
        } else if ty == RTM_GETLINK {
            // A single link by index or name: `lo` is the only one.
            let index =
                msg.get(NLMSG_HDRLEN + 4..NLMSG_HDRLEN + 8).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            if matches!(index, Some(0 | LO_INDEX)) {
                let mut l = link(seq, port);
                // A single answer is not part of a multipart dump.
                l[6..8].copy_from_slice(&0u16.to_ne_bytes());
                out.push(l);
            } else {
                out.push(error(msg, seq, port, Some(Errno::ENODEV)));
            }
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
/// sandbox's one interface, `lo`.
pub mod ifreq {
    use abi::Errno;

    use super::{LO_FLAGS, LO_INDEX};
    use crate::vfs::{KResult, UserMem};

    const SIOCGIFNAME: u32 = 0x8910;
    const SIOCGIFCONF: u32 = 0x8912;
    const SIOCGIFFLAGS: u32 = 0x8913;
    const SIOCGIFADDR: u32 = 0x8915;
    const SIOCGIFNETMASK: u32 = 0x891b;
    const SIOCGIFMTU: u32 = 0x8921;
    const SIOCGIFHWADDR: u32 = 0x8927;
    const SIOCGIFINDEX: u32 = 0x8933;
    /// The requests that read one interface, named in the request.
    const GETS: [u32; 6] = [SIOCGIFINDEX, SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFHWADDR];
    /// SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFDSTADDR, SIOCSIFBRDADDR,
    /// SIOCSIFNETMASK, SIOCSIFMETRIC, SIOCSIFMTU, SIOCSIFNAME,
    /// SIOCSIFHWADDR, SIOCSIFTXQLEN.
    const SETS: [u32; 10] = [0x8914, 0x8916, 0x8918, 0x891a, 0x891c, 0x891e, 0x8922, 0x8923, 0x8924, 0x8943];
    /// `sizeof(struct ifreq)`: a 16-byte name, then a 24-byte union.
    const IFREQ_LEN: usize = 40;
    const ARPHRD_LOOPBACK: u16 = 772;

    /// Whether `req` is an interface request this module answers.
    pub fn is_ifreq(req: u32) -> bool {
        (0x8910..=0x8961).contains(&req)
    }

    /// `struct sockaddr_in` for `ip`.
    fn sockaddr_in(ip: [u8; 4]) -> [u8; 16] {
        let mut sa = [0u8; 16];
        sa[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        sa[4..8].copy_from_slice(&ip);
        sa
    }

    /// Answer interface request `req` with its `struct ifreq` (or, for
    /// `SIOCGIFCONF`, `struct ifconf`) at `arg`.
    pub fn ioctl(req: u32, arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        if req == SIOCGIFCONF {
            return ifconf(arg, mem);
        }
        let mut r = [0u8; IFREQ_LEN];
        mem.read_bytes(arg, &mut r)?;
        let name_end = r[..16].iter().position(|&b| b == 0).unwrap_or(16);
        let is_lo = &r[..name_end] == b"lo";
        let put = |off: usize, b: &[u8], r: &mut [u8; IFREQ_LEN]| r[off..off + b.len()].copy_from_slice(b);
        match req {
            SIOCGIFNAME => {
                let index = i32::from_ne_bytes([r[16], r[17], r[18], r[19]]);
                if index != LO_INDEX as i32 {
                    return Err(Errno::ENODEV);
                }
                r[..16].fill(0);
                put(0, b"lo", &mut r);
            }
            _ if GETS.contains(&req) && !is_lo => return Err(Errno::ENODEV),
            SIOCGIFINDEX => put(16, &(LO_INDEX as i32).to_ne_bytes(), &mut r),
            SIOCGIFFLAGS => put(16, &((LO_FLAGS & 0xffff) as u16).to_ne_bytes(), &mut r),
            SIOCGIFMTU => put(16, &65536i32.to_ne_bytes(), &mut r),
            SIOCGIFADDR => put(16, &sockaddr_in([127, 0, 0, 1]), &mut r),
            SIOCGIFNETMASK => put(16, &sockaddr_in([255, 0, 0, 0]), &mut r),
            SIOCGIFHWADDR => {
                let mut sa = [0u8; 16];
                sa[..2].copy_from_slice(&ARPHRD_LOOPBACK.to_ne_bytes());
                put(16, &sa, &mut r);
            }
            // The SIOCSIF* requests change an interface: not from inside.
            _ if SETS.contains(&req) => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        }
        mem.write_bytes(arg, &r)?;
        Ok(0)
    }

    /// `SIOCGIFCONF`: the interfaces with an IPv4 address (just `lo`).
    fn ifconf(arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        // struct ifconf { int ifc_len; (pad); char *ifc_buf; }
        let mut c = [0u8; 16];
        mem.read_bytes(arg, &mut c)?;
        let len = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
        let buf = u64::from_ne_bytes([c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]]);
        let mut one = [0u8; IFREQ_LEN];
        one[..2].copy_from_slice(b"lo");
        one[16..32].copy_from_slice(&sockaddr_in([127, 0, 0, 1]));
        let wrote = if buf == 0 {
            IFREQ_LEN
        } else if usize::try_from(len).is_ok_and(|l| l >= IFREQ_LEN) {
            mem.write_bytes(buf, &one)?;
            IFREQ_LEN
        } else {
            0
        };
        c[..4].copy_from_slice(&(wrote as i32).to_ne_bytes());
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
}
