use super::*;
use crate::vfs::Caller;
use abi::consts::S_IFDIR;
use abi::consts::{DT_DIR, DT_LNK, DT_REG, O_DIRECTORY, O_RDWR, O_WRONLY};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A temporary host tree served by a real gofer loop on a thread.
struct Served {
    dir: PathBuf,
    fs: Arc<GoferFs>,
    root: InodeRef,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve() -> Served {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "bulwark-fs-gofer-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("hello.txt"), b"hello, world\n").expect("write");
    std::fs::create_dir(dir.join("sub")).expect("mkdir sub");
    std::fs::write(dir.join("sub/inner"), b"inner").expect("write inner");
    std::os::unix::fs::symlink("hello.txt", dir.join("link")).expect("symlink");

    let (ours, theirs) = gofer::seqpacket_pair().expect("socketpair");
    let root_fd: OwnedFd = std::fs::File::open(&dir).expect("open root").into();
    std::thread::spawn(move || gofer::server::serve(root_fd, theirs));
    let fs = GoferFs::new(Arc::new(GoferClient::new(ours)), 77).expect("attach");
    let root = fs.root();
    Served { dir, fs, root }
}

fn read_all(inode: &InodeRef) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = inode.open(Caller::SENTRY, O_RDONLY).expect("open").read(Caller::SENTRY, &mut buf, 0).expect("read");
    buf.truncate(n);
    buf
}

#[test]
fn regular_file_reads_host_contents_at_offsets() {
    let s = serve();
    let f = s.root.lookup(b"hello.txt").expect("lookup");
    let file = f.open(Caller::SENTRY, O_RDONLY).expect("open");
    let mut buf = [0u8; 5];

    let n = file.read(Caller::SENTRY, &mut buf, 7).expect("read");

    assert_eq!(&buf[..n], b"world");
    assert_eq!(read_all(&f), b"hello, world\n");
}

#[test]
fn attributes_come_from_the_host_with_the_fs_dev() {
    let s = serve();
    let host = std::fs::metadata(s.dir.join("hello.txt")).expect("stat");

    let a = s.root.lookup(b"hello.txt").expect("lookup").attr().expect("attr");

    use std::os::unix::fs::MetadataExt;
    assert_eq!((a.dev, a.ino, a.mode, a.size), (77, host.ino(), host.mode(), 13));
    assert_eq!((a.uid, a.gid, a.mtime.tv_sec), (host.uid(), host.gid(), host.mtime()));
}

#[test]
fn readdir_lists_host_entries_with_types() {
    let s = serve();

    let mut got: Vec<_> = s.root.readdir().expect("readdir").into_iter().map(|e| (e.name, e.kind)).collect();
    got.sort();

    assert_eq!(got, vec![(b"hello.txt".to_vec(), DT_REG), (b"link".to_vec(), DT_LNK), (b"sub".to_vec(), DT_DIR)]);
}

#[test]
fn symlink_target_is_read() {
    let s = serve();

    let l = s.root.lookup(b"link").expect("lookup");

    assert_eq!(l.readlink(Caller::SENTRY).expect("readlink"), b"hello.txt");
    assert_eq!(l.open(Caller::SENTRY, O_RDONLY).err(), Some(Errno::ELOOP));
}

#[test]
fn nested_lookup_reaches_files_in_subdirectories() {
    let s = serve();

    let inner = s.root.lookup(b"sub").expect("sub").lookup(b"inner").expect("inner");

    assert_eq!(read_all(&inner), b"inner");
}

#[test]
fn subdirectories_of_a_listed_directory_come_with_their_listings() {
    let s = serve();
    std::fs::create_dir(s.dir.join("sub2")).expect("mkdir sub2");
    std::fs::write(s.dir.join("sub2/f"), b"f").expect("write f");
    s.root.readdir().expect("readdir");

    let sub = s.root.lookup(b"sub").expect("sub");
    // Both listings were read with that lookup: host changes after it
    // are not seen (the tree is the sandbox's own).
    std::fs::write(s.dir.join("sub/later"), b"x").expect("write");
    std::fs::write(s.dir.join("sub2/later"), b"x").expect("write");
    let sub2 = s.root.lookup(b"sub2").expect("sub2");

    let names = |d: &InodeRef| {
        let mut v: Vec<_> = d.readdir().expect("readdir").into_iter().map(|e| e.name).collect();
        v.sort();
        v
    };
    assert_eq!(names(&sub), vec![b"inner".to_vec()]);
    assert_eq!(names(&sub2), vec![b"f".to_vec()]);
    assert_eq!(read_all(&sub.lookup(b"inner").expect("inner")), b"inner");
    assert_eq!(sub2.lookup(b"later").err(), Some(Errno::ENOENT));
    assert_eq!(s.root.lookup(b"hello.txt").expect("file").attr().expect("attr").size, 13);
}

