//! The gofer served over a real `SOCK_SEQPACKET` pair, without the jail
//! (`server::serve` on a temporary directory).

mod common;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread::JoinHandle;

use abi::Errno;
use common::{populate, TempDir, HELLO, ODD};
use gofer::{server, DirEnt, GoferClient, SetAttr, SetTime, Time};

const S_IFMT: u32 = libc::S_IFMT;

/// Serve `root` from a thread; returns the client and the server thread.
fn serve(root: &Path) -> (GoferClient, JoinHandle<std::io::Result<()>>) {
    let (a, b) = gofer::seqpacket_pair().unwrap();
    let root_fd = OwnedFd::from(File::open(root).unwrap());
    let t = std::thread::spawn(move || server::serve(root_fd, b));
    (GoferClient::new(a), t)
}

fn fixture() -> (TempDir, GoferClient, JoinHandle<std::io::Result<()>>) {
    let dir = TempDir::new("serve");
    populate(dir.path());
    let (c, t) = serve(dir.path());
    (dir, c, t)
}

fn names(ents: &[DirEnt]) -> BTreeSet<Vec<u8>> {
    ents.iter().map(|e| e.name.clone()).collect()
}

#[test]
fn client_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GoferClient>();
}

#[test]
fn attach_returns_the_root_directory() {
    let (dir, c, _t) = fixture();
    let (_, attr) = c.attach().unwrap();
    let meta = fs::metadata(dir.path()).unwrap();
    assert_eq!(attr.mode & S_IFMT, libc::S_IFDIR);
    assert_eq!((attr.dev, attr.ino), (meta.dev(), meta.ino()));
}

#[test]
fn walk_and_getattr_report_size_and_mode() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, attr) = c.walk(root, b"hello.txt").unwrap();
    let meta = fs::symlink_metadata(dir.path().join("hello.txt")).unwrap();
    assert_eq!(attr.size, HELLO.len() as u64);
    assert_eq!(attr.mode, meta.mode());
    assert_eq!(attr.ino, meta.ino());
    assert_eq!(attr.mtime.sec, meta.mtime());
    assert_eq!(c.getattr(h).unwrap(), attr);
}

#[test]
fn open_donates_a_readable_descriptor() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (sub, _) = c.walk(root, b"sub").unwrap();
    let (h, _) = c.walk(sub, b"inner.txt").unwrap();
    let mut f = File::from(c.open(h, libc::O_RDONLY as u32).unwrap());
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "inner");
}

#[test]
fn open_of_directory_handle_donates_a_directory_descriptor() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let fd = c.open(root, (libc::O_RDONLY | libc::O_DIRECTORY) as u32).unwrap();
    let st = fs::metadata(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)));
    assert!(st.unwrap().is_dir());
}

#[test]
fn open_with_o_creat_is_einval() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    assert_eq!(c.open(h, (libc::O_RDONLY | libc::O_CREAT) as u32).err(), Some(Errno::EINVAL));
}

#[test]
fn open_of_a_file_replaced_after_walk_is_estale() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    fs::remove_file(dir.path().join("hello.txt")).unwrap();
    fs::write(dir.path().join("hello.txt"), b"impostor").unwrap();
    assert_eq!(c.open(h, libc::O_RDONLY as u32).err(), Some(Errno::ESTALE));
}

#[test]
fn open_of_a_symlink_is_eloop_and_of_a_fifo_is_eopnotsupp() {
    let (dir, c, _t) = fixture();
    nix::unistd::mkfifo(&dir.path().join("fifo"), nix::sys::stat::Mode::from_bits_retain(0o644)).unwrap();
    let (root, _) = c.attach().unwrap();
    let (l, _) = c.walk(root, b"link").unwrap();
    let (f, _) = c.walk(root, b"fifo").unwrap();
    assert_eq!(c.open(l, 0).err(), Some(Errno::ELOOP));
    assert_eq!(c.open(f, 0).err(), Some(Errno::EOPNOTSUPP));
}

#[test]
fn readdir_lists_entries_without_dot_and_dotdot() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let ents = c.readdir(root).unwrap();
    let want: BTreeSet<Vec<u8>> =
        [&b"hello.txt"[..], b"sub", b"link", b"abs", ODD, b"empty"].iter().map(|n| n.to_vec()).collect();
    assert_eq!(names(&ents), want);
    let sub = ents.iter().find(|e| e.name == b"sub").unwrap();
    assert_eq!(sub.kind, libc::DT_DIR);
    let link = ents.iter().find(|e| e.name == b"link").unwrap();
    assert_eq!(link.kind, libc::DT_LNK);
}

