//! The MemoryFile: one memfd that holds every page of application memory,
//! mapped once into the sentry, and its page allocator.
//!
//! The sentry reads and writes application memory through its own mapping
//! of the file (`slice`/`slice_mut` of an allocated range); the platform maps
//! ranges of the same file into application address spaces.

#![allow(unsafe_code)]

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::AtomicU64;

use abi::consts::PAGE_SIZE;
use memmap2::{MmapOptions, MmapRaw};
use nix::fcntl::{fallocate, FallocateFlags};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::unistd::ftruncate;

/// Virtual size reserved for the file and the sentry's mapping of it. The
/// file is sparse: only pages in use take memory.
const MEMFILE_SIZE: u64 = 64 << 30;

/// A page-aligned range of the MemoryFile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRange {
    pub off: u64,
    pub len: u64,
}

struct Alloc {
    /// Free ranges by offset (coalesced).
    free: BTreeMap<u64, u64>,
    /// Pages with more than one owner (shared across fork), by offset:
    /// the count of extra owners.
    shared: std::collections::HashMap<u64, u32>,
    /// Everything at or above this offset has never been handed out.
    top: u64,
    /// Bytes handed out and not freed.
    used: u64,
    /// `used` may not pass this (`--memory`; `u64::MAX`: no limit).
    limit: u64,
}

/// The MemoryFile.
pub struct MemoryFile {
    file: File,
    /// The sentry's mapping of the file, unmapped when the MemoryFile is
    /// dropped.
    map: MmapRaw,
    alloc: Mutex<Alloc>,
}

impl MemoryFile {
    /// Create the memfd and map it.
    pub fn new() -> std::io::Result<MemoryFile> {
        let fd = memfd_create(c"bulwark-memory", MFdFlags::MFD_CLOEXEC)?;
        let size = i64::try_from(MEMFILE_SIZE).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        ftruncate(&fd, size)?;
        let file = File::from(fd);
        // A shared, read-write mapping of the whole (sparse) file.
        let map = MmapOptions::new().len(MEMFILE_SIZE as usize).map_raw(&file)?;
        Ok(MemoryFile {
            file,
            map,
            alloc: Mutex::new(Alloc {
                free: BTreeMap::new(),
                shared: std::collections::HashMap::new(),
                top: 0,
                used: 0,
                limit: u64::MAX,
            }),
        })
    }