#[test]
fn lookups_are_answered_from_cache_once_made() {
    let s = serve();
    let sub = s.root.lookup(b"sub").expect("sub");
    assert_eq!(sub.lookup(b"later").err(), Some(Errno::ENOENT));
    std::fs::write(s.dir.join("sub/later"), b"x").expect("write");
    std::fs::remove_file(s.dir.join("sub/inner")).expect("rm");

    let again = s.root.lookup(b"sub").expect("sub again");

    assert!(Arc::ptr_eq(&sub, &again));
    assert_eq!(again.lookup(b"later").err(), Some(Errno::ENOENT));
}

#[test]
fn missing_name_returns_enoent_and_lookup_in_a_file_enotdir() {
    let s = serve();
    let f = s.root.lookup(b"hello.txt").expect("lookup");

    assert_eq!(s.root.lookup(b"nope").err(), Some(Errno::ENOENT));
    assert_eq!(f.lookup(b"x").err(), Some(Errno::ENOTDIR));
}

#[test]
fn changes_return_erofs() {
    let s = serve();
    let f = s.root.lookup(b"hello.txt").expect("lookup");

    assert_eq!(f.open(Caller::SENTRY, O_WRONLY).err(), Some(Errno::EROFS));
    assert_eq!(f.open(Caller::SENTRY, O_RDWR).err(), Some(Errno::EROFS));
    assert_eq!(f.set_attr(&SetAttr { size: Some(0), ..Default::default() }), Err(Errno::EROFS));
    assert_eq!(s.root.unlink(b"hello.txt", false), Err(Errno::EROFS));
    let r = s.root.create(b"x", crate::vfs::NodeKind::Regular, crate::vfs::CreateAttr { mode: 0o644, uid: 0, gid: 0 });
    assert_eq!(r.err(), Some(Errno::EROFS));
}

#[test]
fn directory_opens_for_reading_only() {
    let s = serve();

    assert!(s.root.open(Caller::SENTRY, O_RDONLY | O_DIRECTORY).is_ok());
    assert_eq!(s.root.open(Caller::SENTRY, O_RDWR).err(), Some(Errno::EISDIR));
}

#[test]
fn all_opens_of_a_file_share_one_host_descriptor() {
    let s = serve();
    let f = s.root.lookup(b"hello.txt").expect("lookup");
    let g = f.as_any().downcast_ref::<GoferInode>().expect("gofer inode");

    let a = g.host_fd().expect("fd").as_raw_fd();
    let b = g.host_fd().expect("fd").as_raw_fd();

    assert_eq!(a, b);
}

#[test]
fn overlay_over_gofer_copies_up_without_touching_the_host() {
    let s = serve();
    let upper = super::super::Tmpfs::new(3, 0o755, 0, 0);
    let ovl = super::super::OverlayFs::new(s.fs.root(), upper, 4).expect("overlay");
    let f = ovl.root().lookup(b"hello.txt").expect("lookup");

    f.open(Caller::SENTRY, O_WRONLY).expect("open").write(Caller::SENTRY, b"J", 0).expect("write");

    assert_eq!(read_all(&f), b"Jello, world\n");
    assert_eq!(std::fs::read(s.dir.join("hello.txt")).expect("host read"), b"hello, world\n");
}

fn serve_writable(revalidate: bool) -> Served {
    let mut s = serve();
    let (ours, theirs) = gofer::seqpacket_pair().expect("socketpair");
    let root_fd: OwnedFd = std::fs::File::open(&s.dir).expect("open root").into();
    std::thread::spawn(move || gofer::server::serve(root_fd, theirs));
    let opts = GoferFsOptions { writable: true, revalidate };
    s.fs = GoferFs::with_options(Arc::new(GoferClient::new(ours)), 78, opts).expect("attach");
    s.root = s.fs.root();
    s
}

