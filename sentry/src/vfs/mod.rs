//! The virtual file system: mounts, dentries, path resolution, file
//! descriptions and the fd table. File systems plug in through [`Inode`]
//! and [`FileOps`].

pub mod inode;

pub use inode::*;

/// A place in the mount tree: a dentry within a mount. Defined with path
/// resolution; file systems only hand these back from `magic_link`.
#[derive(Clone)]
pub struct Location {
    pub inode: InodeRef,
}
