//! execve: ELF (static, static-pie, dynamic with an interpreter), `#!`
//! scripts, the initial stack as Linux builds it, and the vDSO.

mod elf;
mod script;
mod vdso;

pub(crate) use elf::{dyn_bias, interp_path, layout, load_span, parse_with, ET_DYN_BASE};
pub use elf::{load, ExecFile, ExecImage, LoadError, StackInfo, STACK_TOP};
pub use script::{parse_shebang, Shebang, SCRIPT_HEAD};
pub use vdso::Vdso;
