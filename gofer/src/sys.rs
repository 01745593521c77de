//! Thin, safe wrappers over the host calls the gofer and its client make.
//! This is the only module (with `jail`) allowed `unsafe`; every wrapper
//! returns the host errno as an [`Errno`].

use std::ffi::CStr;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use abi::Errno;

/// The most descriptors one message may carry; extra ones are closed.
const MAX_FDS: usize = 4;

/// The errno of the last failed host call.
pub fn last_errno() -> Errno {
    errno_of(&io::Error::last_os_error())
}

/// The errno inside an I/O error (`EIO` if it has none Linux knows).
pub fn errno_of(e: &io::Error) -> Errno {
    e.raw_os_error().and_then(Errno::from_i32).unwrap_or(Errno::EIO)
}

fn check(ret: libc::c_int) -> Result<libc::c_int, Errno> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

/// Take ownership of a descriptor a host call just returned.
fn owned(ret: libc::c_int) -> Result<OwnedFd, Errno> {
    let fd = check(ret)?;
    // SAFETY: `fd` is a fresh descriptor returned by the host; nothing else
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(2)`.
pub fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    loop {
        // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is a
        // live descriptor.
        let ret = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) };
        match owned(ret) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// `fstat(2)` (works on `O_PATH` descriptors).
pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat, Errno> {
    // SAFETY: `libc::stat` is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: `st` is a valid, writable `struct stat`; the empty path is a
    // NUL-terminated string.
    check(unsafe {
        libc::fstatat(fd.as_raw_fd(), c"".as_ptr(), &mut st, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW)
    })?;
    Ok(st)
}

/// `fstatfs(2)` (works on `O_PATH` descriptors), straight into the
/// kernel's x86-64 `struct statfs`, which `abi::types::Statfs` mirrors.
pub fn fstatfs(fd: BorrowedFd<'_>) -> Result<abi::types::Statfs, Errno> {
    let mut st = abi::types::Statfs::default();
    // SAFETY: `st` is a valid, writable `struct statfs` in the kernel's
    // layout (`#[repr(C)]`, same fields and sizes).
    let ret = unsafe { libc::syscall(libc::SYS_fstatfs, fd.as_raw_fd(), &mut st as *mut _) };
    if ret < 0 {
        return Err(last_errno());
    }
    Ok(st)
}

/// `readlinkat(fd, "")`: the target of the symlink `fd` (an `O_PATH`
/// descriptor of the link itself).
pub fn readlink(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is writable for `buf.len()` bytes; the path is a
    // NUL-terminated empty string.
    let n = unsafe { libc::readlinkat(fd.as_raw_fd(), c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).map_err(|_| last_errno())?;
    if n >= buf.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    buf.truncate(n);
    Ok(buf)
}

/// `lseek(fd, off, SEEK_SET)`.
pub fn seek_set(fd: BorrowedFd<'_>, off: i64) -> Result<(), Errno> {
    // SAFETY: plain call on a live descriptor.
    let ret = unsafe { libc::lseek(fd.as_raw_fd(), off, libc::SEEK_SET) };
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

/// `getdents64(2)` into `buf`; returns the number of bytes filled (0 at end).
pub fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for `buf.len()` bytes.
    let n = unsafe { libc::syscall(libc::SYS_getdents64, fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    usize::try_from(n).map_err(|_| last_errno())
}

/// `fcntl(F_GETFL)` / `fcntl(F_SETFL)`: clear `O_NONBLOCK`.
pub fn clear_nonblock(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: plain call on a live descriptor.
    let fl = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: plain call on a live descriptor.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) })?;
    Ok(())
}

/// `ftruncate(2)`.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> Result<(), Errno> {
    let len = i64::try_from(len).map_err(|_| Errno::EFBIG)?;
    // SAFETY: plain call on a live descriptor.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len) })?;
    Ok(())
}

