//! Memory calls: brk, mmap, munmap, mprotect, mremap, madvise.

use abi::consts::*;
use abi::flags::MsyncFlags;
use abi::Errno;
use sentry_macros::syscall;

use super::args::{Addr, Call, Madvice, MapFlags, MremapFlags, Prot, UserAddr};
use super::file_of;
use crate::kernel::Task;
use crate::mm::VmaBacking;
use crate::vfs::KResult;

fn map_offset_str(c: &Call<'_>, i: usize) -> String {
    match c.raw[i] {
        0 => "0".into(),
        v => format!("{v:#x}"),
    }
}

super::args::call_arg!(/// The file offset of `mmap`, printed in hex as strace does.
    MapOffset(u64), map_offset_str);

/// Set the end of the data segment; the result is the end now in force
/// (the old one when the request cannot be met), never an error.
#[syscall]
pub fn brk(t: &mut Task, addr: UserAddr) -> KResult<Addr> {
    Ok(Addr(t.mm.lock().set_brk(addr.0)))
}

/// Map `length` bytes of a file, or of zeroes, into the address space.
/// The descriptor is an `unsigned int` to Linux, so only its low half
/// counts, and it is not looked at for an anonymous mapping.
#[syscall]
pub fn mmap(
    t: &mut Task,
    addr: UserAddr,
    length: u64,
    prot: Prot,
    flags: MapFlags,
    fd: i32,
    offset: MapOffset,
) -> KResult<Addr> {
    let (addr, len, prot, flags, off) = (addr.0, length, prot.0, flags.0, offset.0);
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
        let f = file_of(t, fd)?;
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
            *obj.inode.lock() = Some(inode.clone());
            obj
        });
        (VmaBacking::File { file: f.file.clone(), offset: off, zero_from, shared }, name, (at.dev, at.ino))
    };
    t.mm.lock().mmap(addr, len, prot, flags, backing, name, dev_ino).map(Addr)
}

/// Remove the mappings in a range.
#[syscall]
pub fn munmap(t: &mut Task, addr: UserAddr, length: u64) -> KResult<u64> {
    t.mm.lock().munmap(addr.0, length).map(|_| 0)
}

/// Change the protection of the mappings in a range.
#[syscall]
pub fn mprotect(t: &mut Task, addr: UserAddr, len: u64, prot: Prot) -> KResult<u64> {
    t.mm.lock().mprotect(addr.0, len, prot.0).map(|_| 0)
}

/// Grow, shrink or move a mapping.
#[syscall]
pub fn mremap(
    t: &mut Task,
    old_address: UserAddr,
    old_size: u64,
    new_size: u64,
    flags: MremapFlags,
    new_address: UserAddr,
) -> KResult<Addr> {
    t.mm.lock().mremap(old_address.0, old_size, new_size, flags.0, new_address.0).map(Addr)
}

/// Advice on the use of a range; the advice that drops pages is carried
/// out, the rest is accepted as hints.
#[syscall]
pub fn madvise(t: &mut Task, addr: UserAddr, length: u64, advice: Madvice) -> KResult<u64> {
    let (addr, len, advice) = (addr.0, length, advice.0 as u32);
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_REMOVE => t.mm.lock().dontneed(addr, len).map(|_| 0),
        MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_DONTFORK | MADV_DOFORK | MADV_HUGEPAGE
        | MADV_NOHUGEPAGE | MADV_DONTDUMP | MADV_DODUMP => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// Write back the shared file mappings in a range.
#[syscall]
pub fn msync(t: &mut Task, addr: UserAddr, length: u64, flags: SyncFlags) -> KResult<u64> {
    let (addr, len) = (addr.0, length);
    let Some(flags) = MsyncFlags::from_bits(flags.0) else { return Err(Errno::EINVAL) };
    if !addr.is_multiple_of(PAGE_SIZE) || flags.contains(MsyncFlags::MS_ASYNC | MsyncFlags::MS_SYNC) {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    let mm = t.mm.lock();
    let mut cur = addr;
    while cur < end {
        let v = mm.find_vma(cur).ok_or(Errno::ENOMEM)?;
        cur = v.end;
    }
    mm.sync_range(addr, end);
    Ok(0)
}

super::args::named_arg!(/// `msync` flags (`MS_ASYNC`, `MS_INVALIDATE`, `MS_SYNC`).
    SyncFlags(u32), |v| super::args::flag_str::<MsyncFlags>(v, "0"));
