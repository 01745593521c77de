//! File system semantics: C programs run natively in a
//! fresh directory on the host's tmpfs (`/dev/shm`) and under `bulwark do`
//! in the sandbox's tmpfs `/tmp`, and must print the same.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{c_program, native_command, run, run_native, run_sandboxed, Output};

/// A fresh directory on the host's tmpfs with `mode`, removed when dropped.
struct ShmDir(PathBuf);

impl ShmDir {
    fn new(name: &str, mode: u32) -> ShmDir {
        let dir = PathBuf::from(format!("/dev/shm/bulwark-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create /dev/shm test directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("chmod test directory");
        ShmDir(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for ShmDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_same_output(name: &str, native: &Output, sandboxed: &Output) -> String {
    assert_eq!(native.status.code(), Some(0), "native run of {name} failed: {}", native.stderr_str());
    assert_eq!(
        sandboxed.stdout_str(),
        native.stdout_str(),
        "stdout of {name} differs (sandbox stderr: {})",
        sandboxed.stderr_str()
    );
    assert_eq!(sandboxed.status.code(), native.status.code(), "exit status of {name} differs");
    sandboxed.stdout_str()
}

/// Run `tests/c/<name>.c` natively on a `/dev/shm` directory and sandboxed
/// on `/tmp`, each followed by `extra` arguments for that side.
fn same_on_tmpfs(name: &str, native_extra: &[&str], sandbox_extra: &[&str]) -> String {
    let prog = c_program(name, &[]);
    let prog = prog.to_str().expect("utf-8 path");
    let dir = ShmDir::new(name, 0o755);
    let native: Vec<&str> = [prog, dir.path()].into_iter().chain(native_extra.iter().copied()).collect();
    let sandboxed: Vec<&str> = [prog, "/tmp"].into_iter().chain(sandbox_extra.iter().copied()).collect();
    let n = run_native(&native);
    let s = run_sandboxed(&sandboxed, &[]);
    assert_same_output(name, &n, &s)
}

#[test]
fn rename_replaces_files_and_empty_dirs_and_fails_with_linux_errnos_and_link_counts_match() {
    // The other mount: host `/tmp` (not the tmpfs `/dev/shm`) natively, and
    // `/dev/shm` (a tmpfs apart from `/tmp`) in the sandbox.
    let out = same_on_tmpfs("fs_rename", &["/tmp"], &["/dev/shm"]);

    assert!(out.contains("rename file across mounts: EXDEV\n"), "{out}");
    assert!(out.contains("rename dir over non-empty dir: ENOTEMPTY\n"), "{out}");
    assert!(out.contains("nlink dir with two subdirs and a file: 4\n"), "{out}");
}

#[test]
fn unlinked_open_files_stay_usable_appends_interleave_and_getdents_survives_unlinking() {
    let out = same_on_tmpfs("fs_open_files", &[], &[]);

    assert!(out.contains("read second fd: 26 \"before unlink;after unlink\"\n"), "{out}");
    // "X" from the descriptor without O_APPEND; "P" from pwrite, appended.
    assert!(out.contains("X0\nb0\na1\nb1\na2\nb2\nend\nP"), "{out}");
    assert!(out.contains("fd link ends with: /gone (deleted)\n"), "{out}");
    assert!(out.contains("fadvise SEQUENTIAL: OK\nfadvise DONTNEED range: OK\nfadvise bad advice: EINVAL\n"), "{out}");
    assert!(out.contains("once=300 more=0 never=0"), "{out}");
}

#[test]
fn unprivileged_user_after_setresuid_meets_linux_permission_and_sticky_checks() {
    let out = same_on_tmpfs("fs_perms", &[], &[]);

    assert!(out.contains("uids 1000 1000 1000 gid 1000 groups 0\n"), "{out}");
    assert!(out.contains("open 0000 file for reading: EACCES\n"), "{out}");
    assert!(out.contains("unlink root's file in sticky dir: EPERM\n"), "{out}");
}

/// `--user 1000:1000` in the sandbox against `setpriv` natively.
#[test]
fn user_option_meets_the_same_permission_checks_as_setpriv_natively() {
    let prog = c_program("fs_perms", &[]);
    let prog = prog.to_str().expect("utf-8 path");
    let dir = ShmDir::new("fs_perms_user", 0o1777);
    let setpriv = ["setpriv", "--reuid=1000", "--regid=1000", "--groups=1000", prog, dir.path()];
    if run(native_command(&["setpriv", "--version"])).status.code() != Some(0) {
        eprintln!("setpriv is not installed: skipping the --user comparison");
        return;
    }

    let native = run(native_command(&setpriv));
    let sandboxed = run_sandboxed(&[prog, "/tmp"], &["--user", "1000:1000"]);

    let out = assert_same_output("fs_perms --user", &native, &sandboxed);
    assert!(out.contains("uids 1000 1000 1000 gid 1000 groups 1\n"), "{out}");
    assert!(out.contains("read /etc/shadow: EACCES\n"), "{out}");
}
