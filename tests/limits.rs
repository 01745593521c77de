//! The sandbox's resource limits: a task limit
//! (`--pids-limit`) over which fork and clone fail with EAGAIN, so a fork
//! bomb ends inside, and a memory limit (`--memory`) past which the
//! sandbox's own OOM killer kills a process inside.
//!
//! Nothing here depends on the program being pid 1: counts are taken
//! relative to what the sandbox holds when the program starts.

mod common;

use std::process::Command;

use common::{bulwark, c_program, fresh_dir, run, sandboxed_command};

/// Touches `MB` megabytes, one byte a page, then prints how many.
const TOUCH: &str = "import sys
n = int(sys.argv[1]) << 20
b = bytearray(n)
for i in range(0, n, 4096):
    b[i] = 1
print('touched', n >> 20, 'MB')";

/// Run `argv` under `bulwark do` with `opts`, stdin from /dev/null.
fn sandboxed(argv: &[&str], opts: &[&str]) -> common::Output {
    run(sandboxed_command(argv, opts))
}

/// Run `argv` under `bulwark do` with `opts` and a debug log; return the
/// run and the log's lines that are not boot chatter.
fn sandboxed_with_log(name: &str, argv: &[&str], opts: &[&str]) -> (common::Output, Vec<String>) {
    let log = fresh_dir(name).join("debug.log");
    let log_arg = log.to_str().unwrap_or_default().to_owned();
    let mut all: Vec<&str> = opts.to_vec();
    all.extend(["--debug-log", &log_arg]);
    let out = sandboxed(argv, &all);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines = text.lines().filter(|l| !l.contains(" bulwark::boot:")).map(str::to_owned).collect();
    (out, lines)
}

