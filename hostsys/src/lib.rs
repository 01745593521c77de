//! The host layer shared by bulwark's processes: what the CLI, the gofer
//! and the platform each set up the same way (the sentry–gofer transport,
//! CPU pinning, the parent-death signal) and the seccomp policies, written
//! once as data and compiled with `seccompiler`.
//!
//! Everything here is safe code on `nix`; the one unsafe block installs a
//! precompiled filter from the post-fork stub, which may not allocate.

#![deny(unsafe_code)]

pub mod cpu;
pub mod process;
pub mod seccomp;
pub mod socket;