#[test]
fn readdir_of_empty_directory_is_empty() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (e, _) = c.walk(root, b"empty").unwrap();
    assert_eq!(c.readdir(e).unwrap(), vec![]);
}

#[test]
fn readdir_of_3000_entries_spans_several_replies_and_misses_none() {
    let dir = TempDir::new("big");
    let mut want = BTreeSet::new();
    for i in 0..3000 {
        // 60-byte names: about 220 KB of entries, four or more replies.
        let name = format!("entry-{i:05}-{}", "x".repeat(48));
        fs::write(dir.path().join(&name), b"").unwrap();
        want.insert(name.into_bytes());
    }
    let (c, _t) = serve(dir.path());
    let (root, _) = c.attach().unwrap();
    let ents = c.readdir(root).unwrap();
    assert_eq!(ents.len(), 3000);
    assert_eq!(names(&ents), want);
}

#[test]
fn walk_of_symlink_returns_the_link_itself() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, attr) = c.walk(root, b"abs").unwrap();
    assert_eq!(attr.mode & S_IFMT, libc::S_IFLNK);
    assert_eq!(c.readlink(h).unwrap(), b"/etc/passwd");
}

#[test]
fn readlink_of_a_regular_file_is_einval() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    assert_eq!(c.readlink(h).err(), Some(Errno::EINVAL));
}

#[test]
fn walk_of_odd_bytes_name_works() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, attr) = c.walk(root, ODD).unwrap();
    assert_eq!(attr.size, 3);
    let mut s = Vec::new();
    File::from(c.open(h, 0).unwrap()).read_to_end(&mut s).unwrap();
    assert_eq!(s, b"odd");
}

#[test]
fn walk_of_dotdot_slash_dot_empty_and_nul_is_einval() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    for bad in [&b".."[..], b".", b"sub/inner.txt", b"", b"a\0b", b"/"] {
        assert_eq!(c.walk(root, bad).err(), Some(Errno::EINVAL), "{bad:?}");
    }
}

#[test]
fn walk_of_missing_name_is_enoent() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    assert_eq!(c.walk(root, b"nope").err(), Some(Errno::ENOENT));
}

#[test]
fn walk_below_a_regular_file_is_enotdir() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    assert_eq!(c.walk(h, b"x").err(), Some(Errno::ENOTDIR));
}

#[test]
fn unknown_and_closed_handles_are_ebadf() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    c.close(h);
    assert_eq!(c.getattr(h).err(), Some(Errno::EBADF));
    assert_eq!(c.getattr(gofer::Handle(999_999)).err(), Some(Errno::EBADF));
    assert_eq!(c.walk(gofer::Handle(0), b"x").err(), Some(Errno::EBADF));
    assert_eq!(c.open(gofer::Handle(42), 0).err(), Some(Errno::EBADF));
}

#[test]
fn handles_walked_from_a_closed_directory_keep_working() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (sub, _) = c.walk(root, b"sub").unwrap();
    let (h, _) = c.walk(sub, b"inner.txt").unwrap();
    c.close(sub);
    c.close(root);
    let mut s = String::new();
    File::from(c.open(h, 0).unwrap()).read_to_string(&mut s).unwrap();
    assert_eq!(s, "inner");
}

#[test]
fn walk_many_walks_all_components_in_one_call() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let got = c.walk_many(root, &[b"sub", b"inner.txt"]).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1.size, 5);
}

#[test]
fn walk_many_stops_at_a_symlink_and_before_a_missing_name() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let at_link = c.walk_many(root, &[b"link", b"more"]).unwrap();
    let at_missing = c.walk_many(root, &[b"sub", b"nope", b"x"]).unwrap();
    assert_eq!(at_link.len(), 1);
    assert_eq!(at_link[0].1.mode & S_IFMT, libc::S_IFLNK);
    assert_eq!(at_missing.len(), 1);
    assert_eq!(c.walk_many(root, &[b"nope"]).err(), Some(Errno::ENOENT));
    assert_eq!(c.walk_many(root, &[b"sub", b".."]).err(), Some(Errno::EINVAL));
}

