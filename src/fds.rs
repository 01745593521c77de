//! Descriptors handed across exec: the ones a parent left open at agreed
//! numbers (the table in [`crate::launch`]) are taken by number, the rest
//! closed. Both steps name descriptors by number, which neither nix nor
//! rustix does safely: their calls take descriptors already owned or
//! borrowed, and nothing owns these yet.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Own descriptor `fd`, left open by the process that started this one;
/// `EBADF` if it is not open.
///
/// # Safety
///
/// `fd` was handed to this process for its sole use, and nothing in the
/// process owns it already: each number is taken once, at start-up.
pub unsafe fn take_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD reads only the descriptor table. `fd` is owned only
    // once it is known to be open, and the caller guarantees that nothing
    // else owns it.
    unsafe {
        if libc::fcntl(fd, libc::F_GETFD) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Close every descriptor numbered `first` to `last`, both included;
/// numbers not open are passed over. `close_range(2)` (Linux 5.9), which
/// neither nix nor rustix offers.
///
/// # Safety
///
/// Nothing in this process owns a descriptor in the range.
pub unsafe fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: close_range takes plain integers and touches no memory; the
    // caller guarantees that no owner's descriptor is closed under it.
    if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
