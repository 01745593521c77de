//! splice, tee and vmsplice.

mod common;

use common::{assert_same, c_program};

#[test]
fn splice_tee_and_vmsplice_move_data_through_pipes_as_on_linux() {
    let prog = c_program("splice", &[]);
    let prog = prog.to_str().expect("utf-8 path");

    // /dev/shm is a tmpfs both natively and in the sandbox.
    let out = assert_same(&[prog, "/dev/shm"]);

    assert!(out.stdout_str().contains("dst: from splice, through a pipe\n"), "{}", out.stdout_str());
    assert!(out.stdout_str().contains("got: vmsplice\n"), "{}", out.stdout_str());
}
