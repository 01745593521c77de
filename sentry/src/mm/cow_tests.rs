//! Copy-on-write fork: page sharing, refcounts and platform mappings, with a
//! mock address space that plays the host's page tables and the CPU.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;

use abi::consts::*;
use platform::{AddressSpace, Prot};

use super::{MemoryFile, MemoryManager, VmaBacking};

const PAGE: u64 = PAGE_SIZE;
const MAX: u64 = 1 << 47;

/// The host side of an address space: page address to (file offset, prot).
#[derive(Default)]
struct MockSpace {
    pages: Mutex<BTreeMap<u64, (u64, Prot)>>,
    calls: Mutex<Vec<&'static str>>,
}

impl AddressSpace for MockSpace {
    fn map_file(&self, addr: u64, len: u64, off: u64, prot: Prot) -> platform::Result<()> {
        self.calls.lock().push("map");
        let mut p = self.pages.lock();
        for i in 0..len / PAGE {
            p.insert(addr + i * PAGE, (off + i * PAGE, prot));
        }
        Ok(())
    }
    fn unmap(&self, addr: u64, len: u64) -> platform::Result<()> {
        self.calls.lock().push("unmap");
        let mut p = self.pages.lock();
        let keys: Vec<u64> = p.range(addr..addr + len).map(|(&a, _)| a).collect();
        for a in keys {
            p.remove(&a);
        }
        Ok(())
    }
    fn protect(&self, addr: u64, len: u64, prot: Prot) -> platform::Result<()> {
        self.calls.lock().push("protect");
        for (_, e) in self.pages.lock().range_mut(addr..addr + len) {
            e.1 = prot;
        }
        Ok(())
    }
    fn reserved(&self) -> std::ops::Range<u64> {
        0..0
    }
}

impl MockSpace {
    fn entry(&self, addr: u64) -> Option<(u64, Prot)> {
        self.pages.lock().get(&(addr & !(PAGE - 1))).copied()
    }
    fn writable_pages(&self) -> usize {
        self.pages.lock().values().filter(|(_, p)| p.write).count()
    }
}

/// One address space as the tests drive it: the manager and its host side.
struct Proc {
    mm: MemoryManager,
    host: Arc<MockSpace>,
}

impl Proc {
    fn new(mf: &Arc<MemoryFile>) -> Proc {
        let host = Arc::new(MockSpace::default());
        Proc { mm: MemoryManager::new(mf.clone(), host.clone(), MAX), host }
    }

    fn fork(&mut self) -> Proc {
        let mut mm = self.mm.fork_copy().unwrap();
        let host = Arc::new(MockSpace::default());
        mm.set_space(host.clone());
        Proc { mm, host }
    }

    fn mmap(&mut self, len: u64, flags: u32) -> u64 {
        self.mm.mmap(0, len, PROT_READ | PROT_WRITE, flags, VmaBacking::Anon, Vec::new(), (0, 0)).unwrap()
    }

    /// What the CPU does for an application access: use the host mapping,
    /// or fault to the sentry and retry.
    fn access(&mut self, addr: u64, write: bool) -> u64 {
        let mut last = None;
        for _ in 0..4 {
            match self.host.entry(addr) {
                Some((off, prot)) if prot.read && (!write || prot.write) => return off + addr % PAGE,
                e => {
                    let unmapped = e.is_none();
                    let stale = last != Some(addr);
                    last = Some(addr);
                    assert!(self.mm.handle_fault(addr, stale).unwrap(), "SIGSEGV at {addr:#x} (unmapped {unmapped})");
                }
            }
        }
        panic!("fault loop at {addr:#x}");
    }

    fn store(&mut self, mf: &MemoryFile, addr: u64, val: u8) {
        let off = self.access(addr, true);
        mf.write(off, &[val]);
    }

    fn load(&mut self, mf: &MemoryFile, addr: u64) -> u8 {
        let off = self.access(addr, false);
        let mut b = [0u8];
        mf.read(off, &mut b);
        b[0]
    }

    /// The MemoryFile offset of the page at `addr` (populated).
    fn off(&mut self, addr: u64) -> u64 {
        self.mm.translate(addr).unwrap() & !(PAGE - 1)
    }
}

