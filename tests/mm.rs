//! Memory semantics across calls and processes (issue 4: mmap coherence).

mod common;

use common::{assert_same, c_program};

#[test]
fn shared_file_mapping_is_coherent_with_read_write_and_across_fork() {
    let prog = c_program("mmap_shared", &[]);
    let prog = prog.to_str().expect("utf-8 path");

    // /dev/shm is a tmpfs both natively and in the sandbox.
    let out = assert_same(&[prog, "/dev/shm"]);

    assert_eq!(
        out.stdout_str(),
        "read sees: via-mapping\nmap sees: via-write\nparent sees: child-wrote\nafter munmap: child-wrote\n"
    );
}
