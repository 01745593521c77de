//! execve: ELF (static, static-pie, dynamic with an interpreter), `#!`
//! scripts, the initial stack as Linux builds it, and the vDSO.

mod elf;
mod vdso;

pub use elf::{load, ExecFile, ExecImage, LoadError, StackInfo, STACK_TOP};
pub use vdso::Vdso;