/// `fchmod(2)`.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> Result<(), Errno> {
    // SAFETY: plain call on a live descriptor.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })?;
    Ok(())
}

/// `fchownat(fd, "", uid, gid, AT_EMPTY_PATH)` (works on `O_PATH`
/// descriptors and symlinks). `u32::MAX` leaves an id unchanged.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<(), Errno> {
    // SAFETY: the path is a NUL-terminated empty string.
    check(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })?;
    Ok(())
}

/// `futimens(2)`.
pub fn futimens(fd: BorrowedFd<'_>, times: &[libc::timespec; 2]) -> Result<(), Errno> {
    // SAFETY: `times` points at two valid timespecs.
    check(unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) })?;
    Ok(())
}

/// `mkdirat(2)`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) })?;
    Ok(())
}

/// `symlinkat(2)`.
pub fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })?;
    Ok(())
}

/// `linkat(olddir, old, newdir, new, 0)` (never follows a symlink).
pub fn linkat(olddir: BorrowedFd<'_>, old: &CStr, newdir: BorrowedFd<'_>, new: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::linkat(olddir.as_raw_fd(), old.as_ptr(), newdir.as_raw_fd(), new.as_ptr(), 0) })?;
    Ok(())
}

/// `unlinkat(2)`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })?;
    Ok(())
}

/// `renameat(2)`.
pub fn renameat(olddir: BorrowedFd<'_>, old: &CStr, newdir: BorrowedFd<'_>, new: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::renameat(olddir.as_raw_fd(), old.as_ptr(), newdir.as_raw_fd(), new.as_ptr()) })?;
    Ok(())
}

/// What an extended-attribute call applies to: an open (not `O_PATH`)
/// descriptor, or a name in the current directory, never followed if it is
/// a symlink (the `l*xattr` calls).
#[derive(Clone, Copy)]
pub enum XattrAt<'a> {
    Fd(BorrowedFd<'a>),
    Name(&'a CStr),
}

fn check_size(ret: libc::ssize_t) -> Result<usize, Errno> {
    usize::try_from(ret).map_err(|_| last_errno())
}

/// `fgetxattr(2)` / `lgetxattr(2)` into `buf`; the value's length.
pub fn getxattr(at: XattrAt<'_>, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let ret = match at {
        // SAFETY: `name` is NUL-terminated; `buf` is writable for its length.
        XattrAt::Fd(fd) => unsafe {
            libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        },
        // SAFETY: as above; `path` is NUL-terminated.
        XattrAt::Name(path) => unsafe {
            libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        },
    };
    check_size(ret)
}

/// `flistxattr(2)` / `llistxattr(2)` into `buf` (NUL-terminated names); the
/// list's length.
pub fn listxattr(at: XattrAt<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let ret = match at {
        // SAFETY: `buf` is writable for its length.
        XattrAt::Fd(fd) => unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) },
        // SAFETY: as above; `path` is NUL-terminated.
        XattrAt::Name(path) => unsafe { libc::llistxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) },
    };
    check_size(ret)
}

/// `fsetxattr(2)` / `lsetxattr(2)`.
pub fn setxattr(at: XattrAt<'_>, name: &CStr, value: &[u8], flags: i32) -> Result<(), Errno> {
    let ret = match at {
        // SAFETY: `name` is NUL-terminated; `value` is readable for its length.
        XattrAt::Fd(fd) => unsafe {
            libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), value.as_ptr().cast(), value.len(), flags)
        },
        // SAFETY: as above; `path` is NUL-terminated.
        XattrAt::Name(path) => unsafe {
            libc::lsetxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), flags)
        },
    };
    check(ret)?;
    Ok(())
}

/// `fremovexattr(2)` / `lremovexattr(2)`.
pub fn removexattr(at: XattrAt<'_>, name: &CStr) -> Result<(), Errno> {
    let ret = match at {
        // SAFETY: `name` is NUL-terminated.
        XattrAt::Fd(fd) => unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) },
        // SAFETY: both strings are NUL-terminated.
        XattrAt::Name(path) => unsafe { libc::lremovexattr(path.as_ptr(), name.as_ptr()) },
    };
    check(ret)?;
    Ok(())
}