const PRIVATE: u32 = MAP_PRIVATE | MAP_ANONYMOUS;
const N: u64 = 40;

fn setup() -> (Arc<MemoryFile>, Proc, u64) {
    let mf = Arc::new(MemoryFile::new().unwrap());
    let mut p = Proc::new(&mf);
    let a = p.mmap(N * PAGE, PRIVATE);
    for i in 0..N {
        p.store(&mf, a + i * PAGE, i as u8 + 1);
    }
    (mf, p, a)
}

#[test]
fn fork_shares_pages_and_write_protects_the_parent() {
    let (mf, mut parent, a) = setup();
    assert_eq!(parent.host.writable_pages(), N as usize);
    let used = mf.usage().0;
    let mut child = parent.fork();
    // Nothing copied; every page has two owners; the parent can no longer
    // write through its mappings; the child has nothing mapped.
    assert_eq!(mf.usage(), (used, N as usize));
    assert_eq!(parent.host.writable_pages(), 0);
    assert!(child.host.pages.lock().is_empty());
    for i in 0..N {
        let (po, co) = (parent.off(a + i * PAGE), child.off(a + i * PAGE));
        assert_eq!(po, co);
        assert_eq!(mf.refcount(po), 2);
    }
    // Reads in the child map the shared pages read-only.
    assert_eq!(child.load(&mf, a), 1);
    let (off, prot) = child.host.entry(a).unwrap();
    assert_eq!(off, parent.off(a));
    assert!(prot.read && !prot.write);
    drop(child);
    assert_eq!(mf.usage(), (used, 0));
    // The parent's write fault finds the page unshared: no copy, and the
    // other mapped pages of its chunk become writable with it.
    parent.store(&mf, a, 9);
    assert_eq!(mf.usage(), (used, 0));
    let chunk_end = ((a & !(16 * PAGE - 1)) + 16 * PAGE).min(a + N * PAGE);
    assert_eq!(parent.host.writable_pages() as u64, (chunk_end - a) / PAGE);
}

#[test]
fn write_in_child_leaves_parent_unchanged() {
    let (mf, mut parent, a) = setup();
    let mut child = parent.fork();
    let used = mf.usage().0;
    child.store(&mf, a + 3 * PAGE, 0xcc);
    child.store(&mf, a + 3 * PAGE + 1, 0xcd);
    assert_eq!(child.load(&mf, a + 3 * PAGE), 0xcc);
    assert_eq!(parent.load(&mf, a + 3 * PAGE), 4);
    assert_eq!(parent.load(&mf, a + 3 * PAGE + 1), 0);
    // One page copied: the parent's is its alone now, the child's is new.
    assert_eq!(mf.usage().0, used + PAGE);
    let (po, co) = (parent.off(a + 3 * PAGE), child.off(a + 3 * PAGE));
    assert_ne!(po, co);
    assert_eq!((mf.refcount(po), mf.refcount(co)), (1, 1));
    // The child's copy is mapped writable; its other pages are shared still.
    assert!(child.host.entry(a + 3 * PAGE).unwrap().1.write);
    assert_eq!(mf.refcount(parent.off(a + 4 * PAGE)), 2);
    // The parent's write to its now unshared page needs no copy.
    parent.store(&mf, a + 3 * PAGE, 0xaa);
    assert_eq!(mf.usage().0, used + PAGE);
    assert_eq!(parent.off(a + 3 * PAGE), po);
    assert_eq!(child.load(&mf, a + 3 * PAGE), 0xcc);
    drop(child);
    drop(parent);
    assert_eq!(mf.usage(), (0, 0));
}

