//! socket, socketpair, bind, listen, accept, accept4, connect, shutdown,
//! sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg, getsockname,
//! getpeername, getsockopt, setsockopt.
//!
//! Only `AF_UNIX` exists so far (`net/unix.rs`); other families answer
//! `EAFNOSUPPORT`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::SCM_MAX_FD;
use abi::types::MsgHdr;

use abi::consts::*;
use abi::names::FAMILIES;
use abi::types::{Iovec, Timeval};
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::args::{
    flag_str, value_str, Call, Family, Fd, InBuf, MsgFlags, OutBuf, ShutdownHow, SockLevel, SockOpt, SockProto,
    SockType as SocketType, SysArg, UserPtr, UserType, UIO_MAXIOV,
};
use super::install;
use super::{file_of, resolve_at};
use crate::kernel::waiter::WaitQueue;
use crate::kernel::Task;
use crate::net::addr::UNIX_PATH_MAX;
use crate::net::host::HostSocket;
use crate::net::unix::Stamp;
use crate::net::unix::{endpoint_of, lookup, NameKey, SockInode};
use crate::net::{inet, Addr, Domain, Endpoint, SockType, SocketFile, Ucred};
use crate::vfs::Caller;
use crate::vfs::{may_access, CreateAttr, FileDescription, KResult, NodeKind};

/// Largest buffer the sentry gathers for one send or receive.
const MAX_IO: usize = 64 << 20;

/// strace's `struct msghdr`, without following its pointers.
impl UserType for MsgHdr {
    fn strace(&self) -> Option<String> {
        let ptr = |v: u64| if v == 0 { "NULL".to_string() } else { format!("{v:#x}") };
        Some(format!(
            "{{msg_name={}, msg_namelen={}, msg_iov={}, msg_iovlen={}, msg_control={}, msg_controllen={}, msg_flags={}}}",
            ptr(self.name),
            self.namelen,
            ptr(self.iov),
            self.iovlen,
            ptr(self.control),
            self.controllen,
            flag_str::<abi::flags::MsgFlags>(self.flags as u32, "0")
        ))
    }
}

/// A `socklen_t` the call reads and writes back, printed `[110]`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(transparent)]
pub struct SockLen(pub i32);

impl UserType for SockLen {
    fn strace(&self) -> Option<String> {
        Some(format!("[{}]", self.0))
    }
}

/// strace's form of the socket address in `b`.
pub(crate) fn sockaddr_str(b: &[u8]) -> String {
    let Some(family) = b.get(..2).map(|f| u16::from_ne_bytes([f[0], f[1]])) else {
        return "{}".into();
    };
    let name = value_str(i32::from(family), FAMILIES);
    let rest = &b[2..];
    match i32::from(family) {
        AF_INET => {
            if let Ok(SocketAddr::V4(a)) = Addr::parse_inet(Domain::Inet, b) {
                return format!(
                    "{{sa_family=AF_INET, sin_port=htons({}), sin_addr=inet_addr(\"{}\")}}",
                    a.port(),
                    a.ip()
                );
            }
        }
        AF_NETLINK => {
            if let Ok((pid, groups)) = Addr::parse_netlink(b) {
                return format!("{{sa_family=AF_NETLINK, nl_pid={pid}, nl_groups={groups:08x}}}");
            }
        }
        AF_INET6 => {
            if let Ok(SocketAddr::V6(a)) = Addr::parse_inet(Domain::Inet6, b) {
                return format!(
                    "{{sa_family=AF_INET6, sin6_port=htons({}), sin6_flowinfo=htonl({}), inet_pton(AF_INET6, \"{}\", &sin6_addr), sin6_scope_id={}}}",
                    a.port(),
                    a.flowinfo(),
                    a.ip(),
                    a.scope_id()
                );
            }
        }
        _ => {}
    }
    if i32::from(family) != AF_UNIX || rest.is_empty() {
        return format!("{{sa_family={name}}}");
    }
    let path = match rest.first() {
        Some(0) => format!("@{}", super::args::quote(&rest[1..], 108, false)),
        _ => {
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            super::args::quote(&rest[..end], 108, false)
        }
    };
    format!("{{sa_family={name}, sun_path={path}}}")
}

/// A socket address the call reads, whose length is argument `LEN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockAddrIn<const LEN: usize>(pub u64);

impl<const LEN: usize> SysArg for SockAddrIn<LEN> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(SockAddrIn(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let (addr, len) = (c.raw[i], (c.raw[LEN] as u32 as usize).min(128));
        match c.t.read_vec(addr, len) {
            Ok(b) if addr != 0 => sockaddr_str(&b),
            _ if addr == 0 => "NULL".into(),
            _ => format!("{addr:#x}"),
        }
    }
}

/// A socket address the call fills, whose `socklen_t` is at argument
/// `LENP`; printed after the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockAddrOut<const LENP: usize>(pub u64);

impl<const LENP: usize> SysArg for SockAddrOut<LENP> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(SockAddrOut(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let addr = c.raw[i];
        if addr == 0 {
            return "NULL".into();
        }
        if !matches!(c.result, Some(Ok(_))) {
            return format!("{addr:#x}");
        }
        let len = c.t.read_val::<i32>(c.raw[LENP]).map_or(0, |l| usize::try_from(l).unwrap_or(0).min(128));
        match c.t.read_vec(addr, len) {
            Ok(b) => sockaddr_str(&b),
            Err(_) => format!("{addr:#x}"),
        }
    }
}

/// `struct mmsghdr`.
const MMSGHDR_SIZE: u64 = 64;
const MMSG_LEN_OFFSET: u64 = 56;

fn cred_of(t: &Task) -> Ucred {
    let c = t.creds();
    Ucred { pid: t.pid(), uid: c.euid, gid: c.egid }
}

/// The socket open at `fd`, a sandbox one (`Some` endpoint) or a host one
/// (`None`, `--network host`); `ENOTSOCK` for other files. One descriptor
/// lookup serves both.
fn sock_any(t: &Task, fd: Fd) -> KResult<(Arc<FileDescription>, Option<Arc<Endpoint>>)> {
    let f = file_of(t, fd.0)?;
    if let Some(ep) = endpoint_of(&*f.file) {
        let ep = ep.clone();
        return Ok((f, Some(ep)));
    }
    if HostSocket::of(&*f.file).is_none() {
        return Err(Errno::ENOTSOCK);
    }
    Ok((f, None))
}

/// The host socket of description `f` (known one by [`sock_any`]).
fn host(f: &FileDescription) -> KResult<&HostSocket> {
    HostSocket::of(&*f.file).ok_or(Errno::ENOTSOCK)
}

/// Install host socket `h` as a new descriptor.
fn install_host_socket(t: &Task, h: HostSocket, flags: u32) -> KResult<i32> {
    let cred = cred_of(t);
    let ino = crate::fs::pipe::next_ino();
    let inode = SockInode::with_ino(ino, cred);
    let name = format!("socket:[{ino}]").into_bytes();
    let desc = FileDescription::new_anon(Arc::new(h), Some(inode), O_RDWR | (flags & O_NONBLOCK), name);
    install(t, desc, flags & O_CLOEXEC != 0)
}

fn install_socket(t: &Task, ep: Arc<Endpoint>, flags: u32) -> KResult<i32> {
    let cred = cred_of(t);
    let inode = SockInode::new(&ep, cred);
    let name = format!("socket:[{}]", ep.ino()).into_bytes();
    let file = SocketFile::new(ep, cred);
    let desc = FileDescription::new_anon(file, Some(inode), O_RDWR | (flags & O_NONBLOCK), name);
    install(t, desc, flags & O_CLOEXEC != 0)
}

/// Run `op` until it stops answering `EAGAIN`, waiting on `queues` between
/// tries, unless `nonblock`. A timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO`) ends
/// the wait with `EAGAIN`.
fn block_on<T>(
    t: &Task,
    queues: &[&WaitQueue],
    nonblock: bool,
    timeout: Option<Duration>,
    mut op: impl FnMut() -> KResult<T>,
) -> KResult<T> {
    if nonblock {
        return op();
    }
    let deadline = timeout.map(|d| Instant::now() + d);
    let r = t.wait_until(queues, deadline, || match op() {
        Ok(v) => Ok(Some(v)),
        Err(Errno::EAGAIN) => Ok(None),
        Err(e) => Err(e),
    });
    match r {
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        r => r,
    }
}

