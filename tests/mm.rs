//! Memory semantics across calls and processes: mmap coherence.

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

#[test]
fn fork_copies_private_memory_on_either_side_and_keeps_shared_memory_shared() {
    let prog = c_program("cow", &["-pthread"]);
    let out = assert_same(&[prog.to_str().expect("utf-8 path")]);

    assert_eq!(
        out.stdout_str(),
        "child writes: child 0, parent unchanged 1, stack unchanged 1\n\
         parent writes: child sees old 0, parent sees new 1\n\
         child reads: child 0, parent writes after 1, unchanged 1\n\
         copy-out: child 0, parent unchanged 1\n\
         mprotect: child 0, parent unchanged 1\n\
         nested: child 0 ok 1, grandchild ok 1, parent unchanged 1\n\
         threads: bad children 0, parent final 1\n\
         done\n"
    );
}

#[test]
fn renamed_directories_and_files_keep_their_new_paths_for_cwd_and_open_fds() {
    // /dev/shm is a tmpfs both natively and in the sandbox; the pid keeps
    // concurrent native runs apart.
    let script = r#"import os, shutil
base = '/dev/shm/rename-paths-%d' % os.getpid()
os.makedirs(base + '/d/sub'); os.chdir(base + '/d/sub')
f = open(base + '/d/sub/x', 'w')
os.rename(base + '/d', base + '/e')
print(os.getcwd().replace(base, 'B'), os.readlink('/proc/self/fd/%d' % f.fileno()).replace(base, 'B'))
os.rename(base + '/e/sub/x', base + '/e/y')
print(os.readlink('/proc/self/fd/%d' % f.fileno()).replace(base, 'B'), sorted(os.listdir(base + '/e')))
os.chdir('/'); shutil.rmtree(base)
"#;
    let out = assert_same(&["/usr/bin/python3", "-c", script]);

    assert_eq!(out.stdout_str(), "B/e/sub B/e/sub/x\nB/e/y ['sub', 'y']\n");
}

#[test]
fn comm_is_the_name_execve_was_given_and_threads_keep_their_own_names() {
    let script = r#"import threading, os, ctypes
libc = ctypes.CDLL(None)
libc.pthread_self.restype = ctypes.c_ulong
libc.pthread_setname_np.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
ready, done = threading.Event(), threading.Event()
def w():
    libc.pthread_setname_np(libc.pthread_self(), b'worker-x'); ready.set(); done.wait()
t = threading.Thread(target=w); t.start(); ready.wait()
print(sorted(open('/proc/self/task/%s/comm' % d).read().strip() for d in os.listdir('/proc/self/task')))
done.set(); t.join()
"#;
    let out = assert_same(&["/usr/bin/python3", "-c", script]);

    assert_eq!(out.stdout_str(), "['python3', 'worker-x']\n");
}
