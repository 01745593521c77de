//! Loading an ELF image into a fresh MemoryManager.

use abi::consts::*;
use abi::Errno;
use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{EI_CLASS, EI_DATA, ELFCLASS64, ELFDATA2LSB, EM_X86_64, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{ProgramHeader, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};
use goblin::elf64::header::SIZEOF_EHDR;
use goblin::elf64::program_header::SIZEOF_PHDR;

use crate::mm::{MemoryManager, VmaBacking};
use crate::vfs::Caller;
use crate::vfs::{FileRef, InodeAttr};

const PAGE: u64 = PAGE_SIZE;
/// Where a position-independent main executable goes (Linux's
/// `ELF_ET_DYN_BASE` without randomization).
pub(crate) const ET_DYN_BASE: u64 = 0x5555_5555_4000;
/// Top of the initial stack.
pub const STACK_TOP: u64 = 0x7fff_f000_0000;
/// Initial stack VMA size (it grows down on faults).
const STACK_INITIAL: u64 = 128 << 10;

/// Why an image could not be loaded: what `execve` returns.
pub type LoadError = Errno;

/// An open executable: its file and attributes, and the path it was found at.
pub struct ExecFile {
    pub file: FileRef,
    pub attr: InodeAttr,
    pub path: Vec<u8>,
}

/// What the loader produced: where to start.
pub struct ExecImage {
    pub entry: u64,
    pub sp: u64,
}

/// The parts of an ELF file the loader uses; headers are parsed by goblin.
pub(crate) struct Elf {
    pub e_type: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phnum: u16,
    pub phdrs: Vec<ProgramHeader>,
}

/// Most program headers an image may have (Linux allows 64 KiB of them).
const MAX_PHNUM: u16 = 512;

fn read_full(file: &FileRef, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut done = 0;
    while done < buf.len() {
        match file.read(Caller::SENTRY, &mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Read and check `file`'s ELF header and program headers: a 64-bit
/// little-endian x86-64 executable or shared object, else `ENOEXEC`.
fn parse(file: &FileRef) -> Result<Elf, Errno> {
    parse_with(&mut |off, buf| read_full(file, off, buf))
}

/// Reads `buf.len()` bytes at an offset of the file, or fewer at its end.
pub(crate) type ReadAt<'a> = dyn FnMut(u64, &mut [u8]) -> Result<usize, Errno> + 'a;

/// [`parse`] over any way to read the file.
pub(crate) fn parse_with(read: &mut ReadAt<'_>) -> Result<Elf, Errno> {
    let mut h = [0u8; SIZEOF_EHDR];
    if read(0, &mut h)? < h.len() {
        return Err(Errno::ENOEXEC);
    }
    let hdr = goblin::elf::Elf::parse_header(&h).map_err(|_| Errno::ENOEXEC)?;
    if hdr.e_ident[EI_CLASS] != ELFCLASS64 || hdr.e_ident[EI_DATA] != ELFDATA2LSB || hdr.e_machine != EM_X86_64 {
        return Err(Errno::ENOEXEC);
    }
    if hdr.e_type != ET_EXEC && hdr.e_type != ET_DYN {
        return Err(Errno::ENOEXEC);
    }
    let phnum = hdr.e_phnum;
    if usize::from(hdr.e_phentsize) != SIZEOF_PHDR || phnum == 0 || phnum > MAX_PHNUM {
        return Err(Errno::ENOEXEC);
    }
    let mut pb = vec![0u8; SIZEOF_PHDR * usize::from(phnum)];
    if read(hdr.e_phoff, &mut pb)? < pb.len() {
        return Err(Errno::ENOEXEC);
    }
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let phdrs = ProgramHeader::parse(&pb, 0, usize::from(phnum), ctx).map_err(|_| Errno::ENOEXEC)?;
    Ok(Elf { e_type: hdr.e_type, entry: hdr.e_entry, phoff: hdr.e_phoff, phnum, phdrs })
}

/// The interpreter path `PT_INTERP` names (trailing NULs cut), if any.
pub(crate) fn interp_path(elf: &Elf, read: &mut ReadAt<'_>) -> Result<Option<Vec<u8>>, Errno> {
    let Some(p) = elf.phdrs.iter().find(|p| p.p_type == PT_INTERP) else {
        return Ok(None);
    };
    if p.p_filesz == 0 || p.p_filesz > 4096 {
        return Err(Errno::ENOEXEC);
    }
    let mut b = vec![0u8; p.p_filesz as usize];
    read(p.p_offset, &mut b)?;
    while b.last() == Some(&0) {
        b.pop();
    }
    Ok(Some(b))
}

struct Loaded {
    bias: u64,
    entry: u64,
    phdr_addr: u64,
    end: u64,
}

/// The page-aligned start of `elf`'s PT_LOAD segments and the length of
/// the span from there to the end of the last one.
pub(crate) fn load_span(elf: &Elf) -> Result<(u64, u64), Errno> {
    let mut loads = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD);
    let (Some(first), Some(last)) = (loads.next(), elf.phdrs.iter().rfind(|p| p.p_type == PT_LOAD)) else {
        return Err(Errno::ENOEXEC);
    };
    let lo = first.p_vaddr & !(PAGE - 1);
    let hi = last.p_vaddr.checked_add(last.p_memsz).ok_or(Errno::ENOEXEC)?;
    let span = hi.checked_sub(lo).ok_or(Errno::ENOEXEC)?;
    Ok((lo, span))
}

/// One PT_LOAD segment as it is mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub start: u64,
    pub len: u64,
    pub prot: u32,
    /// File offset of `start` (page-aligned).
    pub offset: u64,
    /// Where the file's bytes end and zeroes begin.
    pub zero_from: u64,
}

/// Where everything of `elf` goes when loaded `bias` bytes above its
/// addresses: what [`map_image`] maps, with no memory touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub segments: Vec<Segment>,
    pub entry: u64,
    pub phdr_addr: u64,
    pub end: u64,
}

/// `elf`'s [`Layout`] at `bias`: `ENOEXEC` for a segment with more file
/// than memory, misaligned to its offset, or an address past the end of
/// the address space.
pub(crate) fn layout(elf: &Elf, bias: u64) -> Result<Layout, Errno> {
    let mut segments = Vec::new();
    let mut end = 0;
    for p in elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        if p.p_filesz > p.p_memsz || (p.p_vaddr % PAGE) != (p.p_offset % PAGE) {
            return Err(Errno::ENOEXEC);
        }
        // The bias is modular (an ET_DYN whose addresses lie above where
        // it is put has a "negative" one), as Linux's `load_bias` is.
        let vaddr = p.p_vaddr.wrapping_add(bias);
        let start = vaddr & !(PAGE - 1);
        let mend = vaddr.checked_add(p.p_memsz).ok_or(Errno::ENOEXEC)?;
        let mut prot = 0;
        if p.p_flags & PF_R != 0 {
            prot |= PROT_READ;
        }
        if p.p_flags & PF_W != 0 {
            prot |= PROT_WRITE;
        }
        if p.p_flags & PF_X != 0 {
            prot |= PROT_EXEC;
        }
        segments.push(Segment {
            start,
            len: mend - start,
            prot,
            offset: p.p_offset & !(PAGE - 1),
            zero_from: vaddr + p.p_filesz,
        });
        end = end.max(mend);
    }
    // Where the program headers are in memory.
    let phdr_addr = match elf.phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        Some(p) => p.p_vaddr.wrapping_add(bias),
        None => elf
            .phdrs
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .find(|p| p.p_offset <= elf.phoff && elf.phoff - p.p_offset < p.p_filesz)
            .map(|p| p.p_vaddr.wrapping_add(elf.phoff - p.p_offset).wrapping_add(bias))
            .unwrap_or(0),
    };
    // An entry point outside the image faults when the program starts
    // (Linux's SIGSEGV after the point of no return).
    Ok(Layout { segments, entry: elf.entry.wrapping_add(bias), phdr_addr, end })
}

