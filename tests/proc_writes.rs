//! `/proc/self/fd/N` re-opens what N refers to
//! (pipes, sockets, anonymous files, memfds, regular files), and writable
//! /proc files keep what is written, with Linux's errno for the rest.
//! Each test runs the same program natively (as root) and under
//! `bulwark do` and compares stdout and exit status.

mod common;

use common::{assert_same, native_command, run, run_sandboxed, sandboxed_command, Output};

fn sh(script: &str) -> String {
    assert_same(&["sh", "-c", script]).stdout_str()
}

fn bash(script: &str) -> String {
    assert_same(&["bash", "-c", script]).stdout_str()
}

fn python(code: &str) -> String {
    assert_same(&["python3", "-c", code]).stdout_str()
}

/// Python that prints `errno` names: `attempt(what, f, *args)` prints
/// `what: <result>` or `what: <ERRNO>`.
const PY_PRELUDE: &str = r#"
import errno, os, socket, stat
def attempt(what, f, *args):
    try:
        print(what + ":", f(*args))
    except OSError as e:
        print(what + ":", errno.errorcode[e.errno])
def write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        return os.write(fd, data)
    finally:
        os.close(fd)
def reopen(fd, flags):
    return os.open("/proc/self/fd/%d" % fd, flags)
"#;

fn py(body: &str) -> String {
    python(&format!("{PY_PRELUDE}\n{body}"))
}

/// Run `native` natively and `sandboxed` under `bulwark do` (for programs
/// that must be fenced natively, e.g. in a UTS namespace of their own);
/// assert the same stdout and status. Returns both runs.
fn runs_alike(native: &[&str], sandboxed: &[&str]) -> (Output, Output) {
    let n = run(native_command(native));
    let s = run(sandboxed_command(sandboxed, &[]));
    assert_eq!(s.stdout_str(), n.stdout_str(), "stdout differs (sandbox stderr: {})", s.stderr_str());
    assert_eq!(s.status.code(), n.status.code(), "status differs (sandbox stderr: {})", s.stderr_str());
    (n, s)
}

// ---- /proc/self/fd/N and /dev/fd/N ----

#[test]
fn diff_of_two_process_substitutions_finds_them_the_same() {
    let out = bash("diff <(seq 3) <(seq 3) && echo same");

    assert_eq!(out, "same\n");
}

#[test]
fn cat_reads_a_process_substitution() {
    let out = bash("cat <(echo hi); wc -l < <(seq 5)");

    assert_eq!(out, "hi\n5\n");
}

#[test]
fn dev_stdout_on_a_pipe_reopens_the_pipe_for_writing() {
    // The harness gives both runs a pipe as stdout.
    let out = sh("echo hi > /dev/stdout; echo there >> /proc/self/fd/1");

    assert_eq!(out, "hi\nthere\n");
}

