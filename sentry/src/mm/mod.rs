//! Application memory: the MemoryFile and the MemoryManager of each address
//! space (VMAs, page population on fault, copy-in/copy-out, mmap semantics).

pub mod memfile;
mod vma;

#[cfg(test)]
mod cow_tests;

pub use memfile::{FileRange, MemoryFile};
pub use vma::{MemoryManager, SharedObject, Vma, VmaBacking};
