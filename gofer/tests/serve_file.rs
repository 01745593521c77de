//! A single file served as the root (`server::serve_file`, what the gofer
//! does for a bind mount of one file), over a real `SOCK_SEQPACKET` pair,
//! without the jail.

mod common;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::thread::JoinHandle;

use abi::Errno;
use common::{TempDir, HELLO};
use gofer::{server, GoferClient, SetAttr};

/// Serve `dir/served` (holding [`HELLO`]) as the root, next to a sibling
/// `other` the client must never reach.
fn fixture(tag: &str) -> (TempDir, GoferClient, JoinHandle<std::io::Result<()>>) {
    let dir = TempDir::new(tag);
    fs::write(dir.path().join("served"), HELLO).unwrap();
    fs::write(dir.path().join("other"), b"secret").unwrap();
    let (a, b) = gofer::seqpacket_pair().unwrap();
    let dir_fd = OwnedFd::from(File::open(dir.path()).unwrap());
    let t = std::thread::spawn(move || server::serve_file(dir_fd, c"served", b));
    (dir, GoferClient::new(a), t)
}

#[test]
fn attach_returns_the_served_file_with_its_host_attributes() {
    let (dir, c, _t) = fixture("file-attach");

    let (root, attr) = c.attach().unwrap();

    let meta = fs::metadata(dir.path().join("served")).unwrap();
    assert_eq!((attr.ino, attr.mode, attr.size), (meta.ino(), meta.mode(), meta.size()));
    assert_eq!(c.getattr(root).unwrap(), attr);
}

#[test]
fn the_served_file_opens_for_reading_and_writing_through_to_the_host() {
    let (dir, c, _t) = fixture("file-rw");
    let (root, _) = c.attach().unwrap();

    let mut content = Vec::new();
    File::from(c.open(root, libc::O_RDONLY as u32).unwrap()).read_to_end(&mut content).unwrap();
    File::from(c.open(root, (libc::O_WRONLY | libc::O_TRUNC) as u32).unwrap()).write_all(b"new\n").unwrap();
    c.setattr(root, &SetAttr { mode: Some(0o600), ..SetAttr::default() }).unwrap();

    assert_eq!(content, HELLO);
    assert_eq!(fs::read(dir.path().join("served")).unwrap(), b"new\n");
    assert_eq!(fs::metadata(dir.path().join("served")).unwrap().mode() & 0o7777, 0o600);
}

#[test]
fn nothing_beside_the_served_file_is_reachable() {
    let (dir, c, _t) = fixture("file-alone");
    let (root, _) = c.attach().unwrap();

    let sibling = c.walk(root, b"other").err();
    let dotdot = c.walk(root, b"..").err();
    let create = c.create(root, b"x", 0o644, libc::O_RDWR as u32).err();
    let unlink = c.unlink(root, b"served", 0).err();
    let rename = c.rename(root, b"served", root, b"moved").err();
    let link = c.link(root, b"again", root).err();
    let readdir = c.readdir(root).err();

    assert_eq!(sibling, Some(Errno::ENOTDIR));
    assert_eq!(dotdot, Some(Errno::EINVAL));
    assert_eq!(create, Some(Errno::ENOTDIR));
    assert_eq!(unlink, Some(Errno::ENOTDIR));
    assert_eq!(rename, Some(Errno::ENOTDIR));
    assert_eq!(link, Some(Errno::ENOTDIR));
    assert_eq!(readdir, Some(Errno::ENOTDIR));
    let mut left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["other", "served"]);
}

#[test]
fn serving_a_directory_as_a_single_file_is_an_error() {
    let dir = TempDir::new("file-notreg");
    fs::create_dir(dir.path().join("sub")).unwrap();
    let (_a, b) = gofer::seqpacket_pair().unwrap();
    let dir_fd = OwnedFd::from(File::open(dir.path()).unwrap());

    let r = server::serve_file(dir_fd, c"sub", b);

    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
}