/// The raw socket address at `addr`, `len` bytes.
fn read_sockaddr(t: &Task, addr: u64, len: i32) -> KResult<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    if len > SOCKADDR_STORAGE_LEN {
        return Err(Errno::EINVAL);
    }
    t.read_vec(addr, len)
}

/// A Unix socket address (`None`: a bare family, to autobind).
fn read_addr(t: &Task, addr: u64, len: i32) -> KResult<Option<Addr>> {
    let len_ok = usize::try_from(len).is_ok_and(|l| l <= 2 + UNIX_PATH_MAX);
    if !len_ok {
        return Err(Errno::EINVAL);
    }
    Addr::parse_unix(&read_sockaddr(t, addr, len)?)
}

/// An Internet socket address for a socket of `domain`.
fn read_inet(t: &Task, domain: Domain, addr: u64, len: i32) -> KResult<SocketAddr> {
    Addr::parse_inet(domain, &read_sockaddr(t, addr, len)?)
}

/// Copy a socket address out to `addr`/`lenp` (truncated to the buffer,
/// the full length written back).
fn write_addr(t: &Task, addr: u64, lenp: UserPtr<SockLen>, sa: &[u8]) -> KResult<()> {
    if addr == 0 {
        return Ok(());
    }
    let len = usize::try_from(lenp.read(t)?.0).map_err(|_| Errno::EINVAL)?;
    t.write_bytes(addr, &sa[..sa.len().min(len)])?;
    lenp.write(t, &SockLen(sa.len() as i32))
}

/// The address a receive reports: nothing for an unnamed sender.
fn from_bytes(ep: &Endpoint, a: &Addr) -> Vec<u8> {
    // TCP reports no sender: the connection has one peer.
    if *a == Addr::Unnamed || (ep.domain.is_inet() && ep.stype == SockType::Stream) {
        Vec::new()
    } else {
        seen_from(ep, a.clone()).to_sockaddr()
    }
}

/// `a`, another socket's name, as socket `ep` reports it: an IPv4 name
/// seen from an IPv6 socket is v4-mapped.
fn seen_from(ep: &Endpoint, a: Addr) -> Addr {
    match a {
        Addr::Inet(x) => Addr::Inet(inet::name_at(ep, x)),
        a => a,
    }
}

/// The open socket named `a` (`ECONNREFUSED` if nobody listens there).
fn target_of(t: &Task, a: &Addr) -> KResult<Arc<Endpoint>> {
    match a {
        Addr::Unnamed | Addr::Inet(_) | Addr::Netlink { .. } => Err(Errno::EINVAL),
        Addr::Abstract(n) => lookup(&NameKey::Abstract(n.clone())).ok_or(Errno::ECONNREFUSED),
        Addr::Path(p) => {
            let loc = resolve_at(t, AT_FDCWD, p, true, false)?;
            let attr = loc.inode().attr()?;
            if attr.file_type() != S_IFSOCK {
                return Err(Errno::ECONNREFUSED);
            }
            may_access(&attr, &t.creds(), W_OK)?;
            lookup(&NameKey::Inode(attr.dev, attr.ino)).ok_or(Errno::ECONNREFUSED)
        }
    }
}

/// The (domain, type|flags, protocol) arguments of socket and socketpair:
/// the family, the socket type and the SOCK_NONBLOCK|SOCK_CLOEXEC flags.
/// Internet sockets are TCP and UDP (on the sandbox's loopback).
fn socket_args(domain: Family, ty: SocketType, protocol: i32) -> KResult<(Domain, SockType, u32)> {
    let raw = ty.0;
    let flags = raw & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    let domain = match domain.0 {
        AF_UNIX => Domain::Unix,
        AF_INET => Domain::Inet,
        AF_INET6 => Domain::Inet6,
        AF_NETLINK => Domain::Netlink,
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    let ty = raw & !flags;
    if ty & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    if domain == Domain::Netlink {
        if !matches!(ty, 2 | 3) {
            return Err(Errno::ESOCKTNOSUPPORT);
        }
        if protocol != NETLINK_ROUTE {
            return Err(Errno::EPROTONOSUPPORT);
        }
        return Ok((domain, SockType::Dgram, flags));
    }
    if domain == Domain::Unix {
        let stype = SockType::from_raw(ty)?;
        if !matches!(protocol, 0 | AF_UNIX) {
            return Err(Errno::EPROTONOSUPPORT);
        }
        return Ok((domain, stype, flags));
    }
    let stype = match ty {
        1 => SockType::Stream,
        2 => SockType::Dgram,
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    };
    match (stype, protocol) {
        (SockType::Stream, 0 | IPPROTO_TCP) | (SockType::Dgram, 0 | IPPROTO_UDP) => Ok((domain, stype, flags)),
        _ => Err(Errno::EPROTONOSUPPORT),
    }
}

/// A new socket.
#[syscall]
pub fn socket(t: &mut Task, domain: Family, type_: SocketType, protocol: SockProto) -> KResult<u64> {
    let protocol = protocol.0;
    // Raw IP and packet sockets take CAP_NET_RAW, asked (inet_create,
    // packet_create) before the sandbox answers that it has none.
    let raw_ip = matches!(domain.0, AF_INET | AF_INET6) && type_.0 & !(SOCK_NONBLOCK | SOCK_CLOEXEC) == SOCK_RAW;
    if (raw_ip || domain.0 == AF_PACKET) && !t.creds().capable(CAP_NET_RAW) {
        return Err(Errno::EPERM);
    }
    let (domain, stype, flags) = socket_args(domain, type_, protocol)?;
    if domain != Domain::Unix && t.k.host_network {
        let ty = match (domain, stype) {
            (Domain::Netlink, _) => (type_.0 & !(SOCK_NONBLOCK | SOCK_CLOEXEC)) as i32,
            (_, SockType::Stream) => libc::SOCK_STREAM,
            _ => libc::SOCK_DGRAM,
        };
        let h = HostSocket::new(domain.raw(), ty, protocol)?;
        return install_host_socket(t, h, flags).map(|fd| fd as u64);
    }
    install_socket(t, Endpoint::new_in(domain, stype), flags).map(|fd| fd as u64)
}

/// A pair of connected sockets, stored at `sv`.
#[syscall]
pub fn socketpair(
    t: &mut Task,
    domain: Family,
    type_: SocketType,
    protocol: SockProto,
    sv: UserPtr<abi::types::FdPair>,
) -> KResult<u64> {
    let protocol = protocol.0;
    let (domain, stype, flags) = socket_args(domain, type_, protocol)?;
    if domain != Domain::Unix {
        return Err(Errno::EOPNOTSUPP);
    }
    let (x, y) = Endpoint::pair(stype, cred_of(t));
    let fx = install_socket(t, x, flags)?;
    let fy = match install_socket(t, y, flags) {
        Ok(fd) => fd,
        Err(e) => {
            let removed = t.fds.lock().remove(fx);
            drop(removed);
            return Err(e);
        }
    };
    if let Err(e) = sv.write(t, &abi::types::FdPair([fx, fy])) {
        let mut fds = t.fds.lock();
        let removed = (fds.remove(fx), fds.remove(fy));
        drop(fds);
        drop(removed);
        return Err(e);
    }
    Ok(0)
}

/// Make the socket node for `path` and bind `ep` to it.
fn bind_path(t: &Task, ep: &Endpoint, path: Vec<u8>) -> KResult<()> {
    let fs = t.fs();
    let creds = t.creds();
    let start = if path.first() == Some(&b'/') { fs.root.clone() } else { fs.cwd.clone() };
    let r = t.k.vfs.resolve_parent(Caller::of(t), &fs.root, &start, &path, &creds)?;
    // unix_bind_bsd: the node is made as mknod makes one (EROFS before the
    // permission check), an existing name being EADDRINUSE.
    super::namei::check_new_name(&r, false).map_err(|e| if e == Errno::EEXIST { Errno::EADDRINUSE } else { e })?;
    may_access(&r.parent.inode().attr()?, &creds, W_OK | X_OK)?;
    let attr = CreateAttr { mode: S_IFSOCK | (0o777 & !fs.umask), uid: creds.fsuid, gid: creds.fsgid };
    let inode = r.parent.inode().create(&r.name, NodeKind::Socket, attr).map_err(|e| match e {
        Errno::EEXIST => Errno::EADDRINUSE,
        e => e,
    })?;
    r.parent.dentry.invalidate(&r.name);
    let at = inode.attr()?;
    ep.bind(Addr::Path(path), NameKey::Inode(at.dev, at.ino))
}

/// Whether binding `port` takes `CAP_NET_BIND_SERVICE`: 1 up to the
/// sandbox's `net.ipv4.ip_unprivileged_port_start`.
fn privileged_port(t: &Task, port: u16) -> bool {
    port != 0 && u32::from(port) < t.k.unprivileged_port_start.load(std::sync::atomic::Ordering::Relaxed)
}

/// Give a socket the name `addr`.
#[syscall]
pub fn bind(t: &mut Task, sockfd: Fd, addr: SockAddrIn<2>, addrlen: i32) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        let bytes = read_sockaddr(t, addr.0, addrlen)?;
        // A port below 1024 takes CAP_NET_BIND_SERVICE: the program's, not
        // only the sentry's.
        let low_port = matches!(Addr::family_of(&bytes), Some(AF_INET | AF_INET6))
            && bytes.len() >= 4
            && privileged_port(t, u16::from_be_bytes([bytes[2], bytes[3]]));
        if low_port && !t.creds().capable(CAP_NET_BIND_SERVICE) {
            return Err(Errno::EACCES);
        }
        host(&f)?.bind(&bytes)?;
        return Ok(0);
    };
    if ep.domain.is_inet() {
        let want = read_inet(t, ep.domain, addr.0, addrlen)?;
        if privileged_port(t, want.port()) && !t.creds().capable(CAP_NET_BIND_SERVICE) {
            return Err(Errno::EACCES);
        }
        // Checked against the sandbox's ip_unprivileged_port_start above.
        inet::bind(&ep, want, true)?;
        return Ok(0);
    }
    if ep.domain == Domain::Netlink {
        let (pid, groups) = Addr::parse_netlink(&read_sockaddr(t, addr.0, addrlen)?)?;
        let pid = if pid == 0 { t.pid().unsigned_abs() } else { pid };
        ep.set_name(Addr::Netlink { pid, groups })?;
        return Ok(0);
    }
    match read_addr(t, addr.0, addrlen)? {
        None => ep.autobind()?,
        Some(Addr::Abstract(n)) => ep.bind(Addr::Abstract(n.clone()), NameKey::Abstract(n))?,
        Some(Addr::Path(p)) => {
            ep.check_unbound()?;
            bind_path(t, &ep, p)?;
        }
        Some(Addr::Unnamed | Addr::Inet(_) | Addr::Netlink { .. }) => return Err(Errno::EINVAL),
    }
    Ok(0)
}

