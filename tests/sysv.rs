//! System V IPC: shared memory, semaphores and message queues, natively and
//! sandboxed.

mod common;

use common::{assert_same, c_program, run_sandboxed};

#[test]
fn sysv_shm_semaphores_and_message_queues_behave_as_on_linux() {
    let prog = c_program("sysv", &[]);
    let out = assert_same(&[prog.to_str().expect("utf-8 path")]);

    let s = out.stdout_str();
    assert!(s.contains("child: second attach differs 1, aliases 1, nattch 3\n"), "{s}");
    assert!(s.contains("shm: removed but attached: dest 1 nattch 1 data 'parent'\n"), "{s}");
    assert!(s.contains("parent: ncnt 1, posting\nchild: got sem 0\n"), "{s}");
    assert!(s.contains("sem: after undo 5 6\n"), "{s}");
    assert!(s.contains("child: received 10 'for-child'\n"), "{s}");
    assert!(s.ends_with("done\n"), "{s}");
}

#[test]
fn ipcs_lists_the_sandboxs_own_objects() {
    if !std::path::Path::new("/usr/bin/ipcs").exists() {
        eprintln!("skipped: no ipcs");
        return;
    }
    let prog = c_program("sysv", &[]);
    // Sandboxed only: the objects are left behind for ipcs to list.
    let out = run_sandboxed(&[prog.to_str().expect("utf-8 path"), "ipcs"], &[]);

    let s = out.stdout_str();
    assert!(out.status.success(), "{s} {}", out.stderr_str());
    assert!(s.contains("Shared Memory Segments") && s.contains(" 12345 "), "{s}");
    assert!(s.contains("Semaphore Arrays") && s.contains("Message Queues"), "{s}");
}
