//! socket, socketpair, bind, listen, accept, accept4, connect, shutdown,
//! sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg, getsockname,
//! getpeername, getsockopt, setsockopt.
//!
//! Only `AF_UNIX` exists so far (`net/unix.rs`); other families answer
//! `EAFNOSUPPORT`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::{Iovec, Timeval};
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::install;
use super::{fd_arg, file_of, int_arg, resolve_at};
use crate::kernel::waiter::WaitQueue;
use crate::kernel::Task;
use crate::net::unix::{endpoint_of, lookup, NameKey, SockInode};
use crate::net::{Endpoint, SockType, SocketFile, Ucred, UnixAddr};
use crate::vfs::{lock, may_access, CreateAttr, FileDescription, KResult, NodeKind};

const AF_UNIX: i32 = 1;
const SOCK_NONBLOCK: u32 = O_NONBLOCK;
const SOCK_CLOEXEC: u32 = O_CLOEXEC;

const MSG_OOB: u32 = 0x1;
const MSG_PEEK: u32 = 0x2;
const MSG_CTRUNC: i32 = 0x8;
const MSG_TRUNC: u32 = 0x20;
const MSG_DONTWAIT: u32 = 0x40;
const MSG_WAITALL: u32 = 0x100;
const MSG_NOSIGNAL: u32 = 0x4000;
const MSG_WAITFORONE: u32 = 0x10000;
const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;
const SCM_CREDENTIALS: i32 = 2;
/// Most descriptors one `SCM_RIGHTS` message carries.
const SCM_MAX_FD: usize = 253;
/// Most iovecs in one message.
const UIO_MAXIOV: u64 = 1024;
/// Largest buffer the sentry gathers for one send or receive.
const MAX_IO: usize = 64 << 20;

const SO_REUSEADDR: i32 = 2;
const SO_TYPE: i32 = 3;
const SO_ERROR: i32 = 4;
const SO_SNDBUF: i32 = 7;
const SO_RCVBUF: i32 = 8;
const SO_KEEPALIVE: i32 = 9;
const SO_LINGER: i32 = 13;
const SO_PASSCRED: i32 = 16;
const SO_PEERCRED: i32 = 17;
const SO_RCVTIMEO: i32 = 20;
const SO_SNDTIMEO: i32 = 21;
const SO_ACCEPTCONN: i32 = 30;
const SO_PROTOCOL: i32 = 38;
const SO_DOMAIN: i32 = 39;
const SO_SNDBUFFORCE: i32 = 32;
const SO_RCVBUFFORCE: i32 = 33;

/// `struct msghdr`.
#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct MsgHdr {
    name: u64,
    namelen: u32,
    _pad0: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
    flags: i32,
    _pad1: u32,
}

/// `struct mmsghdr`.
const MMSGHDR_SIZE: u64 = 64;
const MMSG_LEN_OFFSET: u64 = 56;

fn cred_of(t: &Task) -> Ucred {
    let c = t.creds();
    Ucred { pid: t.pid(), uid: c.euid, gid: c.egid }
}

