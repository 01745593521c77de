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

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

fn check(b: &[u8]) -> Result<(), String> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let (phoff, phnum) = (u64_at(b, 32) as usize, usize::from(u16_at(b, 56)));
    let mut loads = 0;
    for i in 0..phnum {
        let p = phoff + i * 56;
        let (ty, flags, off, vaddr, filesz, memsz) =
            (u32_at(b, p), u32_at(b, p + 4), u64_at(b, p + 8), u64_at(b, p + 16), u64_at(b, p + 32), u64_at(b, p + 40));
        if ty == 1 {
            loads += 1;
            if off != 0 || vaddr != 0 || filesz != memsz || flags & 2 != 0 {
                return Err(format!("PT_LOAD at offset {off:#x}, address {vaddr:#x}, flags {flags:#x}"));
            }
        }
    }
    if loads != 1 {
        return Err(format!("{loads} PT_LOAD segments, not 1"));
    }
    let (shoff, shnum) = (u64_at(b, 40) as usize, usize::from(u16_at(b, 60)));
    for i in 0..shnum {
        let s = shoff + i * 64;
        let (ty, size) = (u32_at(b, s + 4), u64_at(b, s + 32));
        if (ty == 4 || ty == 9) && size > 0 {
            return Err("it has relocations".into());
        }
    }
    Ok(())
}
