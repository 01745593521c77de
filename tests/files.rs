//! Filesystem completeness: C conformance programs give the same
//! output natively and under `bulwark do`. Each program takes a tmpfs
//! directory to work in: `/tmp` in the sandbox (the sentry's tmpfs), and a
//! fresh directory under `/dev/shm` natively (host `/tmp` may be a disk file
//! system whose hole granularity differs).

mod common;

use std::path::PathBuf;

use common::{c_program, run_native, run_sandboxed};

/// A fresh directory on the host's tmpfs, removed when dropped.
struct ShmDir(PathBuf);

impl ShmDir {
    fn new(name: &str) -> ShmDir {
        let dir = PathBuf::from(format!("/dev/shm/bulwark-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create /dev/shm test directory");
        ShmDir(dir)
    }
}

impl Drop for ShmDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Build `tests/c/<name>.c`, run it natively on a `/dev/shm` directory and
/// sandboxed on `/tmp`, and assert identical stdout and exit status.
fn same_on_tmpfs(name: &str) -> String {
    let prog = c_program(name, &[]);
    let prog = prog.to_str().expect("utf-8 path").to_string();
    let dir = ShmDir::new(name);
    let native = run_native(&[prog.as_str(), dir.0.to_str().expect("utf-8 path")]);
    let sandboxed = run_sandboxed(&[prog.as_str(), "/tmp"], &[]);
    assert_eq!(native.status.code(), Some(0), "native run failed: {}", native.stderr_str());
    assert_eq!(
        sandboxed.stdout_str(),
        native.stdout_str(),
        "stdout of {name} differs (sandbox stderr: {})",
        sandboxed.stderr_str()
    );
    assert_eq!(sandboxed.status.code(), native.status.code(), "exit status of {name} differs");
    sandboxed.stdout_str()
}

#[test]
fn flock_posix_and_ofd_locks_block_split_and_detect_deadlock_between_processes() {
    let out = same_on_tmpfs("file_locks");

    assert!(out.contains("parent setlkw byte 1: EDEADLK"));
}

#[test]
fn sparse_tmpfs_file_reports_page_holes_to_seek_data_and_seek_hole_and_punches_holes() {
    let out = same_on_tmpfs("file_sparse");

    assert!(out.contains("SEEK_DATA 4096: 1048576"));
}

#[test]
fn o_tmpfile_gets_a_name_with_linkat_and_mknod_makes_fifos_and_sockets() {
    let out = same_on_tmpfs("file_tmpfile");

    assert!(out.contains("linkat AT_EMPTY_PATH: OK"));
}

#[test]
fn openat2_resolve_flags_give_exdev_eloop_and_enoent_as_linux_does() {
    let out = same_on_tmpfs("file_openat2");

    assert!(out.contains("EXDEV"));
}

#[test]
fn memfd_seals_forbid_shrinking_growing_and_writing() {
    let out = same_on_tmpfs("file_memfd");

    assert!(out.contains("link: /memfd:test (deleted)"));
}

#[test]
fn copy_file_range_and_sendfile_round_trip_and_close_range_closes_or_marks() {
    let out = same_on_tmpfs("file_copy");

    assert!(out.contains("sendfile to stdout: sent to stdout"));
}