/// Accept connections on a socket, with up to `backlog` waiting.
#[syscall]
pub fn listen(t: &mut Task, sockfd: Fd, backlog: i32) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        host(&f)?.listen(backlog)?;
        return Ok(0);
    };
    if ep.domain.is_inet() {
        if ep.stype != SockType::Stream {
            return Err(Errno::EOPNOTSUPP);
        }
        if ep.is_connected() {
            return Err(Errno::EINVAL);
        }
        inet::autobind(&ep)?;
    }
    ep.listen(backlog, cred_of(t))?;
    // Connections from other hosts reach a listener not bound to the loopback.
    if let Some(stack) = crate::net::stack::get() {
        if let Some(name) = ep.inet_name().filter(|a| !inet::is_loopback(a.ip())) {
            stack.listen(name);
        }
    }
    Ok(0)
}

fn do_accept(t: &Task, sockfd: Fd, addr: SockAddrOut<2>, addrlen: UserPtr<SockLen>, flags: u32) -> KResult<u64> {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        let (conn, peer) = host(&f)?.accept(t, f.flags() & O_NONBLOCK != 0)?;
        let fd = install_host_socket(t, conn, flags)?;
        if let Err(e) = write_addr(t, addr.0, addrlen, &peer) {
            let removed = t.fds.lock().remove(fd);
            drop(removed);
            return Err(e);
        }
        return Ok(fd as u64);
    };
    if ep.stype == SockType::Dgram {
        return Err(Errno::EOPNOTSUPP);
    }
    let nonblock = f.flags() & O_NONBLOCK != 0;
    let conn = block_on(t, &[ep.queue()], nonblock, ep.opts().rcvtimeo, || ep.accept())?;
    let peer = seen_from(&ep, conn.peer_addr().unwrap_or_default());
    let fd = install_socket(t, conn, flags)?;
    if let Err(e) = write_addr(t, addr.0, addrlen, &peer.to_sockaddr()) {
        let removed = t.fds.lock().remove(fd);
        drop(removed);
        return Err(e);
    }
    Ok(fd as u64)
}

/// Take a connection from a listening socket's queue.
#[syscall]
pub fn accept(t: &mut Task, sockfd: Fd, addr: SockAddrOut<2>, addrlen: UserPtr<SockLen>) -> KResult<u64> {
    do_accept(t, sockfd, addr, addrlen, 0)
}

/// `accept` with `SOCK_NONBLOCK` and `SOCK_CLOEXEC` for the new socket.
#[syscall]
pub fn accept4(
    t: &mut Task,
    sockfd: Fd,
    addr: SockAddrOut<2>,
    addrlen: UserPtr<SockLen>,
    flags: super::args::PipeFlags,
) -> KResult<u64> {
    do_accept(t, sockfd, addr, addrlen, flags.0)
}

/// Connect a socket to the one named `addr`.
#[syscall]
pub fn connect(t: &mut Task, sockfd: Fd, addr: SockAddrIn<2>, addrlen: i32) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        host(&f)?.connect(t, &read_sockaddr(t, addr.0, addrlen)?, f.flags() & O_NONBLOCK != 0)?;
        return Ok(0);
    };
    if ep.domain.is_inet() {
        return connect_inet(t, &f, &ep, read_inet(t, ep.domain, addr.0, addrlen)?);
    }
    if ep.domain == Domain::Netlink {
        // Only the kernel (port 0) answers; connecting just names the peer.
        Addr::parse_netlink(&read_sockaddr(t, addr.0, addrlen)?)?;
        netlink_port(t, &ep);
        return Ok(0);
    }
    let addr = read_addr(t, addr.0, addrlen)?.ok_or(Errno::EINVAL)?;
    let target = target_of(t, &addr)?;
    if ep.stype == SockType::Dgram {
        ep.connect_dgram(&target)?;
        return Ok(0);
    }
    let cred = cred_of(t);
    let nonblock = f.flags() & O_NONBLOCK != 0;
    block_on(t, &[target.queue(), ep.queue()], nonblock, ep.opts().sndtimeo, || ep.connect(&target, cred, None))?;
    Ok(0)
}

/// `connect` of an Internet socket to `dst` on the loopback. A stream
/// connection is made at once, but a non-blocking one reports
/// `EINPROGRESS` as Linux's TCP does (and a refused one leaves
/// `ECONNREFUSED` in `SO_ERROR`). A UDP socket takes `dst` as its peer.
fn connect_inet(t: &Task, f: &FileDescription, ep: &Arc<Endpoint>, dst: SocketAddr) -> KResult<u64> {
    let stack = crate::net::stack::get();
    if !inet::is_local(dst.ip()) && stack.is_none() {
        return Err(Errno::ENETUNREACH);
    }
    if ep.stype == SockType::Dgram {
        let local = inet::autobind(ep)?;
        ep.settle_inet_name(inet::settled(ep, local, dst));
        ep.set_inet_peer(Some(inet::name_at(ep, dst)));
        return Ok(0);
    }
    if ep.is_listening() {
        return Err(Errno::EINVAL);
    }
    if ep.is_connected() {
        return Err(Errno::EISCONN);
    }
    let nonblock = f.flags() & O_NONBLOCK != 0;
    if let Some(stack) = stack.filter(|_| !inet::is_local(dst.ip())) {
        return connect_remote(t, stack, ep, dst, nonblock);
    }
    let local = inet::autobind(ep)?;
    let target = match inet::lookup(SockType::Stream, dst).filter(|_| dst.port() != 0) {
        Some(target) => target,
        None if nonblock => {
            ep.set_error(Errno::ECONNREFUSED);
            return Err(Errno::EINPROGRESS);
        }
        None => return Err(Errno::ECONNREFUSED),
    };
    ep.settle_inet_name(inet::settled(ep, local, dst));
    let server = Addr::Inet(inet::name_at(&target, dst));
    let cred = cred_of(t);
    let queues = [target.queue(), ep.queue()];
    block_on(t, &queues, nonblock, ep.opts().sndtimeo, || ep.connect(&target, cred, Some(&server)))?;
    if let Some(accepting) = ep.peer() {
        inet::note_accepted(&accepting);
    }
    if nonblock {
        return Err(Errno::EINPROGRESS);
    }
    Ok(0)
}

