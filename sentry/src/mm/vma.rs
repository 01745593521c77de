//! The MemoryManager: an address space's VMAs and pages.
//!
//! A VMA says what an application range may hold; pages are populated from
//! the MemoryFile lazily, on the first fault or copy that touches them, and
//! mapped into the platform's address space on the first fault. Mappings in
//! the platform are made with the VMA's protection, except that pages shared
//! copy-on-write since a fork are mapped without write permission: a write
//! to one faults, and the fault (or a copy-out) gives this address space its
//! own copy. Otherwise a fault on a page that is already mapped is a real
//! access violation (or a race with another thread that just mapped it).

use std::collections::BTreeMap;
use std::sync::Arc;

use abi::consts::*;
use abi::Errno;
use platform::{AddressSpace, Prot};

use super::memfile::{FileRange, MemoryFile};
use crate::kernel::sysv::{ShmAttach, ShmSegment};
use crate::vfs::Caller;
use crate::vfs::FileRef;

const PAGE: u64 = PAGE_SIZE;
/// Pages populated and mapped together on a fault.
const FAULT_CHUNK: u64 = 16 * PAGE;
/// Where top-down `mmap` placement starts.
const MMAP_BASE: u64 = 0x7f00_0000_0000;
/// Lowest address `mmap` hands out without `MAP_FIXED` (`mmap_min_addr`).
const MMAP_MIN: u64 = 0x10000;

fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}

fn page_up(a: u64) -> Option<u64> {
    a.checked_add(PAGE - 1).map(|x| x & !(PAGE - 1))
}

/// What a VMA's pages are filled from.
#[derive(Clone)]
pub enum VmaBacking {
    /// Zero-filled memory.
    Anon,
    /// A private copy of a file: page at `start + k` holds file bytes at
    /// `offset + k`; bytes at or beyond application address `zero_from`
    /// read as zeros (the end of an ELF segment's file data).
    File { file: FileRef, offset: u64, zero_from: u64, shared: Option<Arc<SharedObject>> },
    /// Pages the sentry owns and keeps for the sandbox's lifetime (the
    /// vvar page, the vDSO image): the page at `start + k` shows MemoryFile
    /// bytes at `off + k`, for `k < len`; beyond that, zeros. A shared VMA
    /// maps those very pages (it sees the sentry's later stores, and may
    /// never be made writable); a private one shares them copy-on-write.
    Kernel { off: u64, len: u64 },
    /// A System V shared memory segment attached with `shmat`: the page at
    /// `start + k` is the segment's page at `offset + k`, shared by every
    /// attach. The attach token counts the VMA in the segment's `nattch`
    /// for as long as the VMA (or a split or forked copy of it) lives.
    Shm { attach: ShmAttach, offset: u64, may_write: bool },
}

/// The pages of a file mapped `MAP_SHARED`: every such mapping of the file,
/// in any process, uses the same MemoryFile pages (by page index in the
/// file), so they see each other's stores.
#[derive(Default)]
pub struct SharedObject {
    pages: parking_lot::Mutex<std::collections::HashMap<u64, u64>>,
    /// The file's inode, for its size at write-back.
    pub inode: parking_lot::Mutex<Option<crate::vfs::InodeRef>>,
}

impl SharedObject {
    /// Replace `buf` (file bytes at `off`) with what resident shared pages
    /// hold, so `read` sees stores made through mappings.
    pub fn overlay_read(&self, mf: &MemoryFile, off: u64, buf: &mut [u8]) {
        self.for_each_resident(off, buf.len(), |poff, r| mf.read(poff, &mut buf[r]));
    }

    /// Copy bytes written with `write` at `off` into resident shared pages,
    /// so mappings see them.
    pub fn apply_write(&self, mf: &MemoryFile, off: u64, data: &[u8]) {
        self.for_each_resident(off, data.len(), |poff, r| mf.write(poff, &data[r]));
    }

    /// For each resident page under file bytes `[off, off+len)`: the
    /// MemoryFile offset of the first byte and the matching range of a
    /// buffer starting at `off`.
    fn for_each_resident(&self, off: u64, len: usize, mut f: impl FnMut(u64, std::ops::Range<usize>)) {
        let pages = self.pages.lock();
        if pages.is_empty() {
            return;
        }
        let end = off + len as u64;
        let mut cur = off;
        while cur < end {
            let idx = cur / PAGE;
            let pend = ((idx + 1) * PAGE).min(end);
            if let Some(&poff) = pages.get(&idx) {
                let b = (cur - off) as usize;
                f(poff + cur % PAGE, b..b + (pend - cur) as usize);
            }
            cur = pend;
        }
    }

    /// The page at index `idx` (zero-filled when it is new), with one more
    /// reference for the caller; the object keeps its own.
    pub fn page_for(&self, mf: &MemoryFile, idx: u64) -> Result<u64, Errno> {
        let mut pages = self.pages.lock();
        if let Some(&off) = pages.get(&idx) {
            mf.incref(off);
            return Ok(off);
        }
        let r = mf.allocate(PAGE).ok_or(Errno::ENOMEM)?;
        mf.incref(r.off);
        pages.insert(idx, r.off);
        Ok(r.off)
    }

