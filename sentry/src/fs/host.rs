//! Host descriptors donated by the CLI (the application's stdin, stdout and
//! stderr), shown to the application as ordinary files or terminals.
//!
//! A regular file is read and written at the VFS's offsets (`pread`,
//! `pwrite`); anything else (terminal, pipe, socket) is a stream, read and
//! written with `read`/`write`. Terminal `ioctl`s are answered by the host
//! descriptor itself.

use std::any::Any;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use abi::consts::{FIONREAD, S_IFMT, S_IFREG, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGPGRP, TIOCGWINSZ, TIOCSWINSZ};
use abi::types::{Termios, Timespec, Winsize};
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::gofer::pread_host;
use hostsys::term::{self, When};

use crate::host::{errno, retry};
use crate::vfs::Caller;
use crate::vfs::{FileOps, FileRef, Inode, InodeAttr, KResult, SetAttr, UserMem, CURRENT_POS};

/// An open host descriptor, as the application's file.
pub struct HostFile {
    fd: OwnedFd,
    regular: bool,
    /// A terminal (TCGETS answers).
    tty: bool,
}

impl HostFile {
    /// Wrap a donated descriptor. `fstat` tells whether it is a regular
    /// file (positional I/O) or a stream.
    pub fn new(fd: OwnedFd) -> KResult<HostFile> {
        let st = nix::sys::stat::fstat(&fd).map_err(errno)?;
        let mut f = HostFile { fd, regular: st.st_mode & libc::S_IFMT == libc::S_IFREG, tty: false };
        f.tty = !f.regular && term::get_attr(f.fd.as_fd()).is_ok();
        Ok(f)
    }

    fn host_fionread(&self) -> KResult<u64> {
        let n = term::readable(self.fd.as_fd()).map_err(|e| Errno::from_io(&e))?;
        u64::try_from(n).map_err(|_| Errno::EIO)
    }
}

/// A host terminal call's error as the application's errno.
fn host_err(e: std::io::Error) -> Errno {
    Errno::from_io(&e)
}

/// Copy `v` to the application at `arg`.
fn put<T: AsBytes>(mem: &dyn UserMem, arg: u64, v: &T) -> KResult<u64> {
    mem.write_bytes(arg, v.as_bytes())?;
    Ok(0)
}

/// Copy a `T` from the application at `arg`.
fn take<T: AsBytes + FromBytes + FromZeroes>(mem: &dyn UserMem, arg: u64) -> KResult<T> {
    let mut v = T::new_zeroed();
    mem.read_bytes(arg, v.as_bytes_mut())?;
    Ok(v)
}

