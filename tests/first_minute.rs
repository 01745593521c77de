//! What a user meets in the first minute of `bulwark do`: output
//! redirected to a file, host files under /tmp, the caller's working
//! directory. Each runs natively and sandboxed; the outputs must match.

mod common;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{bulwark, finish, native_command, run_native, run_sandboxed, sandboxed_command, spawn_piped};

/// A fresh directory under the host's `/tmp` (the tests' scratch directory
/// is under `target/`, which would not show the `/tmp` case).
struct HostTmp(PathBuf);

impl HostTmp {
    fn new(name: &str) -> HostTmp {
        let dir = PathBuf::from(format!("/tmp/bulwark-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create /tmp test directory");
        HostTmp(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn str(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for HostTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A script that writes to its stdout from the shell, a forked child, an
/// exec'd program, a dup of the descriptor, a nested shell, python's own
/// write(2), and finally an exec'd `cat` (which copies with
/// copy_file_range on a regular file).
const WRITERS: &str = "echo first; (echo child; exec echo child-exec); exec 3>&1; echo dup >&3; \
    sh -c 'echo nested'; python3 -c 'import os; os.write(1, b\"python\\n\")'; exec cat /etc/hostname";

/// Run `sh -c script` natively and sandboxed, each with stdout opened by
/// `open` (given the file's path), framed by a write before and after from
/// the same host descriptor; returns (native, sandboxed) file contents.
fn through_host_file(name: &str, open: impl Fn(&Path) -> File) -> (String, String) {
    let dir = HostTmp::new(name);
    let mut outputs = Vec::new();
    for sandboxed in [false, true] {
        let path = dir.path(if sandboxed { "sandboxed" } else { "native" });
        std::fs::write(&path, "before\n").expect("seed output file");
        let file = open(&path);
        let mut cmd = if sandboxed {
            sandboxed_command(&["sh", "-c", WRITERS], &[])
        } else {
            native_command(&["sh", "-c", WRITERS])
        };
        let status = cmd.stdin(Stdio::null()).stdout(file.try_clone().expect("dup")).status().expect("run");
        assert!(status.success(), "{cmd:?}: {status}");
        // The host's offset moved with everything the sandbox wrote.
        std::io::Write::write_all(&mut &file, b"after\n").expect("write after");
        outputs.push(std::fs::read_to_string(&path).expect("read output"));
    }
    (outputs.remove(0), outputs.remove(0))
}

#[test]
fn output_to_a_regular_file_survives_fork_exec_and_dup_and_moves_the_hosts_offset() {
    let open = |p: &Path| {
        let f = OpenOptions::new().write(true).open(p).expect("open");
        std::io::Seek::seek(&mut &f, std::io::SeekFrom::End(0)).expect("seek to end");
        f
    };

    let (native, sandboxed) = through_host_file("regular", open);

    assert_eq!(sandboxed, native);
    assert!(native.starts_with("before\nfirst\nchild\nchild-exec\ndup\nnested\npython\n"), "{native}");
    assert!(native.ends_with("after\n"), "{native}");
}

#[test]
fn output_to_an_append_file_survives_fork_exec_and_dup() {
    let open = |p: &Path| OpenOptions::new().append(true).open(p).expect("open");

    let (native, sandboxed) = through_host_file("append", open);

    assert_eq!(sandboxed, native);
    assert!(native.contains("first\nchild\n"), "{native}");
}

#[test]
fn output_to_a_pipe_keeps_every_writer_in_order() {
    let native = run_native(&["sh", "-c", WRITERS]);
    let sandboxed = run_sandboxed(&["sh", "-c", WRITERS], &[]);

    assert_eq!(sandboxed.stdout_str(), native.stdout_str());
    assert!(native.stdout_str().starts_with("first\nchild\nchild-exec\n"));
}

#[test]
fn donated_stdout_shows_the_hosts_status_flags() {
    let dir = HostTmp::new("flags");
    let script = "import fcntl, os\nfl = fcntl.fcntl(1, fcntl.F_GETFL)\nprint('append', bool(fl & os.O_APPEND), \
                  'acc', fl & os.O_ACCMODE)\nfcntl.fcntl(1, fcntl.F_SETFL, fl & ~os.O_APPEND)\n\
                  print('after setfl', bool(fcntl.fcntl(1, fcntl.F_GETFL) & os.O_APPEND))";
    let mut outs = Vec::new();
    for sandboxed in [false, true] {
        let path = dir.path(if sandboxed { "s" } else { "n" });
        let file = OpenOptions::new().create(true).append(true).open(&path).expect("open");
        let argv = ["python3", "-c", script];
        let mut cmd = if sandboxed { sandboxed_command(&argv, &[]) } else { native_command(&argv) };
        assert!(cmd.stdin(Stdio::null()).stdout(file).status().expect("run").success());
        outs.push(std::fs::read_to_string(&path).expect("read"));
    }

    assert_eq!(outs[1], outs[0]);
    assert_eq!(outs[0], "append True acc 1\nafter setfl False\n");
}

#[test]
fn a_script_under_the_hosts_tmp_runs() {
    let dir = HostTmp::new("script");
    let script = dir.path("x.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"hi from $0\"\nls \"$(dirname \"$0\")\"\n").expect("write script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let argv = [script.to_str().expect("utf-8")];

    let native = run_native(&argv);
    let sandboxed = run_sandboxed(&argv, &[]);

    assert_eq!(sandboxed.stdout_str(), native.stdout_str(), "stderr: {}", sandboxed.stderr_str());
    assert_eq!(native.stdout_str(), format!("hi from {}\nx.sh\n", script.display()));
}

#[test]
fn the_hosts_tmp_takes_writes_in_memory_only() {
    let dir = HostTmp::new("tmpwrite");
    let script = format!("echo new > {0}/made && cat {0}/made && ls {0}", dir.str());

    let sandboxed = run_sandboxed(&["sh", "-c", &script], &[]);

    assert_eq!(sandboxed.stdout_str(), "new\nmade\n", "stderr: {}", sandboxed.stderr_str());
    assert!(!dir.path("made").exists(), "the sandbox wrote the host's /tmp");
}

#[test]
fn tmpfs_option_gives_an_empty_private_tmp() {
    let _dir = HostTmp::new("private");

    let sandboxed =
        run_sandboxed(&["sh", "-c", "ls -A /tmp | wc -l; grep ' /tmp ' /proc/mounts"], &["--tmpfs", "/tmp"]);

    assert_eq!(sandboxed.stdout_str(), "0\ntmpfs /tmp tmpfs rw,relatime 0 0\n");
}

#[test]
fn readonly_root_keeps_tmp_writable_and_shows_the_hosts_files() {
    let dir = HostTmp::new("readonly");
    std::fs::write(dir.path("host-file"), "from the host\n").expect("write");
    let script = format!("cat {0}/host-file; echo mine > {0}/mine && cat {0}/mine; touch /etc/nope", dir.str());

    let sandboxed = run_sandboxed(&["sh", "-c", &script], &["--readonly"]);

    assert_eq!(sandboxed.stdout_str(), "from the host\nmine\n");
    assert!(sandboxed.stderr_str().contains("Read-only file system"), "stderr: {}", sandboxed.stderr_str());
    assert!(!dir.path("mine").exists());
}

/// Run `argv` with the working directory `dir`, natively or sandboxed.
fn in_dir(dir: &Path, argv: &[&str], sandboxed: bool) -> common::Output {
    let mut cmd = if sandboxed { sandboxed_command(argv, &[]) } else { native_command(argv) };
    cmd.current_dir(dir).stdin(Stdio::null());
    finish(spawn_piped(&mut cmd), &format!("{argv:?} in {}", dir.display()))
}

#[test]
fn make_runs_in_the_callers_directory_without_changing_the_host() {
    let dir = HostTmp::new("proj");
    std::fs::write(dir.path("input.txt"), "data\n").expect("write input");
    std::fs::write(dir.path("Makefile"), "out.txt: input.txt\n\t@cp input.txt out.txt\n\t@pwd\n\t@cat out.txt\n")
        .expect("write Makefile");

    let sandboxed = in_dir(&dir.0, &["make"], true);
    let left_on_host = dir.path("out.txt").exists();
    let native = in_dir(&dir.0, &["make"], false);

    assert_eq!(sandboxed.stdout_str(), native.stdout_str(), "stderr: {}", sandboxed.stderr_str());
    assert_eq!(native.stdout_str(), format!("{}\ndata\n", dir.str()));
    assert!(!left_on_host, "the sandbox's make wrote the host's directory");
}

#[test]
fn relative_paths_resolve_from_the_callers_directory() {
    let dir = HostTmp::new("relative");
    std::fs::create_dir(dir.path("sub")).expect("mkdir");
    std::fs::write(dir.path("sub/f"), "rel\n").expect("write");
    let argv = ["sh", "-c", "pwd; cat sub/f; cd sub && pwd"];

    let native = in_dir(&dir.0, &argv, false);
    let sandboxed = in_dir(&dir.0, &argv, true);

    assert_eq!(sandboxed.stdout_str(), native.stdout_str());
}

#[test]
fn cwd_that_does_not_exist_inside_is_an_error() {
    let out = run_sandboxed(&["pwd"], &["--cwd", "/no/such/dir"]);

    assert_eq!(out.status.code(), Some(125));
    assert_eq!(out.stdout_str(), "");
    assert_eq!(out.stderr_str(), "bulwark: working directory /no/such/dir: No such file or directory\n");
}

#[test]
fn cwd_option_names_the_directory() {
    let out = run_sandboxed(&["pwd"], &["--cwd", "/usr/share"]);

    assert_eq!(out.stdout_str(), "/usr/share\n");
}

#[test]
fn callers_directory_outside_another_rootfs_falls_back_to_the_root() {
    let root = common::fresh_dir("first-minute-rootfs");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    let rootfs = root.to_str().expect("utf-8");
    let mut cmd = Command::new(bulwark());
    cmd.args(["do", "--rootfs", rootfs, "--", "/bin/busybox", "pwd"]).current_dir("/usr/share").stdin(Stdio::null());

    let out = finish(spawn_piped(&mut cmd), "pwd in another rootfs");

    assert_eq!(out.stdout_str(), "/\n", "stderr: {}", out.stderr_str());
}

#[test]
fn uname_reports_the_hosts_kernel_release() {
    let native = run_native(&["sh", "-c", "uname -r; uname -s; uname -m"]);
    let sandboxed = run_sandboxed(&["sh", "-c", "uname -r; uname -s; uname -m"], &[]);

    assert_eq!(sandboxed.stdout_str(), native.stdout_str());
}

#[test]
fn kernel_release_option_sets_uname_and_proc() {
    let out =
        run_sandboxed(&["sh", "-c", "uname -r; cat /proc/sys/kernel/osrelease"], &["--kernel-release", "5.15.0-x"]);

    assert_eq!(out.stdout_str(), "5.15.0-x\n5.15.0-x\n");
}
