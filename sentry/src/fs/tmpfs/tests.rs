use super::super::ts_key as k;
use super::*;
use crate::vfs::Caller;
use abi::consts::{DT_DIR, DT_LNK, DT_REG, O_RDWR, O_WRONLY, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};

fn fs() -> (Arc<Tmpfs>, InodeRef) {
    let fs = Tmpfs::new(42, 0o755, 0, 0);
    let root = fs.root();
    (fs, root)
}

fn ca(mode: u32) -> CreateAttr {
    CreateAttr { mode, uid: 1000, gid: 1000 }
}

fn mkfile(dir: &InodeRef, name: &str, data: &[u8]) -> InodeRef {
    let f = dir.create(name.as_bytes(), NodeKind::Regular, ca(0o644)).expect("create");
    f.open(Caller::SENTRY, O_WRONLY).expect("open").write(Caller::SENTRY, data, 0).expect("write");
    f
}

fn mkdir(dir: &InodeRef, name: &str) -> InodeRef {
    dir.create(name.as_bytes(), NodeKind::Directory, ca(0o755)).expect("mkdir")
}

fn read_all(inode: &InodeRef) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let n = inode.open(Caller::SENTRY, O_RDONLY).expect("open").read(Caller::SENTRY, &mut buf, 0).expect("read");
    buf.truncate(n);
    buf
}

fn names(dir: &InodeRef) -> Vec<Vec<u8>> {
    dir.readdir().expect("readdir").into_iter().map(|e| e.name).collect()
}

#[test]
fn created_file_reads_back_what_was_written() {
    let (_fs, root) = fs();

    let f = mkfile(&root, "a", b"hello");

    assert_eq!(read_all(&f), b"hello");
    let a = f.attr().expect("attr");
    assert_eq!((a.mode, a.size, a.nlink, a.uid, a.dev), (S_IFREG | 0o644, 5, 1, 1000, 42));
    assert_eq!((a.blocks, a.blksize), (8, 4096));
}

#[test]
fn write_past_end_zero_fills_the_gap() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"ab");

    f.open(Caller::SENTRY, O_RDWR).expect("open").write(Caller::SENTRY, b"z", 5).expect("write");

    assert_eq!(read_all(&f), b"ab\0\0\0z");
}

#[test]
fn set_attr_size_truncates_and_extends_with_zeros() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"abcdef");

    f.set_attr(&SetAttr { size: Some(2), ..Default::default() }).expect("shrink");
    f.set_attr(&SetAttr { size: Some(4), ..Default::default() }).expect("grow");

    assert_eq!(read_all(&f), b"ab\0\0");
}

#[test]
fn extending_to_a_huge_size_costs_no_memory_and_reads_zeros() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"");

    f.set_attr(&SetAttr { size: Some(10 << 30), ..Default::default() }).expect("grow");
    let mut buf = [1u8; 4];
    let n = f.open(Caller::SENTRY, O_RDONLY).expect("open").read(Caller::SENTRY, &mut buf, 5 << 30).expect("read");

    assert_eq!((n, buf), (4, [0; 4]));
    assert_eq!(f.attr().expect("attr").blocks, 0);
}

#[test]
fn write_at_offset_overflowing_max_size_returns_efbig() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"");

    let r = f.open(Caller::SENTRY, O_RDWR).expect("open").write(Caller::SENTRY, b"x", u64::MAX);

    assert_eq!(r, Err(Errno::EFBIG));
}

#[test]
fn create_existing_name_returns_eexist() {
    let (_fs, root) = fs();
    mkfile(&root, "a", b"");

    let r = root.create(b"a", NodeKind::Directory, ca(0o755));

    assert_eq!(r.err(), Some(Errno::EEXIST));
}

#[test]
fn lookup_missing_name_returns_enoent_and_in_a_file_enotdir() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"");

    assert_eq!(root.lookup(b"b").err(), Some(Errno::ENOENT));
    assert_eq!(f.lookup(b"b").err(), Some(Errno::ENOTDIR));
}

#[test]
fn unlinked_file_stays_readable_through_open_file() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"data");
    let file = f.open(Caller::SENTRY, O_RDONLY).expect("open");

    root.unlink(b"a", false).expect("unlink");
    let mut buf = [0u8; 8];
    let n = file.read(Caller::SENTRY, &mut buf, 0).expect("read");

    assert_eq!(&buf[..n], b"data");
    assert_eq!(f.attr().expect("attr").nlink, 0);
    assert_eq!(root.lookup(b"a").err(), Some(Errno::ENOENT));
}

