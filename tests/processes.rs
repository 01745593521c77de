//! Shells that fork, pipe and wait; `ps` sees only the sandbox; a sleeping
//! sandbox is idle.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::time::{Duration, Instant};

use common::{assert_same, finish, run_native, run_sandboxed, sandboxed_command, spawn_piped};

const SORTED_TAIL: &str = r#"for i in $(seq 1 20); do echo $i; done | sort -n | tail -3 | tr "\n" " ""#;

#[test]
fn bash_pipeline_of_a_loop_through_sort_tail_and_tr() {
    let out = assert_same(&["/bin/bash", "-c", SORTED_TAIL]);

    assert_eq!(out.stdout_str(), "18 19 20 ");
}

#[test]
fn busybox_sh_pipeline_of_a_loop_through_sort_tail_and_tr() {
    let out = assert_same(&["/bin/busybox", "sh", "-c", SORTED_TAIL]);

    assert_eq!(out.stdout_str(), "18 19 20 ");
}

#[test]
fn pipeline_of_five_processes() {
    let out = assert_same(&["/bin/bash", "-c", r#"seq 1 1000 | grep 7 | sort -rn | head -4 | tr "\n" ,"#]);

    assert_eq!(out.stdout_str(), "997,987,979,978,");
}

#[test]
fn background_job_finishes_after_the_foreground_and_wait_collects_it() {
    let out = assert_same(&["/bin/bash", "-c", "(sleep 0.2; echo late) & echo early; wait"]);

    assert_eq!(out.stdout_str(), "early\nlate\n");
}

#[test]
fn command_substitution_and_exit_statuses_of_children() {
    let script = "x=$(echo inner; exit 3); echo \"$x $?\"; (exit 5); echo $?; false | true; echo ${PIPESTATUS[*]}";

    let out = assert_same(&["/bin/bash", "-c", script]);

    assert_eq!(out.stdout_str(), "inner 3\n5\n1 0\n");
}

#[test]
fn bash_c_with_stdin_not_a_socket_reads_no_startup_files() {
    // bash reads ~/.bashrc when getpeername(0) says it was started by a
    // remote shell daemon; for /dev/null it must fail with ENOTSOCK.
    let argv = ["/bin/bash", "-c", "echo ok"];

    let native = run_native(&argv);
    let sandboxed = assert_same(&argv);

    assert_eq!(sandboxed.stderr_str(), native.stderr_str());
}

#[test]
fn ps_lists_only_the_sandboxs_processes_with_init_as_pid_1_and_the_program_as_pid_2() {
    let out = run_sandboxed(&["/bin/bash", "-c", "sleep 1 & ps -e -o pid=,comm=; wait"], &[]);

    let rows: Vec<(String, String)> = out
        .stdout_str()
        .lines()
        .filter_map(|l| {
            let (pid, comm) = l.trim().split_once(' ')?;
            Some((pid.to_owned(), comm.trim().to_owned()))
        })
        .collect();
    let comms: BTreeSet<&str> = rows.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout_str(), out.stderr_str());
    let first: Vec<(&str, &str)> = rows.iter().take(2).map(|(p, c)| (p.as_str(), c.as_str())).collect();
    assert_eq!(first, [("1", "bulwark-init"), ("2", "bash")], "{rows:?}");
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(comms, BTreeSet::from(["bulwark-init", "bash", "ps", "sleep"]), "{rows:?}");
}

/// Every process of the host's process tree under `root`, `root` included.
fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in fs::read_dir("/proc").into_iter().flatten().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()) {
        if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        out.push(pid);
        todo.extend(children.remove(&pid).unwrap_or_default());
    }
    out
}

/// The fields of `/proc/<pid>/stat` after the command: state, ppid, ...
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.split_whitespace().map(str::to_owned).collect())
}

/// utime + stime of each process, in clock ticks (fields 14 and 15 of stat,
/// 12 and 13 after the command).
fn cpu_ticks(pids: &[u32]) -> HashMap<u32, u64> {
    pids.iter()
        .filter_map(|&pid| {
            let f = stat_fields(pid)?;
            Some((pid, f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
        })
        .collect()
}

#[test]
fn sandbox_running_sleep_uses_under_five_percent_of_a_cpu() {
    // Let the sandbox start and `sleep` load, then compare the CPU time of
    // every process of the sandbox's tree (bulwark, gofer, boot, sentry,
    // stubs) over two seconds of wall time.
    let mut cmd = sandboxed_command(&["/bin/sleep", "5"], &[]);
    cmd.stdin(std::process::Stdio::null());
    let child = spawn_piped(&mut cmd);
    std::thread::sleep(Duration::from_millis(1500));
    let pids = tree(child.id());
    let before = cpu_ticks(&pids);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let after = cpu_ticks(&pids);
    let elapsed = start.elapsed().as_secs_f64();
    let out = finish(child, "bulwark do -- sleep 5");

    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let used: u64 = after.iter().map(|(pid, t)| t - before.get(pid).copied().unwrap_or(*t)).sum();
    let share = used as f64 / ticks_per_second / elapsed;
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr_str());
    assert!(share < 0.05, "the sleeping sandbox used {:.1}% of a CPU ({} processes)", share * 100.0, pids.len());
}