/// `connect` of a TCP socket to `dst` on another host, through
/// `--network sandbox`'s stack: `EINPROGRESS` at once when non-blocking
/// (`SO_ERROR` then tells how it ended); `EALREADY` while one is under way.
fn connect_remote(
    t: &Task,
    stack: &crate::net::stack::Stack,
    ep: &Arc<Endpoint>,
    dst: SocketAddr,
    nonblock: bool,
) -> KResult<u64> {
    if ep.is_connecting() {
        return Err(Errno::EALREADY);
    }
    if dst.port() == 0 {
        return Err(Errno::ECONNREFUSED);
    }
    let local = inet::autobind(ep)?;
    let settled = inet::settled(ep, local, dst);
    // smoltcp speaks each family on its own: a v4-mapped name leaves as IPv4.
    let (src, to) = (inet::unmapped(settled), inet::unmapped(dst));
    if src.is_ipv4() != to.is_ipv4() {
        return Err(Errno::ENETUNREACH);
    }
    stack.connect(ep, src, to)?;
    ep.settle_inet_name(settled);
    if nonblock {
        return Err(Errno::EINPROGRESS);
    }
    block_on(t, &[ep.queue()], false, ep.opts().sndtimeo, || {
        if ep.is_connecting() {
            return Err(Errno::EAGAIN);
        }
        match ep.take_error() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    })
}

/// Shut down one or both directions of a connection.
#[syscall]
pub fn shutdown(t: &mut Task, sockfd: Fd, how: ShutdownHow) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        host(&f)?.shutdown(how.0)?;
        return Ok(0);
    };
    ep.shutdown(how.0)?;
    Ok(0)
}

/// Where a send goes.
enum Dest {
    /// The connected peer.
    Peer,
    /// This socket (a UDP datagram: addressed to this address).
    To(Arc<Endpoint>, Option<SocketAddr>),
    /// Nowhere: a UDP datagram for a port nobody has bound, which the
    /// network drops (the send succeeds).
    Dropped,
    /// The kernel: a netlink request, answered on the sending socket.
    Kernel,
    /// Another host, through `--network sandbox`'s stack (UDP).
    Remote(SocketAddr),
}

/// A netlink socket's port id, bound to the process's pid on first use.
fn netlink_port(t: &Task, ep: &Endpoint) -> u32 {
    match ep.addr() {
        Addr::Netlink { pid, .. } => pid,
        _ => {
            let pid = t.pid().unsigned_abs();
            let _ = ep.set_name(Addr::Netlink { pid, groups: 0 });
            pid
        }
    }
}

/// Where a send with an explicit address (or none) goes.
fn send_target(t: &Task, ep: &Arc<Endpoint>, addr: u64, len: i32) -> KResult<Dest> {
    if ep.domain.is_inet() {
        return send_target_inet(t, ep, addr, len);
    }
    if ep.domain == Domain::Netlink {
        if addr != 0 && len != 0 {
            let (pid, _) = Addr::parse_netlink(&read_sockaddr(t, addr, len)?)?;
            if pid != 0 {
                // Only the kernel is there to talk to.
                return Err(Errno::ECONNREFUSED);
            }
        }
        return Ok(Dest::Kernel);
    }
    if addr == 0 || len == 0 {
        return Ok(Dest::Peer);
    }
    let to = match ep.stype {
        SockType::Stream => Err(if ep.peer_addr().is_ok() { Errno::EISCONN } else { Errno::EOPNOTSUPP }),
        // Linux ignores the address of a packet socket's send.
        SockType::Seqpacket => Ok(None),
        SockType::Dgram => {
            let a = read_addr(t, addr, len)?.ok_or(Errno::EINVAL)?;
            target_of(t, &a).map(Some)
        }
    }?;
    Ok(to.map_or(Dest::Peer, |e| Dest::To(e, None)))
}

/// [`send_target`] for an Internet socket: TCP ignores the address; UDP
/// goes to the address, or the connected peer, from an autobound port.
fn send_target_inet(t: &Task, ep: &Arc<Endpoint>, addr: u64, len: i32) -> KResult<Dest> {
    if ep.stype == SockType::Stream {
        return Ok(Dest::Peer);
    }
    let dst = if addr == 0 || len == 0 {
        ep.inet_peer().ok_or(Errno::EDESTADDRREQ)?
    } else {
        read_inet(t, ep.domain, addr, len)?
    };
    if dst.port() == 0 {
        return Err(Errno::EINVAL);
    }
    if !inet::is_local(dst.ip()) {
        if crate::net::stack::get().is_none() {
            return Err(Errno::ENETUNREACH);
        }
        inet::autobind(ep)?;
        return Ok(Dest::Remote(dst));
    }
    Ok(inet::udp_route(ep, dst)?.map_or(Dest::Dropped, |e| Dest::To(e, Some(dst))))
}

/// Send `data` (all of it on a blocking stream), with `SIGPIPE` on a
/// broken connection unless `MSG_NOSIGNAL`.
#[allow(clippy::too_many_arguments)] // one send's worth of parameters, kept flat
fn do_send(
    t: &Task,
    f: &FileDescription,
    ep: &Endpoint,
    data: &[u8],
    mut rights: Vec<Arc<FileDescription>>,
    cred: Ucred,
    to: Dest,
    flags: u32,
) -> KResult<usize> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let (to, dst) = match to {
        Dest::Peer => (None, None),
        Dest::To(e, dst) => (Some(e), dst),
        Dest::Dropped => return Ok(data.len()),
        Dest::Remote(dst) => return inet::udp_send_remote(ep, dst, data),
        Dest::Kernel => {
            let port = netlink_port(t, ep);
            for reply in crate::net::netlink::answer(data, port) {
                ep.enqueue(reply, Addr::Netlink { pid: 0, groups: 0 }, None)?;
            }
            return Ok(data.len());
        }
    };
    let nonblock = f.flags() & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0;
    let timeout = ep.opts().sndtimeo;
    let mut queues = vec![ep.queue()];
    if let Some(to) = &to {
        queues.push(to.queue());
    }
    let mut done = 0;
    loop {
        let r =
            block_on(t, &queues, nonblock, timeout, || ep.send_to(&data[done..], &mut rights, cred, to.as_ref(), dst));
        match r {
            Ok(n) => {
                done += n;
                if done >= data.len() || ep.stype != SockType::Stream {
                    return Ok(done);
                }
            }
            Err(_) if done > 0 => return Ok(done),
            Err(Errno::EPIPE) => {
                if flags & MSG_NOSIGNAL == 0 {
                    t.send_sigpipe();
                }
                return Err(Errno::EPIPE);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Receive up to `len` bytes.
fn do_recv(
    t: &Task,
    f: &FileDescription,
    ep: &Endpoint,
    len: usize,
    flags: u32,
) -> KResult<(Vec<u8>, crate::net::unix::Received)> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let mut buf = vec![0u8; len.min(MAX_IO)];
    let nonblock = f.flags() & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0;
    let peek = flags & MSG_PEEK != 0;
    let timeout = ep.opts().rcvtimeo;
    let mut r = block_on(t, &[ep.queue()], nonblock, timeout, || ep.recv(&mut buf, peek))?;
    if flags & MSG_WAITALL != 0 && ep.stype == SockType::Stream && !peek && !nonblock {
        while r.len > 0 && r.len < buf.len() && r.rights.is_empty() {
            let at = r.len;
            match block_on(t, &[ep.queue()], false, timeout, || ep.recv(&mut buf[at..], false)) {
                Ok(more) if more.len > 0 => {
                    r.len += more.len;
                    r.msg_len = r.len;
                    r.rights.extend(more.rights);
                }
                _ => break,
            }
        }
    }
    buf.truncate(r.len);
    Ok((buf, r))
}

fn int_result(n: usize) -> u64 {
    n as u64
}

/// Send `len` bytes, to `dest_addr` where the socket takes one.
#[syscall]
pub fn sendto(
    t: &mut Task,
    sockfd: Fd,
    buf: InBuf<2>,
    len: usize,
    flags: MsgFlags,
    dest_addr: SockAddrIn<5>,
    addrlen: i32,
) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let data = buf.read(t, len.min(MAX_IO))?;
    let Some(ep) = ep else {
        let to = if dest_addr.0 != 0 { Some(read_sockaddr(t, dest_addr.0, addrlen)?) } else { None };
        return host_send(t, &f, &data, flags.0, to.as_deref()).map(int_result);
    };
    let to = send_target(t, &ep, dest_addr.0, addrlen)?;
    do_send(t, &f, &ep, &data, Vec::new(), cred_of(t), to, flags.0).map(int_result)
}

/// Receive up to `len` bytes, and the sender's address.
#[syscall]
pub fn recvfrom(
    t: &mut Task,
    sockfd: Fd,
    buf: OutBuf,
    len: usize,
    flags: MsgFlags,
    src_addr: SockAddrOut<5>,
    addrlen: UserPtr<SockLen>,
) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        let mut data = vec![0u8; len.min(MAX_IO)];
        let (n, from) = host_recv(t, &f, &mut data, flags.0)?;
        buf.write(t, &data[..n.min(data.len())])?;
        write_addr(t, src_addr.0, addrlen, &from)?;
        return Ok(n as u64);
    };
    let flags = flags.0;
    let (data, r) = do_recv(t, &f, &ep, len, flags)?;
    buf.write(t, &data)?;
    write_addr(t, src_addr.0, addrlen, &from_bytes(&ep, &r.from))?;
    if flags & MSG_TRUNC != 0 && ep.stype != SockType::Stream {
        return Ok(r.msg_len as u64);
    }
    Ok(data.len() as u64)
}

