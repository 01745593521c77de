//! Thin wrappers over the host calls the gofer and its client make, on
//! `nix`, with `rustix` for what nix 0.32 lacks or cannot do safely
//! (extended attributes, `getdents64` with its seek cookies, receiving
//! descriptors as owned ones). Every wrapper returns the host errno as an
//! [`Errno`].
//!
//! The calls here are the serving loop's host calls, which the seccomp
//! policy (`seccomp::RULES`) lists one by one: a wrapper that starts making
//! a different system call must change the policy with it.

use std::ffi::CStr;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::{self, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;

use abi::Errno;
use nix::fcntl::{self, AtFlags, FcntlArg, OFlag};
use nix::sys::socket::{self, ControlMessage, MsgFlags, UnixAddr};
use nix::sys::stat::{self, Mode};
use nix::sys::time::TimeSpec;
use nix::unistd::{self, Gid, Uid, UnlinkatFlags, Whence};
use rustix::fs::{FileType, RawDir, XattrFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};

/// The most descriptors one message may carry; the kernel closes extra
/// ones (and reports `MSG_CTRUNC`).
const MAX_FDS: usize = 4;

/// `CMSG_SPACE(MAX_FDS * sizeof(int))`: a header, then the descriptors
/// padded to the header's alignment. Computed here because libc's macro is
/// an `unsafe fn`.
const CMSG_ROOM: usize =
    mem::size_of::<libc::cmsghdr>() + (MAX_FDS * mem::size_of::<RawFd>()).next_multiple_of(mem::size_of::<usize>());

/// The errno of a failed `nix` call.
fn errno(e: nix::Error) -> Errno {
    Errno::from_i32(e as i32).unwrap_or(Errno::EIO)
}

/// The errno of a failed `rustix` call.
fn rerrno(e: rustix::io::Errno) -> Errno {
    Errno::from_i32(e.raw_os_error()).unwrap_or(Errno::EIO)
}

/// `openat(2)`, retried on `EINTR` (an open of a FIFO or device can block).
pub fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    let (flags, mode) = (OFlag::from_bits_retain(flags), Mode::from_bits_retain(mode));
    loop {
        match fcntl::openat(dir, name, flags, mode) {
            Err(nix::Error::EINTR) => continue,
            r => return r.map_err(errno),
        }
    }
}

/// `fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)` (the host's
/// `newfstatat`): works on `O_PATH` descriptors.
pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat, Errno> {
    stat::fstatat(fd, c"", AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW).map_err(errno)
}

/// `fstatfs(2)` (works on `O_PATH` descriptors), straight into the
/// kernel's x86-64 `struct statfs`, which `abi::types::Statfs` mirrors and
/// the sentry passes on to the application field for field.
///
/// A raw call: nix's `Statfs` has no `f_frsize`, truncates `f_flags` to the
/// flags it knows and keeps `f_fsid` opaque, and rustix's `StatFs` keeps
/// `f_fsid` private too, so neither hands back the whole structure.
#[allow(unsafe_code)]
pub fn fstatfs(fd: BorrowedFd<'_>) -> Result<abi::types::Statfs, Errno> {
    let mut st = abi::types::Statfs::default();
    // SAFETY: `st` is a valid, writable `struct statfs` in the kernel's
    // layout (`#[repr(C)]`, same fields and sizes); the kernel writes only
    // within it.
    let ret = unsafe { libc::syscall(libc::SYS_fstatfs, fd.as_raw_fd(), &mut st as *mut abi::types::Statfs) };
    nix::errno::Errno::result(ret).map_err(errno)?;
    Ok(st)
}

/// `readlinkat(fd, "")`: the target of the symlink `fd` (an `O_PATH`
/// descriptor of the link itself). A target of `PATH_MAX` bytes or more
/// (which nix reads by retrying with a larger buffer) is `ENAMETOOLONG`:
/// Linux's own symlinks stay below, and a reply must fit one message.
pub fn readlink(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let target = fcntl::readlinkat(fd, c"").map_err(errno)?.into_vec();
    if target.len() >= libc::PATH_MAX as usize {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(target)
}

/// `lseek(fd, off, SEEK_SET)`.
pub fn seek_set(fd: BorrowedFd<'_>, off: i64) -> Result<(), Errno> {
    unistd::lseek(fd, off, Whence::SeekSet).map(drop).map_err(errno)
}

/// One directory entry, as `getdents64` reports it.
pub struct DirEntry {
    pub ino: u64,
    /// The cookie to seek to for the entry after this one (`d_off`).
    pub off: u64,
    /// `DT_*`.
    pub kind: u8,
    pub name: Vec<u8>,
}

/// A directory's entries from its current offset on, read with
/// `getdents64` into a caller's buffer. rustix's `RawDir`: nix reads
/// directories only through libc's `readdir`, and its entries leave out the
/// `d_off` cookies the protocol carries.
pub struct Dirents<'a> {
    raw: RawDir<'a, BorrowedFd<'a>>,
}