#[test]
fn walk_many_longer_than_one_request_continues_across_requests() {
    let dir = TempDir::new("deep");
    let depth = gofer::protocol::MAX_WALK + 10;
    let mut p = dir.path().to_path_buf();
    for _ in 0..depth {
        p.push("d");
    }
    fs::create_dir_all(&p).unwrap();
    let (c, _t) = serve(dir.path());
    let (root, _) = c.attach().unwrap();
    let names: Vec<&[u8]> = vec![b"d"; depth];
    assert_eq!(c.walk_many(root, &names).unwrap().len(), depth);
}

#[test]
fn walk_dirs_walks_siblings_with_the_listings_of_directories() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let got = c.walk_dirs(root, &[b"sub", b"nope", b"hello.txt"]).unwrap();
    assert_eq!(got.len(), 3);
    let (sub, attr) = got[0].walked.unwrap();
    assert_eq!(attr.mode & S_IFMT, libc::S_IFDIR);
    assert_eq!(names(got[0].listing.as_ref().unwrap()), names(&c.readdir(sub).unwrap()));
    assert_eq!(got[1].walked.err(), Some(Errno::ENOENT.as_i32()));
    assert_eq!(got[2].walked.unwrap().1.size, HELLO.len() as u64);
    assert_eq!(got[2].listing, None);
    // The handles are usable like `walk`'s.
    assert_eq!(c.walk(sub, b"inner.txt").unwrap().1.size, 5);
    assert_eq!(c.walk_dirs(root, &[b"sub", b".."]).err(), Some(Errno::EINVAL));
}

#[test]
fn walk_dirs_stops_when_the_listings_fill_a_reply() {
    let dir = TempDir::new("wide");
    // Each listing takes about half a message (300 names of 100 bytes).
    for d in ["a", "b", "c"] {
        fs::create_dir(dir.path().join(d)).unwrap();
        for i in 0..300 {
            fs::write(dir.path().join(d).join(format!("{i:0>100}")), b"").unwrap();
        }
    }
    let (c, _t) = serve(dir.path());
    let (root, _) = c.attach().unwrap();
    let got = c.walk_dirs(root, &[b"a", b"b", b"c"]).unwrap();
    assert!(!got.is_empty() && got.len() < 3, "{}", got.len());
    assert!(got.iter().all(|d| d.listing.as_ref().map(Vec::len) == Some(300)));
}

#[test]
fn statfs_matches_the_host() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let s = c.statfs(root).unwrap();
    let host = rustix::fs::statfs(dir.path()).unwrap();
    assert_eq!(s.f_type, host.f_type);
    assert_eq!(s.f_bsize, host.f_bsize);
    assert_eq!(s.f_blocks, host.f_blocks);
    assert_eq!(s.f_namelen, host.f_namelen);
    assert_eq!(s.f_frsize, host.f_frsize);
    assert_eq!(s.f_flags, host.f_flags);
    // `f_fsid` is private in rustix's `StatFs`; `statvfs` gives it as one
    // number, the two halves low first.
    let fsid = rustix::fs::statvfs(dir.path()).unwrap().f_fsid;
    let halves = s.f_fsid.map(|h| u64::from(u32::from_ne_bytes(h.to_ne_bytes())));
    assert_eq!(fsid, halves[0] | halves[1] << 32);
}

#[test]
fn malformed_messages_get_einval_and_the_connection_survives() {
    let dir = TempDir::new("raw");
    populate(dir.path());
    let (a, b) = gofer::seqpacket_pair().unwrap();
    let root_fd = OwnedFd::from(File::open(dir.path()).unwrap());
    let t = std::thread::spawn(move || server::serve(root_fd, b));
    // One write() on a SOCK_SEQPACKET socket is one message.
    let mut raw = File::from(a);
    let einval = gofer::protocol::Reply::Error(Errno::EINVAL.as_i32()).encode();
    let big = vec![2u8; gofer::protocol::MAX_MSG + 100];
    for bad in [&[0xffu8][..], &[2, 1, 0], &[2, 1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255], &[1, 0], &big] {
        raw.write_all(bad).unwrap();
        let mut buf = vec![0u8; gofer::protocol::MAX_MSG];
        let n = raw.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], &einval[..], "{:?}", &bad[..bad.len().min(16)]);
    }
    let c = GoferClient::new(OwnedFd::from(raw));
    assert!(c.attach().is_ok());
    drop(c);
    assert!(t.join().unwrap().is_ok());
}

