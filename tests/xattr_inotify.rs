//! Extended attributes and inotify behave as on Linux: the same C
//! programs run natively on a tmpfs directory (`/dev/shm`) and under
//! `bulwark do` on the sandbox's tmpfs `/tmp`, and print the same.

mod common;

use std::path::PathBuf;

use common::{c_program, run_native, run_sandboxed};

/// A fresh directory on the host's tmpfs for the native run.
fn native_tmpfs_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/dev/shm/bulwark-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create directory in /dev/shm");
    dir
}

/// Run C program `name` natively with `native_args` and sandboxed with
/// `sandbox_args`; assert the same stdout and exit status.
fn assert_same_with_args(name: &str, native_args: &[&str], sandbox_args: &[&str]) -> String {
    let prog = c_program(name, &[]);
    let prog = prog.to_str().expect("utf-8 path");
    let native: Vec<&str> = std::iter::once(prog).chain(native_args.iter().copied()).collect();
    let sandboxed: Vec<&str> = std::iter::once(prog).chain(sandbox_args.iter().copied()).collect();
    let n = run_native(&native);
    let s = run_sandboxed(&sandboxed, &[]);
    assert_eq!(s.stdout_str(), n.stdout_str(), "stdout differs (sandbox stderr: {})", s.stderr_str());
    assert_eq!(s.status.code(), n.status.code(), "exit status differs (sandbox stderr: {})", s.stderr_str());
    s.stdout_str()
}

#[test]
fn xattrs_on_tmpfs_and_on_a_host_file_match_native() {
    let dir = native_tmpfs_dir("xattr");
    let d = dir.to_str().expect("utf-8 path");

    let out = assert_same_with_args("xattr", &[d, "/etc/passwd"], &["/tmp", "/etc/passwd"]);

    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.contains("set user.a CREATE again = -1 EEXIST"), "{out}");
    assert!(out.contains("get user.a size 2 = -1 ERANGE"), "{out}");
}

#[test]
fn xattr_queries_on_a_host_directory_answer_as_the_host_does() {
    let dir = native_tmpfs_dir("xattr-hostdir");
    let d = dir.to_str().expect("utf-8 path");

    assert_same_with_args("xattr", &[d, "/usr/share/doc"], &["/tmp", "/usr/share/doc"]);

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inotify_reports_create_modify_move_delete_in_a_tmpfs_directory() {
    let dir = native_tmpfs_dir("inotify");
    let d = dir.to_str().expect("utf-8 path");

    let out = assert_same_with_args("inotify", &[d], &["/tmp"]);

    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.contains("MOVED_TO cookie=same len=16 name=b"), "{out}");
    assert!(out.contains("DELETE len=16 name=c"), "{out}");
}

#[test]
fn ls_long_listing_still_matches_with_xattr_probes() {
    common::assert_same(&["/bin/ls", "-la", "/usr/share/doc/bash", "/etc/passwd"]);
}
