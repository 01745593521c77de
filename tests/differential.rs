//! Real programs produce the same output and exit status under `bulwark do`
//! as natively.

mod common;

use common::{assert_same, c_program};

#[test]
fn echo_prints_its_arguments() {
    assert_same(&["/bin/echo", "hello"]);
}

#[test]
fn ls_long_listing_matches_host_metadata() {
    // Sizes, link counts, owners and times must be the host's exactly.
    assert_same(&["/bin/ls", "-la", "/usr/share/doc/bash"]);
}

#[test]
fn cat_reads_a_host_file() {
    assert_same(&["/bin/cat", "/etc/os-release"]);
}

#[test]
fn sha256sum_reads_a_large_binary_through_a_symlink() {
    assert_same(&["/usr/bin/sha256sum", "/usr/bin/python3"]);
}

#[test]
fn head_reads_a_prefix() {
    assert_same(&["/usr/bin/head", "-c", "1000", "/etc/services"]);
}

#[test]
fn static_busybox_shell_runs_a_loop() {
    assert_same(&["/bin/busybox", "sh", "-c", "x=0; while [ $x -lt 1000 ]; do x=$((x+1)); done; echo $x"]);
}

#[test]
fn python_lists_a_directory() {
    assert_same(&["/usr/bin/python3", "-c", "import json,os; print(json.dumps(sorted(os.listdir('/usr'))))"]);
}

#[test]
fn static_pie_program_sees_argv_env_pid_and_machine() {
    let prog = c_program("hello_static", &["-static-pie"]);
    let prog = prog.to_str().expect("utf-8 path");

    assert_same(&[prog, "one", "two words", ""]);
}

#[test]
fn false_exits_with_status_1() {
    let out = assert_same(&["/bin/false"]);

    assert_eq!(out.status.code(), Some(1));
}
