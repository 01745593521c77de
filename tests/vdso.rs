//! The vDSO: the time calls run in the application, without a trap, and
//! agree with each other and with the system calls.

mod common;

use common::{assert_same, c_program, run_sandboxed};

const FACTS: &str = "vdso present: yes
maps shows [vdso] and [vvar]: yes
vdso is where AT_SYSINFO_EHDR says: yes
vdso starts with an ELF header: yes
vvar cannot be made writable: yes
monotonic non-decreasing over 100k calls: yes
monotonic non-decreasing across vdso and syscall: yes
realtime ordered across vdso and syscall: yes
boottime ordered and not behind monotonic: yes
coarse clocks close behind the fine ones: yes
gettimeofday between realtime readings: yes
time between realtime readings: yes
gettimeofday with a timezone succeeds: yes
monotonic resolution is 1ns: yes
realtime resolution is 1ns: yes
coarse resolution is at least 1ms: yes
getres with a null result succeeds: yes
process cputime readable: yes
bad clock id is EINVAL: yes
bad clock id getres is EINVAL: yes
getcpu succeeds: yes
sched_getcpu succeeds: yes
monotonic covers a 20ms sleep: yes
realtime covers a 20ms sleep: yes
monotonic never goes back across threads: yes
forked child keeps the vdso and monotonic time: yes
exec'd child has a vdso: yes
exec'd child monotonic after parent's: yes
exec'd child exited cleanly: yes
";

#[test]
fn time_calls_through_the_vdso_agree_with_each_other_and_the_system_calls() {
    let prog = c_program("vdso", &["-pthread"]);

    let out = assert_same(&[prog.to_str().expect("utf-8 path")]);

    assert_eq!(out.stdout_str(), FACTS);
}

#[test]
fn static_programs_find_the_vdso_too() {
    let prog = c_program("vdso", &["-pthread", "-static"]);

    let out = assert_same(&[prog.to_str().expect("utf-8 path")]);

    assert_eq!(out.stdout_str(), FACTS);
}

/// The strace lines after the program's first sleep (by then the TSC path
/// is on: it is calibrated a few milliseconds after boot).
fn calls_after_sleep(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .skip_while(|l| !l.contains("nanosleep("))
        .skip(1)
        .map(|l| l.split_once("] ").map_or(l, |(_, call)| call).to_string())
        .collect()
}

#[test]
fn time_calls_through_the_vdso_do_not_trap_and_do_not_show_in_strace() {
    for flags in [&["-pthread"][..], &["-pthread", "-static"]] {
        let prog = c_program("vdso", flags);

        let out = run_sandboxed(&[prog.to_str().expect("utf-8 path"), "strace"], &["--strace"]);

        let calls = calls_after_sleep(&out.stderr_str());
        assert_eq!(out.stdout_str(), "done\n");
        assert!(calls.iter().any(|c| c.starts_with("write(1, \"done")), "{flags:?}: {calls:?}");
        assert!(!calls.iter().any(|c| c.contains("time")), "{flags:?}: time calls trapped: {calls:?}");
    }
}
