//! Mounts inside the sandbox: `mount` (tmpfs, proc, bind, remount, move,
//! propagation changes), `umount2`, `chroot`, `pivot_root`.
//!
//! Only a task with effective uid 0 may change mounts or its root (the
//! sandbox models `CAP_SYS_ADMIN`/`CAP_SYS_CHROOT` as uid 0).

use std::sync::Arc;

use abi::consts::*;
use abi::Errno;

use super::{int_arg, resolve_at};
use crate::fs::proc::ProcFs;
use crate::fs::{next_dev, Tmpfs};
use crate::kernel::Task;
use crate::vfs::{is_mount_root, lock, may_access, KResult, Location};

const MS_RDONLY: u64 = libc::MS_RDONLY;
const MS_REMOUNT: u64 = libc::MS_REMOUNT;
const MS_BIND: u64 = libc::MS_BIND;
const MS_MOVE: u64 = libc::MS_MOVE;
const MS_REC: u64 = libc::MS_REC;
const MS_PROPAGATION: u64 = libc::MS_SHARED | libc::MS_PRIVATE | libc::MS_SLAVE | libc::MS_UNBINDABLE;
/// The old magic number callers may put in the top 16 bits of the flags.
const MS_MGC_MSK: u64 = 0xffff_0000;
const MS_MGC_VAL: u64 = 0xc0ed_0000;

/// Most data a file system's options may take (one page, as Linux copies).
const MAX_DATA: usize = 4096;

fn require_admin(t: &Task) -> KResult<()> {
    if t.creds().euid != 0 {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn read_opt_str(t: &Task, addr: u64) -> KResult<Option<Vec<u8>>> {
    if addr == 0 {
        return Ok(None);
    }
    t.read_path(addr).map(Some)
}

fn must_be_dir(loc: &Location) -> KResult<()> {
    if !loc.inode().attr()?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(())
}

/// The options of a new tmpfs: root mode, owner, and what to show in
/// `/proc/mounts`. `size=` and `nr_inodes=` are accepted and not enforced.
fn tmpfs_options(data: &[u8]) -> KResult<(u32, u32, u32, String)> {
    let (mut mode, mut uid, mut gid) = (0o1777, 0, 0);
    let mut shown = Vec::new();
    let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
    for opt in text.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        let num = |radix| u32::from_str_radix(v, radix).map_err(|_| Errno::EINVAL);
        match k {
            "mode" => mode = num(8)? & 0o7777,
            "uid" => uid = num(10)?,
            "gid" => gid = num(10)?,
            "size" | "nr_inodes" | "nr_blocks" => {
                let digits = v.trim_end_matches(|c: char| "kKmMgG%".contains(c));
                digits.parse::<u64>().map_err(|_| Errno::EINVAL)?;
            }
            // Generic options mount(8) may pass along.
            "rw" | "ro" | "nosuid" | "nodev" | "noexec" | "relatime" | "noatime" | "strictatime" | "inode64" => {}
            _ => return Err(Errno::EINVAL),
        }
        if k != "rw" && k != "ro" {
            shown.push(opt.to_owned());
        }
    }
    Ok((mode, uid, gid, shown.join(",")))
}

/// `mount(source, target, fstype, flags, data)`.
pub fn mount(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    require_admin(t)?;
    let mut flags = a[3];
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    let target_path = t.read_path(a[1])?;
    let target = resolve_at(t, AT_FDCWD, &target_path, true, false)?;
    let vfs = t.k.vfs.clone();
    if flags & MS_REMOUNT != 0 {
        if !is_mount_root(&target) {
            return Err(Errno::EINVAL);
        }
        target.mount.set_readonly(flags & MS_RDONLY != 0);
        return Ok(0);
    }
    if flags & MS_BIND != 0 {
        let src_path = read_opt_str(t, a[0])?.ok_or(Errno::EFAULT)?;
        let src = resolve_at(t, AT_FDCWD, &src_path, true, false)?;
        if src.inode().attr()?.is_dir() != target.inode().attr()?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        vfs.bind(&src, &target, flags & MS_REC != 0);
        return Ok(0);
    }
    if flags & MS_PROPAGATION != 0 {
        // One mount namespace, nothing to propagate to: accepted as is.
        return Ok(0);
    }
    if flags & MS_MOVE != 0 {
        let src_path = read_opt_str(t, a[0])?.ok_or(Errno::EFAULT)?;
        let src = resolve_at(t, AT_FDCWD, &src_path, true, false)?;
        vfs.move_mount(&src, &target)?;
        return Ok(0);
    }
    let fstype = read_opt_str(t, a[2])?.ok_or(Errno::EFAULT)?;
    let source = read_opt_str(t, a[0])?.unwrap_or_else(|| b"none".to_vec());
    let source = String::from_utf8_lossy(&source).into_owned();
    let data = if a[4] == 0 { Vec::new() } else { lock(&t.mm).read_cstring(a[4], MAX_DATA)? };
    must_be_dir(&target)?;
    let readonly = flags & MS_RDONLY != 0;
    match fstype.as_slice() {
        b"tmpfs" => {
            let (mode, uid, gid, shown) = tmpfs_options(&data)?;
            let fs = Tmpfs::new(next_dev(), S_IFDIR | mode, uid, gid);
            vfs.mount_dentry(&target, crate::vfs::Dentry::root(fs.root()), "tmpfs", &source, &shown, readonly);
        }
        b"proc" => {
            let fs = ProcFs::new(next_dev());
            fs.set_kernel(&t.k);
            vfs.mount(&target, fs.root(), "proc", &source, readonly);
        }
        _ => return Err(Errno::ENODEV),
    }
    Ok(0)
}

/// `umount2(target, flags)`.
pub fn umount2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    const MNT_FORCE: u32 = 1;
    const MNT_DETACH: u32 = 2;
    const MNT_EXPIRE: u32 = 4;
    const UMOUNT_NOFOLLOW: u32 = 8;
    require_admin(t)?;
    let flags = int_arg(a[1]) as u32;
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0
        || (flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0)
    {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, flags & UMOUNT_NOFOLLOW == 0, false)?;
    // The topmost mount here: `umount2(".")` after `pivot_root(".", ".")`
    // takes away the old root stacked on the working directory.
    let loc = t.k.vfs.cross_down(loc);
    t.k.vfs.umount(&loc, flags & MNT_DETACH != 0)?;
    Ok(0)
}