#[test]
fn fork_and_threads_past_the_task_limit_fail_with_eagain_and_zombies_count() {
    let prog = c_program("task_limit", &["-pthread"]);
    let prog = prog.to_str().unwrap_or_default();

    let out = sandboxed(&[prog], &["--pids-limit", "24"]);

    assert_eq!(
        out.stdout_str(),
        "pids.max 24\n\
         fork: EAGAIN with 24 tasks\n\
         fork again: EAGAIN with 24 tasks\n\
         pthread_create: EAGAIN with 24 tasks\n\
         zombies: fork EAGAIN with 24 tasks\n\
         after reaping: fork succeeds\n",
        "stderr: {}",
        out.stderr_str()
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn python_forking_until_failure_gets_eagain_and_the_count_fits_the_limit() {
    let script = "import errno, os
base = sum(max(1, len(os.listdir('/proc/%s/task' % p))) for p in os.listdir('/proc') if p.isdigit())
r, w = os.pipe()
kids = []
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print(errno.errorcode[e.errno], base + len(kids))
        break
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    kids.append(pid)
os.close(w)
for k in kids:
    os.waitpid(k, 0)";

    let out = sandboxed(&["python3", "-c", script], &["--pids-limit", "16"]);

    assert_eq!(out.stdout_str(), "EAGAIN 16\n", "stderr: {}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn exponential_fork_bomb_ends_by_itself_inside_the_task_limit() {
    // Every process forks until fork fails, then reaps its children and
    // exits: without a limit this never ends.
    let script = "import errno, os
root = os.getpid()
kids = []
while True:
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode[e.errno]
        break
    if pid == 0:
        kids = []
    else:
        kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
if os.getpid() == root:
    print('bomb over:', err)";

    let out = sandboxed(&["python3", "-c", script], &["--pids-limit", "40"]);

    assert_eq!(out.stdout_str(), "bomb over: EAGAIN\n", "stderr: {}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bash_fork_bomb_stays_inside_the_task_limit_and_bulwark_returns() {
    // The classic bomb runs on in the background; the program waits until
    // the bomb has filled the task limit (its own fork fails), then exits,
    // which ends the sandbox and the bomb with it.
    let script = "import errno, os, subprocess, time
subprocess.run(['bash', '-c', ':(){ :|:& };:'])
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print('fork:', errno.errorcode[e.errno])
        break
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.05)";

    let out = sandboxed(&["python3", "-c", script], &["--pids-limit", "32"]);

    assert_eq!(out.stdout_str(), "fork: EAGAIN\n", "stderr: {}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn program_touching_more_than_the_memory_limit_is_killed_inside() {
    let (out, log) = sandboxed_with_log("oom-kill", &["python3", "-c", TOUCH, "200"], &["--memory", "64m"]);

    assert_eq!(out.stdout_str(), "", "stderr: {}", out.stderr_str());
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(libc::SIGKILL));
    assert_eq!(log.iter().filter(|l| l.contains("out of memory: killed pid ")).count(), 1, "{log:?}");
    assert!(log.iter().any(|l| l.ends_with(" (python3)")), "{log:?}");
}

#[test]
fn program_within_the_memory_limit_runs() {
    let out = sandboxed(&["python3", "-c", TOUCH, "20"], &["--memory", "64m"]);

    assert_eq!(out.stdout_str(), "touched 20 MB\n", "stderr: {}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn oom_killer_takes_the_largest_process_and_its_shell_goes_on() {
    let script = format!("python3 -c \"{TOUCH}\" 200; echo status $?; python3 -c \"{TOUCH}\" 20");

    let (out, log) = sandboxed_with_log("oom-shell", &["/bin/sh", "-c", &script], &["--memory", "64m"]);

    assert_eq!(out.stdout_str(), "status 137\ntouched 20 MB\n", "stderr: {}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(log.iter().filter(|l| l.contains("out of memory: killed pid ")).count(), 1, "{log:?}");
}

#[test]
fn oom_killer_kills_the_process_holding_the_most_not_the_one_faulting() {
    // A holds 35 MB and waits; B then needs 30 MB more than fits: A,
    // the largest, is killed and B goes on.
    let script = "import subprocess, sys
touch = sys.argv[1]
hold = touch + '\\nsys.stdout.flush()\\nsys.stdin.read()'
a = subprocess.Popen([sys.executable, '-c', hold, '35'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print('A:', a.stdout.readline().decode().strip())
b = subprocess.run([sys.executable, '-c', touch, '30'], stdout=subprocess.PIPE)
print('B:', b.stdout.decode().strip())
print('A status', a.wait())";

    let (out, log) = sandboxed_with_log("oom-largest", &["python3", "-c", script, TOUCH], &["--memory", "64m"]);

    assert_eq!(out.stdout_str(), "A: touched 35 MB\nB: touched 30 MB\nA status -9\n", "stderr: {}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(log.iter().filter(|l| l.contains("out of memory: killed pid ")).count(), 1, "{log:?}");
}

#[test]
fn copy_on_write_pages_count_once_against_the_memory_limit() {
    // 40 MB touched, then shared with 3 forked children that only read
    // it: 160 MB if each counted, 40 MB as it is.
    let script = "import os
n = 40 << 20
b = bytearray(n)
for i in range(0, n, 4096):
    b[i] = 1
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if sum(b[i] for i in range(0, n, 1 << 20)) == 40 else 1)
    kids.append(pid)
print([os.waitpid(k, 0)[1] for k in kids])";

    let out = sandboxed(&["python3", "-c", script], &["--memory", "96m"]);

    assert_eq!(out.stdout_str(), "[0, 0, 0]\n", "stderr: {}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn limits_show_in_the_cgroup_root_and_meminfo() {
    let script = "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max; head -1 /proc/meminfo";

    let limited = sandboxed(&["/bin/sh", "-c", script], &["--pids-limit", "100", "--memory", "64m"]);
    let unlimited =
        sandboxed(&["/bin/sh", "-c", "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max"], &["--pids-limit", "-1"]);
    let default = sandboxed(&["/bin/cat", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/cgroup.controllers"], &[]);

    assert_eq!(limited.stdout_str(), "100\n67108864\nMemTotal:          65536 kB\n", "{}", limited.stderr_str());
    assert_eq!(unlimited.stdout_str(), "max\nmax\n", "{}", unlimited.stderr_str());
    assert_eq!(default.stdout_str(), "2048\nmemory pids\n", "{}", default.stderr_str());
}

#[test]
fn do_help_documents_the_limits_and_their_defaults() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.args(["do", "--help"]);
        c
    });
    let help = out.stdout_str();

    assert_eq!(out.status.code(), Some(0));
    for text in ["--pids-limit <N>", "[default: 2048]", "0 or -1: no limit", "--memory <BYTES>", "512m"] {
        assert!(help.contains(text), "{text} missing from:\n{help}");
    }
}

#[test]
fn bad_limits_are_rejected_with_status_125() {
    let pids = sandboxed(&["/bin/true"], &["--pids-limit", "-2"]);
    let memory = sandboxed(&["/bin/true"], &["--memory", "lots"]);

    assert_eq!((pids.status.code(), memory.status.code()), (Some(125), Some(125)));
}