#[test]
fn reopening_a_pipe_read_end_gives_a_reader_of_the_same_pipe() {
    let out = py(r#"
r, w = os.pipe()
n = reopen(r, os.O_RDONLY)
os.write(w, b"through the pipe")
print(os.read(n, 100))
print(stat.S_ISFIFO(os.fstat(n).st_mode), stat.S_ISFIFO(os.stat("/proc/self/fd/%d" % r).st_mode))
print(os.readlink("/proc/self/fd/%d" % n) == os.readlink("/proc/self/fd/%d" % r))
print(os.fstat(n).st_ino == os.fstat(r).st_ino)
"#);

    assert_eq!(out, "b'through the pipe'\nTrue True\nTrue\nTrue\n");
}

#[test]
fn reopening_a_pipe_write_end_read_only_opens_its_read_side() {
    let out = py(r#"
r, w = os.pipe()
n = reopen(w, os.O_RDONLY)
os.write(w, b"abc")
print(os.read(n, 10))
m = reopen(r, os.O_WRONLY)
os.close(w)
os.write(m, b"via reopened writer")
os.close(m)
print(os.read(r, 100), os.read(n, 100))
"#);

    assert_eq!(out, "b'abc'\nb'via reopened writer' b''\n");
}

#[test]
fn reopening_a_regular_file_gives_an_independent_offset_and_new_flags() {
    let out = py(r#"
fd = os.open("/etc/passwd", os.O_RDONLY)
first = os.read(fd, 4)
n = reopen(fd, os.O_RDONLY | os.O_NONBLOCK)
print(os.read(n, 4) == first, os.lseek(fd, 0, os.SEEK_CUR), os.lseek(n, 0, os.SEEK_CUR))
print(os.get_blocking(fd), os.get_blocking(n))
print(os.readlink("/proc/self/fd/%d" % n))
attempt("directory for writing", reopen, os.open("/etc", os.O_RDONLY), os.O_WRONLY)
"#);

    assert_eq!(out, "True 4 4\nTrue False\n/etc/passwd\ndirectory for writing: EISDIR\n");
}

#[test]
fn reopening_a_socket_or_anonymous_inode_file_returns_enxio() {
    let out = py(r#"
a, b = socket.socketpair()
attempt("socketpair", reopen, a.fileno(), os.O_RDWR)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
attempt("socket", reopen, s.fileno(), os.O_RDONLY)
print(stat.S_ISSOCK(os.stat("/proc/self/fd/%d" % a.fileno()).st_mode))
attempt("eventfd", reopen, os.eventfd(0), os.O_RDONLY)
import select
ep = select.epoll()
attempt("epoll", reopen, ep.fileno(), os.O_RDONLY)
print(oct(os.stat("/proc/self/fd/%d" % os.eventfd(1)).st_mode))
"#);

    assert_eq!(out, "socketpair: ENXIO\nsocket: ENXIO\nTrue\neventfd: ENXIO\nepoll: ENXIO\n0o600\n");
}

#[test]
fn reopening_a_memfd_opens_the_same_memfd() {
    let out = py(r#"
m = os.memfd_create("reopen")
os.write(m, b"memfd data")
n = reopen(m, os.O_RDONLY)
print(os.read(n, 100), os.readlink("/proc/self/fd/%d" % n))
t = reopen(m, os.O_RDWR | os.O_TRUNC)
print(os.fstat(m).st_size)
"#);

    assert_eq!(out, "b'memfd data' /memfd:reopen (deleted)\n0\n");
}

#[test]
fn o_path_readlink_and_stat_of_fd_links_keep_working() {
    let out = py(r#"
r, w = os.pipe()
p = os.open("/proc/self/fd/%d" % r, os.O_PATH)
print(stat.S_ISFIFO(os.fstat(p).st_mode), os.readlink("/proc/self/fd/%d" % p).startswith("pipe:["))
print(stat.S_ISLNK(os.lstat("/dev/fd/%d" % r).st_mode), os.path.exists("/dev/fd/%d" % r))
"#);

    assert_eq!(out, "True True\nTrue True\n");
}

// ---- writes to /proc files ----

#[test]
fn oom_score_adj_write_is_read_back_by_the_process_and_its_children() {
    let out = sh("echo 500 > /proc/self/oom_score_adj; read v < /proc/self/oom_score_adj; echo $v; \
         cat /proc/self/oom_score_adj /proc/self/oom_adj");

    assert_eq!(out, "500\n500\n8\n");
}

#[test]
fn oom_adj_write_sets_oom_score_adj_scaled() {
    let out = sh("echo 15 > /proc/self/oom_adj; cat /proc/self/oom_score_adj /proc/self/oom_adj; \
         echo 3 > /proc/self/oom_score_adj; cat /proc/self/oom_adj");

    assert_eq!(out, "1000\n15\n0\n");
}

#[test]
fn oom_score_adj_out_of_range_fails_with_einval_and_keeps_the_value() {
    let argv = ["sh", "-c", "echo 1001 > /proc/self/oom_score_adj; echo status $?; cat /proc/self/oom_score_adj"];

    let (native, sandboxed) = runs_alike(&argv, &argv);

    assert_eq!(sandboxed.stdout_str(), "status 1\n0\n");
    assert_eq!(sandboxed.stderr_str(), native.stderr_str(), "the shell's error differs");
}

#[test]
fn oom_files_parse_numbers_as_linux_and_reject_bad_ones() {
    let out = py(r#"
for data in [b"1001", b"-1001", b"abc", b" \n", b"5 6", b"99999999999999999999", b" 0x10 \n", b"010", b"+7"]:
    attempt("oom_score_adj %r" % data, write, "/proc/self/oom_score_adj", data)
print(open("/proc/self/oom_score_adj").read().strip())
for data in [b"16", b"-18", b"15"]:
    attempt("oom_adj %r" % data, write, "/proc/self/oom_adj", data)
print(open("/proc/self/oom_score_adj").read().strip())
"#);

    assert_eq!(
        out,
        "oom_score_adj b'1001': EINVAL\noom_score_adj b'-1001': EINVAL\noom_score_adj b'abc': EINVAL\n\
         oom_score_adj b' \\n': EINVAL\noom_score_adj b'5 6': EINVAL\noom_score_adj b'99999999999999999999': ERANGE\n\
         oom_score_adj b' 0x10 \\n': 7\noom_score_adj b'010': 3\noom_score_adj b'+7': 2\n7\n\
         oom_adj b'16': EINVAL\noom_adj b'-18': EINVAL\noom_adj b'15': 2\n1000\n"
    );
}

#[test]
fn unprivileged_oom_score_adj_may_not_go_below_its_floor() {
    let out = py(r#"
import ctypes
libc = ctypes.CDLL(None)
os.setgid(65534); os.setuid(65534)
libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self stays the process's own
for v in [b"500", b"100", b"-1", b"0"]:
    attempt(repr(v), write, "/proc/self/oom_score_adj", v)
print(open("/proc/self/oom_score_adj").read().strip())
"#);

    assert_eq!(out, "b'500': 3\nb'100': 3\nb'-1': EACCES\nb'0': 1\n0\n");
}

#[test]
fn oom_score_rises_with_oom_score_adj() {
    let out = sh("echo 0 > /proc/self/oom_score_adj; s=$(cat /proc/self/oom_score); \
         [ $s -ge 600 ] && [ $s -le 700 ] && echo middling; \
         echo 1000 > /proc/self/oom_score_adj; s=$(cat /proc/self/oom_score); [ $s -gt 1300 ] && echo high");

    assert_eq!(out, "middling\nhigh\n");
}

#[test]
fn comm_write_renames_the_process_as_stat_and_status_show() {
    let out = py(r#"
with open("/proc/self/comm", "w") as f: f.write("renamed")
print(open("/proc/self/comm").read().strip(), open("/proc/self/stat").read().split()[1])
print([l for l in open("/proc/self/status") if l.startswith("Name:")][0].strip())
attempt("long", write, "/proc/self/comm", b"a-very-long-thread-name-here")
print(open("/proc/self/comm").read().strip())
"#);

    assert_eq!(out, "renamed (renamed)\nName:\trenamed\nlong: 28\na-very-long-thr\n");
}

#[test]
fn comm_written_by_the_shell_keeps_the_newline_as_linux_does() {
    let out = sh("echo foo > /proc/self/comm; read a b c < /proc/self/stat; echo \"$b\"");

    assert_eq!(out, "(foo\n");
}

#[test]
fn comm_of_a_thread_is_its_own_and_another_process_cannot_be_renamed() {
    let out = py(r#"
import threading
ev, done = threading.Event(), threading.Event()
tid = []
def run():
    tid.append(threading.get_native_id()); ev.set(); done.wait()
t = threading.Thread(target=run); t.start(); ev.wait()
write("/proc/self/task/%d/comm" % tid[0], b"worker")
print(open("/proc/self/task/%d/comm" % tid[0]).read().strip(), open("/proc/self/comm").read().strip())
done.set(); t.join()
parent = os.getpid()
os.sys.stdout.flush()
pid = os.fork()
if pid == 0:
    attempt("parent's comm", write, "/proc/%d/comm" % parent, b"x")
    os.sys.stdout.flush()
    os._exit(0)
os.waitpid(pid, 0)
print(open("/proc/self/comm").read().strip())
"#);

    assert_eq!(out, "worker python3\nparent's comm: EINVAL\npython3\n");
}

#[test]
fn hostname_and_domainname_written_through_proc_sys_are_the_sandboxs_uname() {
    let script = "echo sandbox-test > /proc/sys/kernel/hostname; uname -n; hostname; \
                  cat /proc/sys/kernel/hostname; echo example.org > /proc/sys/kernel/domainname; \
                  cat /proc/sys/kernel/domainname; python3 -c 'import os; print(os.uname().nodename)'";

    // Natively in a UTS namespace of its own, so the host keeps its name.
    let (_, out) = runs_alike(&["unshare", "--uts", "sh", "-c", script], &["sh", "-c", script]);

    assert_eq!(out.stdout_str(), "sandbox-test\nsandbox-test\nsandbox-test\nexample.org\nsandbox-test\n");
}

#[test]
fn read_only_sysctls_refuse_opening_for_write_with_eacces() {
    let out = py(r#"
for f in ["osrelease", "ostype", "version", "cap_last_cap", "ngroups_max"]:
    attempt(f, os.open, "/proc/sys/kernel/" + f, os.O_WRONLY)
"#);

    assert_eq!(out, "osrelease: EACCES\nostype: EACCES\nversion: EACCES\ncap_last_cap: EACCES\nngroups_max: EACCES\n");
}

#[test]
fn host_wide_sysctls_are_not_the_sandboxs_to_write() {
    // Natively, root would change the host: no native run. In the sandbox
    // these belong to the host, as in a user-namespace container.
    let code = format!(
        "{PY_PRELUDE}\nfor f in ['kernel/pid_max', 'kernel/shmmax', 'kernel/threads-max', 'vm/swappiness', \
         'vm/overcommit_memory', 'vm/max_map_count', 'fs/file-max', 'fs/nr_open']:\n    \
         attempt(f, write, '/proc/sys/' + f, b'1')\nprint(open('/proc/sys/vm/swappiness').read().strip())"
    );

    let out = run_sandboxed(&["python3", "-c", &code], &[]);

    assert_eq!(
        out.stdout_str(),
        "kernel/pid_max: EACCES\nkernel/shmmax: EACCES\nkernel/threads-max: EACCES\nvm/swappiness: EACCES\n\
         vm/overcommit_memory: EACCES\nvm/max_map_count: EACCES\nfs/file-max: EACCES\nfs/nr_open: EACCES\n60\n",
        "stderr: {}",
        out.stderr_str()
    );
}

#[test]
fn writes_to_read_only_proc_files_fail_with_linuxs_errno() {
    let out = py(r#"
for f in ["cpuinfo", "meminfo", "loadavg", "uptime", "version", "stat", "self/stat", "self/status",
          "self/cmdline", "self/maps", "self/limits", "self/environ", "self/io", "self/oom_score",
          "self/fdinfo/0"]:
    attempt(f, write, "/proc/" + f, b"1\n")
"#);

    assert_eq!(
        out,
        "cpuinfo: EIO\nmeminfo: EIO\nloadavg: EIO\nuptime: EIO\nversion: EIO\nstat: EIO\nself/stat: EINVAL\n\
         self/status: EINVAL\nself/cmdline: EINVAL\nself/maps: EINVAL\nself/limits: EINVAL\nself/environ: EINVAL\n\
         self/io: EINVAL\nself/oom_score: EINVAL\nself/fdinfo/0: EINVAL\n"
    );
}

#[test]
fn fstat_of_anonymous_inode_files_shows_the_anon_inode() {
    let out = python(
        "import os, select, stat\n\
         for name, fd in [('eventfd', os.eventfd(0)), ('epoll', select.epoll().fileno())]:\n\
         \x20   st = os.fstat(fd)\n\
         \x20   print(name, stat.S_IFMT(st.st_mode), oct(stat.S_IMODE(st.st_mode)), st.st_size, st.st_nlink)\n\
         \x20   st = os.stat(fd)\n\
         \x20   print(name, 'by fd', oct(st.st_mode))",
    );

    assert!(out.starts_with("eventfd 0 0o600 0 1\n"), "{out}");
}
