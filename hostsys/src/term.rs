//! Terminal requests on a host descriptor (the terminal the sandbox was
//! started from, donated as its stdio). Each request is paired here with
//! the structure the kernel reads or writes for it, so callers cannot pass
//! a buffer of the wrong size; nix and rustix mark every `ioctl` unsafe,
//! and rustix's termios calls convert to glibc's layout, not the kernel's
//! that the application is handed.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use abi::types::{Termios, Winsize};

/// `ioctl(fd, req, p)`, `p` pointing to a `T` the kernel reads or writes.
///
/// # Safety
/// `T` must be the argument type the kernel uses for `req`.
unsafe fn ioctl_with<T>(fd: BorrowedFd<'_>, req: u32, p: *mut T) -> io::Result<()> {
    // SAFETY: by the caller's contract the kernel accesses exactly a `T`
    // at `p`, which is live for the call; `fd` is open while borrowed.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), p) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `TCGETS`: the terminal's settings, as the kernel's `struct termios`.
pub fn get_attr(fd: BorrowedFd<'_>) -> io::Result<Termios> {
    let mut t = Termios::default();
    // SAFETY: TCGETS writes a kernel `struct termios`, which `Termios` is.
    unsafe { ioctl_with(fd, abi::consts::TCGETS, &mut t) }?;
    Ok(t)
}

/// When new settings take effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `TCSETS`: at once.
    Now,
    /// `TCSETSW`: after pending output is written.
    Drain,
    /// `TCSETSF`: after pending output is written, discarding pending input.
    Flush,
}

/// `TCSETS`, `TCSETSW` or `TCSETSF`.
pub fn set_attr(fd: BorrowedFd<'_>, when: When, t: &Termios) -> io::Result<()> {
    let req = match when {
        When::Now => abi::consts::TCSETS,
        When::Drain => abi::consts::TCSETSW,
        When::Flush => abi::consts::TCSETSF,
    };
    let mut t = *t;
    // SAFETY: the TCSETS family reads a kernel `struct termios`.
    unsafe { ioctl_with(fd, req, &mut t) }
}

/// `TIOCGWINSZ`: the window size.
pub fn get_winsize(fd: BorrowedFd<'_>) -> io::Result<Winsize> {
    let mut w = Winsize::default();
    // SAFETY: TIOCGWINSZ writes a `struct winsize`.
    unsafe { ioctl_with(fd, abi::consts::TIOCGWINSZ, &mut w) }?;
    Ok(w)
}

/// `TIOCSWINSZ`: set the window size.
pub fn set_winsize(fd: BorrowedFd<'_>, w: &Winsize) -> io::Result<()> {
    let mut w = *w;
    // SAFETY: TIOCSWINSZ reads a `struct winsize`.
    unsafe { ioctl_with(fd, abi::consts::TIOCSWINSZ, &mut w) }
}

/// `TIOCGPGRP`: the terminal's foreground process group.
pub fn get_pgrp(fd: BorrowedFd<'_>) -> io::Result<i32> {
    let mut g: libc::c_int = 0;
    // SAFETY: TIOCGPGRP writes an `int`.
    unsafe { ioctl_with(fd, abi::consts::TIOCGPGRP, &mut g) }?;
    Ok(g)
}

/// `FIONREAD`: bytes readable without blocking.
pub fn readable(fd: BorrowedFd<'_>) -> io::Result<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes an `int`.
    unsafe { ioctl_with(fd, abi::consts::FIONREAD, &mut n) }?;
    Ok(n)
}