fn iovecs(t: &Task, addr: u64, cnt: u64) -> KResult<Vec<Iovec>> {
    super::read_write::read_iovecs(t, addr, cnt, Errno::EMSGSIZE)
}

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Call `f` with each control message in `ctl`: its level, type, data,
/// and the whole padded message. `EINVAL` for a malformed one.
pub(crate) fn each_cmsg(ctl: &[u8], mut f: impl FnMut(i32, i32, &[u8], &[u8]) -> KResult<()>) -> KResult<()> {
    let word = |at: usize| -> [u8; 4] { [ctl[at], ctl[at + 1], ctl[at + 2], ctl[at + 3]] };
    let mut off = 0;
    while off + 16 <= ctl.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&ctl[off..off + 8]);
        let clen = usize::try_from(u64::from_ne_bytes(w)).map_err(|_| Errno::EINVAL)?;
        let (level, ty) = (i32::from_ne_bytes(word(off + 8)), i32::from_ne_bytes(word(off + 12)));
        if clen < 16 || clen > ctl.len() - off {
            return Err(Errno::EINVAL);
        }
        let whole = &ctl[off..(off + align8(clen)).min(ctl.len())];
        f(level, ty, &ctl[off + 16..off + clen], whole)?;
        off += align8(clen);
    }
    Ok(())
}

/// Parse `SOL_SOCKET` control messages: descriptors to pass and explicit
/// credentials.
fn parse_control(t: &Task, ctl: &[u8], cred: &mut Ucred) -> KResult<Vec<Arc<FileDescription>>> {
    let mut rights = Vec::new();
    each_cmsg(ctl, |level, ty, data, _| {
        match (level, ty) {
            (SOL_SOCKET, SCM_RIGHTS) => {
                for c in data.chunks_exact(4) {
                    if rights.len() >= SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                    rights.push(file_of(t, fd)?);
                }
            }
            (SOL_SOCKET, SCM_CREDENTIALS) => {
                let c = Ucred::read_from_prefix(data).ok_or(Errno::EINVAL)?;
                // scm_check_creds: another pid takes CAP_SYS_ADMIN, another
                // uid CAP_SETUID, another gid CAP_SETGID.
                let me = t.creds();
                let pid_ok = c.pid == t.pid() || me.capable(CAP_SYS_ADMIN);
                let uid_ok = [me.uid, me.euid, me.suid].contains(&c.uid) || me.capable(CAP_SETUID);
                let gid_ok = [me.gid, me.egid, me.sgid].contains(&c.gid) || me.capable(CAP_SETGID);
                if !(pid_ok && uid_ok && gid_ok) {
                    return Err(Errno::EPERM);
                }
                *cred = c;
            }
            _ => return Err(Errno::EINVAL),
        }
        Ok(())
    })?;
    Ok(rights)
}

/// Control messages of an Internet socket's `sendmsg`: each must be well
/// formed; descriptors and credentials (Unix sockets' messages) are
/// ignored, as Linux ignores them there. The IP options (`IP_PKTINFO`,
/// `IP_TTL`, `IP_TOS`, their IPv6 forms) are returned, for a host socket
/// to pass on; on the loopback they change nothing. Others are `EINVAL`.
/// Descriptors never reach the host: their numbers are the sandbox's.
fn check_inet_control(ctl: &[u8]) -> KResult<Vec<u8>> {
    const IP_OPTIONS: [(i32, i32); 6] = [(0, 8), (0, 2), (0, 1), (41, 50), (41, 52), (41, 67)];
    let mut ip = Vec::new();
    each_cmsg(ctl, |level, ty, _, whole| {
        if IP_OPTIONS.contains(&(level, ty)) {
            ip.extend_from_slice(whole);
        } else if !(level == SOL_SOCKET && matches!(ty, SCM_RIGHTS | SCM_CREDENTIALS)) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    })?;
    Ok(ip)
}

fn sendmsg_one(t: &Task, f: &FileDescription, ep: Option<&Arc<Endpoint>>, msg: u64, flags: u32) -> KResult<usize> {
    let hdr: MsgHdr = t.read_val(msg)?;
    let iov = iovecs(t, hdr.iov, hdr.iovlen)?;
    let mut data = Vec::new();
    for io in &iov {
        let room = MAX_IO - data.len();
        let n = usize::try_from(io.iov_len).unwrap_or(usize::MAX).min(room);
        if n > 0 {
            data.extend_from_slice(&t.read_vec(io.iov_base, n)?);
        }
    }
    let Some(ep) = ep else {
        // Host sockets carry data, addresses and the IP control messages;
        // descriptors and credentials are dropped, as Linux ignores them
        // on Internet sockets.
        let namelen = i32::try_from(hdr.namelen).unwrap_or(i32::MAX);
        let to = if hdr.name != 0 && namelen > 0 { Some(read_sockaddr(t, hdr.name, namelen)?) } else { None };
        if hdr.control != 0 && hdr.controllen > 0 {
            let len = usize::try_from(hdr.controllen).map_err(|_| Errno::ENOBUFS)?;
            if len > 1 << 20 {
                return Err(Errno::ENOBUFS);
            }
            let ip = check_inet_control(&t.read_vec(hdr.control, len)?)?;
            if !ip.is_empty() {
                let nonblock = f.flags() & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0;
                let raw = (flags & HOST_MSG_FLAGS) as i32 | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
                let h = host(f)?;
                return h.block(t, nonblock, libc::POLLOUT, || {
                    hostsys::net::send_msg(h.fd(), &data, raw, to.as_deref(), &ip).map_err(|e| Errno::from_io(&e))
                });
            }
        }
        return host_send(t, f, &data, flags, to.as_deref());
    };
    let to = send_target(t, ep, hdr.name, i32::try_from(hdr.namelen).unwrap_or(i32::MAX))?;
    let mut cred = cred_of(t);
    let rights = if hdr.control != 0 && hdr.controllen > 0 {
        let len = usize::try_from(hdr.controllen).map_err(|_| Errno::ENOBUFS)?;
        if len > 1 << 20 {
            return Err(Errno::ENOBUFS);
        }
        let ctl = t.read_vec(hdr.control, len)?;
        if ep.domain.is_inet() {
            check_inet_control(&ctl)?;
            Vec::new()
        } else {
            parse_control(t, &ctl, &mut cred)?
        }
    } else {
        Vec::new()
    };
    do_send(t, f, ep, &data, rights, cred, to, flags)
}

/// Send the message `msg` describes: data, an address, control messages.
#[syscall]
pub fn sendmsg(t: &mut Task, sockfd: Fd, msg: UserPtr<MsgHdr>, flags: MsgFlags) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    sendmsg_one(t, &f, ep.as_ref(), msg.addr(), flags.0).map(int_result)
}