/// The bias of an ET_DYN image whose span starting at `lo` was reserved at
/// `at`: modular, so `lo` above `at` is a "negative" bias (Linux's
/// `load_bias` wraps the same way).
pub(crate) fn dyn_bias(at: u64, lo: u64) -> u64 {
    at.wrapping_sub(lo)
}

/// Map `elf`'s PT_LOAD segments. `base` is where an ET_DYN goes (0: let
/// mmap choose).
fn map_image(mm: &mut MemoryManager, f: &ExecFile, elf: &Elf, dyn_base: Option<u64>) -> Result<Loaded, Errno> {
    let (lo, span) = load_span(elf)?;
    let bias = if elf.e_type == ET_DYN {
        // Reserve the whole span to find room, then map segments over it.
        let hint = dyn_base.unwrap_or(0);
        let flags = if hint != 0 { MAP_PRIVATE | MAP_FIXED_NOREPLACE } else { MAP_PRIVATE };
        let at = match mm.mmap(hint, span, PROT_NONE, flags, VmaBacking::Anon, Vec::new(), (0, 0)) {
            Ok(a) => a,
            Err(_) => mm.mmap(0, span, PROT_NONE, MAP_PRIVATE, VmaBacking::Anon, Vec::new(), (0, 0))?,
        };
        dyn_bias(at, lo)
    } else {
        0
    };
    let l = layout(elf, bias)?;
    for s in &l.segments {
        let backing = VmaBacking::File { file: f.file.clone(), offset: s.offset, zero_from: s.zero_from, shared: None };
        mm.mmap(s.start, s.len, s.prot, MAP_PRIVATE | MAP_FIXED, backing, f.path.clone(), (f.attr.dev, f.attr.ino))?;
    }
    Ok(Loaded { bias, entry: l.entry, phdr_addr: l.phdr_addr, end: l.end })
}

