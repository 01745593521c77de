//! Extended attributes: `getxattr setxattr listxattr removexattr` and their
//! `l` (no symlink following) and `f` (open descriptor) forms.
//!
//! The VFS half of Linux's `fs/xattr.c` lives here: argument limits, the
//! namespace rules (`trusted.*` only with `CAP_SYS_ADMIN`, `user.*` only
//! on regular files and directories, `security.*` written only with
//! `CAP_SYS_ADMIN`, `security.capability` with `CAP_SETFCAP`) and the
//! permission check; file systems only store and
//! answer (see `Inode::getxattr`).

use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{Fd, InBuf, OutBuf, UserCStr, XattrFlags};
use super::{file_of, resolve_at};
use crate::kernel::Task;
use crate::vfs::{may_access, InodeAttr, InodeRef, KResult, Location};

/// What an xattr call applies to.
struct Target {
    inode: InodeRef,
    loc: Option<Location>,
}

/// How the call names its file.
#[derive(Clone, Copy)]
enum By {
    Path { path: UserCStr, follow: bool },
    Fd(Fd),
}

fn target(t: &Task, by: By) -> KResult<Target> {
    match by {
        By::Path { path, follow } => {
            let p = path.read(t)?;
            let loc = resolve_at(t, AT_FDCWD, &p, follow, false)?;
            Ok(Target { inode: loc.inode().clone(), loc: Some(loc) })
        }
        By::Fd(fd) => {
            let f = file_of(t, fd.0)?;
            if f.flags() & O_PATH != 0 {
                return Err(Errno::EBADF);
            }
            let inode = f.inode.clone().ok_or(Errno::EOPNOTSUPP)?;
            Ok(Target { inode, loc: f.loc.clone() })
        }
    }
}

/// An attribute name argument: 1 to `XATTR_NAME_MAX` bytes (`ERANGE`
/// otherwise, as Linux answers).
fn read_name(t: &Task, name: UserCStr) -> KResult<Vec<u8>> {
    let name = match t.mm.lock().read_cstring(name.addr(), XATTR_NAME_MAX + 1) {
        Ok(n) => n,
        Err(Errno::ENAMETOOLONG) => return Err(Errno::ERANGE),
        Err(e) => return Err(e),
    };
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

/// Whether `name` lies in namespace `prefix` (`b"user."` ...).
fn in_ns(name: &[u8], prefix: &[u8]) -> bool {
    name.starts_with(prefix)
}

/// Linux's `xattr_permission`: may the caller read (`write` false) or
/// change `name` of a file with `attr`?
fn check_permission(t: &Task, attr: &InodeAttr, name: &[u8], write: bool) -> KResult<()> {
    let creds = t.creds();
    if in_ns(name, b"security.") || in_ns(name, b"system.") {
        // No VFS rule; the capability module wants CAP_SETFCAP to write
        // file capabilities and CAP_SYS_ADMIN for the rest of security.*
        // (POSIX ACLs under system.* are the file system's).
        let cap = if name == b"security.capability" { CAP_SETFCAP } else { CAP_SYS_ADMIN };
        if write && in_ns(name, b"security.") && !creds.capable(cap) {
            return Err(Errno::EPERM);
        }
        return Ok(());
    }
    if in_ns(name, b"trusted.") {
        if !creds.capable(CAP_SYS_ADMIN) {
            return Err(if write { Errno::EPERM } else { Errno::ENODATA });
        }
        return Ok(());
    }
    if in_ns(name, b"user.") {
        if !attr.is_regular() && !attr.is_dir() {
            return Err(if write { Errno::EPERM } else { Errno::ENODATA });
        }
        if attr.is_dir() && attr.mode & S_ISVTX != 0 && write && !creds.owner_or_capable(attr) {
            return Err(Errno::EPERM);
        }
    }
    may_access(attr, &creds, if write { W_OK } else { R_OK })
}

/// A change needs a writable mount.
fn check_writable(tg: &Target) -> KResult<()> {
    if tg.loc.as_ref().is_some_and(|l| l.mount.readonly()) {
        return Err(Errno::EROFS);
    }
    Ok(())
}

fn do_get(t: &Task, by: By, name: UserCStr, value: OutBuf, size: usize) -> KResult<u64> {
    let name = read_name(t, name)?;
    let tg = target(t, by)?;
    let attr = tg.inode.attr()?;
    check_permission(t, &attr, &name, false)?;
    let data = tg.inode.getxattr(&name)?;
    let size = size.min(XATTR_SIZE_MAX);
    if size == 0 {
        return Ok(data.len() as u64);
    }
    if data.len() > size {
        return Err(Errno::ERANGE);
    }
    value.write(t, &data)?;
    Ok(data.len() as u64)
}

fn do_set(t: &Task, by: By, name: UserCStr, value: InBuf<3>, size: usize, flags: XattrFlags) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = read_name(t, name)?;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let data = value.read(t, size)?;
    let tg = target(t, by)?;
    check_writable(&tg)?;
    let attr = tg.inode.attr()?;
    check_permission(t, &attr, &name, true)?;
    tg.inode.setxattr(&name, &data, flags)?;
    crate::fs::inotify::notify_inode(tg.loc.as_ref(), &attr, IN_ATTRIB);
    Ok(0)
}

