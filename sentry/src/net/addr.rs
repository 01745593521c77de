//! Socket names: what `bind`, `connect`, `getsockname` and `recvfrom`
//! carry, for every family the sentry implements.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use abi::consts::{AF_INET, AF_INET6, AF_NETLINK, AF_UNIX};
use abi::Errno;

use crate::vfs::KResult;

/// Longest `sun_path`.
pub const UNIX_PATH_MAX: usize = 108;
/// `sizeof(struct sockaddr_in)`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// `sizeof(struct sockaddr_nl)`.
pub const SOCKADDR_NL_LEN: usize = 12;
/// `sizeof(struct sockaddr_in6)`.
pub const SOCKADDR_IN6_LEN: usize = 28;

/// A socket's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    Unix,
    Inet,
    Inet6,
    /// `AF_NETLINK` (`NETLINK_ROUTE` only): the sentry answers.
    Netlink,
}

impl Domain {
    /// The `AF_*` number.
    pub fn raw(self) -> i32 {
        match self {
            Domain::Unix => AF_UNIX,
            Domain::Inet => AF_INET,
            Domain::Inet6 => AF_INET6,
            Domain::Netlink => AF_NETLINK,
        }
    }

    pub fn is_inet(self) -> bool {
        matches!(self, Domain::Inet | Domain::Inet6)
    }

    /// The name of an unbound socket of this family, as `getsockname`
    /// reports it.
    pub fn unbound(self) -> Addr {
        match self {
            Domain::Unix => Addr::Unnamed,
            Domain::Netlink => Addr::Netlink { pid: 0, groups: 0 },
            Domain::Inet => Addr::Inet(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)),
            Domain::Inet6 => Addr::Inet(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)),
        }
    }
}

/// A socket's name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Addr {
    #[default]
    Unnamed,
    /// A path in the file system (without the terminating NUL).
    Path(Vec<u8>),
    /// An abstract name (the bytes after the leading NUL).
    Abstract(Vec<u8>),
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A netlink port (0: the kernel) and multicast groups.
    Netlink { pid: u32, groups: u32 },
}

impl Addr {
    /// The `sockaddr` bytes (family, then the name), as long as Linux
    /// reports it.
    pub fn to_sockaddr(&self) -> Vec<u8> {
        match self {
            Addr::Unnamed | Addr::Path(_) | Addr::Abstract(_) => {
                let mut v = (AF_UNIX as u16).to_ne_bytes().to_vec();
                match self {
                    Addr::Path(p) => {
                        v.extend_from_slice(p);
                        v.push(0);
                    }
                    Addr::Abstract(n) => {
                        v.push(0);
                        v.extend_from_slice(n);
                    }
                    _ => {}
                }
                v
            }
            Addr::Netlink { pid, groups } => {
                let mut v = Vec::with_capacity(SOCKADDR_NL_LEN);
                v.extend_from_slice(&(AF_NETLINK as u16).to_ne_bytes());
                v.extend_from_slice(&[0, 0]);
                v.extend_from_slice(&pid.to_ne_bytes());
                v.extend_from_slice(&groups.to_ne_bytes());
                v
            }
            Addr::Inet(SocketAddr::V4(a)) => {
                let mut v = Vec::with_capacity(SOCKADDR_IN_LEN);
                v.extend_from_slice(&(AF_INET as u16).to_ne_bytes());
                v.extend_from_slice(&a.port().to_be_bytes());
                v.extend_from_slice(&a.ip().octets());
                v.resize(SOCKADDR_IN_LEN, 0);
                v
            }
            Addr::Inet(SocketAddr::V6(a)) => {
                let mut v = Vec::with_capacity(SOCKADDR_IN6_LEN);
                v.extend_from_slice(&(AF_INET6 as u16).to_ne_bytes());
                v.extend_from_slice(&a.port().to_be_bytes());
                v.extend_from_slice(&a.flowinfo().to_be_bytes());
                v.extend_from_slice(&a.ip().octets());
                v.extend_from_slice(&a.scope_id().to_ne_bytes());
                v
            }
        }
    }

    /// Parse `sockaddr_un` bytes. `Ok(None)` for a bare family (autobind).
    pub fn parse_unix(b: &[u8]) -> KResult<Option<Addr>> {
        if b.len() < 2 || b.len() > 2 + UNIX_PATH_MAX {
            return Err(Errno::EINVAL);
        }
        if u16::from_ne_bytes([b[0], b[1]]) != AF_UNIX as u16 {
            return Err(Errno::EINVAL);
        }
        let path = &b[2..];
        match path.first() {
            None => Ok(None),
            Some(0) => Ok(Some(Addr::Abstract(path[1..].to_vec()))),
            Some(_) => {
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                Ok(Some(Addr::Path(path[..end].to_vec())))
            }
        }
    }

    /// The family number at the start of `sockaddr` bytes.
    pub fn family_of(b: &[u8]) -> Option<i32> {
        (b.len() >= 2).then(|| i32::from(u16::from_ne_bytes([b[0], b[1]])))
    }

    /// Parse a `sockaddr_in` or `sockaddr_in6` for a socket of `domain`,
    /// with Linux's errors: `EINVAL` for a short address, `EAFNOSUPPORT`
    /// for the other family (an IPv6 socket takes IPv4 names only as
    /// v4-mapped IPv6 ones).
    pub fn parse_inet(domain: Domain, b: &[u8]) -> KResult<SocketAddr> {
        match domain {
            Domain::Inet => {
                if b.len() < SOCKADDR_IN_LEN {
                    return Err(Errno::EINVAL);
                }
                if Addr::family_of(b) != Some(AF_INET) {
                    return Err(Errno::EAFNOSUPPORT);
                }
                let port = u16::from_be_bytes([b[2], b[3]]);
                let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
                Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
            }
            Domain::Inet6 => {
                if b.len() < SOCKADDR_IN6_LEN {
                    return Err(Errno::EINVAL);
                }
                if Addr::family_of(b) != Some(AF_INET6) {
                    return Err(Errno::EAFNOSUPPORT);
                }
                let port = u16::from_be_bytes([b[2], b[3]]);
                let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&b[8..24]);
                let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
                Ok(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope)))
            }
            Domain::Unix | Domain::Netlink => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// Parse a `sockaddr_nl`: (port id, groups).
    pub fn parse_netlink(b: &[u8]) -> KResult<(u32, u32)> {
        if b.len() < SOCKADDR_NL_LEN {
            return Err(Errno::EINVAL);
        }
        if Addr::family_of(b) != Some(AF_NETLINK) {
            return Err(Errno::EINVAL);
        }
        let pid = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        let groups = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
        Ok((pid, groups))
    }
}