/// One control message's bytes (header and data, padded).
pub(crate) fn cmsg(level: i32, ty: i32, data: &[u8], room: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + data.len()) as u64).to_ne_bytes());
    v.extend_from_slice(&level.to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    let padded = align8(v.len());
    if padded <= room {
        v.resize(padded, 0);
    }
    v
}

fn recvmsg_one(t: &Task, f: &FileDescription, ep: Option<&Arc<Endpoint>>, msg: u64, flags: u32) -> KResult<usize> {
    let mut hdr: MsgHdr = t.read_val(msg)?;
    let iov = iovecs(t, hdr.iov, hdr.iovlen)?;
    let total =
        iov.iter().map(|io| usize::try_from(io.iov_len).unwrap_or(usize::MAX)).fold(0usize, usize::saturating_add);
    let Some(ep) = ep else {
        return host_recvmsg(t, f, &mut hdr, &iov, total, flags, msg);
    };
    let (data, mut r) = do_recv(t, f, ep, total, flags)?;
    let mut off = 0;
    for io in &iov {
        if off >= data.len() {
            break;
        }
        let n = usize::try_from(io.iov_len).unwrap_or(usize::MAX).min(data.len() - off);
        t.write_bytes(io.iov_base, &data[off..off + n])?;
        off += n;
    }
    let mut out_flags = 0;
    if r.msg_len > r.len && ep.stype != SockType::Stream {
        out_flags |= MSG_TRUNC as i32;
    }
    if hdr.name != 0 {
        let sa = from_bytes(ep, &r.from);
        let n = sa.len().min(hdr.namelen as usize);
        t.write_bytes(hdr.name, &sa[..n])?;
        hdr.namelen = sa.len() as u32;
    }
    let room = if hdr.control == 0 { 0 } else { usize::try_from(hdr.controllen).unwrap_or(usize::MAX) };
    let mut ctl = Vec::new();
    if let Some(c) = r.cred {
        if room >= 16 + 12 {
            ctl.extend(cmsg(SOL_SOCKET, SCM_CREDENTIALS, c.as_bytes(), room));
        } else {
            out_flags |= MSG_CTRUNC;
        }
    }
    let rights = std::mem::take(&mut r.rights);
    if !rights.is_empty() {
        let avail = room.saturating_sub(ctl.len());
        let fit = if avail >= 16 { (avail - 16) / 4 } else { 0 };
        let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
        let mut fds: Vec<u8> = Vec::new();
        let mut installed = 0;
        for desc in rights.iter().take(fit) {
            match install(t, desc.clone(), cloexec) {
                Ok(fd) => {
                    fds.extend_from_slice(&fd.to_ne_bytes());
                    installed += 1;
                }
                Err(_) => break,
            }
        }
        if installed < rights.len() {
            out_flags |= MSG_CTRUNC;
        }
        if installed > 0 {
            let used = ctl.len();
            ctl.extend(cmsg(SOL_SOCKET, SCM_RIGHTS, &fds, room - used));
        }
    }
    // Descriptors that did not fit are closed here, with no lock held.
    drop(rights);
    if ep.domain.is_inet() && ep.stype == SockType::Dgram {
        for (level, ty, data) in inet_control(ep, &r) {
            if room.saturating_sub(ctl.len()) < 16 + data.len() {
                out_flags |= MSG_CTRUNC;
                break;
            }
            let used = ctl.len();
            ctl.extend(cmsg(level, ty, &data, room - used));
        }
    }
    if !ctl.is_empty() {
        t.write_bytes(hdr.control, &ctl)?;
    }
    hdr.controllen = ctl.len() as u64;
    hdr.flags = out_flags;
    t.write_val(msg, &hdr)?;
    if flags & MSG_TRUNC != 0 && ep.stype != SockType::Stream {
        return Ok(r.msg_len);
    }
    Ok(data.len())
}

/// The control messages a UDP socket asked for with its options, for
/// datagram `r`, in Linux's order: the timestamp, then the IPv6 ones, then
/// the IPv4 ones (an IPv6 socket gets both for an IPv4 datagram).
fn inet_control(ep: &Endpoint, r: &crate::net::unix::Received) -> Vec<(i32, i32, Vec<u8>)> {
    let on = |level, name| stored_option(ep, level, name).is_ok_and(|v| v != 0);
    let mut out = Vec::new();
    match (ep.opts().timestamp, r.stamp) {
        (Some(Stamp::Micros), Some(d)) => {
            let tv = [d.as_secs() as i64, i64::from(d.subsec_micros())];
            out.push((SOL_SOCKET, SO_TIMESTAMP, tv.as_bytes().to_vec()));
        }
        (Some(Stamp::Nanos), Some(d)) => {
            let ts = [d.as_secs() as i64, i64::from(d.subsec_nanos())];
            out.push((SOL_SOCKET, SO_TIMESTAMPNS, ts.as_bytes().to_vec()));
        }
        _ => {}
    }
    let Some(to) = r.to else { return out };
    let ifindex: i32 = match inet::is_loopback(to.ip()) {
        true => 1,
        false => crate::net::stack::interface().map_or(1, |i| i.index as i32),
    };
    let v4 = match to.ip() {
        std::net::IpAddr::V4(a) => Some(a),
        std::net::IpAddr::V6(a) => a.to_ipv4_mapped(),
    };
    if ep.domain == Domain::Inet6 {
        if on(IPPROTO_IPV6, IPV6_RECVPKTINFO) {
            let a = match to.ip() {
                std::net::IpAddr::V6(a) => a,
                std::net::IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let mut info = a.octets().to_vec();
            info.extend_from_slice(&ifindex.to_ne_bytes());
            out.push((IPPROTO_IPV6, IPV6_PKTINFO, info));
        }
        if v4.is_none() {
            if on(IPPROTO_IPV6, IPV6_RECVHOPLIMIT) {
                out.push((IPPROTO_IPV6, IPV6_HOPLIMIT, 64i32.to_ne_bytes().to_vec()));
            }
            if on(IPPROTO_IPV6, IPV6_RECVTCLASS) {
                out.push((IPPROTO_IPV6, IPV6_TCLASS, 0i32.to_ne_bytes().to_vec()));
            }
        }
    }
    if let Some(a) = v4 {
        if on(IPPROTO_IP, IP_PKTINFO) {
            let mut info = ifindex.to_ne_bytes().to_vec();
            info.extend_from_slice(&a.octets());
            info.extend_from_slice(&a.octets());
            out.push((IPPROTO_IP, IP_PKTINFO, info));
        }
        if on(IPPROTO_IP, IP_RECVTTL) {
            out.push((IPPROTO_IP, IP_TTL, 64i32.to_ne_bytes().to_vec()));
        }
        if on(IPPROTO_IP, IP_RECVTOS) {
            out.push((IPPROTO_IP, IP_TOS, vec![0u8]));
        }
    }
    out
}

/// Receive one message into the buffers `msg` describes.
#[syscall]
pub fn recvmsg(t: &mut Task, sockfd: Fd, msg: UserPtr<MsgHdr>, flags: MsgFlags) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    recvmsg_one(t, &f, ep.as_ref(), msg.addr(), flags.0).map(int_result)
}

/// The address of entry `i` of an `mmsghdr` array.
fn mmsg_at(msgvec: u64, i: u64) -> KResult<u64> {
    msgvec.checked_add(i * MMSGHDR_SIZE).ok_or(Errno::EFAULT)
}

