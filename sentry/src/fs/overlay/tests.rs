use super::*;
use crate::vfs::Caller;
use abi::consts::{O_RDWR, S_IFDIR};

struct World {
    lower: InodeRef,
    upper: Arc<Tmpfs>,
    root: InodeRef,
    _fs: Arc<OverlayFs>,
}

fn ca(mode: u32) -> CreateAttr {
    CreateAttr { mode, uid: 0, gid: 0 }
}

fn mkfile(dir: &InodeRef, name: &str, data: &[u8]) -> InodeRef {
    let f = dir.create(name.as_bytes(), NodeKind::Regular, ca(0o640)).expect("create");
    f.open(Caller::SENTRY, O_WRONLY).expect("open").write(Caller::SENTRY, data, 0).expect("write");
    f
}

fn mkdir(dir: &InodeRef, name: &str) -> InodeRef {
    dir.create(name.as_bytes(), NodeKind::Directory, ca(0o755)).expect("mkdir")
}

fn read_all(inode: &InodeRef) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = inode.open(Caller::SENTRY, O_RDONLY).expect("open").read(Caller::SENTRY, &mut buf, 0).expect("read");
    buf.truncate(n);
    buf
}

fn names(dir: &InodeRef) -> Vec<String> {
    dir.readdir().expect("readdir").into_iter().map(|e| String::from_utf8_lossy(&e.name).into_owned()).collect()
}

fn get(dir: &InodeRef, path: &str) -> InodeRef {
    path.split('/').fold(dir.clone(), |d, n| d.lookup(n.as_bytes()).expect(n))
}

/// Lower: /etc/passwd "root", /etc/hosts "localhost", /usr/bin/ls "elf",
/// /empty/ (empty dir), /top "t".
fn world() -> World {
    let lower_fs = Tmpfs::new(1, 0o755, 0, 0);
    let lower = lower_fs.root();
    let etc = mkdir(&lower, "etc");
    mkfile(&etc, "passwd", b"root");
    mkfile(&etc, "hosts", b"localhost");
    let usr = mkdir(&lower, "usr");
    let bin = mkdir(&usr, "bin");
    mkfile(&bin, "ls", b"elf");
    mkdir(&lower, "empty");
    mkfile(&lower, "top", b"t");
    let upper = Tmpfs::new(2, 0o700, 0, 0);
    let fs = OverlayFs::new(lower.clone(), upper.clone(), 99).expect("overlay");
    World { lower, upper, root: fs.root(), _fs: fs }
}

#[test]
fn lower_file_is_visible_with_overlay_dev_and_lower_ino() {
    let w = world();

    let f = get(&w.root, "etc/passwd");

    let a = f.attr().expect("attr");
    assert_eq!(read_all(&f), b"root");
    assert_eq!((a.dev, a.ino), (99, get(&w.lower, "etc/passwd").attr().expect("attr").ino));
}

#[test]
fn root_takes_the_lower_roots_mode() {
    let w = world();

    assert_eq!(w.root.attr().expect("attr").mode, S_IFDIR | 0o755);
}

#[test]
fn writing_a_lower_file_copies_it_up_and_leaves_lower_unchanged() {
    let w = world();
    let f = get(&w.root, "etc/passwd");
    let ino = f.attr().expect("attr").ino;

    f.open(Caller::SENTRY, O_RDWR).expect("open").write(Caller::SENTRY, b"R", 0).expect("write");

    assert_eq!(read_all(&get(&w.root, "etc/passwd")), b"Root");
    assert_eq!(read_all(&get(&w.lower, "etc/passwd")), b"root");
    assert_eq!(read_all(&get(&w.upper.root(), "etc/passwd")), b"Root");
    assert_eq!(get(&w.root, "etc/passwd").attr().expect("attr").ino, ino);
    assert_eq!(get(&w.upper.root(), "etc/passwd").attr().expect("attr").mode & 0o777, 0o640);
}

#[test]
fn copy_up_keeps_the_inode_seen_by_earlier_lookups() {
    let w = world();
    let before = get(&w.root, "etc/hosts");

    get(&w.root, "etc/hosts")
        .open(Caller::SENTRY, O_WRONLY)
        .expect("open")
        .write(Caller::SENTRY, b"X", 0)
        .expect("write");

    assert_eq!(read_all(&before), b"Xocalhost");
}

#[test]
fn truncate_of_lower_file_copies_up_empty() {
    let w = world();
    let f = get(&w.root, "top");

    f.set_attr(&SetAttr { size: Some(0), ..Default::default() }).expect("truncate");

    assert_eq!(read_all(&f), b"");
    assert_eq!(read_all(&get(&w.lower, "top")), b"t");
}

