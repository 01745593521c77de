//! The gofer: a separate, jailed process that owns the root filesystem and
//! serves the sentry over a `SOCK_SEQPACKET` socket. The sentry names files
//! by handles, one path component per walk; the gofer never follows a
//! symlink and never accepts a whole path. Opened files are donated to the
//! sentry with `SCM_RIGHTS`, and the sentry reads and writes them itself.

pub mod client;

pub use client::{Attr, DirEnt, GoferClient, Handle};
