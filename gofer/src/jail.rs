//! Jailing the gofer process inside the root it serves: a private mount
//! namespace whose root is a bind mount of the served tree. See
//! [`crate::server::run_with`] for the steps and their order.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

/// `struct mount_attr` for `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Wrap the last OS error with what we were doing.
fn fail(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) => " (the gofer needs CAP_SYS_ADMIN: run it as root or in a user namespace)",
        _ => "",
    };
    io::Error::new(e.kind(), format!("gofer jail: {what}: {e}{hint}"))
}

fn check(ret: libc::c_int, what: &str) -> io::Result<()> {
    if ret < 0 {
        Err(fail(what))
    } else {
        Ok(())
    }
}

fn mount(src: Option<&CStr>, target: &CStr, flags: libc::c_ulong, what: &str) -> io::Result<()> {
    // SAFETY: every pointer is a NUL-terminated string or null, as mount(2)
    // allows for the source, file system type and data.
    check(
        unsafe { libc::mount(src.map_or(ptr::null(), CStr::as_ptr), target.as_ptr(), ptr::null(), flags, ptr::null()) },
        what,
    )
}

/// Make the tree under `root` (a mount point by now) read-only, `nosuid`
/// and `nodev`, recursively where the kernel can (5.12+).
fn restrict(root: &CStr, read_only: bool) -> io::Result<()> {
    let mut set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if read_only {
        set |= MOUNT_ATTR_RDONLY;
    }
    let attr = MountAttr { attr_set: set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: `root` is NUL-terminated and `attr` is a valid `struct
    // mount_attr` whose size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            root.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret == 0 {
        return Ok(());
    }
    if io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
        return Err(fail("mount_setattr"));
    }
    // Old kernel: remount the top mount only.
    let mut flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_NOSUID | libc::MS_NODEV;
    if read_only {
        flags |= libc::MS_RDONLY;
    }
    mount(None, root, flags, "remount read-only")
}

/// Jail the calling process in `root` (steps in
/// [`crate::server::run_with`]); returns an `O_PATH` descriptor of the new
/// root.
pub fn enter(root: &Path, read_only: bool) -> io::Result<OwnedFd> {
    let root = CString::new(root.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "gofer jail: root path has a NUL"))?;
    // SAFETY: plain call; no pointers.
    let ret = unsafe { libc::unshare(libc::CLONE_NEWNS) };
    check(ret, "unshare(CLONE_NEWNS)")?;
    // Best effort: no network and no System V IPC in the gofer. Failing
    // these (e.g. a host policy forbids them) leaves the jail weaker but
    // still confined to `root`.
    for ns in [libc::CLONE_NEWNET, libc::CLONE_NEWIPC] {
        // SAFETY: plain call; no pointers.
        let _ = unsafe { libc::unshare(ns) };
    }
    mount(None, c"/", libc::MS_REC | libc::MS_PRIVATE, "make / private")?;
    // Stage the new root on a private tmpfs (over /tmp, in this mount
    // namespace only): a bind mount stacked on "/" itself could not be
    // entered, and pivot_root needs the new root to be a mount of its own.
    // The root may itself live under /tmp: hold it open first and bind it
    // through its descriptor once the staging tmpfs hides the path.
    // SAFETY: `root` is NUL-terminated; the result is checked.
    let root_fd = unsafe { libc::open(root.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    check(root_fd, "open root")?;
    // SAFETY: a fresh descriptor we own.
    let root_fd = unsafe { OwnedFd::from_raw_fd(root_fd) };
    let root_src = CString::new(format!("/proc/self/fd/{}", root_fd.as_raw_fd()))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "gofer jail: fd path"))?;
    let staging = c"/tmp";
    let target = c"/tmp/root";
    let fstype = c"tmpfs";
    // SAFETY: all strings are NUL-terminated; no data argument.
    let ret = unsafe {
        libc::mount(
            fstype.as_ptr(),
            staging.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            std::ptr::null(),
        )
    };
    check(ret, "mount staging tmpfs")?;
    // SAFETY: the path is NUL-terminated.
    let ret = unsafe { libc::mkdir(target.as_ptr(), 0o755) };
    check(ret, "mkdir staging root")?;
    mount(Some(&root_src), target, libc::MS_BIND | libc::MS_REC, "bind-mount root")?;
    drop(root_fd);
    restrict(target, read_only)?;
    // SAFETY: `target` is NUL-terminated.
    let ret = unsafe { libc::chdir(target.as_ptr()) };
    check(ret, "chdir(root)")?;
    // pivot_root(".", "."): the old root is stacked under the new one at
    // "."; detaching "." then removes it, leaving only the new root.
    // SAFETY: both arguments are NUL-terminated strings.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) };
    check(if ret < 0 { -1 } else { 0 }, "pivot_root")?;
    // SAFETY: the path is NUL-terminated.
    let ret = unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) };
    check(ret, "detach old root")?;
    // SAFETY: the path is NUL-terminated.
    let ret = unsafe { libc::chdir(c"/".as_ptr()) };
    check(ret, "chdir(/)")?;
    // When the root was "/" the recursive bind copied the staging tmpfs
    // too: take it off so the root's own /tmp shows again.
    if root.as_bytes() == b"/" {
        // SAFETY: the path is NUL-terminated.
        let ret = unsafe { libc::umount2(c"/tmp".as_ptr(), libc::MNT_DETACH) };
        check(ret, "detach staging copy")?;
    }
    // SAFETY: plain call; the extra arguments are ignored zeros.
    let ret = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    check(ret, "no_new_privs")?;
    // SAFETY: the path is NUL-terminated.
    let fd = unsafe { libc::open(c"/".as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    check(fd, "open new root")?;
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