#[test]
fn creating_in_a_lower_directory_copies_up_its_ancestors() {
    let w = world();
    let bin = get(&w.root, "usr/bin");

    mkfile(&bin, "new", b"n");

    assert_eq!(names(&get(&w.upper.root(), "usr/bin")), vec!["new"]);
    assert_eq!(names(&bin), vec!["new", "ls"]);
    assert_eq!(
        w.lower.lookup(b"usr").expect("usr").lookup(b"bin").expect("bin").lookup(b"new").err(),
        Some(Errno::ENOENT)
    );
}

#[test]
fn unlink_of_lower_file_whiteout_hides_it() {
    let w = world();
    let etc = get(&w.root, "etc");

    etc.unlink(b"passwd", false).expect("unlink");

    assert_eq!(etc.lookup(b"passwd").err(), Some(Errno::ENOENT));
    assert_eq!(names(&etc), vec!["hosts"]);
    assert_eq!(read_all(&get(&w.lower, "etc/passwd")), b"root");
    assert!(is_whiteout(&get(&w.upper.root(), "etc/passwd")));
}

#[test]
fn unlink_of_copied_up_file_still_hides_the_lower() {
    let w = world();
    let etc = get(&w.root, "etc");
    get(&etc, "hosts").open(Caller::SENTRY, O_WRONLY).expect("open").write(Caller::SENTRY, b"x", 0).expect("write");

    etc.unlink(b"hosts", false).expect("unlink");

    assert_eq!(etc.lookup(b"hosts").err(), Some(Errno::ENOENT));
}

#[test]
fn recreating_a_whited_out_file_shows_the_new_one() {
    let w = world();
    let etc = get(&w.root, "etc");
    etc.unlink(b"passwd", false).expect("unlink");

    mkfile(&etc, "passwd", b"new");

    assert_eq!(read_all(&get(&w.root, "etc/passwd")), b"new");
    assert_eq!(names(&etc), vec!["passwd", "hosts"]);
}

#[test]
fn merged_readdir_lists_upper_then_unshadowed_lower_entries() {
    let w = world();
    mkfile(&w.root, "aaa", b"");
    get(&w.root, "top").open(Caller::SENTRY, O_WRONLY).expect("open").write(Caller::SENTRY, b"T", 0).expect("write");

    let got = names(&w.root);

    assert_eq!(got, vec!["aaa", "top", "empty", "etc", "usr"]);
}

#[test]
fn rmdir_of_merged_non_empty_directory_returns_enotempty() {
    let w = world();
    mkfile(&get(&w.root, "etc"), "extra", b"");

    assert_eq!(w.root.unlink(b"etc", true), Err(Errno::ENOTEMPTY));
    assert_eq!(w.root.unlink(b"usr", true), Err(Errno::ENOTEMPTY));
}

#[test]
fn rmdir_of_directory_emptied_by_whiteouts_succeeds_and_hides_it() {
    let w = world();
    let etc = get(&w.root, "etc");
    etc.unlink(b"passwd", false).expect("unlink");
    etc.unlink(b"hosts", false).expect("unlink");

    w.root.unlink(b"etc", true).expect("rmdir");

    assert_eq!(w.root.lookup(b"etc").err(), Some(Errno::ENOENT));
    assert!(!names(&w.root).contains(&"etc".to_string()));
}

#[test]
fn directory_recreated_over_removed_lower_directory_is_empty() {
    let w = world();
    w.root.unlink(b"empty", true).expect("rmdir");
    let usr = get(&w.root, "usr");
    get(&usr, "bin").unlink(b"ls", false).expect("unlink");
    usr.unlink(b"bin", true).expect("rmdir");

    let bin = mkdir(&usr, "bin");

    assert!(names(&bin).is_empty());
    assert_eq!(bin.lookup(b"ls").err(), Some(Errno::ENOENT));
}

#[test]
fn unlink_type_mismatches_return_eisdir_and_enotdir() {
    let w = world();

    assert_eq!(w.root.unlink(b"etc", false), Err(Errno::EISDIR));
    assert_eq!(w.root.unlink(b"top", true), Err(Errno::ENOTDIR));
}

#[test]
fn create_over_lower_name_returns_eexist() {
    let w = world();

    let r = w.root.create(b"top", NodeKind::Regular, ca(0o644));

    assert_eq!(r.err(), Some(Errno::EEXIST));
}

#[test]
fn rename_of_lower_file_copies_up_and_whiteouts_the_old_name() {
    let w = world();
    let etc = get(&w.root, "etc");
    let ino = get(&etc, "passwd").attr().expect("attr").ino;

    etc.rename(b"passwd", &w.root, b"pw", 0).expect("rename");

    let pw = get(&w.root, "pw");
    assert_eq!(read_all(&pw), b"root");
    assert_eq!(pw.attr().expect("attr").ino, ino);
    assert_eq!(etc.lookup(b"passwd").err(), Some(Errno::ENOENT));
    assert_eq!(read_all(&get(&w.lower, "etc/passwd")), b"root");
}