/// Send up to `vlen` messages; the result is how many went.
#[syscall]
pub fn sendmmsg(t: &mut Task, sockfd: Fd, msgvec: super::args::UserAddr, vlen: u32, flags: MsgFlags) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let n = vlen.min(UIO_MAXIOV as u32);
    let flags = flags.0;
    let mut sent = 0u64;
    for i in 0..u64::from(n) {
        let at = mmsg_at(msgvec.0, i)?;
        match sendmsg_one(t, &f, ep.as_ref(), at, flags) {
            Ok(len) => {
                t.write_val(at + MMSG_LEN_OFFSET, &(len as u32))?;
                sent += 1;
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(sent)
}

/// Receive up to `vlen` messages; the result is how many came. The
/// timeout is not carried out yet: the call ends as `MSG_WAITFORONE` and
/// the socket's blocking decide.
#[syscall]
pub fn recvmmsg(
    t: &mut Task,
    sockfd: Fd,
    msgvec: super::args::UserAddr,
    vlen: u32,
    flags: MsgFlags,
    timeout: UserPtr<abi::types::Timespec>,
) -> KResult<u64> {
    let _ = timeout;
    let (f, ep) = sock_any(t, sockfd)?;
    let n = vlen.min(UIO_MAXIOV as u32);
    let mut flags = flags.0;
    let mut got = 0u64;
    for i in 0..u64::from(n) {
        let at = mmsg_at(msgvec.0, i)?;
        match recvmsg_one(t, &f, ep.as_ref(), at, flags) {
            Ok(len) => {
                t.write_val(at + MMSG_LEN_OFFSET, &(len as u32))?;
                got += 1;
                if flags & MSG_WAITFORONE != 0 {
                    flags |= MSG_DONTWAIT;
                }
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(got)
}

/// The name a socket is bound to.
#[syscall]
pub fn getsockname(t: &mut Task, sockfd: Fd, addr: SockAddrOut<2>, addrlen: UserPtr<SockLen>) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        write_addr(t, addr.0, addrlen, &host(&f)?.name(false)?)?;
        return Ok(0);
    };
    let name = match ep.addr() {
        Addr::Unnamed => ep.domain.unbound(),
        a => a,
    };
    let sa = name.to_sockaddr();
    write_addr(t, addr.0, addrlen, &sa)?;
    Ok(0)
}

/// The name of a connected socket's peer.
#[syscall]
pub fn getpeername(t: &mut Task, sockfd: Fd, addr: SockAddrOut<2>, addrlen: UserPtr<SockLen>) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        write_addr(t, addr.0, addrlen, &host(&f)?.name(true)?)?;
        return Ok(0);
    };
    let peer = match ep.inet_peer() {
        Some(p) if ep.stype == SockType::Dgram => Addr::Inet(p),
        _ => seen_from(&ep, ep.peer_addr()?),
    };
    let sa = peer.to_sockaddr();
    write_addr(t, addr.0, addrlen, &sa)?;
    Ok(0)
}

fn timeval_of(d: Option<Duration>) -> Timeval {
    match d {
        None => Timeval::default(),
        Some(d) => Timeval { tv_sec: d.as_secs() as i64, tv_usec: i64::from(d.subsec_micros()) },
    }
}

/// The value of socket option `optname` at `level`.
#[syscall]
pub fn getsockopt(
    t: &mut Task,
    sockfd: Fd,
    level: SockLevel,
    optname: SockOpt,
    optval: super::args::GetOptVal,
    optlen: UserPtr<SockLen>,
) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        let len = usize::try_from(optlen.read(t)?.0).map_err(|_| Errno::EINVAL)?;
        let mut v = vec![0u8; len.min(OPTVAL_MAX)];
        let n = host(&f)?.get_option(level.0, optname.0, &mut v)?;
        t.write_bytes(optval.0, &v[..n.min(v.len())])?;
        optlen.write(t, &SockLen(n as i32))?;
        return Ok(0);
    };
    let (level, name) = (level.0, optname.0);
    let o = ep.opts();
    let int = |v: i64| (v as i32).to_ne_bytes().to_vec();
    let val: Vec<u8> = match (level, name) {
        (SOL_SOCKET, _) => match name {
            SO_TYPE => int(i64::from(ep.stype.raw())),
            SO_ERROR => int(ep.take_error().map_or(0, |e| e as i64)),
            SO_SNDBUF => int(o.sndbuf as i64),
            SO_RCVBUF => int(o.rcvbuf as i64),
            SO_PASSCRED => int(i64::from(o.passcred)),
            SO_REUSEADDR => int(i64::from(o.reuseaddr)),
            SO_KEEPALIVE => int(i64::from(o.keepalive)),
            SO_ACCEPTCONN => int(i64::from(ep.is_listening())),
            SO_DOMAIN => int(i64::from(ep.domain.raw())),
            SO_PROTOCOL => int(i64::from(protocol_of(&ep))),
            SO_REUSEPORT => int(i64::from(o.reuseport)),
            SO_BROADCAST => int(i64::from(o.broadcast)),
            SO_LINGER => o.linger.to_vec(),
            SO_RCVTIMEO => timeval_of(o.rcvtimeo).as_bytes().to_vec(),
            SO_SNDTIMEO => timeval_of(o.sndtimeo).as_bytes().to_vec(),
            SO_TIMESTAMP => int(i64::from(o.timestamp == Some(Stamp::Micros))),
            SO_TIMESTAMPNS => int(i64::from(o.timestamp == Some(Stamp::Nanos))),
            SO_PEERCRED => ep.peer_cred().unwrap_or(Ucred { pid: 0, uid: 65534, gid: 65534 }).as_bytes().to_vec(),
            _ => return Err(Errno::ENOPROTOOPT),
        },
        _ if ep.domain == Domain::Unix => return Err(Errno::EOPNOTSUPP),
        (IPPROTO_IPV6, IPV6_V6ONLY) if ep.domain == Domain::Inet6 => int(i64::from(o.v6only)),
        _ => int(i64::from(stored_option(&ep, level, name)?)),
    };
    let len = usize::try_from(optlen.read(t)?.0).map_err(|_| Errno::EINVAL)?;
    let n = len.min(val.len());
    t.write_bytes(optval.0, &val[..n])?;
    optlen.write(t, &SockLen(n as i32))?;
    Ok(0)
}

/// `IPPROTO_TCP` or `IPPROTO_UDP` for an Internet socket, 0 otherwise.
fn protocol_of(ep: &Endpoint) -> i32 {
    match (ep.domain.is_inet(), ep.stype) {
        (true, SockType::Stream) => IPPROTO_TCP,
        (true, _) => IPPROTO_UDP,
        _ => 0,
    }
}

/// The value of an Internet option that is kept and reported but changes
/// nothing on the loopback, or `ENOPROTOOPT` for one the socket does not
/// have. Defaults are Linux's.
fn stored_option(ep: &Endpoint, level: i32, name: i32) -> KResult<i32> {
    let default = match (level, name) {
        (IPPROTO_TCP, _) if ep.stype != SockType::Stream => return Err(Errno::ENOPROTOOPT),
        (IPPROTO_TCP, TCP_NODELAY) => 0,
        (IPPROTO_TCP, TCP_MAXSEG) => 536,
        (IPPROTO_TCP, TCP_KEEPIDLE) => 7200,
        (IPPROTO_TCP, TCP_KEEPINTVL) => 75,
        (IPPROTO_TCP, TCP_KEEPCNT) => 9,
        (IPPROTO_TCP, TCP_QUICKACK) => 1,
        (IPPROTO_IP, IP_TOS) => 0,
        (IPPROTO_IP, IP_TTL) => 64,
        (IPPROTO_IP, IP_PKTINFO | IP_RECVTTL | IP_RECVTOS) => 0,
        (IPPROTO_IPV6, IPV6_RECVPKTINFO | IPV6_RECVHOPLIMIT | IPV6_RECVTCLASS) if ep.domain == Domain::Inet6 => 0,
        (IPPROTO_IPV6, _) if ep.domain != Domain::Inet6 => return Err(Errno::ENOPROTOOPT),
        // Netlink socket options (ext_ack, strict checking, memberships,
        // ...): flags the sandbox's answers do not depend on.
        (SOL_NETLINK, 1..=12) if ep.domain == Domain::Netlink => 0,
        (_, _) if ep.domain == Domain::Netlink => return Err(Errno::ENOPROTOOPT),
        (IPPROTO_IP | IPPROTO_TCP | IPPROTO_UDP | IPPROTO_IPV6, _) => return Err(Errno::ENOPROTOOPT),
        _ => return Err(Errno::EOPNOTSUPP),
    };
    let o = ep.opts();
    Ok(o.stored.iter().find(|(l, n, _)| (*l, *n) == (level, name)).map_or(default, |(_, _, v)| *v))
}

/// Keep `value` for a stored-only option (the table has room for every
/// option [`stored_option`] knows).
fn store(o: &mut crate::net::unix::Opts, level: i32, name: i32, value: i32) {
    let slot = o.stored.iter().position(|(l, n, _)| (*l, *n) == (level, name));
    let slot = slot.or_else(|| o.stored.iter().position(|(l, _, _)| *l == -1));
    if let Some(i) = slot {
        o.stored[i] = (level, name, value);
    }
}

