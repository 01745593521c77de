//! Two things users hit, each against the same run natively:
//!
//! - in a real terminal (a tmux pane), `tty`, `ttyname` and `ps` name the
//!   terminal the sandbox was given as stdin as natively: `/dev/pts/N`,
//!   which `/proc/self/fd/0` links to and which is the same inode;
//! - on a read-only root (`--readonly`) a non-root process's changes fail
//!   with `EROFS` wherever Linux asks the mount before the permission (a
//!   read-only bind mount natively, in a private mount namespace), and with
//!   `EACCES` where Linux asks the permission first.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bulwark, fresh_dir, native_command, run, run_sandboxed, Output, SANDBOX_PATH};

/// What a program on a terminal asks about it: its name, whether stdin is
/// one, whether the name is where `/proc/self/fd/0` links and the same
/// inode (glibc's `ttyname` check), `ps`'s TTY column, and that the name
/// opens.
const TTY_SCRIPT: &str = r#"tty
test -t 0 && echo "stdin is a terminal"
[ "$(tty)" = "$(readlink /proc/self/fd/0)" ] && echo "tty is where fd 0 links"
python3 -c 'import os
a, b = os.fstat(0), os.stat(os.ttyname(0))
print("ttyname", os.ttyname(0), "same inode", (a.st_dev, a.st_ino, a.st_rdev) == (b.st_dev, b.st_ino, b.st_rdev))'
ps -o tty= -p $$
true > "$(tty)" && echo "opened $(tty)"
"#;