/// The socket open at `fd`: `ENOTSOCK` for other files.
fn sock_of(t: &Task, fd: u64) -> KResult<(Arc<FileDescription>, Arc<Endpoint>)> {
    let f = file_of(t, fd_arg(fd)?)?;
    let ep = endpoint_of(&*f.file).ok_or(Errno::ENOTSOCK)?.clone();
    Ok((f, ep))
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

fn read_addr(t: &Task, addr: u64, len: u64) -> KResult<Option<UnixAddr>> {
    let len = usize::try_from(int_arg(len)).map_err(|_| Errno::EINVAL)?;
    if len > 2 + crate::net::unix::UNIX_PATH_MAX {
        return Err(Errno::EINVAL);
    }
    let b = t.read_vec(addr, len)?;
    UnixAddr::parse(&b)
}

/// Copy a socket address out to `addr`/`lenp` (truncated to the buffer,
/// the full length written back).
fn write_addr(t: &Task, addr: u64, lenp: u64, sa: &[u8]) -> KResult<()> {
    if addr == 0 {
        return Ok(());
    }
    let len: i32 = t.read_val(lenp)?;
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    t.write_bytes(addr, &sa[..sa.len().min(len)])?;
    t.write_val(lenp, &(sa.len() as i32))
}

/// The address a receive reports: nothing for an unnamed sender.
fn from_bytes(a: &UnixAddr) -> Vec<u8> {
    if *a == UnixAddr::Unnamed {
        Vec::new()
    } else {
        a.to_sockaddr()
    }
}

/// The open socket named `a` (`ECONNREFUSED` if nobody listens there).
fn target_of(t: &Task, a: &UnixAddr) -> KResult<Arc<Endpoint>> {
    match a {
        UnixAddr::Unnamed => Err(Errno::EINVAL),
        UnixAddr::Abstract(n) => lookup(&NameKey::Abstract(n.clone())).ok_or(Errno::ECONNREFUSED),
        UnixAddr::Path(p) => {
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
/// Unix domain only, the socket type and the SOCK_NONBLOCK|SOCK_CLOEXEC flags.
fn socket_args(a: &[u64; 6]) -> KResult<(SockType, u32)> {
    let raw = a[1] as u32;
    let flags = raw & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    if int_arg(a[0]) != AF_UNIX {
        return Err(Errno::EAFNOSUPPORT);
    }
    let ty = raw & !flags;
    if ty & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    let stype = SockType::from_raw(ty)?;
    if !matches!(int_arg(a[2]), 0 | AF_UNIX) {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok((stype, flags))
}

pub fn socket(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (stype, flags) = socket_args(a)?;
    install_socket(t, Endpoint::new(stype), flags).map(|fd| fd as u64)
}

pub fn socketpair(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (stype, flags) = socket_args(a)?;
    let (x, y) = Endpoint::pair(stype, cred_of(t));
    let fx = install_socket(t, x, flags)?;
    let fy = match install_socket(t, y, flags) {
        Ok(fd) => fd,
        Err(e) => {
            let removed = lock(&t.fds).remove(fx);
            drop(removed);
            return Err(e);
        }
    };
    if let Err(e) = t.write_val(a[3], &[fx, fy]) {
        let mut fds = lock(&t.fds);
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
    let r = t.k.vfs.resolve_parent(&fs.root, &start, &path, &creds)?;
    if r.name == b"." || r.name == b".." || r.trailing_slash {
        return Err(Errno::EADDRINUSE);
    }
    if r.parent.dentry.child(&r.name).is_ok() {
        return Err(Errno::EADDRINUSE);
    }
    may_access(&r.parent.inode().attr()?, &creds, W_OK | X_OK)?;
    if r.parent.mount.readonly() {
        return Err(Errno::EROFS);
    }
    let attr = CreateAttr { mode: S_IFSOCK | (0o777 & !fs.umask), uid: creds.fsuid, gid: creds.fsgid };
    let inode = r.parent.inode().create(&r.name, NodeKind::Socket, attr).map_err(|e| match e {
        Errno::EEXIST => Errno::EADDRINUSE,
        e => e,
    })?;
    r.parent.dentry.invalidate(&r.name);
    let at = inode.attr()?;
    ep.bind(UnixAddr::Path(path), NameKey::Inode(at.dev, at.ino))
}

pub fn bind(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (_f, ep) = sock_of(t, a[0])?;
    match read_addr(t, a[1], a[2])? {
        None => ep.autobind()?,
        Some(UnixAddr::Abstract(n)) => ep.bind(UnixAddr::Abstract(n.clone()), NameKey::Abstract(n))?,
        Some(UnixAddr::Path(p)) => {
            ep.check_unbound()?;
            bind_path(t, &ep, p)?;
        }
        Some(UnixAddr::Unnamed) => return Err(Errno::EINVAL),
    }
    Ok(0)
}

pub fn listen(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (_f, ep) = sock_of(t, a[0])?;
    ep.listen(int_arg(a[1]), cred_of(t))?;
    Ok(0)
}

fn do_accept(t: &Task, a: &[u64; 6], flags: u32) -> KResult<u64> {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (f, ep) = sock_of(t, a[0])?;
    if ep.stype == SockType::Dgram {
        return Err(Errno::EOPNOTSUPP);
    }
    let nonblock = f.flags() & O_NONBLOCK != 0;
    let conn = block_on(t, &[ep.queue()], nonblock, ep.opts().rcvtimeo, || ep.accept())?;
    let peer = conn.peer_addr().unwrap_or_default();
    let fd = install_socket(t, conn, flags)?;
    if let Err(e) = write_addr(t, a[1], a[2], &peer.to_sockaddr()) {
        let removed = lock(&t.fds).remove(fd);
        drop(removed);
        return Err(e);
    }
    Ok(fd as u64)
}

pub fn accept(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_accept(t, a, 0)
}

pub fn accept4(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_accept(t, a, a[3] as u32)
}

pub fn connect(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (f, ep) = sock_of(t, a[0])?;
    let addr = read_addr(t, a[1], a[2])?.ok_or(Errno::EINVAL)?;
    let target = target_of(t, &addr)?;
    if ep.stype == SockType::Dgram {
        ep.connect_dgram(&target)?;
        return Ok(0);
    }
    let cred = cred_of(t);
    let nonblock = f.flags() & O_NONBLOCK != 0;
    block_on(t, &[target.queue(), ep.queue()], nonblock, ep.opts().sndtimeo, || ep.connect(&target, cred))?;
    Ok(0)
}

pub fn shutdown(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (_f, ep) = sock_of(t, a[0])?;
    ep.shutdown(int_arg(a[1]))?;
    Ok(0)
}

/// Where a send with an explicit address goes.
fn send_target(t: &Task, ep: &Endpoint, addr: u64, len: u64) -> KResult<Option<Arc<Endpoint>>> {
    if addr == 0 || len == 0 {
        return Ok(None);
    }
    match ep.stype {
        SockType::Stream => Err(if ep.peer_addr().is_ok() { Errno::EISCONN } else { Errno::EOPNOTSUPP }),
        // Linux ignores the address of a packet socket's send.
        SockType::Seqpacket => Ok(None),
        SockType::Dgram => {
            let a = read_addr(t, addr, len)?.ok_or(Errno::EINVAL)?;
            target_of(t, &a).map(Some)
        }
    }
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
    to: Option<Arc<Endpoint>>,
    flags: u32,
) -> KResult<usize> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let nonblock = f.flags() & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0;
    let timeout = ep.opts().sndtimeo;
    let mut queues = vec![ep.queue()];
    if let Some(to) = &to {
        queues.push(to.queue());
    }
    let mut done = 0;
    loop {
        let r = block_on(t, &queues, nonblock, timeout, || ep.send(&data[done..], &mut rights, cred, to.as_ref()));
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

pub fn sendto(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (f, ep) = sock_of(t, a[0])?;
    let len = usize::try_from(a[2]).unwrap_or(usize::MAX).min(MAX_IO);
    let data = t.read_vec(a[1], len)?;
    let to = send_target(t, &ep, a[4], a[5])?;
    do_send(t, &f, &ep, &data, Vec::new(), cred_of(t), to, a[3] as u32).map(int_result)
}

pub fn recvfrom(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (f, ep) = sock_of(t, a[0])?;
    let flags = a[3] as u32;
    let len = usize::try_from(a[2]).unwrap_or(usize::MAX);
    let (data, r) = do_recv(t, &f, &ep, len, flags)?;
    t.write_bytes(a[1], &data)?;
    write_addr(t, a[4], a[5], &from_bytes(&r.from))?;
    if flags & MSG_TRUNC != 0 && ep.stype != SockType::Stream {
        return Ok(r.msg_len as u64);
    }
    Ok(data.len() as u64)
}

fn iovecs(t: &Task, addr: u64, cnt: u64) -> KResult<Vec<Iovec>> {
    super::file::read_iovecs(t, addr, cnt, Errno::EMSGSIZE)
}

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Parse `SOL_SOCKET` control messages: descriptors to pass and explicit
/// credentials.
fn parse_control(t: &Task, ctl: &[u8], cred: &mut Ucred) -> KResult<Vec<Arc<FileDescription>>> {
    let mut rights = Vec::new();
    let mut off = 0;
    while off + 16 <= ctl.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&ctl[off..off + 8]);
        let clen = usize::try_from(u64::from_ne_bytes(w)).map_err(|_| Errno::EINVAL)?;
        let mut l = [0u8; 4];
        l.copy_from_slice(&ctl[off + 8..off + 12]);
        let level = i32::from_ne_bytes(l);
        l.copy_from_slice(&ctl[off + 12..off + 16]);
        let ty = i32::from_ne_bytes(l);
        if clen < 16 || off + clen > ctl.len() {
            return Err(Errno::EINVAL);
        }
        let data = &ctl[off + 16..off + clen];
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
                let me = t.creds();
                if me.euid != 0
                    && (c.pid != t.pid()
                        || (c.uid != me.uid && c.uid != me.euid)
                        || (c.gid != me.gid && c.gid != me.egid))
                {
                    return Err(Errno::EPERM);
                }
                *cred = c;
            }
            _ => return Err(Errno::EINVAL),
        }
        off += align8(clen);
    }
    Ok(rights)
}

fn sendmsg_one(t: &Task, f: &FileDescription, ep: &Endpoint, msg: u64, flags: u32) -> KResult<usize> {
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
    let to = send_target(t, ep, hdr.name, u64::from(hdr.namelen))?;
    let mut cred = cred_of(t);
    let rights = if hdr.control != 0 && hdr.controllen > 0 {
        let len = usize::try_from(hdr.controllen).map_err(|_| Errno::ENOBUFS)?;
        if len > 1 << 20 {
            return Err(Errno::ENOBUFS);
        }
        let ctl = t.read_vec(hdr.control, len)?;
        parse_control(t, &ctl, &mut cred)?
    } else {
        Vec::new()
    };
    do_send(t, f, ep, &data, rights, cred, to, flags)
}

pub fn sendmsg(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (f, ep) = sock_of(t, a[0])?;
    sendmsg_one(t, &f, &ep, a[1], a[2] as u32).map(int_result)
}

/// One control message's bytes (header and data, padded).
fn cmsg(level: i32, ty: i32, data: &[u8], room: usize) -> Vec<u8> {
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

fn recvmsg_one(t: &Task, f: &FileDescription, ep: &Endpoint, msg: u64, flags: u32) -> KResult<usize> {
    let mut hdr: MsgHdr = t.read_val(msg)?;
    let iov = iovecs(t, hdr.iov, hdr.iovlen)?;
    let total =
        iov.iter().map(|io| usize::try_from(io.iov_len).unwrap_or(usize::MAX)).fold(0usize, usize::saturating_add);
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
        let sa = from_bytes(&r.from);
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

pub fn recvmsg(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (f, ep) = sock_of(t, a[0])?;
    recvmsg_one(t, &f, &ep, a[1], a[2] as u32).map(int_result)
}

pub fn sendmmsg(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (f, ep) = sock_of(t, a[0])?;
    let n = (a[2] as u32).min(UIO_MAXIOV as u32);
    let flags = a[3] as u32;
    let mut sent = 0u64;
    for i in 0..u64::from(n) {
        let at = a[1] + i * MMSGHDR_SIZE;
        match sendmsg_one(t, &f, &ep, at, flags) {
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

pub fn recvmmsg(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (f, ep) = sock_of(t, a[0])?;
    let n = (a[2] as u32).min(UIO_MAXIOV as u32);
    let mut flags = a[3] as u32;
    let mut got = 0u64;
    for i in 0..u64::from(n) {
        let at = a[1] + i * MMSGHDR_SIZE;
        match recvmsg_one(t, &f, &ep, at, flags) {
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

pub fn getsockname(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (_f, ep) = sock_of(t, a[0])?;
    let sa = ep.addr().to_sockaddr();
    write_addr(t, a[1], a[2], &sa)?;
    Ok(0)
}

pub fn getpeername(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (_f, ep) = sock_of(t, a[0])?;
    let sa = ep.peer_addr()?.to_sockaddr();
    write_addr(t, a[1], a[2], &sa)?;
    Ok(0)
}

fn timeval_of(d: Option<Duration>) -> Timeval {
    match d {
        None => Timeval::default(),
        Some(d) => Timeval { tv_sec: d.as_secs() as i64, tv_usec: i64::from(d.subsec_micros()) },
    }
}

pub fn getsockopt(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (_f, ep) = sock_of(t, a[0])?;
    let (level, name) = (int_arg(a[1]), int_arg(a[2]));
    if level != SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP);
    }
    let o = ep.opts();
    let int = |v: i64| (v as i32).to_ne_bytes().to_vec();
    let val: Vec<u8> = match name {
        SO_TYPE => int(i64::from(ep.stype.raw())),
        SO_ERROR => int(ep.take_error().map_or(0, |e| e as i64)),
        SO_SNDBUF => int(o.sndbuf as i64),
        SO_RCVBUF => int(o.rcvbuf as i64),
        SO_PASSCRED => int(i64::from(o.passcred)),
        SO_REUSEADDR => int(i64::from(o.reuseaddr)),
        SO_KEEPALIVE => int(i64::from(o.keepalive)),
        SO_ACCEPTCONN => int(i64::from(ep.is_listening())),
        SO_DOMAIN => int(i64::from(AF_UNIX)),
        SO_PROTOCOL => int(0),
        SO_LINGER => o.linger.to_vec(),
        SO_RCVTIMEO => timeval_of(o.rcvtimeo).as_bytes().to_vec(),
        SO_SNDTIMEO => timeval_of(o.sndtimeo).as_bytes().to_vec(),
        SO_PEERCRED => ep.peer_cred().unwrap_or(Ucred { pid: 0, uid: 65534, gid: 65534 }).as_bytes().to_vec(),
        _ => return Err(Errno::ENOPROTOOPT),
    };
    let len: i32 = t.read_val(a[4])?;
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    let n = len.min(val.len());
    t.write_bytes(a[3], &val[..n])?;
    t.write_val(a[4], &(n as i32))?;
    Ok(0)
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

pub fn setsockopt(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (_f, ep) = sock_of(t, a[0])?;
    let (level, name) = (int_arg(a[1]), int_arg(a[2]));
    let len = usize::try_from(int_arg(a[4])).map_err(|_| Errno::EINVAL)?;
    if level != SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP);
    }
    let int = || -> KResult<i32> {
        if len < 4 {
            return Err(Errno::EINVAL);
        }
        t.read_val::<i32>(a[3])
    };
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
        SO_LINGER => {
            if len < 8 {
                return Err(Errno::EINVAL);
            }
            let mut l = [0u8; 8];
            t.read_bytes(a[3], &mut l)?;
            ep.set_opts(|o| o.linger = l);
        }
        SO_RCVTIMEO => {
            let d = timeout_arg(t, a[3], len)?;
            ep.set_opts(|o| o.rcvtimeo = d);
        }
        SO_SNDTIMEO => {
            let d = timeout_arg(t, a[3], len)?;
            ep.set_opts(|o| o.sndtimeo = d);
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
