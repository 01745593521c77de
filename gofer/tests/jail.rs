//! `server::run` for real: jail in a forked child (needs root; skipped
//! otherwise). Kept alone in its own test binary so the fork happens with as
//! few threads around as possible.

mod common;

use std::fs::File;
use std::io::{Read, Write};

use abi::Errno;
use common::{populate, TempDir, HELLO};
use gofer::{server, GoferClient};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// Fork; the child runs `run(root, sock)` and exits 0 on `Ok`, 1 on `Err`.
fn spawn_jailed_gofer(root: &std::path::Path) -> (GoferClient, Pid) {
    spawn_jailed_gofer_with(root, server::Options::default())
}

/// [`spawn_jailed_gofer`] with `run_with(root, sock, opts)`.
fn spawn_jailed_gofer_with(root: &std::path::Path, opts: server::Options) -> (GoferClient, Pid) {
    let (a, b) = gofer::seqpacket_pair().unwrap();
    // SAFETY: the child only calls `server::run` (async-signal-unsafe work
    // like allocation is safe with glibc's fork handlers, and no other
    // thread of this test binary holds locks the child needs) and `_exit`.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(a);
            // A test thread's malloc arena grows with mprotect, which the
            // gofer's filter (rightly) kills: grow it before the filter is
            // in. (The real gofer is a process of its own, single-threaded,
            // whose heap grows with brk.)
            drop((0..256).map(|_| vec![1u8; 16 * 1024]).collect::<Vec<_>>());
            let code = match server::run_with(root, b, opts) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("gofer child: {e}");
                    1
                }
            };
            // SAFETY: ends the child without running the parent's atexit
            // handlers or destructors. Raw: nix 0.32 has no `_exit`, and
            // rustix's `exit_group` is in its runtime module, not meant for
            // applications.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(b);
            (GoferClient::new(a), child)
        }
    }
}

fn wait(pid: Pid) -> i32 {
    match waitpid(pid, None).unwrap() {
        WaitStatus::Exited(p, code) if p == pid => code,
        status => panic!("status {status:?}"),
    }
}

#[test]
fn jailed_gofer_serves_the_root_read_only_and_cannot_escape() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = TempDir::new("jail");
    populate(dir.path());
    let (c, pid) = spawn_jailed_gofer(dir.path());

    let (root, rattr) = c.attach().unwrap();
    let (hello, _) = c.walk(root, b"hello.txt").unwrap();
    let mut s = Vec::new();
    File::from(c.open(hello, libc::O_RDONLY as u32).unwrap()).read_to_end(&mut s).unwrap();
    let (abs, aattr) = c.walk(root, b"abs").unwrap();
    let target = c.readlink(abs).unwrap();
    let open_abs = c.open(abs, libc::O_RDONLY as u32).err();
    let write_open = c.open(hello, libc::O_RDWR as u32).err();
    let mkdir = c.mkdir(root, b"nope", 0o755).err();
    let etc = c.walk(root, b"etc").err();
    let dotdot = c.walk(root, b"..").err();
    let sfs = c.statfs(root).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    drop(c);
    let code = wait(pid);

    assert_eq!(code, 0);
    // The jail's "/" is the served directory.
    assert_eq!(rattr.ino, std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(dir.path()).unwrap()));
    assert_eq!(s, HELLO);
    assert_eq!(aattr.mode & libc::S_IFMT, libc::S_IFLNK);
    assert_eq!(target, b"/etc/passwd");
    assert_eq!(open_abs, Some(Errno::ELOOP));
    assert_eq!(write_open, Some(Errno::EROFS));
    assert_eq!(mkdir, Some(Errno::EROFS));
    assert_eq!(etc, Some(Errno::ENOENT));
    assert_eq!(dotdot, Some(Errno::EINVAL));
    assert_ne!(sfs.f_flags & libc::ST_RDONLY as i64, 0);
    // Serving under the seccomp filter (mode 2).
    assert!(status.lines().any(|l| l == "Seccomp:\t2"), "{status}");
}

#[test]
fn jailed_gofer_serves_a_single_file_read_only_and_nothing_beside_it() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = TempDir::new("jail-file");
    populate(dir.path());
    let file = dir.path().join("hello.txt");
    let (c, pid) = spawn_jailed_gofer(&file);

    let (root, rattr) = c.attach().unwrap();
    let mut s = Vec::new();
    File::from(c.open(root, libc::O_RDONLY as u32).unwrap()).read_to_end(&mut s).unwrap();
    let write_open = c.open(root, libc::O_RDWR as u32).err();
    let sibling = c.walk(root, b"sub").err();
    let sfs = c.statfs(root).unwrap();
    drop(c);
    let code = wait(pid);

    assert_eq!(code, 0);
    assert_eq!(rattr.ino, std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&file).unwrap()));
    assert_eq!(s, HELLO);
    assert_eq!(write_open, Some(Errno::EROFS));
    assert_eq!(sibling, Some(Errno::ENOTDIR));
    assert_ne!(sfs.f_flags & libc::ST_RDONLY as i64, 0);
}

#[test]
fn jailed_gofer_serving_a_single_file_read_write_writes_it_on_the_host() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = TempDir::new("jail-file-rw");
    populate(dir.path());
    let file = dir.path().join("hello.txt");
    let (c, pid) = spawn_jailed_gofer_with(&file, server::Options { read_only: false });

    let (root, _) = c.attach().unwrap();
    File::from(c.open(root, (libc::O_WRONLY | libc::O_TRUNC) as u32).unwrap()).write_all(b"written\n").unwrap();
    let sfs = c.statfs(root).unwrap();
    drop(c);
    let code = wait(pid);

    assert_eq!(code, 0);
    assert_eq!(std::fs::read(&file).unwrap(), b"written\n");
    assert_eq!(sfs.f_flags & libc::ST_RDONLY as i64, 0);
}
