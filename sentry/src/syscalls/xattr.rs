//! Extended attributes: `getxattr setxattr listxattr removexattr` and their
//! `l` (no symlink following) and `f` (open descriptor) forms.
//!
//! The VFS half of Linux's `fs/xattr.c` lives here: argument limits, the
//! namespace rules (`trusted.*` for the privileged only, `user.*` only on
//! regular files and directories, `security.*` written only by the
//! privileged) and the permission check; file systems only store and
//! answer (see `Inode::getxattr`).

use abi::consts::*;
use abi::Errno;

use super::{fd_arg, file_of, resolve_at};
use crate::kernel::Task;
use crate::vfs::{lock, may_access, InodeAttr, InodeRef, KResult, Location};

/// What an xattr call applies to.
struct Target {
    inode: InodeRef,
    loc: Option<Location>,
}

/// How the call names its file.
#[derive(Clone, Copy)]
enum By {
    Path { follow: bool },
    Fd,
}

fn target(t: &Task, by: By, arg: u64) -> KResult<Target> {
    match by {
        By::Path { follow } => {
            let p = t.read_path(arg)?;
            let loc = resolve_at(t, AT_FDCWD, &p, follow, false)?;
            Ok(Target { inode: loc.inode().clone(), loc: Some(loc) })
        }
        By::Fd => {
            let f = file_of(t, fd_arg(arg)?)?;
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
fn read_name(t: &Task, addr: u64) -> KResult<Vec<u8>> {
    let name = match lock(&t.mm).read_cstring(addr, XATTR_NAME_MAX + 1) {
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
    let privileged = creds.fsuid == 0;
    if in_ns(name, b"security.") || in_ns(name, b"system.") {
        // No VFS rule; the capability module wants CAP_SYS_ADMIN to write
        // security.* (POSIX ACLs under system.* are the file system's).
        if write && in_ns(name, b"security.") && !privileged {
            return Err(Errno::EPERM);
        }
        return Ok(());
    }
    if in_ns(name, b"trusted.") {
        if !privileged {
            return Err(if write { Errno::EPERM } else { Errno::ENODATA });
        }
        return Ok(());
    }
    if in_ns(name, b"user.") {
        if !attr.is_regular() && !attr.is_dir() {
            return Err(if write { Errno::EPERM } else { Errno::ENODATA });
        }
        if attr.is_dir() && attr.mode & S_ISVTX != 0 && write && !privileged && creds.fsuid != attr.uid {
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

fn do_get(t: &Task, by: By, a: &[u64; 6]) -> KResult<u64> {
    let name = read_name(t, a[1])?;
    let tg = target(t, by, a[0])?;
    let attr = tg.inode.attr()?;
    check_permission(t, &attr, &name, false)?;
    let value = tg.inode.getxattr(&name)?;
    let size = usize::try_from(a[3]).unwrap_or(usize::MAX).min(XATTR_SIZE_MAX);
    if size == 0 {
        return Ok(value.len() as u64);
    }
    if value.len() > size {
        return Err(Errno::ERANGE);
    }
    t.write_bytes(a[2], &value)?;
    Ok(value.len() as u64)
}

fn do_set(t: &Task, by: By, a: &[u64; 6]) -> KResult<u64> {
    let flags = u32::try_from(a[4]).map_err(|_| Errno::EINVAL)?;
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = read_name(t, a[1])?;
    let size = usize::try_from(a[3]).unwrap_or(usize::MAX);
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let value = t.read_vec(a[2], size)?;
    let tg = target(t, by, a[0])?;
    check_writable(&tg)?;
    let attr = tg.inode.attr()?;
    check_permission(t, &attr, &name, true)?;
    tg.inode.setxattr(&name, &value, flags)?;
    crate::fs::inotify::notify_inode(tg.loc.as_ref(), &attr, IN_ATTRIB);
    Ok(0)
}

fn do_list(t: &Task, by: By, a: &[u64; 6]) -> KResult<u64> {
    let tg = target(t, by, a[0])?;
    let privileged = t.creds().fsuid == 0;
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
    let size = usize::try_from(a[2]).unwrap_or(usize::MAX).min(XATTR_LIST_MAX);
    if out.len() > XATTR_LIST_MAX {
        return Err(Errno::E2BIG);
    }
    if size == 0 {
        return Ok(out.len() as u64);
    }
    if out.len() > size {
        return Err(Errno::ERANGE);
    }
    t.write_bytes(a[1], &out)?;
    Ok(out.len() as u64)
}

fn do_remove(t: &Task, by: By, a: &[u64; 6]) -> KResult<u64> {
    let name = read_name(t, a[1])?;
    let tg = target(t, by, a[0])?;
    check_writable(&tg)?;
    let attr = tg.inode.attr()?;
    check_permission(t, &attr, &name, true)?;
    tg.inode.removexattr(&name)?;
    crate::fs::inotify::notify_inode(tg.loc.as_ref(), &attr, IN_ATTRIB);
    Ok(0)
}

pub fn getxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_get(t, By::Path { follow: true }, a)
}

pub fn lgetxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_get(t, By::Path { follow: false }, a)
}

pub fn fgetxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_get(t, By::Fd, a)
}

pub fn setxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_set(t, By::Path { follow: true }, a)
}

pub fn lsetxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_set(t, By::Path { follow: false }, a)
}

pub fn fsetxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_set(t, By::Fd, a)
}

pub fn listxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_list(t, By::Path { follow: true }, a)
}

pub fn llistxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_list(t, By::Path { follow: false }, a)
}

pub fn flistxattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_list(t, By::Fd, a)
}

pub fn removexattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_remove(t, By::Path { follow: true }, a)
}

pub fn lremovexattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_remove(t, By::Path { follow: false }, a)
}

pub fn fremovexattr(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_remove(t, By::Fd, a)
}