#[test]
fn unlink_of_directory_returns_eisdir_and_rmdir_of_file_enotdir() {
    let (_fs, root) = fs();
    mkdir(&root, "d");
    mkfile(&root, "f", b"");

    assert_eq!(root.unlink(b"d", false), Err(Errno::EISDIR));
    assert_eq!(root.unlink(b"f", true), Err(Errno::ENOTDIR));
}

#[test]
fn rmdir_of_non_empty_directory_returns_enotempty() {
    let (_fs, root) = fs();
    let d = mkdir(&root, "d");
    mkfile(&d, "f", b"");

    assert_eq!(root.unlink(b"d", true), Err(Errno::ENOTEMPTY));
}

#[test]
fn directory_nlink_is_two_plus_subdirectories() {
    let (_fs, root) = fs();
    let d = mkdir(&root, "d");
    mkdir(&d, "x");
    mkdir(&d, "y");
    mkfile(&d, "f", b"");

    d.unlink(b"y", true).expect("rmdir");

    assert_eq!(d.attr().expect("attr").nlink, 3);
    assert_eq!(root.attr().expect("attr").nlink, 3);
}

#[test]
fn hard_link_shares_data_and_counts_links() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"one");

    root.link(b"b", &f).expect("link");
    root.unlink(b"a", false).expect("unlink");
    let b = root.lookup(b"b").expect("lookup");

    assert_eq!(read_all(&b), b"one");
    assert_eq!(b.attr().expect("attr").nlink, 1);
    assert_eq!(b.attr().expect("attr").ino, f.attr().expect("attr").ino);
}

#[test]
fn hard_link_to_directory_returns_eperm() {
    let (_fs, root) = fs();
    let d = mkdir(&root, "d");

    assert_eq!(root.link(b"e", &d), Err(Errno::EPERM));
}

#[test]
fn hard_link_across_instances_returns_exdev() {
    let (_fs, root) = fs();
    let (_other, other_root) = fs();
    let f = mkfile(&other_root, "a", b"");

    assert_eq!(root.link(b"b", &f), Err(Errno::EXDEV));
}

#[test]
fn rename_replaces_existing_file() {
    let (_fs, root) = fs();
    mkfile(&root, "a", b"new");
    let old = mkfile(&root, "b", b"old");

    root.rename(b"a", &root, b"b", 0).expect("rename");

    assert_eq!(read_all(&root.lookup(b"b").expect("lookup")), b"new");
    assert_eq!(root.lookup(b"a").err(), Some(Errno::ENOENT));
    assert_eq!(old.attr().expect("attr").nlink, 0);
}

#[test]
fn rename_moves_between_directories_and_fixes_nlink() {
    let (_fs, root) = fs();
    let d1 = mkdir(&root, "d1");
    let d2 = mkdir(&root, "d2");
    mkdir(&d1, "sub");

    d1.rename(b"sub", &d2, b"moved", 0).expect("rename");

    assert_eq!(names(&d2), vec![b"moved".to_vec()]);
    assert_eq!((d1.attr().expect("a").nlink, d2.attr().expect("a").nlink), (2, 3));
}

#[test]
fn rename_dir_over_empty_dir_replaces_it() {
    let (_fs, root) = fs();
    let a = mkdir(&root, "a");
    mkdir(&root, "b");

    root.rename(b"a", &root, b"b", 0).expect("rename");

    assert_eq!(names(&root), vec![b"b".to_vec()]);
    assert_eq!(root.lookup(b"b").expect("lookup").attr(), a.attr());
    assert_eq!(root.attr().expect("attr").nlink, 3);
}

#[test]
fn rename_dir_over_non_empty_dir_returns_enotempty() {
    let (_fs, root) = fs();
    mkdir(&root, "a");
    let b = mkdir(&root, "b");
    mkfile(&b, "f", b"");

    assert_eq!(root.rename(b"a", &root, b"b", 0), Err(Errno::ENOTEMPTY));
}

#[test]
fn rename_type_mismatches_return_eisdir_and_enotdir() {
    let (_fs, root) = fs();
    mkdir(&root, "d");
    mkfile(&root, "f", b"");

    assert_eq!(root.rename(b"f", &root, b"d", 0), Err(Errno::EISDIR));
    assert_eq!(root.rename(b"d", &root, b"f", 0), Err(Errno::ENOTDIR));
}

#[test]
fn rename_noreplace_onto_existing_returns_eexist() {
    let (_fs, root) = fs();
    mkfile(&root, "a", b"");
    mkfile(&root, "b", b"");

    assert_eq!(root.rename(b"a", &root, b"b", RENAME_NOREPLACE), Err(Errno::EEXIST));
}