impl<'a> Dirents<'a> {
    /// Entries of `dir` (an open, not `O_PATH`, directory), each
    /// `getdents64` call filling `buf`'s spare capacity.
    pub fn new(dir: BorrowedFd<'a>, buf: &'a mut Vec<u8>) -> Dirents<'a> {
        Dirents { raw: RawDir::new(dir, buf.spare_capacity_mut()) }
    }

    /// The next entry, `None` at the end of the directory.
    pub fn next_entry(&mut self) -> Option<Result<DirEntry, Errno>> {
        Some(self.raw.next()?.map_err(rerrno).map(|e| DirEntry {
            ino: e.ino(),
            off: e.next_entry_cookie(),
            kind: d_type(e.file_type()),
            name: e.file_name().to_bytes().to_vec(),
        }))
    }
}

/// The `d_type` of a file type rustix decoded from one (it maps `DT_WHT`,
/// which Linux's `getdents64` does not report, to unknown).
fn d_type(t: FileType) -> u8 {
    match t {
        FileType::RegularFile => libc::DT_REG,
        FileType::Directory => libc::DT_DIR,
        FileType::Symlink => libc::DT_LNK,
        FileType::Fifo => libc::DT_FIFO,
        FileType::Socket => libc::DT_SOCK,
        FileType::CharacterDevice => libc::DT_CHR,
        FileType::BlockDevice => libc::DT_BLK,
        FileType::Unknown => libc::DT_UNKNOWN,
    }
}

/// `fcntl(F_GETFL)` / `fcntl(F_SETFL)`: clear `O_NONBLOCK`.
pub fn clear_nonblock(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let fl = OFlag::from_bits_retain(fcntl::fcntl(fd, FcntlArg::F_GETFL).map_err(errno)?);
    fcntl::fcntl(fd, FcntlArg::F_SETFL(fl & !OFlag::O_NONBLOCK)).map(drop).map_err(errno)
}

/// `ftruncate(2)`.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> Result<(), Errno> {
    let len = i64::try_from(len).map_err(|_| Errno::EFBIG)?;
    unistd::ftruncate(fd, len).map_err(errno)
}

/// `fchmod(2)`.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> Result<(), Errno> {
    stat::fchmod(fd, Mode::from_bits_retain(mode)).map_err(errno)
}

/// `fchownat(fd, "", uid, gid, AT_EMPTY_PATH)` (works on `O_PATH`
/// descriptors and symlinks). `None` leaves an id unchanged.
pub fn fchown(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
    let (uid, gid) = (uid.map(Uid::from_raw), gid.map(Gid::from_raw));
    unistd::fchownat(fd, c"", uid, gid, AtFlags::AT_EMPTY_PATH).map_err(errno)
}

/// `futimens(2)` (the host's `utimensat(fd, NULL, ...)`).
pub fn futimens(fd: BorrowedFd<'_>, times: &[libc::timespec; 2]) -> Result<(), Errno> {
    let [atime, mtime] = times.map(TimeSpec::from);
    stat::futimens(fd, &atime, &mtime).map_err(errno)
}

/// `mkdirat(2)`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<(), Errno> {
    stat::mkdirat(dir, name, Mode::from_bits_retain(mode)).map_err(errno)
}

/// `symlinkat(2)`.
pub fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    unistd::symlinkat(target, dir, name).map_err(errno)
}

/// `linkat(olddir, old, newdir, new, 0)` (never follows a symlink).
pub fn linkat(olddir: BorrowedFd<'_>, old: &CStr, newdir: BorrowedFd<'_>, new: &CStr) -> Result<(), Errno> {
    unistd::linkat(olddir, old, newdir, new, AtFlags::empty()).map_err(errno)
}

/// `unlinkat(2)`; `dir` removes a directory (`AT_REMOVEDIR`).
pub fn unlinkat(parent: BorrowedFd<'_>, name: &CStr, dir: bool) -> Result<(), Errno> {
    let flags = if dir { UnlinkatFlags::RemoveDir } else { UnlinkatFlags::NoRemoveDir };
    unistd::unlinkat(parent, name, flags).map_err(errno)
}

/// `renameat(2)` (glibc's, which is the host's `renameat` on x86-64).
pub fn renameat(olddir: BorrowedFd<'_>, old: &CStr, newdir: BorrowedFd<'_>, new: &CStr) -> Result<(), Errno> {
    fcntl::renameat(olddir, old, newdir, new).map_err(errno)
}

/// What an extended-attribute call applies to: an open (not `O_PATH`)
/// descriptor, or a name in the current directory, never followed if it is
/// a symlink (the `l*xattr` calls). The calls are rustix's: nix has none.
#[derive(Clone, Copy)]
pub enum XattrAt<'a> {
    Fd(BorrowedFd<'a>),
    Name(&'a CStr),
}

/// `fgetxattr(2)` / `lgetxattr(2)` into `buf`; the value's length.
pub fn getxattr(at: XattrAt<'_>, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    match at {
        XattrAt::Fd(fd) => rustix::fs::fgetxattr(fd, name, buf),
        XattrAt::Name(path) => rustix::fs::lgetxattr(path, name, buf),
    }
    .map_err(rerrno)
}