    /// How many pages the object holds.
    pub fn resident_pages(&self) -> u64 {
        self.pages.lock().len() as u64
    }

    /// Drop the object's reference to each of its pages (the object is
    /// going away; mappings keep their own references).
    pub fn release_all(&self, mf: &MemoryFile) {
        for (_, off) in self.pages.lock().drain() {
            mf.release(FileRange { off, len: PAGE });
        }
    }

    /// Write resident pages back to `file` (msync, munmap), up to `size`.
    pub fn write_back(&self, mf: &MemoryFile, file: &FileRef, size: u64) {
        let pages: Vec<(u64, u64)> = self.pages.lock().iter().map(|(&i, &o)| (i, o)).collect();
        let mut buf = vec![0u8; PAGE as usize];
        for (idx, poff) in pages {
            let foff = idx * PAGE;
            if foff >= size {
                continue;
            }
            let n = (size - foff).min(PAGE) as usize;
            mf.read(poff, &mut buf[..n]);
            let _ = file.write(Caller::SENTRY, &buf[..n], foff);
        }
    }
}

/// A mapped range.
#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: u32,
    /// `MAP_SHARED` (matters across fork).
    pub shared: bool,
    pub growsdown: bool,
    pub backing: VmaBacking,
    /// What `/proc/<pid>/maps` shows: a path, `[heap]`, `[stack]`, or empty.
    pub name: Vec<u8>,
    /// Device and inode of the mapped file, for `/proc/<pid>/maps`.
    pub dev_ino: (u64, u64),
}

impl Vma {
    fn file_offset_at(&self, addr: u64) -> u64 {
        match &self.backing {
            VmaBacking::File { offset, .. }
            | VmaBacking::Kernel { off: offset, .. }
            | VmaBacking::Shm { offset, .. } => offset + (addr - self.start),
            VmaBacking::Anon => 0,
        }
    }

    /// The VMA cut to `[start, end)`, keeping file offsets right.
    fn slice(&self, start: u64, end: u64) -> Vma {
        let mut v = self.clone();
        if let VmaBacking::File { offset, .. }
        | VmaBacking::Kernel { off: offset, .. }
        | VmaBacking::Shm { offset, .. } = &mut v.backing
        {
            *offset += start - self.start;
        }
        v.start = start;
        v.end = end;
        v
    }

    /// Offset into the file of the start, for `/proc/<pid>/maps`.
    pub fn offset(&self) -> u64 {
        match self.backing {
            VmaBacking::File { .. } | VmaBacking::Shm { .. } => self.file_offset_at(self.start),
            VmaBacking::Anon | VmaBacking::Kernel { .. } => 0,
        }
    }

    /// Whether `mprotect` may grant `prot`: the sentry's shared pages stay
    /// read-only (Linux's `[vvar]` has no `VM_MAYWRITE` either).
    /// An `SHM_RDONLY` attach may not be made writable either.
    fn may_protect(&self, prot: u32) -> bool {
        match self.backing {
            VmaBacking::Kernel { .. } => !(self.shared && prot & (PROT_WRITE | PROT_EXEC) != 0),
            VmaBacking::Shm { may_write, .. } => may_write || prot & PROT_WRITE == 0,
            _ => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    off: u64,
    mapped: bool,
    /// Shared copy-on-write with another address space since a fork (only
    /// private mappings): mapped read-only, copied on the first write unless
    /// this is the last owner by then.
    cow: bool,
}

/// One application address space.
pub struct MemoryManager {
    mf: Arc<MemoryFile>,
    space: Arc<dyn AddressSpace>,
    /// VMAs by start address; never overlapping.
    vmas: BTreeMap<u64, Vma>,
    /// Populated pages by application page address.
    pages: BTreeMap<u64, Page>,
    reserved: std::ops::Range<u64>,
    max_addr: u64,
    pub brk_start: u64,
    pub brk: u64,
    /// Where the initial stack's strings are (for `/proc/<pid>/cmdline`).
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    /// The last platform error, for the debug log.
    pub last_error: Option<String>,
}

fn prot_of(bits: u32) -> Prot {
    Prot::from_bits(bits)
}

impl MemoryManager {
    /// An empty address space over `space`.
    pub fn new(mf: Arc<MemoryFile>, space: Arc<dyn AddressSpace>, max_addr: u64) -> MemoryManager {
        let reserved = space.reserved();
        MemoryManager {
            mf,
            space,
            vmas: BTreeMap::new(),
            pages: BTreeMap::new(),
            reserved,
            max_addr,
            brk_start: 0,
            brk: 0,
            arg_start: 0,
            arg_end: 0,
            env_start: 0,
            env_end: 0,
            last_error: None,
        }
    }

    /// The platform address space.
    pub fn space(&self) -> &Arc<dyn AddressSpace> {
        &self.space
    }

    /// All VMAs in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.values()
    }

    /// Bytes of populated pages (resident set).
    pub fn resident(&self) -> u64 {
        self.pages.len() as u64 * PAGE
    }

    /// The VMA containing `addr`.
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas.range(..=addr).next_back().map(|(_, v)| v).filter(|v| addr < v.end)
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        if start < self.reserved.end && self.reserved.start < end {
            return true;
        }
        self.vmas.range(..end).next_back().is_some_and(|(_, v)| v.end > start)
    }

