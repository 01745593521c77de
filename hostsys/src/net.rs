//! Host sockets for `--network host`: the sentry makes the application's
//! socket calls on host sockets, passing socket addresses and option values
//! as the bytes the application gave (and boot opens `--network sandbox`'s
//! packet socket with them). nix and rustix take addresses and options
//! only as typed values (one type per option), so the calls here are raw,
//! each passing a slice's pointer with its length, which keeps them sound
//! for any bytes.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use abi::consts::SOCKADDR_STORAGE_LEN as SOCKADDR_MAX;

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn check_len(r: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(r).map_err(|_| io::Error::last_os_error())
}

fn socklen(b: &[u8]) -> io::Result<libc::socklen_t> {
    libc::socklen_t::try_from(b.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `socket(domain, type, protocol)`, close-on-exec and non-blocking (the
/// sentry waits for readiness itself).
pub fn socket(domain: i32, ty: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments; the result is a fresh descriptor we own.
    let fd = check(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: `fd` was just returned by socket and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind(fd, addr)`.
pub fn bind(fd: BorrowedFd<'_>, addr: &[u8]) -> io::Result<()> {
    // SAFETY: the kernel reads `addr.len()` bytes of `addr`.
    check(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), socklen(addr)?) }).map(drop)
}

/// `connect(fd, addr)`.
pub fn connect(fd: BorrowedFd<'_>, addr: &[u8]) -> io::Result<()> {
    // SAFETY: the kernel reads `addr.len()` bytes of `addr`.
    check(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), socklen(addr)?) }).map(drop)
}

/// `listen(fd, backlog)`.
pub fn listen(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    // SAFETY: integer arguments.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// `accept4(fd)`, the new socket close-on-exec and non-blocking, with its
/// peer's address.
pub fn accept(fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, Vec<u8>)> {
    let mut sa = [0u8; SOCKADDR_MAX];
    let mut len = SOCKADDR_MAX as libc::socklen_t;
    // SAFETY: `sa` has room for `len` bytes, which the kernel updates.
    let new = check(unsafe {
        libc::accept4(fd.as_raw_fd(), sa.as_mut_ptr().cast(), &mut len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
    })?;
    // SAFETY: `new` is a fresh descriptor we own.
    let new = unsafe { OwnedFd::from_raw_fd(new) };
    Ok((new, sa[..(len as usize).min(SOCKADDR_MAX)].to_vec()))
}

/// The socket's own name (`peer` false) or its peer's.
pub fn name(fd: BorrowedFd<'_>, peer: bool) -> io::Result<Vec<u8>> {
    let mut sa = [0u8; SOCKADDR_MAX];
    let mut len = SOCKADDR_MAX as libc::socklen_t;
    let p = sa.as_mut_ptr().cast();
    // SAFETY: `sa` has room for `len` bytes, which the kernel updates.
    let r = unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), p, &mut len)
        } else {
            libc::getsockname(fd.as_raw_fd(), p, &mut len)
        }
    };
    check(r)?;
    Ok(sa[..(len as usize).min(SOCKADDR_MAX)].to_vec())
}

/// `sendto(fd, data, flags, to)`.
pub fn send_to(fd: BorrowedFd<'_>, data: &[u8], flags: i32, to: Option<&[u8]>) -> io::Result<usize> {
    let (p, len) = match to {
        Some(a) => (a.as_ptr(), socklen(a)?),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: the kernel reads `data.len()` bytes of `data` and `len` of `p`.
    check_len(unsafe { libc::sendto(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), flags, p.cast(), len) })
}

/// `recvfrom(fd, buf, flags)`: the length (the datagram's with
/// `MSG_TRUNC`) and the sender's address.
pub fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8], flags: i32) -> io::Result<(usize, Vec<u8>)> {
    let mut sa = [0u8; SOCKADDR_MAX];
    let mut len = SOCKADDR_MAX as libc::socklen_t;
    // SAFETY: `buf` and `sa` are writable for the lengths passed.
    let n = check_len(unsafe {
        libc::recvfrom(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags, sa.as_mut_ptr().cast(), &mut len)
    })?;
    Ok((n, sa[..(len as usize).min(SOCKADDR_MAX)].to_vec()))
}

/// `setsockopt(fd, level, name, value)`.
pub fn set_option(fd: BorrowedFd<'_>, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    // SAFETY: the kernel reads `value.len()` bytes of `value`.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), socklen(value)?) }).map(drop)
}

/// `getsockopt(fd, level, name)` into `value`; the length the kernel gave.
pub fn get_option(fd: BorrowedFd<'_>, level: i32, name: i32, value: &mut [u8]) -> io::Result<usize> {
    let mut len = socklen(value)?;
    // SAFETY: `value` is writable for `len` bytes, which the kernel updates.
    check(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, value.as_mut_ptr().cast(), &mut len) })?;
    Ok(len as usize)
}

/// `shutdown(fd, how)`.
pub fn shutdown(fd: BorrowedFd<'_>, how: i32) -> io::Result<()> {
    // SAFETY: integer arguments.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(drop)
}

/// `sendmsg(fd)` of `data` to `to` (or the peer) with the control messages
/// in `control` (whole `cmsghdr`s; the caller filters them).
pub fn send_msg(fd: BorrowedFd<'_>, data: &[u8], flags: i32, to: Option<&[u8]>, control: &[u8]) -> io::Result<usize> {
    let mut iov = libc::iovec { iov_base: data.as_ptr().cast_mut().cast(), iov_len: data.len() };
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(a) = to {
        msg.msg_name = a.as_ptr().cast_mut().cast();
        msg.msg_namelen = socklen(a)?;
    }
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_ptr().cast_mut().cast();
        msg.msg_controllen = control.len();
    }
    // SAFETY: every pointer in `msg` is to a live slice of the length given
    // beside it, which the kernel only reads.
    check_len(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) })
}
