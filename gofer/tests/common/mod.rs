//! Fixtures shared by the gofer integration tests.
#![allow(dead_code)]

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh directory under the temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "gofer-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub const HELLO: &[u8] = b"hello, gofer\n";
pub const ODD: &[u8] = b"odd \xff\x01\x7f name";

/// The standard tree: `hello.txt`, `sub/inner.txt`, `link -> hello.txt`,
/// `abs -> /etc/passwd`, a file with a non-UTF-8 name, an empty dir `empty`.
pub fn populate(root: &Path) {
    fs::write(root.join("hello.txt"), HELLO).unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/inner.txt"), b"inner").unwrap();
    std::os::unix::fs::symlink("hello.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs")).unwrap();
    fs::write(root.join(std::ffi::OsStr::from_bytes(ODD)), b"odd").unwrap();
    fs::create_dir(root.join("empty")).unwrap();
}