fn do_list(t: &Task, by: By, list: OutBuf, size: usize) -> KResult<u64> {
    let tg = target(t, by)?;
    let privileged = t.creds().capable(CAP_SYS_ADMIN);
    let names = match tg.inode.listxattr() {
        Ok(n) => n,
        // A file system without attributes lists none.
        Err(Errno::EOPNOTSUPP) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for n in names.iter().filter(|n| privileged || !in_ns(n, b"trusted.")) {
        out.extend_from_slice(n);
        out.push(0);
    }
    let size = size.min(XATTR_LIST_MAX);
    if out.len() > XATTR_LIST_MAX {
        return Err(Errno::E2BIG);
    }
    if size == 0 {
        return Ok(out.len() as u64);
    }
    if out.len() > size {
        return Err(Errno::ERANGE);
    }
    list.write(t, &out)?;
    Ok(out.len() as u64)
}

fn do_remove(t: &Task, by: By, name: UserCStr) -> KResult<u64> {
    let name = read_name(t, name)?;
    let tg = target(t, by)?;
    check_writable(&tg)?;
    let attr = tg.inode.attr()?;
    check_permission(t, &attr, &name, true)?;
    tg.inode.removexattr(&name)?;
    crate::fs::inotify::notify_inode(tg.loc.as_ref(), &attr, IN_ATTRIB);
    Ok(0)
}

/// The value of attribute `name` of the file `path` names.
#[syscall]
pub fn getxattr(t: &mut Task, path: UserCStr, name: UserCStr, value: OutBuf, size: usize) -> KResult<u64> {
    do_get(t, By::Path { path, follow: true }, name, value, size)
}

/// Set attribute `name` of the file `path` names.
#[syscall]
pub fn setxattr(
    t: &mut Task,
    path: UserCStr,
    name: UserCStr,
    value: InBuf<3>,
    size: usize,
    flags: XattrFlags,
) -> KResult<u64> {
    do_set(t, By::Path { path, follow: true }, name, value, size, flags)
}

/// The attribute names of the file `path` names, NUL-separated.
#[syscall]
pub fn listxattr(t: &mut Task, path: UserCStr, list: OutBuf, size: usize) -> KResult<u64> {
    do_list(t, By::Path { path, follow: true }, list, size)
}

/// Remove attribute `name` of the file `path` names.
#[syscall]
pub fn removexattr(t: &mut Task, path: UserCStr, name: UserCStr) -> KResult<u64> {
    do_remove(t, By::Path { path, follow: true }, name)
}

/// `getxattr` of a link itself.
#[syscall]
pub fn lgetxattr(t: &mut Task, path: UserCStr, name: UserCStr, value: OutBuf, size: usize) -> KResult<u64> {
    do_get(t, By::Path { path, follow: false }, name, value, size)
}

/// `setxattr` of a link itself.
#[syscall]
pub fn lsetxattr(
    t: &mut Task,
    path: UserCStr,
    name: UserCStr,
    value: InBuf<3>,
    size: usize,
    flags: XattrFlags,
) -> KResult<u64> {
    do_set(t, By::Path { path, follow: false }, name, value, size, flags)
}

/// `listxattr` of a link itself.
#[syscall]
pub fn llistxattr(t: &mut Task, path: UserCStr, list: OutBuf, size: usize) -> KResult<u64> {
    do_list(t, By::Path { path, follow: false }, list, size)
}

/// `removexattr` of a link itself.
#[syscall]
pub fn lremovexattr(t: &mut Task, path: UserCStr, name: UserCStr) -> KResult<u64> {
    do_remove(t, By::Path { path, follow: false }, name)
}

/// `getxattr` of the file open at `fd`.
#[syscall]
pub fn fgetxattr(t: &mut Task, fd: Fd, name: UserCStr, value: OutBuf, size: usize) -> KResult<u64> {
    do_get(t, By::Fd(fd), name, value, size)
}

/// `setxattr` of the file open at `fd`.
#[syscall]
pub fn fsetxattr(
    t: &mut Task,
    fd: Fd,
    name: UserCStr,
    value: InBuf<3>,
    size: usize,
    flags: XattrFlags,
) -> KResult<u64> {
    do_set(t, By::Fd(fd), name, value, size, flags)
}

/// `listxattr` of the file open at `fd`.
#[syscall]
pub fn flistxattr(t: &mut Task, fd: Fd, list: OutBuf, size: usize) -> KResult<u64> {
    do_list(t, By::Fd(fd), list, size)
}

/// `removexattr` of the file open at `fd`.
#[syscall]
pub fn fremovexattr(t: &mut Task, fd: Fd, name: UserCStr) -> KResult<u64> {
    do_remove(t, By::Fd(fd), name)
}
