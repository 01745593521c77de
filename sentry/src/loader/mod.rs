//! execve: ELF (static, static-pie, dynamic with an interpreter), `#!`
//! scripts, and the initial stack as Linux builds it.

mod elf;

pub use elf::{load, ExecFile, ExecImage, LoadError, StackInfo, STACK_TOP};