    /// A free range of `len` bytes, top-down below `MMAP_BASE`.
    fn find_free(&self, len: u64, hint: u64) -> Option<u64> {
        if hint != 0 {
            let h = page_down(hint);
            if h >= MMAP_MIN && h.checked_add(len).is_some_and(|e| e <= self.max_addr) && !self.overlaps(h, h + len) {
                return Some(h);
            }
        }
        let mut top = MMAP_BASE;
        loop {
            let start = top.checked_sub(len)?;
            if start < MMAP_MIN {
                return None;
            }
            // The highest VMA (or reserved range) overlapping [start, top).
            let mut blocker: Option<u64> = None;
            if let Some((_, v)) = self.vmas.range(..top).next_back() {
                if v.end > start {
                    blocker = Some(v.start);
                }
            }
            if start < self.reserved.end && self.reserved.start < top {
                blocker = Some(blocker.map_or(self.reserved.start, |b| b.min(self.reserved.start)));
            }
            match blocker {
                None => return Some(start),
                Some(b) => top = b,
            }
        }
    }

    /// Remove `[start, end)` from the VMAs and pages (splitting VMAs), and
    /// from the platform address space.
    fn remove_range(&mut self, start: u64, end: u64) {
        let mut cut: Vec<u64> =
            self.vmas.range(..end).rev().take_while(|(_, v)| v.end > start).map(|(&s, _)| s).collect();
        cut.reverse();
        let mut any = false;
        for s in cut {
            let Some(v) = self.vmas.remove(&s) else {
                continue;
            };
            any = true;
            if v.start < start {
                self.vmas.insert(v.start, v.slice(v.start, start));
            }
            if v.end > end {
                self.vmas.insert(end, v.slice(end, v.end));
            }
        }
        self.drop_pages(start, end);
        if any {
            let _ = self.space.unmap(start, end - start);
        }
    }

    /// Free the populated pages in `[start, end)` (not touching VMAs or the
    /// platform mapping).
    fn drop_pages(&mut self, start: u64, end: u64) {
        let addrs: Vec<u64> = self.pages.range(start..end).map(|(&a, _)| a).collect();
        let mut run: Option<FileRange> = None;
        for a in addrs {
            let Some(p) = self.pages.remove(&a) else {
                continue;
            };
            match &mut run {
                Some(r) if r.off + r.len == p.off => r.len += PAGE,
                _ => {
                    if let Some(r) = run.take() {
                        self.mf.release(r);
                    }
                    run = Some(FileRange { off: p.off, len: PAGE });
                }
            }
        }
        if let Some(r) = run {
            self.mf.release(r);
        }
    }

    fn insert_vma(&mut self, v: Vma) {
        self.vmas.insert(v.start, v);
    }