/// What `load` needs to know about the new process.
pub struct StackInfo<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    pub execfn: &'a [u8],
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub random: [u8; 16],
    /// The vDSO to map (`AT_SYSINFO_EHDR`), if the sandbox has one.
    pub vdso: Option<&'a super::Vdso>,
}

/// Load `exe` (and its interpreter, opened by `open_interp`) into the empty
/// `mm` and build the initial stack.
pub fn load(
    mm: &mut MemoryManager,
    exe: &ExecFile,
    open_interp: &mut dyn FnMut(&[u8]) -> Result<ExecFile, Errno>,
    info: &StackInfo<'_>,
) -> Result<ExecImage, Errno> {
    let elf = parse(&exe.file)?;
    let interp_path = interp_path(&elf, &mut |off, buf| read_full(&exe.file, off, buf))?;
    let main = map_image(mm, exe, &elf, Some(ET_DYN_BASE))?;
    let brk = main.end.checked_add(PAGE - 1).ok_or(Errno::ENOEXEC)? & !(PAGE - 1);
    mm.brk_start = brk;
    mm.brk = brk;
    let (entry, interp_base) = match interp_path {
        Some(path) => {
            let ifile = open_interp(&path)?;
            let ielf = parse(&ifile.file)?;
            if ielf.phdrs.iter().any(|p| p.p_type == PT_INTERP) {
                return Err(Errno::ELIBBAD);
            }
            let l = map_image(mm, &ifile, &ielf, None)?;
            (l.entry, l.bias)
        }
        None => (main.entry, 0),
    };
    let mut aux = Vec::with_capacity(20);
    if let Some(v) = info.vdso {
        aux.push((AT_SYSINFO_EHDR, v.map(mm)?));
    }
    aux.extend_from_slice(&[
        (AT_PHDR, main.phdr_addr),
        (AT_PHENT, 56),
        (AT_PHNUM, u64::from(elf.phnum)),
        (AT_PAGESZ, PAGE),
        (AT_BASE, interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, main.entry),
        (AT_UID, u64::from(info.uid)),
        (AT_EUID, u64::from(info.euid)),
        (AT_GID, u64::from(info.gid)),
        (AT_EGID, u64::from(info.egid)),
        (AT_SECURE, 0),
        (AT_CLKTCK, 100),
        (AT_HWCAP, hwcap()),
        (AT_HWCAP2, 0),
        (AT_MINSIGSTKSZ, 3632),
    ]);
    let sp = build_stack(mm, info, &aux)?;
    Ok(ExecImage { entry, sp })
}

