//! Builds the vDSO (`vdso/vdso.c`) with the host's C compiler into
//! `$OUT_DIR/vdso.so`, which `loader::vdso` embeds, and checks that the
//! image can be mapped as it is: one read+execute PT_LOAD at address 0
//! covering the file's start, and no relocations.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join("vdso");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vdso.so");
    for f in ["vdso.c", "vdso.map", "vdso.lds"] {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=CC");
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-nostdlib", "-fPIC", "-O2", "-fno-stack-protector", "-fno-builtin"])
        .args(["-Wall", "-Wextra", "-Werror"])
        .args(["-Wl,-soname=linux-vdso.so.1", "-Wl,--hash-style=both", "-Wl,--no-undefined", "-Wl,-Bsymbolic"])
        .args(["-Wl,--eh-frame-hdr", "-Wl,-z,max-page-size=4096", "-Wl,--build-id=none"])
        .arg(format!("-Wl,--version-script={}", dir.join("vdso.map").display()))
        .arg(format!("-Wl,-T,{}", dir.join("vdso.lds").display()))
        .arg("-o")
        .arg(&out)
        .arg(dir.join("vdso.c"))
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("building the vDSO with `{cc}` failed ({s}); see the compiler's messages above"),
        Err(e) => panic!(
            "building the vDSO needs a C compiler: `{cc}` could not be run ({e}). \
             Install gcc (apt-get install gcc) or set CC."
        ),
    }
    let image = std::fs::read(&out).expect("read the built vDSO");
    if let Err(why) = check(&image) {
        panic!("the built vDSO ({}) cannot be mapped as it is: {why}", out.display());
    }
}

/// The vDSO is mapped as the file's bytes, unrelocated: exactly one
/// PT_LOAD, at offset and address 0, not writable, with nothing to zero
/// beyond the file (`p_memsz == p_filesz`), and no relocation sections.
fn check(b: &[u8]) -> Result<(), String> {
    use goblin::elf::program_header::{PF_W, PT_LOAD};
    use goblin::elf::section_header::{SHT_REL, SHT_RELA};

    let elf = goblin::elf::Elf::parse(b).map_err(|e| format!("not a readable ELF file: {e}"))?;
    let loads: Vec<_> = elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD).collect();
    if loads.len() != 1 {
        return Err(format!("{} PT_LOAD segments, not 1", loads.len()));
    }
    let p = loads[0];
    if p.p_offset != 0 || p.p_vaddr != 0 || p.p_filesz != p.p_memsz || p.p_flags & PF_W != 0 {
        return Err(format!("PT_LOAD at offset {:#x}, address {:#x}, flags {:#x}", p.p_offset, p.p_vaddr, p.p_flags));
    }
    if elf.section_headers.iter().any(|s| (s.sh_type == SHT_REL || s.sh_type == SHT_RELA) && s.sh_size > 0) {
        return Err("it has relocations".into());
    }
    Ok(())
}
