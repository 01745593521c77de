//! Jailing the gofer process inside the root it serves: a private mount
//! namespace whose root is a bind mount of the served tree. See
//! [`crate::server::run_with`] for the steps and their order.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::mount::{self, MntFlags, MsFlags};
use nix::sched::{self, CloneFlags};
use nix::sys::prctl;
use nix::sys::stat::{self, Mode};
use nix::unistd;

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

/// A failed jail step as an I/O error that says which step and why.
fn fail(what: &str, e: Errno) -> io::Error {
    let hint = match e {
        Errno::EPERM => " (the gofer needs CAP_SYS_ADMIN: run it as root or in a user namespace)",
        _ => "",
    };
    let e = io::Error::from(e);
    io::Error::new(e.kind(), format!("gofer jail: {what}: {e}{hint}"))
}

/// A `mount(2)` with no file system type and no data: a bind, a remount or
/// a propagation change.
fn change_mount(src: Option<&CStr>, target: &CStr, flags: MsFlags, what: &str) -> io::Result<()> {
    mount::mount(src, target, None::<&CStr>, flags, None::<&CStr>).map_err(|e| fail(what, e))
}

/// `mount_setattr(AT_FDCWD, path, AT_RECURSIVE, {attr_set: set})`.
///
/// A raw call: neither nix 0.32 nor rustix 1 wraps `mount_setattr`
/// (rustix has the `MOUNT_ATTR_*` flags only for `fsmount`).
#[allow(unsafe_code)]
fn mount_setattr_recursive(path: &CStr, set: u64) -> Result<(), Errno> {
    let attr = MountAttr { attr_set: set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: `path` is NUL-terminated and `attr` is a valid `struct
    // mount_attr` whose size we pass; the kernel only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// Make the tree under `root` (a mount point by now) read-only, `nosuid`
/// and `nodev`, recursively where the kernel can (5.12+).
fn restrict(root: &CStr, read_only: bool) -> io::Result<()> {
    let mut set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if read_only {
        set |= MOUNT_ATTR_RDONLY;
    }
    match mount_setattr_recursive(root, set) {
        Ok(()) => return Ok(()),
        Err(Errno::ENOSYS) => {}
        Err(e) => return Err(fail("mount_setattr", e)),
    }
    // Old kernel: remount the top mount only.
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if read_only {
        flags |= MsFlags::MS_RDONLY;
    }
    change_mount(None, root, flags, "remount read-only")
}

/// What the jail's "/" holds (see [`enter`]).
pub enum Served {
    /// The served directory itself: an `O_PATH` descriptor of "/".
    Dir(OwnedFd),
    /// A single served file, bind-mounted at [`FILE_NAME`] in an otherwise
    /// empty, read-only "/": an `O_PATH` descriptor of that "/".
    File(OwnedFd),
}

/// The name of the served file in the jail's "/" when the root is a file.
pub const FILE_NAME: &CStr = c"file";

/// Jail the calling process in `root` (steps in
/// [`crate::server::run_with`]); returns an `O_PATH` descriptor of the new
/// root. A `root` that is a regular file is bind-mounted, alone, on an
/// empty file [`FILE_NAME`] in a read-only staging directory that becomes
/// the jail's "/": the gofer then reaches no other host file, not even the
/// file's siblings.
pub fn enter(root: &Path, read_only: bool) -> io::Result<Served> {
    let root = CString::new(root.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "gofer jail: root path has a NUL"))?;
    sched::unshare(CloneFlags::CLONE_NEWNS).map_err(|e| fail("unshare(CLONE_NEWNS)", e))?;
    // Best effort: no network and no System V IPC in the gofer. Failing
    // these (e.g. a host policy forbids them) leaves the jail weaker but
    // still confined to `root`.
    for ns in [CloneFlags::CLONE_NEWNET, CloneFlags::CLONE_NEWIPC] {
        let _ = sched::unshare(ns);
    }
    hostsys::mount::make_private().map_err(|e| fail("make / private", e))?;
    // Stage the new root on a private tmpfs (over /tmp, in this mount
    // namespace only): a bind mount stacked on "/" itself could not be
    // entered, and pivot_root needs the new root to be a mount of its own.
    // The root may itself live under /tmp: hold it open first and bind it
    // through its descriptor once the staging tmpfs hides the path.
    let root_fd = fcntl::open(root.as_c_str(), OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| fail("open root", e))?;
    let kind = stat::fstat(&root_fd).map_err(|e| fail("stat root", e))?.st_mode & libc::S_IFMT;
    if kind != libc::S_IFDIR && kind != libc::S_IFREG {
        let what = "gofer jail: root is neither a directory nor a regular file";
        return Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    }
    let root_src = CString::new(format!("/proc/self/fd/{}", root_fd.as_raw_fd()))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "gofer jail: fd path"))?;
    let staging = c"/tmp";
    let target = c"/tmp/root";
    let fstype = c"tmpfs";
    mount::mount(Some(fstype), staging, Some(fstype), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, None::<&CStr>)
        .map_err(|e| fail("mount staging tmpfs", e))?;
    unistd::mkdir(target, Mode::from_bits_retain(0o755)).map_err(|e| fail("mkdir staging root", e))?;
    if kind == libc::S_IFDIR {
        change_mount(Some(&root_src), target, MsFlags::MS_BIND | MsFlags::MS_REC, "bind-mount root")?;
        drop(root_fd);
        restrict(target, read_only)?;
    } else {
        // `target` joined with FILE_NAME.
        let file = c"/tmp/root/file";
        // A mount of its own, for pivot_root.
        change_mount(Some(target), target, MsFlags::MS_BIND, "bind-mount staging root")?;
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        drop(fcntl::open(file, flags, Mode::from_bits_retain(0o600)).map_err(|e| fail("create mount point", e))?);
        change_mount(Some(&root_src), file, MsFlags::MS_BIND, "bind-mount root file")?;
        drop(root_fd);
        restrict(file, read_only)?;
        // The directory around the file takes no changes, whatever the file does.
        let flags =
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        change_mount(None, target, flags, "remount staging root read-only")?;
    }
    unistd::chdir(target).map_err(|e| fail("chdir(root)", e))?;
    hostsys::mount::pivot_to_cwd().map_err(|(what, e)| fail(what, e))?;
    // When the root was "/" the recursive bind copied the staging tmpfs
    // too: take it off so the root's own /tmp shows again.
    if root.as_bytes() == b"/" {
        mount::umount2(c"/tmp", MntFlags::MNT_DETACH).map_err(|e| fail("detach staging copy", e))?;
    }
    prctl::set_no_new_privs().map_err(|e| fail("no_new_privs", e))?;
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let fd = fcntl::open(c"/", dir_flags, Mode::empty()).map_err(|e| fail("open new root", e))?;
    Ok(if kind == libc::S_IFDIR { Served::Dir(fd) } else { Served::File(fd) })
}
