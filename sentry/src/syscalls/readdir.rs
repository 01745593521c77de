//! getdents64, as Linux's fs/readdir.c.

use abi::consts::*;
use abi::types::Dirent64Head;
use abi::Errno;
use zerocopy::AsBytes;

use sentry_macros::syscall;

use super::args::{Call, Fd, SysArg, UserBytes};
use super::file_of;
use crate::kernel::Task;
use crate::vfs::{FileDescription, KResult};

/// The buffer `getdents64` fills, printed as strace does: its address and
/// how many records the call stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirents(u64);

impl Dirents {
    pub fn bytes(self) -> UserBytes {
        UserBytes::new(self.0)
    }
}

impl SysArg for Dirents {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(Dirents(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let addr = c.raw[i];
        let Some(Ok(len)) = c.result else { return format!("{addr:#x}") };
        let Ok(buf) = usize::try_from(len).map_err(|_| Errno::EFAULT).and_then(|n| UserBytes::new(addr).read(c.t, n))
        else {
            return format!("{addr:#x}");
        };
        format!("{addr:#x} /* {} entries */", count_dirents(&buf))
    }
}

/// How many `linux_dirent64` records `buf` holds.
fn count_dirents(buf: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 0;
    // `d_reclen` is the little-endian u16 after `d_ino` and `d_off`.
    while let Some(&[lo, hi]) = buf.get(at + 16..at + 18) {
        let reclen = usize::from(u16::from_le_bytes([lo, hi]));
        if reclen == 0 {
            break;
        }
        n += 1;
        at += reclen;
    }
    n
}

/// Read directory entries of `fd` into `dirp` as `struct linux_dirent64`
/// records, as many whole ones as fit in `count` bytes.
#[syscall]
pub fn getdents64(t: &mut Task, fd: Fd, dirp: Dirents, count: u32) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let inode = f.inode.clone().ok_or(Errno::ENOTDIR)?;
    let attr = inode.attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
    let mut entries = f.dir_entries.lock();
    if entries.is_none() {
        let mut v = vec![
            crate::vfs::DirEntry { ino: attr.ino, kind: DT_DIR, name: b".".to_vec() },
            crate::vfs::DirEntry { ino: parent_ino(&f).unwrap_or(attr.ino), kind: DT_DIR, name: b"..".to_vec() },
        ];
        v.extend(inode.readdir()?);
        *entries = Some(v);
    }
    let list = entries.as_ref().map_or(&[][..], |v| &v[..]);
    let mut off = f.offset();
    let mut out = Vec::new();
    let mut idx = *off as usize;
    while idx < list.len() {
        let e = &list[idx];
        let reclen = (19 + e.name.len() + 1 + 7) & !7;
        if out.len() + reclen > count {
            break;
        }
        let head = Dirent64Head {
            d_ino: e.ino,
            d_off: (idx + 1) as i64,
            d_reclen: reclen as u16,
            d_type: if e.kind == DT_UNKNOWN { crate::fs::dtype_of_mode(0) } else { e.kind },
        };
        let start = out.len();
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&e.name);
        out.resize(start + reclen, 0);
        idx += 1;
    }
    if out.is_empty() && idx < list.len() {
        return Err(Errno::EINVAL);
    }
    dirp.bytes().write(t, &out)?;
    *off = idx as u64;
    Ok(out.len() as u64)
}

fn parent_ino(f: &FileDescription) -> Option<u64> {
    let loc = f.loc.as_ref()?;
    let p = &loc.dentry.parent()?;
    p.inode.attr().ok().map(|a| a.ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_dirents_follows_the_record_lengths() {
        let mut buf = vec![0u8; 24 + 32];
        buf[16..18].copy_from_slice(&24u16.to_le_bytes());
        buf[24 + 16..24 + 18].copy_from_slice(&32u16.to_le_bytes());
        assert_eq!(count_dirents(&buf), 2);
    }

    #[test]
    fn count_dirents_stops_at_a_zero_record_length() {
        assert_eq!(count_dirents(&[0u8; 64]), 0);
    }
}
