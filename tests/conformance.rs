//! C conformance programs for processes, threads, signals and timers:
//! each program in `tests/c/` prints only
//! deterministic facts, and must print the same natively and under
//! `bulwark do`, with the exit status it has natively.

mod common;

use common::{assert_same, c_program, run_native, run_sandboxed, Output};

/// Build `tests/c/<name>.c` (with `-pthread`), run it natively and
/// sandboxed, require identical stdout and status, and that status to be
/// `status` (so a program failing the same way in both runs fails too).
fn assert_conforms(name: &str, status: i32) -> Output {
    let prog = c_program(name, &["-pthread"]);
    let prog = prog.to_str().expect("utf-8 path");

    let out = assert_same(&[prog]);

    assert_eq!(out.status.code(), Some(status), "{name}: {}{}", out.stdout_str(), out.stderr_str());
    out
}

#[test]
fn futex_wait_wake_requeue_and_timeouts_behave_as_on_linux() {
    assert_conforms("futex", 0);
}

#[test]
fn robust_mutex_held_by_a_dead_thread_or_process_gives_eownerdead() {
    assert_conforms("robust_futex", 0);
}

#[test]
fn pipe_read_is_restarted_with_sa_restart_and_fails_with_eintr_without() {
    assert_conforms("sa_restart", 0);
}

#[test]
fn sa_onstack_handler_runs_on_the_alternate_signal_stack() {
    assert_conforms("sigaltstack", 0);
}

#[test]
fn sigsegv_handler_can_mprotect_the_page_and_resume_the_store() {
    assert_conforms("segv_mprotect", 0);
}

#[test]
fn integer_division_by_zero_raises_sigfpe_with_fpe_intdiv() {
    assert_conforms("sigfpe", 0);
}

#[test]
fn sse_and_x87_state_survive_a_handler_that_clobbers_it() {
    assert_conforms("fpu_preserve", 0);
}

#[test]
fn waitid_reports_running_exited_stopped_continued_and_killed_children() {
    assert_conforms("waitid", 0);
}

#[test]
fn execve_keeps_plain_fds_and_closes_cloexec_ones() {
    assert_conforms("exec_cloexec", 0);
}

#[test]
fn vfork_suspends_the_parent_and_shares_memory_until_exit_or_exec() {
    assert_conforms("vfork", 0);
}

#[test]
fn process_outlives_its_leader_thread_and_exits_with_the_last_threads_status() {
    assert_conforms("leader_exit", 3);
}

#[test]
fn exited_child_is_a_zombie_until_reaped_and_orphans_go_to_the_subreaper() {
    assert_conforms("zombie", 0);
}

#[test]
fn setsid_setpgid_and_kill_of_a_process_group() {
    assert_conforms("pgroups", 0);
}

#[test]
fn clone3_forks_and_fills_pidfd_and_parent_tid() {
    assert_conforms("clone3", 0);
}

#[test]
fn pidfd_becomes_readable_when_the_process_exits() {
    assert_conforms("pidfd", 0);
}

#[test]
fn sigqueue_values_reach_a_siginfo_handler_and_realtime_signals_queue() {
    assert_conforms("sigqueue", 0);
}

#[test]
fn sigtimedwait_times_out_and_takes_queued_signals() {
    assert_conforms("sigtimedwait", 0);
}

#[test]
fn signalfd_reads_blocked_signals_as_records() {
    assert_conforms("signalfd", 0);
}

#[test]
fn posix_timer_delivers_si_timer_signals_with_its_value() {
    assert_conforms("timer", 0);
}

#[test]
fn kill_minus_one_from_init_reaches_every_other_process() {
    // kill(-1) natively would reach the whole host: run it natively as the
    // init of a fresh pid namespace, which is what the sandbox's first
    // program is with --init=false.
    let prog = c_program("kill_all", &["-pthread"]);
    let prog = prog.to_str().expect("utf-8 path");

    let native = run_native(&["/usr/bin/unshare", "--pid", "--fork", prog]);
    let sandboxed = run_sandboxed(&[prog], &["--init=false"]);

    assert_eq!(native.status.code(), Some(0), "native run: {}{}", native.stdout_str(), native.stderr_str());
    assert_eq!(
        (sandboxed.stdout_str(), sandboxed.status.code()),
        (native.stdout_str(), native.status.code()),
        "sandbox stderr: {}",
        sandboxed.stderr_str()
    );
}

#[test]
fn socket_calls_on_non_sockets_fail_with_enotsock() {
    assert_conforms("notsock", 0);
}