#[test]
fn rename_over_lower_file_replaces_it() {
    let w = world();
    mkfile(&w.root, "new", b"N");

    w.root.rename(b"new", &get(&w.root, "etc"), b"hosts", 0).expect("rename");

    assert_eq!(read_all(&get(&w.root, "etc/hosts")), b"N");
    assert_eq!(w.root.lookup(b"new").err(), Some(Errno::ENOENT));
}

#[test]
fn rename_of_lower_directory_returns_exdev() {
    let w = world();

    assert_eq!(w.root.rename(b"etc", &w.root, b"etc2", 0), Err(Errno::EXDEV));
}

#[test]
fn rename_of_upper_directory_over_removed_lower_one_hides_lower_contents() {
    let w = world();
    let d = mkdir(&w.root, "d");
    mkfile(&d, "x", b"");

    w.root.rename(b"d", &w.root, b"empty", 0).expect("rename");

    assert_eq!(names(&get(&w.root, "empty")), vec!["x"]);
    assert_eq!(w.root.lookup(b"d").err(), Some(Errno::ENOENT));
}

#[test]
fn rename_exchange_swaps_upper_and_lower_files() {
    let w = world();
    mkfile(&w.root, "mine", b"M");

    w.root.rename(b"mine", &w.root, b"top", RENAME_EXCHANGE).expect("exchange");

    assert_eq!(read_all(&get(&w.root, "mine")), b"t");
    assert_eq!(read_all(&get(&w.root, "top")), b"M");
}

#[test]
fn hard_link_of_lower_file_copies_it_up() {
    let w = world();
    let ls = get(&w.root, "usr/bin/ls");

    w.root.link(b"ls2", &ls).expect("link");

    assert_eq!(read_all(&get(&w.root, "ls2")), b"elf");
    assert_eq!(get(&w.root, "ls2").attr().expect("attr").ino, ls.attr().expect("attr").ino);
}

#[test]
fn chmod_of_lower_directory_copies_it_up() {
    let w = world();
    let etc = get(&w.root, "etc");

    etc.set_attr(&SetAttr { mode: Some(0o700), ..Default::default() }).expect("chmod");

    assert_eq!(etc.attr().expect("attr").mode, S_IFDIR | 0o700);
    assert_eq!(get(&w.lower, "etc").attr().expect("attr").mode, S_IFDIR | 0o755);
    assert_eq!(names(&etc), vec!["hosts", "passwd"]);
}

#[test]
fn statfs_reports_overlay_magic() {
    let w = world();

    assert_eq!(w.root.statfs().expect("statfs").f_type, OVERLAYFS_SUPER_MAGIC);
}

#[test]
fn xattrs_of_a_lower_file_are_read_without_copy_up() {
    let w = world();
    get(&w.lower, "etc/passwd").setxattr(b"user.l", b"lower", 0).expect("setxattr lower");

    let f = get(&w.root, "etc/passwd");

    assert_eq!(f.getxattr(b"user.l").expect("getxattr"), b"lower");
    assert_eq!(f.listxattr().expect("listxattr"), vec![b"user.l".to_vec()]);
    assert!(w.upper.root().lookup(b"etc").is_err());
}

#[test]
fn copy_up_keeps_the_lower_files_xattrs() {
    let w = world();
    get(&w.lower, "etc/passwd").setxattr(b"user.l", b"lower", 0).expect("setxattr lower");
    get(&w.lower, "etc/passwd").setxattr(b"security.s", b"label", 0).expect("setxattr lower");
    let f = get(&w.root, "etc/passwd");

    f.open(Caller::SENTRY, O_RDWR).expect("open for writing copies up");

    let up = get(&w.upper.root(), "etc/passwd");
    assert_eq!(up.getxattr(b"user.l").expect("getxattr"), b"lower");
    assert_eq!(up.getxattr(b"security.s").expect("getxattr"), b"label");
}

#[test]
fn setting_an_xattr_copies_up_and_leaves_lower_unchanged() {
    let w = world();
    let f = get(&w.root, "etc/hosts");

    f.setxattr(b"user.n", b"new", 0).expect("setxattr");

    assert_eq!(f.getxattr(b"user.n").expect("getxattr"), b"new");
    assert_eq!(get(&w.upper.root(), "etc/hosts").getxattr(b"user.n").expect("upper"), b"new");
    assert_eq!(get(&w.lower, "etc/hosts").getxattr(b"user.n"), Err(Errno::ENODATA));
}

#[test]
fn removing_an_xattr_the_lower_file_lacks_is_enodata_without_copy_up() {
    let w = world();
    let f = get(&w.root, "top");

    assert_eq!(f.removexattr(b"user.none"), Err(Errno::ENODATA));
    assert!(w.upper.root().lookup(b"top").is_err());
}