    /// The memfd, for the platform.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Alloc> {
        self.alloc.lock()
    }

    /// Limit the bytes allocated at any time to `bytes` (`None`: no limit
    /// but the file's size). Pages shared copy-on-write count once.
    pub fn set_limit(&self, bytes: Option<u64>) {
        self.lock().limit = bytes.unwrap_or(u64::MAX);
    }

    /// The limit set with [`MemoryFile::set_limit`].
    pub fn limit(&self) -> Option<u64> {
        Some(self.lock().limit).filter(|&l| l != u64::MAX)
    }

    /// Bytes allocated now.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// Allocate `len` bytes (a multiple of the page size) of zeroed pages,
    /// contiguous in the file. `None` when the file is exhausted or the
    /// allocation would pass the limit.
    pub fn allocate(&self, len: u64) -> Option<FileRange> {
        debug_assert!(len.is_multiple_of(PAGE_SIZE) && len > 0);
        let mut a = self.lock();
        if a.used.checked_add(len).is_none_or(|u| u > a.limit) {
            return None;
        }
        let found = a.free.iter().find(|(_, &l)| l >= len).map(|(&o, &l)| (o, l));
        if let Some((off, flen)) = found {
            a.free.remove(&off);
            if flen > len {
                a.free.insert(off + len, flen - len);
            }
            a.used += len;
            return Some(FileRange { off, len });
        }
        if a.top + len > MEMFILE_SIZE {
            return None;
        }
        let off = a.top;
        a.top += len;
        a.used += len;
        Some(FileRange { off, len })
    }

    /// Add an owner to the page at `off` (a `MAP_SHARED` page kept by a
    /// forked child, or a private page shared copy-on-write).
    pub fn incref(&self, off: u64) {
        *self.lock().shared.entry(off).or_insert(0) += 1;
    }

    /// Add an owner to each page in `offs` (under one lock: fork shares
    /// every page of an address space).
    pub fn incref_all(&self, offs: &[u64]) {
        let mut a = self.lock();
        for &off in offs {
            *a.shared.entry(off).or_insert(0) += 1;
        }
    }

    /// How many owners the allocated page at `off` has.
    pub fn refcount(&self, off: u64) -> u32 {
        1 + self.lock().shared.get(&off).copied().unwrap_or(0)
    }

    /// Bytes handed out and not freed, and the number of pages with more
    /// than one owner (for tests and leak checks).
    pub fn usage(&self) -> (u64, usize) {
        let a = self.lock();
        (a.used, a.shared.len())
    }

    /// Drop one owner of each page of `r`, freeing the pages nobody else owns.
    pub fn release(&self, r: FileRange) {
        let mut run: Option<FileRange> = None;
        let mut to_free = Vec::new();
        {
            let mut a = self.lock();
            let mut off = r.off;
            while off < r.off + r.len {
                let kept = match a.shared.get_mut(&off) {
                    Some(n) => {
                        *n -= 1;
                        if *n == 0 {
                            a.shared.remove(&off);
                        }
                        true
                    }
                    None => false,
                };
                if kept {
                    if let Some(x) = run.take() {
                        to_free.push(x);
                    }
                } else {
                    match &mut run {
                        Some(x) if x.off + x.len == off => x.len += PAGE_SIZE,
                        _ => {
                            if let Some(x) = run.take() {
                                to_free.push(x);
                            }
                            run = Some(FileRange { off, len: PAGE_SIZE });
                        }
                    }
                }
                off += PAGE_SIZE;
            }
        }
        if let Some(x) = run {
            to_free.push(x);
        }
        for x in to_free {
            self.free(x);
        }
    }

    /// Return `r` to the allocator; its pages are released to the host and
    /// read as zeros when handed out again.
    pub fn free(&self, r: FileRange) {
        self.punch(r);
        let mut a = self.lock();
        a.used = a.used.saturating_sub(r.len);
        let (mut off, mut len) = (r.off, r.len);
        // Coalesce with the previous and next free ranges.
        if let Some((&po, &pl)) = a.free.range(..off).next_back() {
            if po + pl == off {
                a.free.remove(&po);
                off = po;
                len += pl;
            }
        }
        if let Some(&nl) = a.free.get(&(off + len)) {
            a.free.remove(&(off + len));
            len += nl;
        }
        if off + len == a.top {
            a.top = off;
        } else {
            a.free.insert(off, len);
        }
    }

    /// Release `r`'s pages to the host; they read as zeros afterwards.
    /// Hole punching on a memfd (shmem) cannot fail for a range inside the
    /// file, which `r` is.
    fn punch(&self, r: FileRange) {
        let (Ok(off), Ok(len)) = (i64::try_from(r.off), i64::try_from(r.len)) else { return };
        let flags = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
        let _ = fallocate(&self.file, flags, off, len);
    }

    /// Zero `r` (for `MADV_DONTNEED` on pages that stay allocated).
    pub fn zero(&self, r: FileRange) {
        self.punch(r);
    }

    /// Copy `dst.len()` bytes out of the file at `off`.
    pub fn read(&self, off: u64, dst: &mut [u8]) {
        assert!(off + dst.len() as u64 <= MEMFILE_SIZE);
        // SAFETY: the range lies inside our mapping (checked above); the
        // source is shared memory that another thread may write, which is
        // a data race only on plain bytes, as between application threads.
        unsafe { std::ptr::copy_nonoverlapping(self.map.as_mut_ptr().add(off as usize), dst.as_mut_ptr(), dst.len()) }
    }

    /// Copy `src` into the file at `off`.
    pub fn write(&self, off: u64, src: &[u8]) {
        assert!(off + src.len() as u64 <= MEMFILE_SIZE);
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.map.as_mut_ptr().add(off as usize), src.len()) }
    }

    /// The 64-bit words of `r`, for pages the sentry shares with
    /// applications and updates in place (the vvar page): stores through
    /// them are seen by every mapping of the range.
    pub fn words(&self, r: FileRange) -> &[AtomicU64] {
        assert!(r.off.is_multiple_of(8) && r.off + r.len <= MEMFILE_SIZE);
        // SAFETY: the range lies inside our mapping, which lives as long as
        // `self`, and is 8-byte aligned (the mapping is page-aligned). An
        // `AtomicU64` may alias memory that others also access atomically
        // or read as plain bytes; nothing here hands out a non-atomic
        // reference to it.
        unsafe {
            std::slice::from_raw_parts(
                self.map.as_mut_ptr().add(r.off as usize).cast::<AtomicU64>(),
                (r.len / 8) as usize,
            )
        }
    }

    /// Copy `len` bytes inside the file from `src` to `dst` (non-overlapping).
    pub fn copy(&self, src: u64, dst: u64, len: u64) {
        assert!(src + len <= MEMFILE_SIZE && dst + len <= MEMFILE_SIZE);
        // SAFETY: both ranges inside our mapping; callers pass distinct
        // allocations, so they do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.map.as_mut_ptr().add(src as usize),
                self.map.as_mut_ptr().add(dst as usize),
                len as usize,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_range_is_reused_and_reads_zero() {
        let mf = MemoryFile::new().unwrap();
        let a = mf.allocate(2 * PAGE_SIZE).unwrap();
        mf.write(a.off, b"hello");
        mf.free(a);
        let b = mf.allocate(PAGE_SIZE).unwrap();
        let mut buf = [1u8; 5];
        mf.read(b.off, &mut buf);
        assert_eq!(b.off, a.off);
        assert_eq!(buf, [0; 5]);
    }

    #[test]
    fn allocation_past_the_limit_fails_and_fits_again_after_a_free() {
        let mf = MemoryFile::new().unwrap();
        mf.set_limit(Some(4 * PAGE_SIZE));
        let a = mf.allocate(3 * PAGE_SIZE).unwrap();

        let over = mf.allocate(2 * PAGE_SIZE);
        mf.free(a);
        let after = mf.allocate(4 * PAGE_SIZE);

        assert_eq!((over, after.map(|r| r.len), mf.used()), (None, Some(4 * PAGE_SIZE), 4 * PAGE_SIZE));
    }

    #[test]
    fn page_shared_by_two_owners_counts_once() {
        let mf = MemoryFile::new().unwrap();
        let a = mf.allocate(PAGE_SIZE).unwrap();

        mf.incref(a.off);
        let shared = mf.used();
        mf.release(a);
        let one_owner = mf.used();
        mf.release(a);

        assert_eq!((shared, one_owner, mf.used()), (PAGE_SIZE, PAGE_SIZE, 0));
    }
}