/// `chroot(path)`.
pub fn chroot(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    let attr = loc.inode().attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_access(&attr, &t.creds(), X_OK)?;
    require_admin(t)?;
    lock(&t.fsc).root = loc;
    Ok(0)
}

fn same(a: &Location, b: &Location) -> bool {
    Arc::ptr_eq(&a.mount, &b.mount) && Arc::ptr_eq(&a.dentry, &b.dentry)
}

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    require_admin(t)?;
    let (n, o) = (t.read_path(a[0])?, t.read_path(a[1])?);
    let new_root = resolve_at(t, AT_FDCWD, &n, true, false)?;
    let put_old = resolve_at(t, AT_FDCWD, &o, true, false)?;
    must_be_dir(&new_root)?;
    must_be_dir(&put_old)?;
    let old_root = t.fs().root;
    t.k.vfs.pivot_root(&new_root, &put_old, &old_root)?;
    // As Linux does: every root and working directory at the old root
    // moves to the new one.
    for p in t.k.all_processes() {
        let fsc = p.fs();
        let mut fs = lock(&fsc);
        if same(&fs.root, &old_root) {
            fs.root = new_root.clone();
        }
        if same(&fs.cwd, &old_root) {
            fs.cwd = new_root.clone();
        }
    }
    let mut fs = lock(&t.fsc);
    if same(&fs.root, &old_root) {
        fs.root = new_root.clone();
    }
    if same(&fs.cwd, &old_root) {
        fs.cwd = new_root;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options_take_mode_in_octal_and_accept_size() {
        let (mode, uid, gid, shown) = tmpfs_options(b"size=64m,mode=755,uid=5").expect("valid options");

        assert_eq!((mode, uid, gid, shown.as_str()), (0o755, 5, 0, "size=64m,mode=755,uid=5"));
    }

    #[test]
    fn tmpfs_options_reject_unknown_keys() {
        assert_eq!(tmpfs_options(b"bogus=1").err(), Some(Errno::EINVAL));
    }
}