    /// `mmap(2)` semantics, after the syscall layer checked flags and got
    /// the file. Returns the address.
    #[allow(clippy::too_many_arguments)]
    pub fn mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        backing: VmaBacking,
        name: Vec<u8>,
        dev_ino: (u64, u64),
    ) -> Result<u64, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len > self.max_addr {
            return Err(Errno::ENOMEM);
        }
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let start = if fixed {
            if !addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
            if end > self.max_addr || addr < PAGE {
                return Err(if flags & MAP_FIXED_NOREPLACE != 0 { Errno::EEXIST } else { Errno::ENOMEM });
            }
            if addr < self.reserved.end && self.reserved.start < end {
                return Err(Errno::ENOMEM);
            }
            if flags & MAP_FIXED_NOREPLACE != 0 && self.overlaps(addr, end) {
                return Err(Errno::EEXIST);
            }
            self.remove_range(addr, end);
            addr
        } else {
            self.find_free(len, addr).ok_or(Errno::ENOMEM)?
        };
        let shared = flags & MAP_TYPE == MAP_SHARED || flags & MAP_TYPE == MAP_SHARED_VALIDATE;
        let v = Vma {
            start,
            end: start + len,
            prot,
            shared,
            growsdown: flags & MAP_GROWSDOWN != 0,
            backing,
            name,
            dev_ino,
        };
        self.insert_vma(v);
        Ok(start)
    }

    /// `munmap(2)`.
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = page_up(addr.checked_add(len).ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?;
        if end > self.max_addr {
            return Err(Errno::EINVAL);
        }
        self.sync_range(addr, end);
        self.remove_range(addr, end);
        Ok(())
    }

    /// `mprotect(2)`.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
            return Err(Errno::EINVAL);
        }
        let prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
        if len == 0 {
            return Ok(());
        }
        let end = page_up(addr.checked_add(len).ok_or(Errno::ENOMEM)?).ok_or(Errno::ENOMEM)?;
        // The whole range must be mapped.
        let mut cur = addr;
        while cur < end {
            let v = self.find_vma(cur).ok_or(Errno::ENOMEM)?;
            if !v.may_protect(prot) {
                return Err(Errno::EACCES);
            }
            cur = v.end;
        }
        let starts: Vec<u64> =
            self.vmas.range(..end).rev().take_while(|(_, v)| v.end > addr).map(|(&s, _)| s).collect();
        for s in starts {
            let Some(v) = self.vmas.remove(&s) else {
                continue;
            };
            if v.start < addr {
                self.vmas.insert(v.start, v.slice(v.start, addr));
            }
            if v.end > end {
                self.vmas.insert(end, v.slice(end, v.end));
            }
            let mut mid = v.slice(v.start.max(addr), v.end.min(end));
            mid.prot = prot;
            self.vmas.insert(mid.start, mid);
        }
        self.unmap_platform(addr, end);
        Ok(())
    }

    /// Forget platform mappings of `[start, end)`: the next access faults
    /// and maps again with the current VMA protection.
    fn unmap_platform(&mut self, start: u64, end: u64) {
        let mut any = false;
        for (_, p) in self.pages.range_mut(start..end) {
            any |= p.mapped;
            p.mapped = false;
        }
        if any {
            let _ = self.space.unmap(start, end - start);
        }
    }

    /// `madvise(MADV_DONTNEED)`: private pages read back as zeros (or file
    /// contents) on the next access.
    pub fn dontneed(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let end = page_up(addr.checked_add(len).ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?;
        let mut cur = addr;
        while cur < end {
            let v = self.find_vma(cur).ok_or(Errno::ENOMEM)?;
            cur = v.end;
        }
        self.unmap_platform(addr, end);
        self.drop_pages(addr, end);
        Ok(())
    }

    /// `brk(2)`: returns the new (or unchanged) break.
    pub fn set_brk(&mut self, want: u64) -> u64 {
        if want < self.brk_start {
            return self.brk;
        }
        let old_end = page_up(self.brk).unwrap_or(self.brk);
        let Some(new_end) = page_up(want) else {
            return self.brk;
        };
        if new_end > old_end {
            if self.overlaps(old_end, new_end) {
                return self.brk;
            }
            // Extend the heap VMA (or make it).
            let heap = self
                .vmas
                .range(..old_end)
                .next_back()
                .map(|(_, v)| v.clone())
                .filter(|v| v.end == old_end && v.name == b"[heap]");
            match heap {
                Some(mut v) => {
                    self.vmas.remove(&v.start);
                    v.end = new_end;
                    self.insert_vma(v);
                }
                None => self.insert_vma(Vma {
                    start: old_end,
                    end: new_end,
                    prot: PROT_READ | PROT_WRITE,
                    shared: false,
                    growsdown: false,
                    backing: VmaBacking::Anon,
                    name: b"[heap]".to_vec(),
                    dev_ino: (0, 0),
                }),
            }
        } else if new_end < old_end {
            self.remove_range(new_end, old_end);
        }
        self.brk = want;
        want
    }

    /// `mremap(2)`.
    pub fn mremap(&mut self, old: u64, old_len: u64, new_len: u64, flags: u32, new_addr: u64) -> Result<u64, Errno> {
        if !old.is_multiple_of(PAGE) || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MREMAP_DONTUNMAP != 0 {
            return Err(Errno::EINVAL);
        }
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        if new_len == 0 {
            return Err(Errno::EINVAL);
        }
        let v = self.find_vma(old).cloned().ok_or(Errno::EFAULT)?;
        let old_end = old.checked_add(old_len).ok_or(Errno::EINVAL)?;
        if old_len != 0 && old_end > v.end {
            return Err(Errno::EFAULT);
        }
        if flags & MREMAP_FIXED == 0 {
            if new_len <= old_len {
                if new_len < old_len {
                    self.remove_range(old + new_len, old_end);
                }
                return Ok(old);
            }
            // Grow in place if the VMA ends here and the space after is free.
            let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
            if old_end == v.end && grow_end <= self.max_addr && !self.overlaps(old_end, grow_end) {
                self.vmas.remove(&v.start);
                let mut g = v.clone();
                g.end = grow_end;
                self.insert_vma(g);
                return Ok(old);
            }
            if flags & MREMAP_MAYMOVE == 0 {
                return Err(Errno::ENOMEM);
            }
        }
        let dest = if flags & MREMAP_FIXED != 0 {
            if !new_addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            let dend = new_addr.checked_add(new_len).ok_or(Errno::EINVAL)?;
            if dend > self.max_addr || (new_addr < old_end && old < dend) {
                return Err(Errno::EINVAL);
            }
            self.remove_range(new_addr, dend);
            new_addr
        } else {
            self.find_free(new_len, 0).ok_or(Errno::ENOMEM)?
        };
        // Move: the new VMA is the old one's slice, extended; pages re-keyed.
        let keep = old_len.min(new_len);
        let mut nv = v.slice(old, old + keep.max(PAGE).min(v.end - old));
        nv.start = dest;
        nv.end = dest + new_len;
        let moved: Vec<(u64, Page)> = self.pages.range(old..old + keep).map(|(&a, &p)| (a, p)).collect();
        for (a, _) in &moved {
            self.pages.remove(a);
        }
        // Remove the old range (its pages are already taken out).
        self.remove_range(old, old_end.max(old + PAGE));
        for (a, mut p) in moved {
            p.mapped = false;
            self.pages.insert(dest + (a - old), p);
        }
        self.insert_vma(nv);
        Ok(dest)
    }

    /// Populate the page at `page` (in VMA `v`) from the MemoryFile.
    fn populate(&mut self, page: u64, v: &Vma) -> Result<Page, Errno> {
        if let Some(p) = self.pages.get(&page) {
            return Ok(*p);
        }
        if let VmaBacking::File { shared: Some(obj), .. } = &v.backing {
            let idx = v.file_offset_at(page) / PAGE;
            let known = obj.pages.lock().get(&idx).copied();
            if let Some(off) = known {
                self.mf.incref(off);
                let p = Page { off, mapped: false, cow: false };
                self.pages.insert(page, p);
                return Ok(p);
            }
        }
        if let VmaBacking::Shm { attach, .. } = &v.backing {
            let off = attach.segment().pages.page_for(&self.mf, v.file_offset_at(page) / PAGE)?;
            let p = Page { off, mapped: false, cow: false };
            self.pages.insert(page, p);
            return Ok(p);
        }
        if let VmaBacking::Kernel { off, len } = v.backing {
            let k = v.file_offset_at(page) - off;
            if k < len {
                // The sentry keeps its own reference, so a private page is
                // always copied on its first write.
                self.mf.incref(off + k);
                let p = Page { off: off + k, mapped: false, cow: !v.shared };
                self.pages.insert(page, p);
                return Ok(p);
            }
        }
        let r = self.mf.allocate(PAGE).ok_or(Errno::ENOMEM)?;
        if let VmaBacking::File { file, zero_from, .. } = &v.backing {
            let mut buf = vec![0u8; PAGE as usize];
            let fill = (*zero_from).saturating_sub(page).min(PAGE) as usize;
            if fill > 0 {
                let off = v.file_offset_at(page);
                let mut done = 0;
                while done < fill {
                    match file.read(Caller::SENTRY, &mut buf[done..fill], off + done as u64) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(Errno::EINTR) => continue,
                        Err(e) => {
                            self.mf.free(r);
                            return Err(e);
                        }
                    }
                }
                self.mf.write(r.off, &buf);
            }
        }
        if let VmaBacking::File { shared: Some(obj), .. } = &v.backing {
            // The object keeps its own reference to the page.
            let idx = v.file_offset_at(page) / PAGE;
            self.mf.incref(r.off);
            obj.pages.lock().insert(idx, r.off);
        }
        let p = Page { off: r.off, mapped: false, cow: false };
        self.pages.insert(page, p);
        Ok(p)
    }

    /// Write back the `MAP_SHARED` file pages of writable mappings that
    /// intersect `[start, end)`.
    pub fn sync_range(&self, start: u64, end: u64) {
        for v in self.vmas.range(..end).map(|(_, v)| v).filter(|v| v.end > start) {
            if let VmaBacking::File { file, shared: Some(obj), .. } = &v.backing {
                if v.prot & PROT_WRITE != 0 {
                    let inode = obj.inode.lock().clone();
                    if let Some(size) = inode.and_then(|i| i.attr().ok()).map(|a| a.size) {
                        obj.write_back(&self.mf, file, size);
                    }
                }
            }
        }
    }

    /// The MemoryFile offset backing application address `addr` (populating
    /// the page), for keys of shared futexes.
    pub fn translate(&mut self, addr: u64) -> Result<u64, Errno> {
        let page = page_down(addr);
        let v = self.find_vma(addr).cloned().ok_or(Errno::EFAULT)?;
        let p = self.populate(page, &v)?;
        Ok(p.off + (addr - page))
    }

    /// Handle an application fault at `addr`. `Ok(true)` when the page was
    /// made available and the application can retry; `Ok(false)` when it is
    /// a real violation (the sentry raises SIGSEGV).
    ///
    /// A write to a copy-on-write page mapped read-only (SEGV_ACCERR) in a
    /// writable VMA gives this space its own copy, mapped writable.
    ///
    /// `unmapped` says the fault may be stale: the host found no mapping
    /// (SEGV_MAPERR), or a read-only one (SEGV_ACCERR) that another thread
    /// may have replaced in the meantime (a copy-on-write page it copied).
    /// If the page is mapped by now, the access is simply retried; the
    /// caller passes `false` when the same access faults again, so a real
    /// violation is reported on the second fault.
    pub fn handle_fault(&mut self, addr: u64, unmapped: bool) -> Result<bool, Errno> {
        let page = page_down(addr);
        let v = match self.find_vma(addr) {
            Some(v) => v.clone(),
            None => match self.grow_stack(addr) {
                Some(v) => v,
                None => return Ok(false),
            },
        };
        if v.prot & (PROT_READ | PROT_WRITE | PROT_EXEC) == 0 {
            return Ok(false);
        }
        if let Some(p) = self.pages.get(&page).copied().filter(|p| p.mapped) {
            if p.cow && v.prot & PROT_WRITE != 0 {
                // A write to a page shared copy-on-write (a read or exec
                // would not fault on it): take our own copy.
                let p = self.break_cow(page)?;
                self.map_run(page, p.off, PAGE, prot_of(v.prot))?;
                self.reclaim_cow(page, &v);
                return Ok(true);
            }
            return Ok(unmapped);
        }
        let (cstart, cend) = fault_chunk(page, &v);
        // Populate the chunk's missing pages with one contiguous allocation
        // when possible, so the mapping below is a single call.
        let missing: Vec<u64> = (cstart..cend).step_by(PAGE as usize).filter(|a| !self.pages.contains_key(a)).collect();
        if matches!(v.backing, VmaBacking::Anon)
            && !missing.is_empty()
            && missing.len() as u64 == (cend - cstart) / PAGE
        {
            if let Some(r) = self.mf.allocate(cend - cstart) {
                for (i, a) in missing.iter().enumerate() {
                    self.pages.insert(*a, Page { off: r.off + i as u64 * PAGE, mapped: false, cow: false });
                }
            }
        }
        for a in (cstart..cend).step_by(PAGE as usize) {
            self.populate(a, &v)?;
        }
        // Copy-on-write pages nobody else owns any more are ours again.
        if v.prot & PROT_WRITE != 0 {
            for (_, p) in self.pages.range_mut(cstart..cend) {
                if p.cow && !p.mapped && self.mf.refcount(p.off) == 1 {
                    p.cow = false;
                }
            }
        }
        // Map runs of pages that are contiguous in the file (and mapped with
        // one protection: copy-on-write pages without write permission).
        let full = v.prot;
        let ro = v.prot & !PROT_WRITE;
        let mut run: Option<(u64, u64, u64, u32)> = None; // (addr, off, len, prot)
        let items: Vec<(u64, Page)> = self.pages.range(cstart..cend).map(|(&a, &p)| (a, p)).collect();
        for (a, p) in items {
            if p.mapped {
                if let Some((ra, ro, rl, rp)) = run.take() {
                    self.map_run(ra, ro, rl, prot_of(rp))?;
                }
                continue;
            }
            let prot = if p.cow { ro } else { full };
            match &mut run {
                Some((ra, ro, rl, rp)) if *ra + *rl == a && *ro + *rl == p.off && *rp == prot => *rl += PAGE,
                _ => {
                    if let Some((ra, ro, rl, rp)) = run.take() {
                        self.map_run(ra, ro, rl, prot_of(rp))?;
                    }
                    run = Some((a, p.off, PAGE, prot));
                }
            }
        }
        if let Some((ra, ro, rl, rp)) = run {
            self.map_run(ra, ro, rl, prot_of(rp))?;
        }
        Ok(true)
    }

    /// After a write fault on a copy-on-write page at `page`: the mapped
    /// copy-on-write pages around it (in its fault chunk) that no other
    /// address space owns any more are made writable now, sparing a fault
    /// each (no copy is needed; typically the other process has exited or
    /// exec'd).
    fn reclaim_cow(&mut self, page: u64, v: &Vma) {
        let (cstart, cend) = fault_chunk(page, v);
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (&a, p) in self.pages.range_mut(cstart..cend) {
            if p.mapped && p.cow && self.mf.refcount(p.off) == 1 {
                p.cow = false;
                match runs.last_mut() {
                    Some((s, l)) if *s + *l == a => *l += PAGE,
                    _ => runs.push((a, PAGE)),
                }
            }
        }
        for (s, l) in runs {
            if self.space.protect(s, l, prot_of(v.prot)).is_err() {
                // Still read-only: the next write faults, which is enough.
                for (_, p) in self.pages.range_mut(s..s + l) {
                    p.cow = true;
                }
            }
        }
    }

    /// Give the page at `page` (shared copy-on-write) to this address space
    /// alone: a copy when another owner remains, else the page itself. The
    /// platform mapping is left as it was (the caller maps it again).
    fn break_cow(&mut self, page: u64) -> Result<Page, Errno> {
        let p = *self.pages.get(&page).ok_or(Errno::EFAULT)?;
        if !p.cow {
            return Ok(p);
        }
        let off = if self.mf.refcount(p.off) > 1 {
            let r = self.mf.allocate(PAGE).ok_or(Errno::ENOMEM)?;
            self.mf.copy(p.off, r.off, PAGE);
            // The other owners keep the old page (and free it when the last
            // of them is done with it).
            self.mf.release(FileRange { off: p.off, len: PAGE });
            r.off
        } else {
            p.off
        };
        let np = Page { off, mapped: p.mapped, cow: false };
        self.pages.insert(page, np);
        Ok(np)
    }

    fn map_run(&mut self, addr: u64, off: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        if let Err(e) = self.space.map_file(addr, len, off, prot) {
            self.last_error = Some(e.to_string());
            return Err(Errno::EFAULT);
        }
        for (_, p) in self.pages.range_mut(addr..addr + len) {
            p.mapped = true;
        }
        Ok(())
    }

    /// What the manager knows of `addr`, for the debug log.
    pub fn describe(&self, addr: u64) -> String {
        let v = self.find_vma(addr).map(|v| format!("vma {:#x}-{:#x} prot {:#x}", v.start, v.end, v.prot));
        let p = self.pages.get(&page_down(addr)).map(|p| format!("page off {:#x} mapped {}", p.off, p.mapped));
        format!("{} / {}", v.unwrap_or_else(|| "no vma".into()), p.unwrap_or_else(|| "no page".into()))
    }

    /// Grow a `MAP_GROWSDOWN` VMA down to cover `addr`, if it is just below.
    fn grow_stack(&mut self, addr: u64) -> Option<Vma> {
        let (start, v) = self.vmas.range(addr..).next().map(|(&s, v)| (s, v.clone()))?;
        if !v.growsdown || start - page_down(addr) > (256 << 20) {
            return None;
        }
        let new_start = page_down(addr);
        if self.overlaps(new_start, start) {
            return None;
        }
        self.vmas.remove(&start);
        let mut g = v;
        g.start = new_start;
        self.insert_vma(g.clone());
        Some(g)
    }

    /// Translate and check each page of `[addr, addr+len)` for `write`
    /// access, calling `f(file_offset, range_in_buffer)` for each piece.
    fn for_each_piece(
        &mut self,
        addr: u64,
        len: usize,
        write: bool,
        mut f: impl FnMut(&MemoryFile, u64, std::ops::Range<usize>),
    ) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if end > self.max_addr {
            return Err(Errno::EFAULT);
        }
        let mut cur = addr;
        while cur < end {
            let page = page_down(cur);
            let v = match self.find_vma(cur) {
                Some(v) => v.clone(),
                None => self.grow_stack(cur).ok_or(Errno::EFAULT)?,
            };
            let need = if write { PROT_WRITE } else { PROT_READ };
            if v.prot & need == 0 {
                return Err(Errno::EFAULT);
            }
            let mut p = self.populate(page, &v)?;
            if write && p.cow {
                p = self.break_cow(page)?;
                if p.mapped {
                    // The platform maps the shared page read-only: map ours.
                    if self.map_run(page, p.off, PAGE, prot_of(v.prot)).is_err() {
                        self.pages.entry(page).and_modify(|p| p.mapped = false);
                        let _ = self.space.unmap(page, PAGE);
                    }
                }
            }
            let pend = (page + PAGE).min(end);
            let boff = (cur - addr) as usize;
            let n = (pend - cur) as usize;
            f(&self.mf, p.off + (cur - page), boff..boff + n);
            cur = pend;
        }
        Ok(())
    }

    /// Copy application memory at `addr` into `buf`.
    pub fn read_bytes(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let len = buf.len();
        self.for_each_piece(addr, len, false, |mf, off, r| mf.read(off, &mut buf[r]))
    }

    /// Copy `buf` to application memory at `addr`.
    pub fn write_bytes(&mut self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        self.for_each_piece(addr, buf.len(), true, |mf, off, r| mf.write(off, &buf[r]))
    }

    /// Read a NUL-terminated string of at most `max` bytes (without the NUL);
    /// `ENAMETOOLONG` if no NUL is found within `max`.
    pub fn read_cstring(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        // Small pieces (never across a page, which may be unmapped): a path
        // is usually much shorter than what is left of its page.
        const PIECE: u64 = 256;
        let mut out = Vec::new();
        let mut cur = addr;
        let mut piece = [0u8; PIECE as usize];
        loop {
            let chunk = (PAGE - (cur % PAGE)).min(PIECE) as usize;
            let buf = &mut piece[..chunk];
            self.read_bytes(cur, buf)?;
            if let Some(i) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..i]);
                if out.len() >= max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(buf);
            if out.len() >= max {
                return Err(Errno::ENAMETOOLONG);
            }
            cur = cur.checked_add(chunk as u64).ok_or(Errno::EFAULT)?;
        }
    }

    /// The copy of this address space a forked child gets: the same VMAs,
    /// `MAP_SHARED` pages shared, private pages shared copy-on-write (in both
    /// spaces: this one's writable mappings of them are write-protected
    /// before this returns). The copy has no platform address space until
    /// `set_space`; nothing is mapped in it until its first faults.
    ///
    /// Runs on a thread that may change this space's platform mappings
    /// (the forking task's); other threads of the process may keep running
    /// and fault on the protected pages once the fork is done.
    pub fn fork_copy(&mut self) -> Result<MemoryManager, Errno> {
        let mut m = MemoryManager::new(self.mf.clone(), Arc::new(NoSpace(self.reserved.clone())), self.max_addr);
        m.vmas = self.vmas.clone();
        m.brk_start = self.brk_start;
        m.brk = self.brk;
        m.arg_start = self.arg_start;
        m.arg_end = self.arg_end;
        m.env_start = self.env_start;
        m.env_end = self.env_end;
        self.populate_shared_anon()?;
        // Every page gets one more owner: the child.
        let mut offs = Vec::with_capacity(self.pages.len());
        // Ranges mapped writable here that must become read-only:
        // (start, len, prot without write).
        let mut protect: Vec<(u64, u64, u32)> = Vec::new();
        let mut vma: Option<&Vma> = None;
        for (&a, p) in self.pages.iter_mut() {
            if !vma.is_some_and(|v| v.start <= a && a < v.end) {
                vma = self.vmas.range(..=a).next_back().map(|(_, v)| v).filter(|v| a < v.end);
            }
            offs.push(p.off);
            let (shared, prot) = vma.map_or((false, 0), |v| (v.shared, v.prot));
            if shared {
                m.pages.insert(a, Page { off: p.off, mapped: false, cow: false });
                continue;
            }
            if p.mapped && !p.cow && prot & PROT_WRITE != 0 {
                let ro = prot & !PROT_WRITE;
                match protect.last_mut() {
                    Some((s, l, rp)) if *s + *l == a && *rp == ro => *l += PAGE,
                    _ => protect.push((a, PAGE, ro)),
                }
            }
            p.cow = true;
            m.pages.insert(a, Page { off: p.off, mapped: false, cow: true });
        }
        self.mf.incref_all(&offs);
        for (start, len, prot) in protect {
            if let Err(e) = self.space.protect(start, len, prot_of(prot)) {
                // Unmapped pages refault (and are mapped read-only then).
                if self.space.unmap(start, len).is_err() {
                    // The parent could still write to pages the child
                    // shares: no fork (dropping `m` gives the pages back;
                    // ours stay marked copy-on-write, which is harmless).
                    self.last_error = Some(e.to_string());
                    return Err(Errno::ENOMEM);
                }
                for (_, p) in self.pages.range_mut(start..start + len) {
                    p.mapped = false;
                }
            }
        }
        Ok(m)
    }

    /// Populate every missing page of `MAP_SHARED` anonymous VMAs (zeroed
    /// pages: the file is sparse), so that a fork shares them all; a page
    /// populated later would be private to whichever process touched it.
    fn populate_shared_anon(&mut self) -> Result<(), Errno> {
        let ranges: Vec<(u64, u64)> = self
            .vmas
            .values()
            .filter(|v| v.shared && matches!(v.backing, VmaBacking::Anon))
            .map(|v| (v.start, v.end))
            .collect();
        for (start, end) in ranges {
            let mut gaps: Vec<(u64, u64)> = Vec::new();
            let mut cur = start;
            for &a in self.pages.range(start..end).map(|(a, _)| a) {
                if a > cur {
                    gaps.push((cur, a));
                }
                cur = a + PAGE;
            }
            if cur < end {
                gaps.push((cur, end));
            }
            for (gs, ge) in gaps {
                let r = self.mf.allocate(ge - gs).ok_or(Errno::ENOMEM)?;
                for a in (gs..ge).step_by(PAGE as usize) {
                    self.pages.insert(a, Page { off: r.off + (a - gs), mapped: false, cow: false });
                }
            }
        }
        Ok(())
    }

    /// Give a forked copy its platform address space (on the thread that
    /// will run it).
    pub fn set_space(&mut self, space: Arc<dyn AddressSpace>) {
        self.reserved = space.reserved();
        self.space = space;
        for p in self.pages.values_mut() {
            p.mapped = false;
        }
    }

    /// `shmdt(2)`: unmap the segment attached at `addr` (every VMA of that
    /// attach, split or not), and return it. `EINVAL` when no attach starts
    /// at `addr`.
    pub fn shm_detach(&mut self, addr: u64) -> Result<Arc<ShmSegment>, Errno> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let attach_start = |v: &Vma| match &v.backing {
            VmaBacking::Shm { attach, offset, .. } => {
                v.start.checked_sub(*offset).filter(|&s| s == addr).map(|_| attach.segment().clone())
            }
            _ => None,
        };
        let seg = self.vmas.range(addr..).find_map(|(_, v)| attach_start(v)).ok_or(Errno::EINVAL)?;
        let end = addr.saturating_add(page_up(seg.size).unwrap_or(u64::MAX));
        let doomed: Vec<(u64, u64)> = self
            .vmas
            .range(addr..end)
            .map(|(_, v)| v)
            .filter(|v| attach_start(v).is_some_and(|s| Arc::ptr_eq(&s, &seg)))
            .map(|v| (v.start, v.end))
            .collect();
        for (s, e) in doomed {
            self.remove_range(s, e);
        }
        Ok(seg)
    }

    /// Unmap everything (exec and exit).
    pub fn clear(&mut self) {
        let max = self.max_addr;
        self.remove_range(0, max);
        self.vmas.clear();
    }
}

