//! The bodies of the sentry's fuzz targets (`fuzz/fuzz_targets/`), shared
//! with the stable test that replays their corpora (`tests/fuzz_corpus.rs`).
//! Each takes arbitrary bytes and panics only when an invariant of the code
//! under test breaks.

use abi::consts::PAGE_SIZE;
use abi::Errno;
use goblin::elf::header::ET_DYN;

use crate::loader;

/// Where the top of the application's address space is (the ptrace
/// platform's `max_user_address`).
const MAX_ADDR: u64 = 0x7fff_ffff_f000;

/// `data` as an executable: the `#!` line, then the ELF header, program
/// headers, interpreter path and the layout of the segments, for an
/// ET_DYN image at each place the reservation `mmap` might put it.
pub fn elf(data: &[u8]) {
    if let Ok(Some((interp, _))) = loader::parse_shebang(data) {
        assert!(!interp.is_empty());
    }
    let mut read = |off: u64, buf: &mut [u8]| -> Result<usize, Errno> {
        let src = usize::try_from(off).ok().and_then(|o| data.get(o..)).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    };
    let Ok(elf) = loader::parse_with(&mut read) else {
        return;
    };
    let _ = loader::interp_path(&elf, &mut read);
    let Ok((lo, span)) = loader::load_span(&elf) else {
        return;
    };
    let biases = if elf.e_type == ET_DYN {
        // Where a span that fits can be reserved: the hint, the lowest
        // page, the highest place.
        let Some(top) = MAX_ADDR.checked_sub(span) else {
            return;
        };
        let top = top & !(PAGE_SIZE - 1);
        [loader::ET_DYN_BASE, PAGE_SIZE, top]
            .into_iter()
            .filter(|&at| at.checked_add(span).is_some_and(|e| e <= MAX_ADDR))
            .map(|at| loader::dyn_bias(at, lo))
            .collect()
    } else {
        vec![0]
    };
    for bias in biases {
        let Ok(l) = loader::layout(&elf, bias) else {
            continue;
        };
        for s in &l.segments {
            assert_eq!(s.start % PAGE_SIZE, 0);
            assert_eq!(s.offset % PAGE_SIZE, 0);
            let end = s.start.checked_add(s.len).expect("a segment ends in the address space");
            assert!(s.start <= s.zero_from && s.zero_from <= end, "{s:?}");
            assert!(end <= l.end);
        }
    }
}

/// The system call argument decoders and strace printers that need no
/// task, over `data`: six little-endian register values, then a buffer.
pub fn syscall_args(data: &[u8]) {
    crate::syscalls::args_fuzz::run(data);
}