#[test]
fn rename_exchange_swaps_two_entries() {
    let (_fs, root) = fs();
    let d = mkdir(&root, "d");
    mkfile(&root, "a", b"A");
    mkfile(&d, "b", b"B");

    root.rename(b"a", &d, b"b", RENAME_EXCHANGE).expect("exchange");

    assert_eq!(read_all(&root.lookup(b"a").expect("a")), b"B");
    assert_eq!(read_all(&d.lookup(b"b").expect("b")), b"A");
}

#[test]
fn rename_exchange_with_missing_target_returns_enoent() {
    let (_fs, root) = fs();
    mkfile(&root, "a", b"");

    assert_eq!(root.rename(b"a", &root, b"zz", RENAME_EXCHANGE), Err(Errno::ENOENT));
}

#[test]
fn rename_between_hard_links_of_one_inode_does_nothing() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"");
    root.link(b"b", &f).expect("link");

    root.rename(b"a", &root, b"b", 0).expect("rename");

    assert_eq!(names(&root), vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn readdir_lists_entries_in_stable_sorted_order_with_types() {
    let (_fs, root) = fs();
    mkfile(&root, "b", b"");
    mkdir(&root, "a");
    root.create(b"c", NodeKind::Symlink(b"b".to_vec()), ca(0o777)).expect("symlink");

    let entries = root.readdir().expect("readdir");

    let got: Vec<_> = entries.iter().map(|e| (e.name.clone(), e.kind)).collect();
    assert_eq!(got, vec![(b"a".to_vec(), DT_DIR), (b"b".to_vec(), DT_REG), (b"c".to_vec(), DT_LNK)]);
}

#[test]
fn symlink_reports_target_and_link_mode() {
    let (_fs, root) = fs();

    let l = root.create(b"l", NodeKind::Symlink(b"/x/y".to_vec()), ca(0o644)).expect("symlink");

    assert_eq!(l.readlink(Caller::SENTRY).expect("readlink"), b"/x/y");
    let a = l.attr().expect("attr");
    assert_eq!((a.mode, a.size), (S_IFLNK | 0o777, 4));
    assert_eq!(l.open(Caller::SENTRY, O_RDONLY).err(), Some(Errno::ELOOP));
}

#[test]
fn special_nodes_have_their_type_and_rdev() {
    let (_fs, root) = fs();

    let fifo = root.create(b"p", NodeKind::Fifo, ca(0o600)).expect("fifo");
    let null = root.create(b"n", NodeKind::CharDevice(super::super::makedev(1, 3)), ca(0o666)).expect("chr");

    assert_eq!(fifo.attr().expect("attr").mode, S_IFIFO | 0o600);
    assert!(fifo.open(Caller::SENTRY, O_RDONLY | abi::consts::O_NONBLOCK).is_ok());
    assert_eq!((null.attr().expect("attr").mode, null.attr().expect("attr").rdev), (S_IFCHR | 0o666, 0x103));
    assert_eq!(null.open(Caller::SENTRY, O_RDWR).expect("open null").write(Caller::SENTRY, b"gone", 0), Ok(4));
}

#[test]
fn inode_numbers_are_unique() {
    let (_fs, root) = fs();

    let a = mkfile(&root, "a", b"");
    let b = mkdir(&root, "b");

    let inos = [root.attr().expect("r").ino, a.attr().expect("a").ino, b.attr().expect("b").ino];
    assert!(inos[0] != inos[1] && inos[1] != inos[2] && inos[0] != inos[2]);
}

#[test]
fn write_updates_mtime_and_ctime() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "a", b"");
    let old = Timespec { tv_sec: 1, tv_nsec: 0 };
    f.set_attr(&SetAttr { atime: Some(TimeSet::At(old)), mtime: Some(TimeSet::At(old)), ..Default::default() })
        .expect("utimes");

    f.open(Caller::SENTRY, O_WRONLY).expect("open").write(Caller::SENTRY, b"x", 0).expect("write");

    let a = f.attr().expect("attr");
    assert!(k(a.mtime) > k(old) && k(a.ctime) > k(old));
    assert_eq!(a.atime, old);
}

#[test]
fn chmod_keeps_file_type_and_updates_ctime() {
    let (_fs, root) = fs();
    let d = mkdir(&root, "d");
    let before = d.attr().expect("attr");

    d.set_attr(&SetAttr { mode: Some(0o1700), ..Default::default() }).expect("chmod");

    let a = d.attr().expect("attr");
    assert_eq!(a.mode, S_IFDIR | 0o1700);
    assert!(k(a.ctime) >= k(before.ctime));
    assert_eq!(a.mtime, before.mtime);
}