impl FileOps for HostFile {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], off: u64) -> KResult<usize> {
        if self.regular && off != CURRENT_POS {
            return pread_host(self.fd.as_fd(), buf, off);
        }
        retry(|| nix::unistd::read(&self.fd, buf))
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], off: u64) -> KResult<usize> {
        if self.regular && off != CURRENT_POS {
            let off = libc::off_t::try_from(off).map_err(|_| Errno::EFBIG)?;
            return retry(|| nix::sys::uio::pwrite(&self.fd, buf, off));
        }
        retry(|| nix::unistd::write(&self.fd, buf))
    }

    fn seekable(&self) -> bool {
        self.regular
    }

    fn has_own_offset(&self) -> bool {
        true
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        // The host's open file description is shared with whoever donated
        // it (the caller's shell): O_APPEND and O_NONBLOCK change there too,
        // as they would natively.
        let settable = (libc::O_APPEND | libc::O_NONBLOCK) as u32;
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let cur = fcntl(&self.fd, FcntlArg::F_GETFL).map_err(errno)?;
        let new = (cur as u32 & !settable) | (flags & settable);
        fcntl(&self.fd, FcntlArg::F_SETFL(OFlag::from_bits_retain(new as libc::c_int))).map_err(errno)?;
        Ok(())
    }

    fn is_terminal(&self) -> bool {
        self.tty
    }

    fn terminal_lflag(&self) -> Option<u32> {
        if !self.tty {
            return None;
        }
        term::get_attr(self.fd.as_fd()).ok().map(|t| t.c_lflag)
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        if self.regular {
            None
        } else {
            Some(self.fd.as_fd())
        }
    }

    fn seek(&self, off: i64, whence: u32) -> KResult<u64> {
        if !self.regular {
            return Err(Errno::ESPIPE);
        }
        use nix::unistd::Whence;
        let whence = match whence {
            abi::consts::SEEK_SET => Whence::SeekSet,
            abi::consts::SEEK_CUR => Whence::SeekCur,
            abi::consts::SEEK_END => Whence::SeekEnd,
            abi::consts::SEEK_DATA => Whence::SeekData,
            abi::consts::SEEK_HOLE => Whence::SeekHole,
            _ => return Err(Errno::EINVAL),
        };
        let r = nix::unistd::lseek(&self.fd, off, whence).map_err(errno)?;
        u64::try_from(r).map_err(|_| Errno::EOVERFLOW)
    }

    fn ioctl(&self, req: u32, arg: u64, mem: &dyn UserMem) -> KResult<u64> {
        let fd = self.fd.as_fd();
        match req {
            TCGETS => put(mem, arg, &term::get_attr(fd).map_err(host_err)?),
            TCSETS | TCSETSW | TCSETSF => {
                let when = match req {
                    TCSETS => When::Now,
                    TCSETSW => When::Drain,
                    _ => When::Flush,
                };
                term::set_attr(fd, when, &take::<Termios>(mem, arg)?).map_err(host_err)?;
                Ok(0)
            }
            TIOCGWINSZ => put(mem, arg, &term::get_winsize(fd).map_err(host_err)?),
            TIOCSWINSZ => {
                term::set_winsize(fd, &take::<Winsize>(mem, arg)?).map_err(host_err)?;
                Ok(0)
            }
            TIOCGPGRP => put(mem, arg, &term::get_pgrp(fd).map_err(host_err)?),
            FIONREAD if !self.regular => {
                let n = i32::try_from(self.host_fionread()?).unwrap_or(i32::MAX);
                mem.write_bytes(arg, n.as_bytes())?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn fsync(&self) -> KResult<()> {
        if !self.regular {
            return Ok(());
        }
        nix::unistd::fsync(&self.fd).map_err(errno)
    }

    fn readable_bytes(&self) -> Option<u64> {
        if self.regular {
            return None;
        }
        self.host_fionread().ok()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The inode of a donated host descriptor (what `fstat` on the
/// application's stdin/stdout/stderr shows). Every open shares one
/// [`HostFile`].
pub struct HostInode {
    file: Arc<HostFile>,
    dev: u64,
}

impl HostInode {
    /// Wrap a donated descriptor; `st_dev` reports `dev` (a pseudo device,
    /// see `fs::next_dev`), the rest comes from the host's `fstat`.
    pub fn new(fd: OwnedFd, dev: u64) -> KResult<Arc<HostInode>> {
        Ok(Arc::new(HostInode { file: Arc::new(HostFile::new(fd)?), dev }))
    }

    /// The open file of this descriptor.
    pub fn file(&self) -> FileRef {
        self.file.clone()
    }
}

impl Inode for HostInode {
    fn attr(&self) -> KResult<InodeAttr> {
        let st = nix::sys::stat::fstat(&self.file.fd).map_err(errno)?;
        let ts = |sec: i64, nsec: i64| Timespec { tv_sec: sec, tv_nsec: nsec };
        Ok(InodeAttr {
            dev: self.dev,
            ino: st.st_ino,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: u64::try_from(st.st_size).unwrap_or(0),
            blksize: u64::try_from(st.st_blksize).unwrap_or(4096),
            blocks: u64::try_from(st.st_blocks).unwrap_or(0),
            atime: ts(st.st_atime, st.st_atime_nsec),
            mtime: ts(st.st_mtime, st.st_mtime_nsec),
            ctime: ts(st.st_ctime, st.st_ctime_nsec),
        })
    }

    fn set_attr(&self, attr: &SetAttr) -> KResult<()> {
        let only_size = SetAttr { size: attr.size, ..Default::default() };
        let (Some(size), true) = (attr.size, *attr == only_size) else {
            return Err(Errno::EPERM);
        };
        if self.attr()?.mode & S_IFMT != S_IFREG {
            return Err(Errno::EINVAL);
        }
        let size = libc::off_t::try_from(size).map_err(|_| Errno::EFBIG)?;
        nix::unistd::ftruncate(&self.file.fd, size).map_err(errno)
    }

    fn open(&self, _cx: Caller<'_>, _flags: u32) -> KResult<FileRef> {
        Ok(self.file())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::io::Write;

    /// Application memory: a flat buffer at address 0.
    struct Mem(RefCell<Vec<u8>>);

    impl UserMem for Mem {
        fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
            let a = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
            let m = self.0.borrow();
            buf.copy_from_slice(m.get(a..a + buf.len()).ok_or(Errno::EFAULT)?);
            Ok(())
        }
        fn write_bytes(&self, addr: u64, buf: &[u8]) -> KResult<()> {
            let a = usize::try_from(addr).map_err(|_| Errno::EFAULT)?;
            let mut m = self.0.borrow_mut();
            m.get_mut(a..a + buf.len()).ok_or(Errno::EFAULT)?.copy_from_slice(buf);
            Ok(())
        }
    }

    /// A connected stream pair (a stream like a pipe or terminal).
    fn pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        (r.into(), w.into())
    }

    fn temp_file(data: &[u8]) -> (std::path::PathBuf, OwnedFd) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "bulwark-fs-host-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f =
            std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&p).expect("open");
        f.write_all(data).expect("write");
        (p, f.into())
    }

    #[test]
    fn stream_is_read_and_written_in_order_ignoring_offsets() {
        let (r, w) = pipe();
        let (r, w) = (HostFile::new(r).expect("r"), HostFile::new(w).expect("w"));

        w.write(Caller::SENTRY, b"abc", 999).expect("write");
        let mut buf = [0u8; 8];
        let n = r.read(Caller::SENTRY, &mut buf, 12345).expect("read");

        assert_eq!(&buf[..n], b"abc");
        assert!(!r.seekable());
    }

    #[test]
    fn fionread_on_stream_reports_pending_bytes() {
        let (r, w) = pipe();
        let (r, w) = (HostFile::new(r).expect("r"), HostFile::new(w).expect("w"));
        w.write(Caller::SENTRY, b"12345", 0).expect("write");
        let mem = Mem(RefCell::new(vec![0; 8]));

        let ret = r.ioctl(FIONREAD, 0, &mem);

        assert_eq!(ret, Ok(0));
        assert_eq!(mem.0.borrow()[..4], 5i32.to_ne_bytes());
        assert_eq!(r.readable_bytes(), Some(5));
    }

    #[test]
    fn terminal_ioctls_on_a_non_tty_return_enotty() {
        let (r, _w) = pipe();
        let r = HostFile::new(r).expect("r");
        let mem = Mem(RefCell::new(vec![0; 64]));

        assert_eq!(r.ioctl(TCGETS, 0, &mem), Err(Errno::ENOTTY));
        assert_eq!(r.ioctl(TIOCGWINSZ, 0, &mem), Err(Errno::ENOTTY));
        assert_eq!(r.ioctl(0x1234, 0, &mem), Err(Errno::ENOTTY));
    }

    #[test]
    fn regular_file_is_read_and_written_at_offsets() {
        let (path, fd) = temp_file(b"hello");
        let f = HostFile::new(fd).expect("file");

        f.write(Caller::SENTRY, b"J", 0).expect("write");
        let mut buf = [0u8; 3];
        let n = f.read(Caller::SENTRY, &mut buf, 1).expect("read");

        assert!(f.seekable());
        assert_eq!(&buf[..n], b"ell");
        assert_eq!(std::fs::read(&path).expect("read back"), b"Jello");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn inode_reports_host_mode_and_size_with_pseudo_dev() {
        let (path, fd) = temp_file(b"1234");
        let inode = HostInode::new(fd, 5).expect("inode");

        let a = inode.attr().expect("attr");

        assert_eq!((a.dev, a.size, a.mode & S_IFMT), (5, 4, S_IFREG));
        let _ = std::fs::remove_file(path);
    }
}