#[test]
fn server_returns_ok_when_the_client_hangs_up() {
    let (_dir, c, t) = fixture();
    c.attach().unwrap();
    drop(c);
    assert!(t.join().unwrap().is_ok());
}

#[test]
fn concurrent_requests_from_many_threads_each_get_their_reply() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    let (h, a) = c.walk(root, b"hello.txt").unwrap();
                    assert_eq!(a.size, HELLO.len() as u64);
                    assert_eq!(c.readlink(h).err(), Some(Errno::EINVAL));
                    c.close(h);
                }
            });
        }
    });
}

// Write side (served read-write: `serve` has no jail, so no read-only mount).

#[test]
fn create_makes_a_file_and_donates_a_writable_descriptor() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, attr, fd) = c.create(root, b"new.txt", 0o640, libc::O_RDWR as u32).unwrap();
    File::from(fd).write_all(b"written").unwrap();
    assert_eq!(attr.mode, libc::S_IFREG | 0o640);
    assert_eq!(fs::read(dir.path().join("new.txt")).unwrap(), b"written");
    assert_eq!(c.getattr(h).unwrap().size, 7);
    assert_eq!(c.create(root, b"new.txt", 0o640, 0).err(), Some(Errno::EEXIST));
    assert_eq!(c.create(root, b"link", 0o640, 0).err(), Some(Errno::EEXIST));
}

#[test]
fn mkdir_symlink_link_unlink_and_rename_change_the_host_tree() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (d, dattr) = c.mkdir(root, b"newdir", 0o750).unwrap();
    let (_, lattr) = c.symlink(d, b"sl", b"../hello.txt").unwrap();
    let (hello, _) = c.walk(root, b"hello.txt").unwrap();
    let (_, hattr) = c.link(d, b"hard", hello).unwrap();
    c.rename(root, b"hello.txt", d, b"moved.txt").unwrap();
    c.unlink(d, b"hard", 0).unwrap();
    c.unlink(root, b"empty", libc::AT_REMOVEDIR as u32).unwrap();
    let p = dir.path();
    assert_eq!(dattr.mode, libc::S_IFDIR | 0o750);
    assert_eq!(lattr.mode & S_IFMT, libc::S_IFLNK);
    assert_eq!(hattr.nlink, 2);
    assert_eq!(fs::read_link(p.join("newdir/sl")).unwrap(), Path::new("../hello.txt"));
    assert_eq!(fs::read(p.join("newdir/moved.txt")).unwrap(), HELLO);
    assert!(!p.join("hello.txt").exists());
    assert!(!p.join("newdir/hard").exists());
    assert!(!p.join("empty").exists());
    assert_eq!(c.unlink(root, b"sub", 0).err(), Some(Errno::EISDIR));
    assert_eq!(c.unlink(root, b"sub", 1).err(), Some(Errno::EINVAL));
}

#[test]
fn setattr_changes_mode_size_and_times() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    let attr = SetAttr {
        mode: Some(0o600),
        size: Some(5),
        atime: Some(SetTime::At(Time { sec: 1_000_000, nsec: 5 })),
        mtime: Some(SetTime::At(Time { sec: 2_000_000, nsec: 7 })),
        ..SetAttr::default()
    };
    c.setattr(h, &attr).unwrap();
    let got = c.getattr(h).unwrap();
    assert_eq!(got.mode, libc::S_IFREG | 0o600);
    assert_eq!(got.size, 5);
    assert_eq!(got.atime, Time { sec: 1_000_000, nsec: 5 });
    assert_eq!(got.mtime, Time { sec: 2_000_000, nsec: 7 });
    assert_eq!(fs::read(dir.path().join("hello.txt")).unwrap(), &HELLO[..5]);
    let bad = SetAttr { mode: Some(libc::S_IFDIR), ..SetAttr::default() };
    assert_eq!(c.setattr(h, &bad).err(), Some(Errno::EINVAL));
}