fn timeout_arg(t: &Task, addr: u64, len: usize) -> KResult<Option<Duration>> {
    if len < std::mem::size_of::<Timeval>() {
        return Err(Errno::EINVAL);
    }
    let tv: Timeval = t.read_val(addr)?;
    if !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EDOM);
    }
    if tv.tv_sec < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return Ok(None);
    }
    Ok(Some(Duration::new(tv.tv_sec as u64, (tv.tv_usec * 1000) as u32)))
}

/// Set socket option `optname` at `level` from `optlen` bytes at `optval`.
#[syscall]
pub fn setsockopt(
    t: &mut Task,
    sockfd: Fd,
    level: SockLevel,
    optname: SockOpt,
    optval: super::args::SetOptVal,
    optlen: i32,
) -> KResult<u64> {
    let (f, ep) = sock_any(t, sockfd)?;
    let Some(ep) = ep else {
        let len = usize::try_from(optlen).map_err(|_| Errno::EINVAL)?;
        let v = t.read_vec(optval.0, len.min(OPTVAL_MAX))?;
        host(&f)?.set_option(level.0, optname.0, &v)?;
        return Ok(0);
    };
    let (level, name) = (level.0, optname.0);
    let len = usize::try_from(optlen).map_err(|_| Errno::EINVAL)?;
    let int = || -> KResult<i32> {
        if len < 4 {
            return Err(Errno::EINVAL);
        }
        t.read_val::<i32>(optval.0)
    };
    if level != SOL_SOCKET {
        if ep.domain == Domain::Unix {
            return Err(Errno::EOPNOTSUPP);
        }
        if (level, name) == (IPPROTO_IPV6, IPV6_V6ONLY) && ep.domain == Domain::Inet6 {
            let v = int()? != 0;
            if ep.inet_name().is_some() {
                return Err(Errno::EINVAL);
            }
            ep.set_opts(|o| o.v6only = v);
            return Ok(0);
        }
        // An unknown level is ENOPROTOOPT here, EOPNOTSUPP for getsockopt.
        stored_option(&ep, level, name).map_err(|_| Errno::ENOPROTOOPT)?;
        let v = int()?;
        // The options asking for control messages are flags: 0 or 1.
        let flag = matches!(
            (level, name),
            (IPPROTO_IP, IP_PKTINFO | IP_RECVTTL | IP_RECVTOS)
                | (IPPROTO_IPV6, IPV6_RECVPKTINFO | IPV6_RECVHOPLIMIT | IPV6_RECVTCLASS)
        );
        let v = if flag { i32::from(v != 0) } else { v };
        ep.set_opts(|o| store(o, level, name, v));
        return Ok(0);
    }
    // Linux doubles the buffer sizes asked for (bookkeeping overhead).
    let buf = |v: i32, min: usize| (usize::try_from(v).unwrap_or(0).min(crate::net::unix::DEFAULT_BUF) * 2).max(min);
    match name {
        SO_SNDBUF | SO_SNDBUFFORCE => {
            let v = int()?;
            ep.set_opts(|o| o.sndbuf = buf(v, 4608));
        }
        SO_RCVBUF | SO_RCVBUFFORCE => {
            let v = int()?;
            ep.set_opts(|o| o.rcvbuf = buf(v, 2304));
        }
        SO_PASSCRED => {
            let v = int()? != 0;
            ep.set_opts(|o| o.passcred = v);
        }
        SO_REUSEADDR => {
            let v = int()? != 0;
            ep.set_opts(|o| o.reuseaddr = v);
        }
        SO_KEEPALIVE => {
            let v = int()? != 0;
            ep.set_opts(|o| o.keepalive = v);
        }
        SO_REUSEPORT => {
            let v = int()? != 0;
            ep.set_opts(|o| o.reuseport = v);
        }
        SO_BROADCAST => {
            let v = int()? != 0;
            ep.set_opts(|o| o.broadcast = v);
        }
        SO_LINGER => {
            if len < 8 {
                return Err(Errno::EINVAL);
            }
            let mut l = [0u8; 8];
            t.read_bytes(optval.0, &mut l)?;
            ep.set_opts(|o| o.linger = l);
        }
        SO_RCVTIMEO => {
            let d = timeout_arg(t, optval.0, len)?;
            ep.set_opts(|o| o.rcvtimeo = d);
        }
        SO_SNDTIMEO => {
            let d = timeout_arg(t, optval.0, len)?;
            ep.set_opts(|o| o.sndtimeo = d);
        }
        SO_TIMESTAMP | SO_TIMESTAMPNS => {
            let v = int()? != 0;
            let kind = if name == SO_TIMESTAMP { Stamp::Micros } else { Stamp::Nanos };
            ep.set_opts(|o| o.timestamp = v.then_some(kind));
        }
        SO_TYPE | SO_ERROR | SO_PEERCRED | SO_ACCEPTCONN | SO_DOMAIN | SO_PROTOCOL => return Err(Errno::ENOPROTOOPT),
        _ => {
            // Other generic options (priority, broadcast, ...) have no
            // effect on a Unix socket: accept them.
            int()?;
        }
    }
    Ok(0)
}

/// Longest socket option value passed to or from a host socket.
const OPTVAL_MAX: usize = 4096;

/// The flags an application may pass to a host socket's send or receive
/// (the sentry adds `MSG_DONTWAIT`, and `MSG_NOSIGNAL` to sends).
const HOST_MSG_FLAGS: u32 =
    MSG_OOB | MSG_PEEK | MSG_DONTROUTE | MSG_TRUNC | MSG_DONTWAIT | MSG_EOR | MSG_WAITALL | MSG_NOSIGNAL | MSG_MORE;

/// Send on a host socket: a blocking send waits in the sentry; a broken
/// connection raises `SIGPIPE` unless `MSG_NOSIGNAL`, as Linux.
fn host_send(t: &Task, f: &FileDescription, data: &[u8], flags: u32, to: Option<&[u8]>) -> KResult<usize> {
    let nonblock = f.flags() & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0;
    let raw = (flags & HOST_MSG_FLAGS) as i32;
    match host(f)?.send(t, data, raw, to, nonblock) {
        Err(Errno::EPIPE) => {
            if flags & MSG_NOSIGNAL == 0 {
                t.send_sigpipe();
            }
            Err(Errno::EPIPE)
        }
        r => r,
    }
}

/// Receive on a host socket: the length and the sender's address.
fn host_recv(t: &Task, f: &FileDescription, buf: &mut [u8], flags: u32) -> KResult<(usize, Vec<u8>)> {
    let nonblock = f.flags() & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0;
    host(f)?.recv(t, buf, (flags & HOST_MSG_FLAGS) as i32, nonblock)
}

/// `recvmsg` on a host socket: data scattered over `iov`, the sender's
/// address, no control messages.
fn host_recvmsg(
    t: &Task,
    f: &FileDescription,
    hdr: &mut MsgHdr,
    iov: &[Iovec],
    total: usize,
    flags: u32,
    msg: u64,
) -> KResult<usize> {
    let mut data = vec![0u8; total.min(MAX_IO)];
    let stream = f.file.is_stream();
    // MSG_TRUNC asks a datagram socket for the datagram's whole length (to
    // report truncation); on a stream it would discard the data.
    let ask = if stream { flags & !MSG_TRUNC } else { flags | MSG_TRUNC };
    let (n, from) = host_recv(t, f, &mut data, ask)?;
    let got = n.min(data.len());
    let mut off = 0;
    for io in iov {
        if off >= got {
            break;
        }
        let k = usize::try_from(io.iov_len).unwrap_or(usize::MAX).min(got - off);
        t.write_bytes(io.iov_base, &data[off..off + k])?;
        off += k;
    }
    if hdr.name != 0 {
        let k = from.len().min(hdr.namelen as usize);
        t.write_bytes(hdr.name, &from[..k])?;
        hdr.namelen = from.len() as u32;
    }
    hdr.controllen = 0;
    hdr.flags = if n > got && !stream { MSG_TRUNC as i32 } else { 0 };
    t.write_val(msg, &*hdr)?;
    // With MSG_TRUNC asked, a datagram's whole length; else what was copied.
    Ok(if flags & MSG_TRUNC != 0 && !stream { n } else { got })
}