/// A tmux server of this test's own (no user configuration), killed when
/// dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]);
        cmd
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// Run the shell script `runner` in a detached 120x30 tmux pane and wait
/// (at most 60 s) for the file `done` it makes at its end. `None`, with the
/// reason printed, if tmux cannot start.
fn in_tmux_pane(name: &str, runner: &Path, done: &Path) -> Option<Tmux> {
    let tmux = Tmux { socket: format!("bulwark-{name}-{}", std::process::id()) };
    let runner = runner.to_str().expect("utf-8 path");
    let started = tmux
        .command()
        .args(["new-session", "-d", "-s", name, "-x", "120", "-y", "30"])
        .arg(format!("sh {runner}; sleep 60"))
        .output();
    match started {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            println!("skipping {name}: tmux cannot start: {}", String::from_utf8_lossy(&out.stderr).trim());
            return None;
        }
        Err(e) => {
            println!("skipping {name}: tmux cannot start: {e}");
            return None;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done.exists() {
        assert!(Instant::now() < deadline, "the runs in the tmux pane did not finish within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(tmux)
}

#[test]
fn tty_ttyname_and_ps_name_the_terminal_in_a_tmux_pane_as_natively() {
    let dir = fresh_dir("tty-pane");
    let (script, runner, done) = (dir.join("tty.sh"), dir.join("runner.sh"), dir.join("done"));
    let (native_out, sandbox_out) = (dir.join("native.out"), dir.join("sandbox.out"));
    std::fs::write(&script, TTY_SCRIPT).expect("write the script");
    let q = |p: &Path| format!("'{}'", p.to_str().expect("utf-8 path"));
    // Both runs in the same pane: the same terminal, the same number.
    std::fs::write(
        &runner,
        format!(
            "export PATH={SANDBOX_PATH}
cd /
sh {s} > {n} 2>&1
{b} do -- sh {s} > {o} 2>&1
: > {d}
",
            s = q(&script),
            n = q(&native_out),
            b = q(&bulwark()),
            o = q(&sandbox_out),
            d = q(&done),
        ),
    )
    .expect("write the runner");

    let Some(_tmux) = in_tmux_pane("tty", &runner, &done) else { return };

    let native = std::fs::read_to_string(&native_out).expect("native output");
    let sandboxed = std::fs::read_to_string(&sandbox_out).expect("sandbox output");
    let name = native.lines().next().unwrap_or_default().to_owned();
    let number = name.strip_prefix("/dev/pts/").unwrap_or_default();
    assert!(!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()), "native tty: {native}");
    assert_eq!(
        native.lines().map(str::trim_end).collect::<Vec<_>>(),
        [
            name.as_str(),
            "stdin is a terminal",
            "tty is where fd 0 links",
            &format!("ttyname {name} same inode True"),
            &format!("pts/{number}"),
            &format!("opened {name}"),
        ]
    );
    assert_eq!(sandboxed, native);
}

/// The applets the read-only scripts use.
const RO_APPLETS: &[&str] =
    &["sh", "touch", "mkdir", "rm", "rmdir", "mv", "chmod", "chown", "ln", "unlink", "mkfifo", "truncate", "cat"];

/// Changes a user (uid 1000) tries on a read-only root: a root-owned
/// `/etc/file` (0644) and directory `/etc/sub`, and the user's own
/// `/home/u/own`.
const RO_SCRIPT: &str = "exec 2>&1
touch /etc/new
true > /etc/new2
true >> /etc/file
true > /etc/file
true >> /home/u/own
mkdir /newdir
mkdir /etc
unlink /etc/file
unlink /etc/missing
rm /etc/file
rmdir /etc/sub
mv /etc/file /etc/file2
mv /etc/missing /etc/file2
chmod 600 /etc/file
chmod 600 /home/u/own
touch /etc/file
touch -d 2000-01-01 /etc/file
touch /home/u/own
ln -s x /etc/sym
ln /etc/file /etc/hard
ln /home/u/own /home/u/hard
chown 1000 /etc/file
mkfifo /etc/fifo
truncate -s 0 /etc/file
cat /etc/file";

/// What Linux answers to [`RO_SCRIPT`] on a read-only bind mount: `EROFS`
/// first, except where the file exists and is opened for writing without
/// `O_TRUNC` (the permission is asked before the mount, in `may_open`).
const RO_EXPECTED: &str = "\
touch: /etc/new: Read-only file system
/bin/sh: can't create /etc/new2: Read-only file system
/bin/sh: can't create /etc/file: Permission denied
/bin/sh: can't create /etc/file: Read-only file system
/bin/sh: can't create /home/u/own: Read-only file system
mkdir: can't create directory '/newdir': Read-only file system
mkdir: can't create directory '/etc': File exists
unlink: can't remove file '/etc/file': Read-only file system
unlink: can't remove file '/etc/missing': Read-only file system
rm: can't remove '/etc/file': Read-only file system
rmdir: '/etc/sub': Read-only file system
mv: can't rename '/etc/file': Read-only file system
mv: can't rename '/etc/missing': Read-only file system
chmod: /etc/file: Read-only file system
chmod: /home/u/own: Read-only file system
touch: /etc/file: Read-only file system
touch: /etc/file: Read-only file system
touch: /home/u/own: Read-only file system
ln: /etc/sym: Read-only file system
ln: /etc/hard: Read-only file system
ln: /home/u/hard: Read-only file system
chown: /etc/file: Read-only file system
mkfifo: /etc/fifo: Read-only file system
truncate: /etc/file: open: Permission denied
file
";

/// A root directory with a static busybox, [`RO_APPLETS`], and the files
/// [`RO_SCRIPT`] changes.
fn readonly_fixture_root(name: &str) -> PathBuf {
    let root = fresh_dir(name);
    for d in ["bin", "etc/sub", "home/u"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox (is busybox-static installed?)");
    for a in RO_APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).expect("applet symlink");
    }
    std::fs::write(root.join("etc/file"), "file\n").expect("write /etc/file");
    std::fs::write(root.join("home/u/own"), "own\n").expect("write /home/u/own");
    for p in ["home/u", "home/u/own"] {
        std::os::unix::fs::chown(root.join(p), Some(1000), Some(1000)).expect("chown");
    }
    root
}

/// Run `argv` natively as uid and gid 1000 (groups: 1000) after `dir` is
/// made a read-only bind mount of itself in a mount namespace of its own;
/// with `chroot`, inside `dir` as the root.
fn native_on_readonly_bind(dir: &Path, chroot: bool, argv: &[&str]) -> Output {
    let d = dir.to_str().expect("utf-8 path");
    let mut cmd = vec!["unshare", "-m", "sh", "-c", "mount --bind -o ro \"$0\" \"$0\" && exec \"$@\"", d];
    if chroot {
        cmd.extend(["chroot", "--userspec=1000:1000", "--groups=1000", d]);
    } else {
        cmd.extend(["setpriv", "--reuid=1000", "--regid=1000", "--groups=1000"]);
    }
    cmd.extend_from_slice(argv);
    run(native_command(&cmd))
}

/// Whether the native side can be set up (it needs root for the mount
/// namespace); says why not.
fn can_bind_readonly(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    println!("skipping {test}: a read-only bind mount natively needs root");
    false
}

#[test]
fn changes_by_a_user_on_a_readonly_root_fail_as_on_a_readonly_bind_mount() {
    if !can_bind_readonly("changes_by_a_user_on_a_readonly_root_fail_as_on_a_readonly_bind_mount") {
        return;
    }
    let root = readonly_fixture_root("ro-busybox");
    let rootfs = root.to_str().expect("utf-8 path");

    let native = native_on_readonly_bind(&root, true, &["/bin/sh", "-c", RO_SCRIPT]);
    let sandboxed =
        run_sandboxed(&["/bin/sh", "-c", RO_SCRIPT], &["--rootfs", rootfs, "--readonly", "--user", "1000:1000"]);

    assert_eq!(native.stdout_str(), RO_EXPECTED, "native stderr: {}", native.stderr_str());
    assert_eq!(sandboxed.stdout_str(), native.stdout_str(), "sandbox stderr: {}", sandboxed.stderr_str());
    assert_eq!(sandboxed.status.code(), Some(0));
}

/// Each call once, printing its errno's name. `truncate(2)` of a file the
/// user may not write is left out: older kernels asked the mount first
/// (`EROFS`), current ones ask the permission first (`EACCES`, as the
/// sandbox does).
const RO_CALLS: &str = r#"import ctypes, errno, os, socket, stat, sys
d = sys.argv[1]
f, own = d + "/rootfile", d + "/own/file"
libc = ctypes.CDLL(None, use_errno=True)
def access(p):
    if libc.access(p.encode(), os.W_OK) != 0:
        raise OSError(ctypes.get_errno(), "access")
calls = [
    ("open O_WRONLY", lambda: os.open(f, os.O_WRONLY)),
    ("open O_WRONLY|O_TRUNC", lambda: os.open(f, os.O_WRONLY | os.O_TRUNC)),
    ("open O_RDONLY|O_TRUNC", lambda: os.open(f, os.O_RDONLY | os.O_TRUNC)),
    ("open O_WRONLY own", lambda: os.open(own, os.O_WRONLY)),
    ("open O_RDONLY own", lambda: os.open(own, os.O_RDONLY)),
    ("creat new", lambda: os.open(d + "/new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)),
    ("creat new in own dir", lambda: os.open(d + "/own/new", os.O_WRONLY | os.O_CREAT, 0o644)),
    ("creat existing O_EXCL", lambda: os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)),
    ("creat existing O_APPEND", lambda: os.open(f, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)),
    ("O_TMPFILE", lambda: os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o600)),
    ("mkdir", lambda: os.mkdir(d + "/newdir")),
    ("mkdir existing", lambda: os.mkdir(d + "/own")),
    ("mkfifo", lambda: os.mkfifo(d + "/fifo")),
    ("mknod chr", lambda: os.mknod(d + "/chr", 0o600 | stat.S_IFCHR, os.makedev(1, 3))),
    ("unlink", lambda: os.unlink(f)),
    ("unlink missing", lambda: os.unlink(d + "/missing")),
    ("unlink own", lambda: os.unlink(own)),
    ("rmdir", lambda: os.rmdir(d + "/own")),
    ("rename", lambda: os.rename(f, d + "/moved")),
    ("rename missing", lambda: os.rename(d + "/missing", d + "/moved")),
    ("link", lambda: os.link(f, d + "/hard")),
    ("link own", lambda: os.link(own, d + "/own/hard")),
    ("link dir", lambda: os.link(d + "/own", d + "/own/dirlink")),
    ("symlink", lambda: os.symlink("x", d + "/sym")),
    ("symlink existing", lambda: os.symlink("x", f)),
    ("chmod", lambda: os.chmod(f, 0o600)),
    ("chmod own", lambda: os.chmod(own, 0o600)),
    ("chown", lambda: os.chown(f, 1000, 1000)),
    ("chown own", lambda: os.chown(own, -1, 1000)),
    ("utimes now", lambda: os.utime(f)),
    ("utimes explicit", lambda: os.utime(f, (1, 1))),
    ("utimes own", lambda: os.utime(own)),
    ("truncate own", lambda: os.truncate(own, 0)),
    ("setxattr own", lambda: os.setxattr(own, "user.x", b"1")),
    ("access W_OK", lambda: access(f)),
    ("access W_OK own", lambda: access(own)),
    ("bind", lambda: socket.socket(socket.AF_UNIX).bind(d + "/sock")),
]
for what, call in calls:
    try:
        call()
        print(what, "ok")
    except OSError as e:
        print(what, errno.errorcode.get(e.errno, e.errno))
"#;

/// What Linux answers to [`RO_CALLS`] as uid 1000 on a read-only mount.
const RO_CALLS_EXPECTED: &str = "\
open O_WRONLY EACCES
open O_WRONLY|O_TRUNC EROFS
open O_RDONLY|O_TRUNC EROFS
open O_WRONLY own EROFS
open O_RDONLY own ok
creat new EROFS
creat new in own dir EROFS
creat existing O_EXCL EEXIST
creat existing O_APPEND EACCES
O_TMPFILE EROFS
mkdir EROFS
mkdir existing EEXIST
mkfifo EROFS
mknod chr EROFS
unlink EROFS
unlink missing EROFS
unlink own EROFS
rmdir EROFS
rename EROFS
rename missing EROFS
link EROFS
link own EROFS
link dir EROFS
symlink EROFS
symlink existing EEXIST
chmod EROFS
chmod own EROFS
chown EROFS
chown own EROFS
utimes now EROFS
utimes explicit EROFS
utimes own EROFS
truncate own EROFS
setxattr own EROFS
access W_OK EACCES
access W_OK own EROFS
bind EROFS
";

/// A directory on the host's root file system that uid 1000 can reach
/// (the sandbox's `/tmp` is writable even with `--readonly`, and the
/// checkout may be under a home directory only root can enter), removed
/// when dropped.
struct VarTmpDir(PathBuf);

impl VarTmpDir {
    fn new(name: &str) -> VarTmpDir {
        let dir = PathBuf::from(format!("/var/tmp/bulwark-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("own")).expect("mkdir under /var/tmp");
        VarTmpDir(dir)
    }
}

impl Drop for VarTmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn each_call_that_changes_a_readonly_mount_returns_the_errno_linux_returns() {
    if !can_bind_readonly("each_call_that_changes_a_readonly_mount_returns_the_errno_linux_returns") {
        return;
    }
    let dir = VarTmpDir::new("ro-calls");
    std::fs::write(dir.0.join("rootfile"), "r\n").expect("write rootfile");
    std::fs::write(dir.0.join("own/file"), "o\n").expect("write own/file");
    for p in ["own", "own/file"] {
        std::os::unix::fs::chown(dir.0.join(p), Some(1000), Some(1000)).expect("chown");
    }
    let d = dir.0.to_str().expect("utf-8 path");
    let argv = ["python3", "-I", "-S", "-c", RO_CALLS, d];

    let native = native_on_readonly_bind(&dir.0, false, &argv);
    let sandboxed = run_sandboxed(&argv, &["--readonly", "--user", "1000:1000"]);

    assert_eq!(native.stdout_str(), RO_CALLS_EXPECTED, "native stderr: {}", native.stderr_str());
    assert_eq!(sandboxed.stdout_str(), native.stdout_str(), "sandbox stderr: {}", sandboxed.stderr_str());
}