/// `fchdir(2)` (works on `O_PATH` directory descriptors).
pub fn fchdir(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: plain call on a live descriptor.
    check(unsafe { libc::fchdir(fd.as_raw_fd()) })?;
    Ok(())
}

/// Send one message, with `fd` attached by `SCM_RIGHTS` if given.
/// Retries on `EINTR`; never raises `SIGPIPE`.
pub fn send_msg(sock: BorrowedFd<'_>, data: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let fds: [RawFd; 1] = [fd.map_or(-1, |f| f.as_raw_fd())];
    let nfds = usize::from(fd.is_some());
    let payload = mem::size_of::<RawFd>() * nfds;
    // u64 storage keeps the control buffer aligned for `cmsghdr`.
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec { iov_base: data.as_ptr().cast_mut().cast(), iov_len: data.len() };
    // SAFETY: `msghdr` is plain data; all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if nfds > 0 {
        // SAFETY: CMSG_SPACE is a pure size computation.
        let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
        debug_assert!(space <= mem::size_of_val(&cbuf));
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: `msg_control` points at `space` zeroed, aligned bytes, which
        // is room for one header; CMSG_FIRSTHDR therefore returns a valid,
        // non-null pointer into `cbuf`, and CMSG_DATA points inside it with
        // room for `payload` bytes.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(payload as u32) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(c), payload);
        }
    }
    loop {
        // SAFETY: `msg` points at `iov` (valid for `data.len()` readable
        // bytes) and at the control buffer built above; both outlive the call.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// One received message.
pub struct Received {
    /// Bytes of payload stored in the buffer.
    pub len: usize,
    /// The message was longer than the buffer (its tail is lost).
    pub truncated: bool,
    /// Descriptors that came with it (close-on-exec).
    pub fds: Vec<OwnedFd>,
    /// Some descriptors were lost for want of control-buffer room.
    pub fds_truncated: bool,
}

/// Receive one message into `buf` (`len == 0` with no error is end of
/// stream). Descriptors are received with `MSG_CMSG_CLOEXEC`. Retries on
/// `EINTR`.
pub fn recv_msg(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: `msghdr` is plain data; all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE((MAX_FDS * mem::size_of::<RawFd>()) as u32) } as usize;
    debug_assert!(msg.msg_controllen <= mem::size_of_val(&cbuf));
    let n = loop {
        // SAFETY: `msg` points at `iov` (valid for `buf.len()` writable bytes)
        // and at `cbuf` (valid for `msg_controllen` bytes); both outlive the
        // call.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg_control`/`msg_controllen`; the CMSG
    // macros walk only within that range, and each SCM_RIGHTS payload holds
    // `(cmsg_len - CMSG_LEN(0)) / 4` descriptors that are now ours.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*c).cmsg_len - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(c);
                for i in 0..bytes / mem::size_of::<RawFd>() {
                    let raw: RawFd = std::ptr::read_unaligned(data.add(i * mem::size_of::<RawFd>()).cast::<RawFd>());
                    fds.push(OwnedFd::from_raw_fd(raw));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Received {
        len: n.min(buf.len()),
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        fds,
        fds_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// `socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)`: the transport the
/// CLI creates; handy for tests.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut sv = [-1 as RawFd; 2];
    // SAFETY: `sv` is room for two descriptors.
    let ret = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}

/// The CPU the calling thread runs on, if the host says.
pub fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu has no preconditions.
    u32::try_from(unsafe { libc::sched_getcpu() }).ok()
}

/// Run the calling thread on `cpu` only.
pub fn pin_to_cpu(cpu: u32) -> io::Result<()> {
    let cpu = usize::try_from(cpu).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a live cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
