//! Memory calls: brk, mmap, munmap, mprotect, mremap, madvise.

use abi::consts::*;
use abi::Errno;

use super::{fd_arg, file_of};
use crate::kernel::Task;
use crate::mm::VmaBacking;
use crate::vfs::{lock, KResult};

pub fn brk(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    Ok(lock(&t.mm).set_brk(a[0]))
}

pub fn mmap(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (addr, len, prot, flags, off) = (a[0], a[1], a[2] as u32, a[3] as u32, a[5]);
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
        return Err(Errno::EINVAL);
    }
    let prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
    let typ = flags & MAP_TYPE;
    if !matches!(typ, MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE) {
        return Err(Errno::EINVAL);
    }
    if len == 0 || off % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MAP_HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    let (backing, name, dev_ino) = if flags & MAP_ANONYMOUS != 0 {
        let name = if typ == MAP_PRIVATE { Vec::new() } else { b"/dev/zero (deleted)".to_vec() };
        (VmaBacking::Anon, name, (0, 0))
    } else {
        let f = file_of(t, fd_arg(a[4])?)?;
        if f.flags() & O_PATH != 0 || !f.readable() {
            return Err(Errno::EACCES);
        }
        let inode = f.inode.clone().ok_or(Errno::ENODEV)?;
        let at = inode.attr()?;
        if at.is_dir() {
            return Err(Errno::ENODEV);
        }
        if typ != MAP_PRIVATE && prot & PROT_WRITE != 0 && !f.writable() {
            return Err(Errno::EACCES);
        }
        off.checked_add(len).ok_or(Errno::EOVERFLOW)?;
        let root = t.fs().root;
        let name = f.loc.as_ref().map(|l| t.k.vfs.shown_path(l, &root)).unwrap_or_default();
        // Zeroes past the end of the file (a partial last page).
        let zero_from = u64::MAX;
        let shared = (typ != MAP_PRIVATE).then(|| {
            let obj = t.k.shared_object_for_mmap((at.dev, at.ino));
            *lock(&obj.inode) = Some(inode.clone());
            obj
        });
        (VmaBacking::File { file: f.file.clone(), offset: off, zero_from, shared }, name, (at.dev, at.ino))
    };
    lock(&t.mm).mmap(addr, len, prot, flags, backing, name, dev_ino)
}

pub fn munmap(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    lock(&t.mm).munmap(a[0], a[1]).map(|_| 0)
}

pub fn mprotect(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    lock(&t.mm).mprotect(a[0], a[1], a[2] as u32).map(|_| 0)
}

pub fn mremap(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    lock(&t.mm).mremap(a[0], a[1], a[2], a[3] as u32, a[4])
}

pub fn madvise(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (addr, len, advice) = (a[0], a[1], a[2] as u32);
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_REMOVE => lock(&t.mm).dontneed(addr, len).map(|_| 0),
        MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_DONTFORK | MADV_DOFORK | MADV_HUGEPAGE
        | MADV_NOHUGEPAGE | MADV_DONTDUMP | MADV_DODUMP => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn msync(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (addr, len, flags) = (a[0], a[1], a[2] as u32);
    const MS_ASYNC: u32 = 1;
    const MS_INVALIDATE: u32 = 2;
    const MS_SYNC: u32 = 4;
    if !addr.is_multiple_of(PAGE_SIZE) || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    let mm = lock(&t.mm);
    let mut cur = addr;
    while cur < end {
        let v = mm.find_vma(cur).ok_or(Errno::ENOMEM)?;
        cur = v.end;
    }
    mm.sync_range(addr, end);
    Ok(0)
}