/// CPUID leaf 1 EDX, which is what Linux reports as AT_HWCAP on x86.
fn hwcap() -> u64 {
    // SAFETY-free: cpuid is an unprivileged instruction wrapped by core.
    #[cfg(target_arch = "x86_64")]
    {
        u64::from(std::arch::x86_64::__cpuid(1).edx)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

fn build_stack(mm: &mut MemoryManager, info: &StackInfo<'_>, aux: &[(u64, u64)]) -> Result<u64, Errno> {
    let stack_lo = STACK_TOP - STACK_INITIAL;
    mm.mmap(
        stack_lo,
        STACK_INITIAL,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_FIXED | MAP_GROWSDOWN,
        VmaBacking::Anon,
        b"[stack]".to_vec(),
        (0, 0),
    )?;
    let mut sp = STACK_TOP - 8;
    let push_bytes = |mm: &mut MemoryManager, sp: &mut u64, b: &[u8]| -> Result<u64, Errno> {
        *sp -= b.len() as u64 + 1;
        mm.write_bytes(*sp, b)?;
        mm.write_bytes(*sp + b.len() as u64, &[0])?;
        Ok(*sp)
    };
    let execfn = push_bytes(mm, &mut sp, info.execfn)?;
    let env_end = sp + info.execfn.len() as u64 + 1;
    let mut envs = Vec::new();
    for e in info.envp.iter().rev() {
        envs.push(push_bytes(mm, &mut sp, e)?);
    }
    envs.reverse();
    let env_start = sp;
    let arg_end = sp;
    let mut args = Vec::new();
    for a in info.argv.iter().rev() {
        args.push(push_bytes(mm, &mut sp, a)?);
    }
    args.reverse();
    let arg_start = sp;
    let platform = push_bytes(mm, &mut sp, b"x86_64")?;
    sp -= 16;
    sp &= !15;
    let random = sp;
    mm.write_bytes(random, &info.random)?;
    mm.arg_start = arg_start;
    mm.arg_end = arg_end;
    mm.env_start = env_start;
    mm.env_end = env_end.min(execfn);
    let mut auxv: Vec<(u64, u64)> = aux.to_vec();
    auxv.push((AT_RANDOM, random));
    auxv.push((AT_EXECFN, execfn));
    auxv.push((AT_PLATFORM, platform));
    auxv.push((AT_NULL, 0));
    // argc, argv..., NULL, envp..., NULL, auxv pairs.
    let words = 1 + args.len() + 1 + envs.len() + 1 + 2 * auxv.len();
    sp -= (words * 8) as u64;
    sp &= !15;
    let mut v: Vec<u64> = Vec::with_capacity(words);
    v.push(args.len() as u64);
    v.extend(&args);
    v.push(0);
    v.extend(&envs);
    v.push(0);
    for (k, val) in auxv {
        v.push(k);
        v.push(val);
    }
    let bytes: Vec<u8> = v.iter().flat_map(|w| w.to_le_bytes()).collect();
    mm.write_bytes(sp, &bytes)?;
    Ok(sp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An x86-64 ELF of type `e_type` with `phdrs` (type, offset, vaddr,
    /// filesz, memsz each) and entry `entry`.
    fn image(e_type: u16, entry: u64, phdrs: &[(u32, u64, u64, u64, u64)]) -> Vec<u8> {
        let mut e = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        e.extend_from_slice(&e_type.to_le_bytes());
        e.extend_from_slice(&62u16.to_le_bytes());
        e.extend_from_slice(&1u32.to_le_bytes());
        e.extend_from_slice(&entry.to_le_bytes());
        e.extend_from_slice(&64u64.to_le_bytes());
        e.extend_from_slice(&0u64.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        for v in [64u16, 56, phdrs.len() as u16, 64, 0, 0] {
            e.extend_from_slice(&v.to_le_bytes());
        }
        for &(ty, off, vaddr, filesz, memsz) in phdrs {
            e.extend_from_slice(&ty.to_le_bytes());
            e.extend_from_slice(&(PF_R | PF_X).to_le_bytes());
            for v in [off, vaddr, vaddr, filesz, memsz, PAGE] {
                e.extend_from_slice(&v.to_le_bytes());
            }
        }
        e
    }

    fn parse_bytes(data: &[u8]) -> Result<Elf, Errno> {
        parse_with(&mut |off, buf| {
            let src = usize::try_from(off).ok().and_then(|o| data.get(o..)).unwrap_or(&[]);
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            Ok(n)
        })
    }

    /// Found by the elf_loader fuzzer: an ET_DYN whose segments lie above
    /// where its span is reserved took `at - lo` and overflowed; it loads
    /// at the reservation, as on Linux.
    #[test]
    fn a_pie_linked_above_its_load_address_loads_there() {
        let lo = 0x7000_0000_0000;
        let elf = parse_bytes(&image(ET_DYN, lo + 0x10, &[(PT_LOAD, 0, lo, 0x100, 0x2000)])).expect("parses");
        let (got_lo, span) = load_span(&elf).expect("span");
        assert_eq!((got_lo, span), (lo, 0x2000));
        let l = layout(&elf, dyn_bias(ET_DYN_BASE, lo)).expect("lays out");
        assert_eq!(l.segments[0].start, ET_DYN_BASE);
        assert_eq!(l.segments[0].len, 0x2000);
        assert_eq!(l.entry, ET_DYN_BASE + 0x10);
        assert_eq!(l.phdr_addr, ET_DYN_BASE + 64);
        assert_eq!(l.end, ET_DYN_BASE + 0x2000);
    }

    /// The same overflow in the other biased addresses (seen fixing the
    /// one above): an entry point or PT_PHDR address near the top of the
    /// address space wraps as Linux's does (the program faults when it
    /// starts); a segment that ends past it is `ENOEXEC`.
    #[test]
    fn addresses_near_the_top_wrap_instead_of_overflowing() {
        let phdrs = [(PT_PHDR, 64, u64::MAX - 8, 56, 56), (PT_LOAD, 0, 0, 0x1000, 0x1000)];
        let elf = parse_bytes(&image(ET_DYN, u64::MAX, &phdrs)).expect("parses");
        let l = layout(&elf, ET_DYN_BASE).expect("lays out");
        assert_eq!(l.entry, ET_DYN_BASE - 1);
        assert_eq!(l.phdr_addr, ET_DYN_BASE - 9);
        let elf = parse_bytes(&image(ET_DYN, 0, &[(PT_LOAD, 8, 8, u64::MAX, u64::MAX)])).expect("parses");
        assert_eq!(layout(&elf, 0).map(|l| l.phdr_addr), Err(Errno::ENOEXEC));
    }
}
