//! The vDSO: a small shared object (`sentry/vdso/vdso.c`, built by
//! `build.rs`) that answers the time calls in the application, mapped with
//! the vvar page just below it into every new program and announced with
//! `AT_SYSINFO_EHDR`. glibc finds its functions by name and version
//! (`__vdso_clock_gettime@LINUX_2.6`, ...), as it does on Linux.

use abi::consts::*;
use abi::Errno;

use crate::mm::{FileRange, MemoryFile, MemoryManager, VmaBacking};

/// The built image: one read+execute segment at address 0, no relocations
/// (`build.rs` checks both), so it is mapped as it is.
static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso.so"));

/// The sandbox's vDSO: its image in the MemoryFile, and the vvar page.
pub struct Vdso {
    vvar: FileRange,
    image: FileRange,
}

impl Vdso {
    /// Copy the image into the MemoryFile; `vvar` is the clock's page.
    /// `None` when the MemoryFile has no room.
    pub fn new(mf: &MemoryFile, vvar: FileRange) -> Option<Vdso> {
        let len = (IMAGE.len() as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let image = mf.allocate(len)?;
        mf.write(image.off, IMAGE);
        Some(Vdso { vvar, image })
    }

    /// Map `[vvar]` and, right above it, `[vdso]` into `mm`, where its
    /// `mmap` finds room; returns the vDSO's address (`AT_SYSINFO_EHDR`).
    pub fn map(&self, mm: &mut MemoryManager) -> Result<u64, Errno> {
        let total = self.vvar.len + self.image.len;
        let at = mm.mmap(0, total, PROT_NONE, MAP_PRIVATE, VmaBacking::Anon, Vec::new(), (0, 0))?;
        let vvar = VmaBacking::Kernel { off: self.vvar.off, len: self.vvar.len };
        mm.mmap(at, self.vvar.len, PROT_READ, MAP_SHARED | MAP_FIXED, vvar, b"[vvar]".to_vec(), (0, 0))?;
        let image = VmaBacking::Kernel { off: self.image.off, len: self.image.len };
        let base = at + self.vvar.len;
        let prot = PROT_READ | PROT_EXEC;
        mm.mmap(base, self.image.len, prot, MAP_PRIVATE | MAP_FIXED, image, b"[vdso]".to_vec(), (0, 0))?;
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynsym_names(b: &[u8]) -> Vec<String> {
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let (shoff, shnum) = (u64_at(40) as usize, usize::from(u16::from_le_bytes([b[60], b[61]])));
        let sh = |i: usize| shoff + i * 64;
        let dynsym = (0..shnum).map(sh).find(|&s| u32_at(s + 4) == 11).unwrap();
        let strtab = sh(u32_at(dynsym + 40) as usize);
        let (symoff, symsize) = (u64_at(dynsym + 24) as usize, u64_at(dynsym + 32) as usize);
        let stroff = u64_at(strtab + 24) as usize;
        (symoff..symoff + symsize)
            .step_by(24)
            .map(|s| {
                let name = &b[stroff + u32_at(s) as usize..];
                String::from_utf8_lossy(&name[..name.iter().position(|&c| c == 0).unwrap()]).into_owned()
            })
            .collect()
    }

    #[test]
    fn image_exports_the_functions_glibc_looks_up() {
        let names = dynsym_names(IMAGE);

        for f in ["__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu", "__vdso_clock_getres"]
        {
            assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
        }
    }
}