fn attr(mode: u32) -> crate::vfs::CreateAttr {
    crate::vfs::CreateAttr { mode, uid: 0, gid: 0 }
}

#[test]
fn writable_create_write_and_read_back_reach_the_host() {
    let s = serve_writable(false);

    let f = s.root.create(b"new", crate::vfs::NodeKind::Regular, attr(0o600)).expect("create");
    let n = f.open(Caller::SENTRY, O_WRONLY).expect("open").write(Caller::SENTRY, b"data", 2).expect("write");

    assert_eq!(n, 4);
    assert_eq!(std::fs::read(s.dir.join("new")).expect("host read"), b"\0\0data");
    assert_eq!(f.attr().expect("attr").size, 6);
    assert_eq!(s.root.lookup(b"new").expect("lookup").attr().expect("attr").mode & 0o777, 0o600);
}

#[test]
fn writable_mkdir_symlink_rename_unlink_update_host_and_caches() {
    let s = serve_writable(false);
    assert_eq!(s.root.lookup(b"d").err(), Some(Errno::ENOENT));
    let nlink_before = s.root.attr().expect("attr").nlink;

    s.root.create(b"d", crate::vfs::NodeKind::Directory, attr(S_IFDIR | 0o755)).expect("mkdir");
    s.root.create(b"l", crate::vfs::NodeKind::Symlink(b"d".to_vec()), attr(0o777)).expect("symlink");
    s.root.rename(b"hello.txt", &s.root, b"moved", 0).expect("rename");
    s.root.unlink(b"link", false).expect("unlink");

    assert!(s.dir.join("d").is_dir());
    assert_eq!(std::fs::read_link(s.dir.join("l")).expect("readlink"), std::path::Path::new("d"));
    assert_eq!(s.root.lookup(b"hello.txt").err(), Some(Errno::ENOENT));
    assert_eq!(read_all(&s.root.lookup(b"moved").expect("moved")), b"hello, world\n");
    assert_eq!(s.root.lookup(b"link").err(), Some(Errno::ENOENT));
    assert_eq!(s.root.attr().expect("attr").nlink, nlink_before + 1);
    let mut names: Vec<_> = s.root.readdir().expect("readdir").into_iter().map(|e| e.name).collect();
    names.sort();
    assert_eq!(names, vec![b"d".to_vec(), b"l".to_vec(), b"moved".to_vec(), b"sub".to_vec()]);
}

#[test]
fn writable_set_attr_truncates_and_link_counts_update() {
    let s = serve_writable(false);
    let f = s.root.lookup(b"hello.txt").expect("lookup");

    f.set_attr(&SetAttr { size: Some(5), ..Default::default() }).expect("truncate");
    s.root.link(b"hard", &f).expect("link");

    assert_eq!(std::fs::read(s.dir.join("hello.txt")).expect("host"), b"hello");
    assert_eq!((f.attr().expect("attr").size, f.attr().expect("attr").nlink), (5, 2));
}

#[test]
fn revalidating_tree_sees_host_changes() {
    let s = serve_writable(true);
    assert_eq!(s.root.lookup(b"later").err(), Some(Errno::ENOENT));
    let f = s.root.lookup(b"hello.txt").expect("lookup");

    std::fs::write(s.dir.join("later"), b"x").expect("write");
    std::fs::write(s.dir.join("hello.txt"), b"longer contents than before\n").expect("write");

    assert!(s.root.lookup(b"later").is_ok());
    assert_eq!(f.attr().expect("attr").size, 28);
}

#[test]
fn xattrs_of_a_host_file_are_read_through_the_gofer_and_cached() {
    let s = serve();
    let path = s.dir.join("hello.txt");
    let set = std::process::Command::new("python3")
        .args(["-c", "import os,sys; os.setxattr(sys.argv[1], 'user.k', b'v1')"])
        .arg(&path)
        .status()
        .expect("python3");
    assert!(set.success());
    let f = s.root.lookup(b"hello.txt").expect("lookup");

    let first = f.getxattr(b"user.k").expect("getxattr");
    let missing = f.getxattr(b"user.none");
    std::fs::remove_file(&path).expect("remove on the host");

    assert_eq!(first, b"v1");
    assert_eq!(missing, Err(Errno::ENODATA));
    assert_eq!(f.getxattr(b"user.k").expect("cached"), b"v1");
}