#[test]
fn open_with_o_trunc_truncates_after_the_inode_check() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    let mut f = File::from(c.open(h, (libc::O_RDWR | libc::O_TRUNC) as u32).unwrap());
    f.write_all(b"ab").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    assert_eq!(fs::read(dir.path().join("hello.txt")).unwrap(), b"ab");
}

#[test]
fn renamed_file_handle_still_opens_under_its_new_name() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (sub, _) = c.walk(root, b"sub").unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();
    c.rename(root, b"hello.txt", sub, b"renamed").unwrap();
    let mut s = Vec::new();
    File::from(c.open(h, 0).unwrap()).read_to_end(&mut s).unwrap();
    assert_eq!(s, HELLO);
}

#[test]
fn readdir_of_a_large_directory_is_paginated_under_max_msg() {
    use gofer::protocol::{Reply, Request, MAX_MSG};
    let dir = TempDir::new("pages");
    for i in 0..3000 {
        fs::write(dir.path().join(format!("{i:04}-{}", "y".repeat(60))), b"").unwrap();
    }
    let (a, b) = gofer::seqpacket_pair().unwrap();
    let root_fd = OwnedFd::from(File::open(dir.path()).unwrap());
    let _t = std::thread::spawn(move || server::serve(root_fd, b));
    let mut raw = File::from(a);
    let mut exchange = |req: Request| {
        raw.write_all(&req.encode()).unwrap();
        let mut buf = vec![0u8; MAX_MSG + 1];
        let n = raw.read(&mut buf).unwrap();
        (n, Reply::decode(&buf[..n]).unwrap())
    };
    let Reply::Handles(v) = exchange(Request::Attach).1 else { panic!("attach") };
    let root = v[0].0;
    let (mut cookie, mut pages, mut total) = (0, 0, 0);
    loop {
        let (n, rep) = exchange(Request::ReadDir { h: root, cookie });
        let Reply::Dirents { entries, next, more } = rep else { panic!("readdir") };
        assert!(n <= MAX_MSG);
        pages += 1;
        total += entries.len();
        cookie = next;
        if !more {
            break;
        }
    }
    assert!(pages >= 4, "{pages} pages");
    assert_eq!(total, 3000);
}

#[test]
fn xattrs_of_a_regular_file_are_set_read_listed_and_removed_on_the_host() {
    let (dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"hello.txt").unwrap();

    c.setxattr(h, b"user.k", b"v1", 0).unwrap();
    let created_twice = c.setxattr(h, b"user.k", b"v2", 1);
    let value = c.getxattr(h, b"user.k").unwrap();
    let listed = c.listxattr(h).unwrap();
    let on_host = xattr_on_host(&dir.path().join("hello.txt"), "user.k");
    c.removexattr(h, b"user.k").unwrap();

    assert_eq!(created_twice, Err(Errno::EEXIST));
    assert_eq!(value, b"v1");
    assert!(listed.contains(&b"user.k".to_vec()), "{listed:?}");
    assert_eq!(on_host.as_deref(), Some(&b"v1"[..]));
    assert_eq!(c.getxattr(h, b"user.k"), Err(Errno::ENODATA));
    drop(dir);
}

#[test]
fn xattrs_of_a_directory_go_through_a_real_descriptor() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"sub").unwrap();

    c.setxattr(h, b"user.d", b"dir", 0).unwrap();

    assert_eq!(c.getxattr(h, b"user.d").unwrap(), b"dir");
    assert_eq!(c.getxattr(root, b"user.none"), Err(Errno::ENODATA));
}

#[test]
fn user_xattrs_of_a_symlink_answer_as_the_host_does() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();
    let (h, _) = c.walk(root, b"link").unwrap();

    assert_eq!(c.getxattr(h, b"user.x"), Err(Errno::ENODATA));
    assert_eq!(c.setxattr(h, b"user.x", b"v", 0), Err(Errno::EPERM));
    assert_eq!(c.listxattr(h).map(|v| v.is_empty()), Ok(true));
}

#[test]
fn an_empty_or_over_long_xattr_name_is_erange() {
    let (_dir, c, _t) = fixture();
    let (root, _) = c.attach().unwrap();

    assert_eq!(c.getxattr(root, b""), Err(Errno::ERANGE));
    assert_eq!(c.getxattr(root, &[b'u'; 256]), Err(Errno::EINVAL));
}

/// The value of `name` of `path` as the host reports it.
fn xattr_on_host(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::getxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}