impl Drop for MemoryManager {
    fn drop(&mut self) {
        self.sync_range(0, self.max_addr);
        let addrs: Vec<u64> = self.pages.keys().copied().collect();
        if let (Some(&first), Some(&last)) = (addrs.first(), addrs.last()) {
            self.drop_pages(first, last + PAGE);
        }
    }
}

/// The pages populated and mapped together with a fault at `page` in `v`.
fn fault_chunk(page: u64, v: &Vma) -> (u64, u64) {
    let base = page & !(FAULT_CHUNK - 1);
    (base.max(v.start), (base + FAULT_CHUNK).min(v.end))
}

/// The platform address space of a forked copy before its own exists.
struct NoSpace(std::ops::Range<u64>);

impl AddressSpace for NoSpace {
    fn map_file(&self, _: u64, _: u64, _: u64, _: Prot) -> platform::Result<()> {
        Err(platform::Error::Unavailable("none", "address space not yet attached".into()))
    }
    fn unmap(&self, _: u64, _: u64) -> platform::Result<()> {
        Ok(())
    }
    fn protect(&self, _: u64, _: u64, _: Prot) -> platform::Result<()> {
        Ok(())
    }
    fn reserved(&self) -> std::ops::Range<u64> {
        self.0.clone()
    }
}
