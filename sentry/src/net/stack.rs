//! `--network sandbox`: a user-space TCP/IP stack (smoltcp) on one
//! Ethernet interface of the sandbox's network namespace, which boot took
//! over from the host kernel (its addresses removed there, its frames read
//! and written through an `AF_PACKET` socket).

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::OnceLock;

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

/// The sandbox's Ethernet interface, with `--network sandbox`.
pub fn interface() -> Option<&'static IfInfo> {
    INTERFACE.get()
}