#[test]
fn write_in_parent_leaves_child_unchanged() {
    let (mf, mut parent, a) = setup();
    let mut child = parent.fork();
    for i in 0..N {
        parent.store(&mf, a + i * PAGE, 0x50);
    }
    assert_eq!(parent.host.writable_pages(), N as usize);
    for i in 0..N {
        assert_eq!(child.load(&mf, a + i * PAGE), i as u8 + 1);
        assert_eq!(parent.load(&mf, a + i * PAGE), 0x50);
    }
    // The parent exits first: the child's pages are its own again and a
    // write maps them writable without copying.
    drop(parent);
    let used = mf.usage();
    assert_eq!(used.1, 0);
    child.store(&mf, a, 9);
    assert_eq!(mf.usage(), used);
    // The child mapped its pages after the parent had copied them all:
    // they were its alone, so they were mapped writable at once.
    assert_eq!(child.host.writable_pages() as u64, N);
    assert_eq!(child.load(&mf, a + PAGE), 2);
    drop(child);
    assert_eq!(mf.usage(), (0, 0));
}

#[test]
fn copy_out_breaks_cow_and_remaps() {
    let (mf, mut parent, a) = setup();
    let mut child = parent.fork();
    assert_eq!(child.load(&mf, a + PAGE), 2);
    child.mm.write_bytes(a + PAGE + 10, b"hello").unwrap();
    let (off, prot) = child.host.entry(a + PAGE).unwrap();
    assert!(prot.write);
    assert_eq!(off, child.off(a + PAGE));
    assert_ne!(off, parent.off(a + PAGE));
    let mut buf = [0u8; 5];
    parent.mm.read_bytes(a + PAGE + 10, &mut buf).unwrap();
    assert_eq!(buf, [0; 5]);
    child.mm.read_bytes(a + PAGE + 10, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    // A copy-out into the parent (mapped read-only since the fork).
    parent.mm.write_bytes(a + 2 * PAGE, b"P").unwrap();
    assert_eq!(parent.load(&mf, a + 2 * PAGE), b'P');
    assert_eq!(child.load(&mf, a + 2 * PAGE), 3);
    drop(parent);
    drop(child);
    assert_eq!(mf.usage(), (0, 0));
}

#[test]
fn unmap_dontneed_mremap_and_mprotect_keep_refcounts() {
    let (mf, mut parent, a) = setup();
    let mut child = parent.fork();
    let shared = parent.off(a + 5 * PAGE);
    child.mm.dontneed(a + 5 * PAGE, PAGE).unwrap();
    assert_eq!(mf.refcount(shared), 1);
    assert_eq!(child.load(&mf, a + 5 * PAGE), 0);
    child.mm.munmap(a + 6 * PAGE, 2 * PAGE).unwrap();
    assert_eq!(mf.refcount(parent.off(a + 6 * PAGE)), 1);
    // mremap moves the child's shared pages; they stay copy-on-write.
    let moved = child.mm.mremap(a + 10 * PAGE, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE, 0).unwrap();
    assert_ne!(moved, a + 10 * PAGE);
    assert_eq!(child.off(moved), parent.off(a + 10 * PAGE));
    child.store(&mf, moved, 0x77);
    assert_eq!(parent.load(&mf, a + 10 * PAGE), 11);
    assert_eq!(child.load(&mf, moved + PAGE), 12);
    // mprotect refaults with the VMA protection, but a shared page stays
    // read-only in the host.
    parent.mm.mprotect(a, N * PAGE, PROT_READ).unwrap();
    parent.mm.mprotect(a, N * PAGE, PROT_READ | PROT_WRITE).unwrap();
    assert_eq!(parent.load(&mf, a + 20 * PAGE), 21);
    assert!(!parent.host.entry(a + 20 * PAGE).unwrap().1.write);
    parent.store(&mf, a + 20 * PAGE, 1);
    assert_eq!(child.load(&mf, a + 20 * PAGE), 21);
    // A write in a read-only VMA is a violation, shared page or not.
    child.mm.mprotect(a, 4 * PAGE, PROT_READ).unwrap();
    assert_eq!(child.load(&mf, a), 1);
    assert!(!child.mm.handle_fault(a, false).unwrap());
    drop(child);
    assert_eq!(mf.usage().1, 0);
    drop(parent);
    assert_eq!(mf.usage(), (0, 0));
}

#[test]
fn shared_mappings_stay_shared_and_nested_forks_count_owners() {
    let mf = Arc::new(MemoryFile::new().unwrap());
    let mut p = Proc::new(&mf);
    let s = p.mmap(4 * PAGE, MAP_SHARED | MAP_ANONYMOUS);
    let a = p.mmap(4 * PAGE, PRIVATE);
    p.store(&mf, s, 1);
    p.store(&mf, a, 1);
    let mut c = p.fork();
    // The shared page stays writable in the parent and is written through.
    assert!(p.host.entry(s).unwrap().1.write);
    c.store(&mf, s, 2);
    assert_eq!(p.load(&mf, s), 2);
    assert!(c.host.entry(s).unwrap().1.write);
    // Shared pages nobody touched before the fork are shared too.
    c.store(&mf, s + 3 * PAGE, 4);
    assert_eq!(p.load(&mf, s + 3 * PAGE), 4);
    let mut g = c.fork();
    let off = p.off(a);
    assert_eq!(mf.refcount(off), 3);
    g.store(&mf, s, 3);
    assert_eq!(p.load(&mf, s), 3);
    g.store(&mf, a, 3);
    assert_eq!(mf.refcount(off), 2);
    c.store(&mf, a, 2);
    assert_eq!(mf.refcount(off), 1);
    // The last owner writes in place.
    p.store(&mf, a, 7);
    assert_eq!(p.off(a), off);
    assert_eq!((p.load(&mf, a), c.load(&mf, a), g.load(&mf, a)), (7, 2, 3));
    drop(c);
    drop(p);
    assert_eq!(g.load(&mf, s), 3);
    drop(g);
    assert_eq!(mf.usage(), (0, 0));
}

#[test]
fn exec_style_clear_frees_everything() {
    let (mf, mut parent, a) = setup();
    let mut child = parent.fork();
    child.store(&mf, a, 5);
    child.mm.clear();
    assert_eq!(mf.usage().1, 0);
    parent.store(&mf, a, 6);
    drop(parent);
    assert_eq!(mf.usage(), (0, 0));
}

/// A page the sentry owns and keeps (as the vDSO image and the vvar page
/// are), holding `val`.
fn kernel_page(mf: &MemoryFile, val: u8) -> VmaBacking {
    let r = mf.allocate(PAGE).unwrap();
    mf.write(r.off, &[val]);
    VmaBacking::Kernel { off: r.off, len: PAGE }
}

#[test]
fn private_kernel_pages_are_shared_until_written_and_the_sentry_keeps_its_copy() {
    let mf = Arc::new(MemoryFile::new().unwrap());
    let mut p = Proc::new(&mf);
    let backing = kernel_page(&mf, 7);
    let VmaBacking::Kernel { off: kpage, .. } = backing else { unreachable!() };
    let a = p.mm.mmap(0, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, backing, b"[vdso]".to_vec(), (0, 0)).unwrap();

    let seen = p.load(&mf, a);
    let shared_before_write = p.off(a) == kpage;
    p.mm.mprotect(a, PAGE, PROT_READ | PROT_WRITE).unwrap();
    p.store(&mf, a, 9);
    let mut kept = [0u8];
    mf.read(kpage, &mut kept);

    assert_eq!((seen, shared_before_write), (7, true));
    assert_ne!(p.off(a), kpage);
    assert_eq!((p.load(&mf, a), kept[0]), (9, 7));
}

#[test]
fn shared_kernel_pages_are_seen_by_every_fork_and_never_made_writable() {
    let mf = Arc::new(MemoryFile::new().unwrap());
    let mut parent = Proc::new(&mf);
    let backing = kernel_page(&mf, 1);
    let VmaBacking::Kernel { off: kpage, .. } = backing else { unreachable!() };
    let flags = MAP_SHARED;
    let a = parent.mm.mmap(0, PAGE, PROT_READ, flags, backing, b"[vvar]".to_vec(), (0, 0)).unwrap();
    parent.load(&mf, a);
    let mut child = parent.fork();

    mf.write(kpage, &[2]);
    let writable = parent.mm.mprotect(a, PAGE, PROT_READ | PROT_WRITE);

    assert_eq!((parent.load(&mf, a), child.load(&mf, a)), (2, 2));
    assert_eq!((parent.off(a), child.off(a)), (kpage, kpage));
    assert_eq!(writable, Err(abi::Errno::EACCES));
}