/// `flistxattr(2)` / `llistxattr(2)` into `buf` (NUL-terminated names); the
/// list's length.
pub fn listxattr(at: XattrAt<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    match at {
        XattrAt::Fd(fd) => rustix::fs::flistxattr(fd, buf),
        XattrAt::Name(path) => rustix::fs::llistxattr(path, buf),
    }
    .map_err(rerrno)
}

/// `fsetxattr(2)` / `lsetxattr(2)`; `flags` are `XATTR_CREATE` and
/// `XATTR_REPLACE`, passed through as given.
pub fn setxattr(at: XattrAt<'_>, name: &CStr, value: &[u8], flags: u32) -> Result<(), Errno> {
    let flags = XattrFlags::from_bits_retain(flags);
    match at {
        XattrAt::Fd(fd) => rustix::fs::fsetxattr(fd, name, value, flags),
        XattrAt::Name(path) => rustix::fs::lsetxattr(path, name, value, flags),
    }
    .map_err(rerrno)
}

/// `fremovexattr(2)` / `lremovexattr(2)`.
pub fn removexattr(at: XattrAt<'_>, name: &CStr) -> Result<(), Errno> {
    match at {
        XattrAt::Fd(fd) => rustix::fs::fremovexattr(fd, name),
        XattrAt::Name(path) => rustix::fs::lremovexattr(path, name),
    }
    .map_err(rerrno)
}

/// `fchdir(2)` (works on `O_PATH` directory descriptors).
pub fn fchdir(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    unistd::fchdir(fd).map_err(errno)
}

/// Send one message, with `fd` attached by `SCM_RIGHTS` if given.
/// Retries on `EINTR`; never raises `SIGPIPE`.
pub fn send_msg(sock: BorrowedFd<'_>, data: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let fds = fd.map(|f| [f.as_raw_fd()]);
    let rights = fds.as_ref().map(|fds| ControlMessage::ScmRights(fds));
    let cmsgs = rights.as_slice();
    let iov = [IoSlice::new(data)];
    loop {
        match socket::sendmsg::<UnixAddr>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
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
/// stream). Descriptors are received with `MSG_CMSG_CLOEXEC`, at most
/// [`MAX_FDS`] of them. Retries on `EINTR`.
///
/// rustix's `recvmsg`: nix's hands received descriptors out as raw numbers
/// (owning them would take `unsafe`) and refuses to walk the control
/// messages after `MSG_CTRUNC`, which would leak the descriptors that did
/// arrive. rustix gives them as `OwnedFd`s, and closes any left unread.
pub fn recv_msg(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    let mut space = [MaybeUninit::<u8>::uninit(); CMSG_ROOM + mem::align_of::<libc::cmsghdr>()];
    // Offer the kernel exactly `CMSG_ROOM` aligned bytes (rustix would align
    // a longer slice itself, and the slack could hold more descriptors).
    let start = space.as_ptr().align_offset(mem::align_of::<libc::cmsghdr>());
    let room = match start.checked_add(CMSG_ROOM) {
        Some(end) if end <= space.len() => &mut space[start..end],
        _ => &mut space[..],
    };
    let mut control = RecvAncillaryBuffer::new(room);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = loop {
        match rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(m) => break m,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = m {
            fds.extend(rights);
        }
    }
    Ok(Received {
        len: msg.bytes.min(iov[0].len()),
        truncated: msg.flags.contains(ReturnFlags::TRUNC),
        fds,
        fds_truncated: msg.flags.contains(ReturnFlags::CTRUNC),
    })
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn recv_msg_keeps_max_fds_and_reports_the_rest_truncated() {
        let (a, b) = crate::seqpacket_pair().unwrap();
        let files: Vec<File> = (0..MAX_FDS + 2).map(|_| File::open("/dev/null").unwrap()).collect();
        let raw: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
        let iov = [IoSlice::new(b"x")];
        let cmsg = [ControlMessage::ScmRights(&raw)];
        socket::sendmsg::<UnixAddr>(a.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).unwrap();

        let mut buf = [0u8; 8];
        let got = recv_msg(b.as_fd(), &mut buf).unwrap();

        assert_eq!((got.len, got.truncated), (1, false));
        assert_eq!(got.fds.len(), MAX_FDS);
        assert!(got.fds_truncated);
    }

    #[test]
    fn send_msg_passes_one_descriptor_and_recv_msg_owns_it() {
        let (a, b) = crate::seqpacket_pair().unwrap();
        let f = File::open("/dev/null").unwrap();

        send_msg(a.as_fd(), b"hi", Some(f.as_fd())).unwrap();
        let mut buf = [0u8; 1];
        let got = recv_msg(b.as_fd(), &mut buf).unwrap();

        assert_eq!((got.len, got.truncated, got.fds_truncated), (1, true, false));
        assert_eq!(got.fds.len(), 1);
        let flags = fcntl::fcntl(got.fds[0].as_fd(), FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }
}