#[test]
fn create_updates_parent_mtime() {
    let (_fs, root) = fs();
    let old = Timespec { tv_sec: 1, tv_nsec: 0 };
    root.set_attr(&SetAttr { mtime: Some(TimeSet::At(old)), ..Default::default() }).expect("utimes");

    mkfile(&root, "a", b"");

    assert!(k(root.attr().expect("attr").mtime) > k(old));
}

#[test]
fn setgid_directory_passes_group_to_children() {
    let (_fs, root) = fs();
    let d = mkdir(&root, "d");
    d.set_attr(&SetAttr { mode: Some(0o2775), gid: Some(50), ..Default::default() }).expect("chmod");

    let sub = d.create(b"s", NodeKind::Directory, CreateAttr { mode: 0o755, uid: 1, gid: 1 }).expect("mkdir");

    let a = sub.attr().expect("attr");
    assert_eq!((a.gid, a.mode & S_ISGID), (50, S_ISGID));
}

#[test]
fn create_in_removed_directory_returns_enoent() {
    let (_fs, root) = fs();
    let d = mkdir(&root, "d");
    root.unlink(b"d", true).expect("rmdir");

    let r = d.create(b"x", NodeKind::Regular, ca(0o644));

    assert_eq!(r.err(), Some(Errno::ENOENT));
    assert_eq!(d.attr().expect("attr").nlink, 0);
}

#[test]
fn statfs_reports_tmpfs_magic() {
    let (_fs, root) = fs();

    assert_eq!(root.statfs().expect("statfs").f_type, TMPFS_MAGIC);
}

#[test]
fn xattr_set_then_get_returns_the_value() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");

    f.setxattr(b"user.k", b"value", 0).expect("setxattr");

    assert_eq!(f.getxattr(b"user.k").expect("getxattr"), b"value");
}

#[test]
fn xattr_get_of_an_unset_name_is_enodata() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");

    assert_eq!(f.getxattr(b"user.none"), Err(Errno::ENODATA));
    assert_eq!(f.getxattr(b"system.posix_acl_access"), Err(Errno::ENODATA));
}

#[test]
fn xattr_create_on_an_existing_name_is_eexist_and_replace_on_a_missing_one_is_enodata() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");
    f.setxattr(b"user.k", b"1", XATTR_CREATE).expect("create");

    assert_eq!(f.setxattr(b"user.k", b"2", XATTR_CREATE), Err(Errno::EEXIST));
    assert_eq!(f.setxattr(b"user.other", b"2", XATTR_REPLACE), Err(Errno::ENODATA));
    assert_eq!(f.getxattr(b"user.k").expect("getxattr"), b"1");
}

#[test]
fn xattr_value_over_64_kib_is_e2big() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");

    assert_eq!(f.setxattr(b"user.big", &vec![0; 65537], 0), Err(Errno::E2BIG));
    assert_eq!(f.setxattr(b"user.big", &vec![0; 65536], 0), Ok(()));
}

#[test]
fn xattr_outside_user_trusted_security_is_eopnotsupp() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");

    assert_eq!(f.setxattr(b"bogus.k", b"v", 0), Err(Errno::EOPNOTSUPP));
    assert_eq!(f.setxattr(b"user.", b"v", 0), Err(Errno::EOPNOTSUPP));
    assert_eq!(f.setxattr(b"trusted.k", b"v", 0), Ok(()));
    assert_eq!(f.setxattr(b"security.k", b"v", 0), Ok(()));
}

#[test]
fn xattr_list_is_in_descending_name_order_like_linux_tmpfs() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");
    for n in [&b"user.b"[..], b"user.zz", b"security.x", b"user.a"] {
        f.setxattr(n, b"1", 0).expect("setxattr");
    }

    let names = f.listxattr().expect("listxattr");

    assert_eq!(names, vec![b"user.zz".to_vec(), b"user.b".to_vec(), b"user.a".to_vec(), b"security.x".to_vec()]);
}

#[test]
fn xattr_remove_deletes_and_a_second_remove_is_enodata() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");
    f.setxattr(b"user.k", b"v", 0).expect("setxattr");

    f.removexattr(b"user.k").expect("removexattr");

    assert_eq!(f.removexattr(b"user.k"), Err(Errno::ENODATA));
    assert!(f.listxattr().expect("listxattr").is_empty());
}

#[test]
fn xattr_set_changes_ctime() {
    let (_fs, root) = fs();
    let f = mkfile(&root, "f", b"");
    let before = f.attr().expect("attr").ctime;
    std::thread::sleep(std::time::Duration::from_millis(2));

    f.setxattr(b"user.k", b"v", 0).expect("setxattr");

    assert!(k(f.attr().expect("attr").ctime) > k(before));
}
