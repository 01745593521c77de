//! Running one sample: a case under a runtime, once, with a time limit.

use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::cases::{is_executable, Case, Fixtures, Kind, PEER_ARG};
use super::veth::Netns;
use crate::cli::DEFAULT_PATH;

/// Something that runs programs: natively, a bulwark platform, or another
/// runtime given as a command prefix.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub name: String,
    /// Put before the case's command line; empty for native.
    pub prefix: Vec<String>,
    /// A bulwark platform: runs get `--debug-log`, whose "unsupported
    /// syscall" lines go into the reason a case fails.
    pub bulwark: bool,
    /// Every run is inside the veth fixture's network namespace (`--network
    /// sandbox` takes its interface), not only the `veth` cases' runs.
    pub netns: bool,
}

impl Runtime {
    pub fn native() -> Runtime {
        Runtime { name: "native".into(), prefix: Vec::new(), bulwark: false, netns: false }
    }

    /// `bulwark do --platform NAME` with this very binary.
    pub fn platform(exe: &Path, name: &str) -> Runtime {
        let prefix = vec![exe.to_string_lossy().into_owned(), "do".into(), "--platform".into(), name.into()];
        Runtime { name: name.into(), prefix, bulwark: true, netns: false }
    }

    /// `bulwark do --platform NAME --network MODE`: named NAME for the
    /// default mode, `none`, and NAME+MODE otherwise. In `sandbox` mode
    /// every run is in the veth fixture's namespace.
    pub fn platform_in(exe: &Path, name: &str, mode: &str) -> Runtime {
        let mut rt = Runtime::platform(exe, name);
        if mode != "none" {
            rt.prefix.extend(["--network".to_owned(), mode.to_owned()]);
            rt.name = format!("{name}+{mode}");
        }
        rt.netns = mode == "sandbox";
        rt
    }

    /// Whether `case`'s runs under this runtime are in the veth fixture's
    /// namespace.
    pub fn in_netns(&self, case: &Case) -> bool {
        self.netns || case.veth
    }

    /// `NAME=COMMAND PREFIX` (split at whitespace).
    pub fn parse_compare(spec: &str) -> Result<Runtime, String> {
        let (name, prefix) =
            spec.split_once('=').ok_or_else(|| format!("expected NAME=COMMAND-PREFIX, got {spec:?}"))?;
        let prefix: Vec<String> = prefix.split_whitespace().map(str::to_owned).collect();
        if name.is_empty() || prefix.is_empty() {
            return Err(format!("expected NAME=COMMAND-PREFIX, got {spec:?}"));
        }
        Ok(Runtime { name: name.to_owned(), prefix, bulwark: false, netns: false })
    }

    /// Why this runtime's program cannot be run, if it cannot.
    pub fn missing(&self) -> Option<String> {
        let prog = self.prefix.first()?;
        let found = if prog.contains('/') {
            is_executable(Path::new(prog))
        } else {
            let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned());
            path.split(':').any(|d| is_executable(&Path::new(d).join(prog)))
        };
        (!found).then(|| format!("`{prog}` is not installed (not found in PATH)"))
    }

    /// The whole command line of `case` under this runtime: in `netns`
    /// (`ip netns exec NS ...`, and the peer's address in the case's
    /// arguments) if [`Runtime::in_netns`] and it is given; with
    /// `--debug-log LOG` for a bulwark platform if `log` is given.
    pub fn command_line(&self, case: &Case, netns: Option<&Netns>, log: Option<&Path>) -> Vec<String> {
        let netns = netns.filter(|_| self.in_netns(case));
        let mut argv = netns.map(Netns::exec_prefix).unwrap_or_default();
        argv.extend(self.prefix.iter().cloned());
        if self.bulwark {
            if let Some(log) = log {
                argv.extend(["--debug-log".into(), log.to_string_lossy().into_owned()]);
            }
            argv.push("--".into());
        }
        let peer = netns.map(|n| n.peer.to_string());
        argv.extend(case.argv.iter().map(|a| match &peer {
            Some(p) if a == PEER_ARG => p.clone(),
            _ => a.clone(),
        }));
        argv
    }
}

/// One successful run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// ns/op (micro) or seconds (workload).
    pub value: f64,
    /// Iterations the guest ran (micro only).
    pub iters: Option<u64>,
}

/// Run `case` once under `rt`; `Err` says why it did not work.
pub fn run_once(rt: &Runtime, case: &Case, fx: &Fixtures, timeout: Duration) -> Result<Sample, String> {
    let out_path = fx.scratch("stdout");
    let err_path = fx.scratch("stderr");
    let log_path = fx.scratch("debug-log");
    let netns = if rt.in_netns(case) {
        let veth = fx.veth()?;
        veth.reset()?;
        Some(&veth.netns)
    } else {
        None
    };
    if rt.bulwark {
        let _ = File::create(&log_path);
    }
    let argv = rt.command_line(case, netns, rt.bulwark.then_some(log_path.as_path()));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).process_group(0);
    if rt.prefix.is_empty() {
        // The environment and working directory `bulwark do` gives (to
        // `ip netns exec` too, which passes them on).
        cmd.env_clear().env("PATH", DEFAULT_PATH).env("HOME", "/root").current_dir("/");
    }
    let stdout = File::create(&out_path).map_err(|e| format!("create {}: {e}", out_path.display()))?;
    let stderr = File::create(&err_path).map_err(|e| format!("create {}: {e}", err_path.display()))?;
    let stdout = if case.kind == Kind::Micro { Stdio::from(stdout) } else { Stdio::null() };
    cmd.stdout(stdout).stderr(stderr);

    let (status, wall) = run_with_timeout(cmd, timeout)?;
    fx.after_run(case);
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let failure = |what: String| {
        let mut reason = what;
        if let Some(line) = last_line(&err_path) {
            reason.push_str(&format!(": {line}"));
        }
        if rt.bulwark {
            for line in sandbox_log_lines(&log_path) {
                reason.push_str(&format!("; {line}"));
            }
        }
        reason
    };
    match (status, case.kind) {
        (None, _) => Err(failure(format!("timed out after {}s", timeout.as_secs()))),
        (Some(st), Kind::Workload) if st.success() => Ok(Sample { value: wall.as_secs_f64(), iters: None }),
        (Some(st), Kind::Workload) => Err(failure(describe(st))),
        (Some(st), Kind::Micro) => match parse_guest_line(&output, &case.name) {
            Some(Ok(sample)) if st.success() => Ok(sample),
            Some(Err(why)) => Err(failure(why)),
            _ => Err(failure(format!("the guest printed no result ({})", describe(st)))),
        },
    }
}

/// Spawn `cmd` in its own process group, and wait for it; the whole group
/// is killed after `timeout` (then the status is `None`). Also returns the
/// wall-clock time from spawn to exit.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<(Option<ExitStatus>, Duration), String> {
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let pgid = i32::try_from(child.id()).map_err(|e| e.to_string())?;
    let (cancel, cancelled) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if cancelled.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            // The group is our child's.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            true
        } else {
            false
        }
    });
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    let wall = start.elapsed();
    let _ = cancel.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    Ok((if timed_out { None } else { Some(status) }, wall))
}

fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => st.to_string(),
    }
}

/// The guest's line for `name`: `case NAME ns_per_op X iters N` or
/// `case NAME failed REASON`.
pub fn parse_guest_line(output: &str, name: &str) -> Option<Result<Sample, String>> {
    let prefix = format!("case {name} ");
    let rest = output.lines().find_map(|l| l.strip_prefix(&prefix))?;
    if let Some(reason) = rest.strip_prefix("failed ") {
        return Some(Err(reason.to_owned()));
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        ["ns_per_op", v, "iters", n] => match (v.parse::<f64>(), n.parse::<u64>()) {
            (Ok(value), Ok(iters)) if value.is_finite() && value > 0.0 => {
                Some(Ok(Sample { value, iters: Some(iters) }))
            }
            _ => Some(Err(format!("unreadable result {rest:?}"))),
        },
        _ => Some(Err(format!("unreadable result {rest:?}"))),
    }
}

fn last_line(path: &PathBuf) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    Some(line.chars().take(300).collect())
}

/// What the sandbox's debug log says (unsupported system calls, what it
/// could not do): see [`log_message`].
fn sandbox_log_lines(path: &PathBuf) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines().filter_map(log_message) {
        if !lines.contains(&l) && lines.len() < 8 {
            lines.push(l);
        }
    }
    lines
}

/// A debug log line as part of a reason: without its timestamp (or the
/// older `bulwark: ` prefix), at most 300 characters; `None` for an empty
/// line and for the boot's routine lines (below WARN).
fn log_message(line: &str) -> Option<String> {
    let mut l = line.trim().trim_start_matches("bulwark: ");
    if let Some((first, rest)) = l.split_once(char::is_whitespace) {
        if first.starts_with(|c: char| c.is_ascii_digit()) && first.contains('T') {
            l = rest.trim_start();
        }
    }
    let mut words = l.split_whitespace();
    let routine = matches!(words.next(), Some("INFO" | "DEBUG" | "TRACE"));
    let boot = l.starts_with("boot:") || (routine && words.next().is_some_and(|t| t.starts_with("bulwark::boot")));
    (!l.is_empty() && !boot).then(|| l.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_result_line_parses_to_a_sample() {
        let s = parse_guest_line("case getpid ns_per_op 52.5 iters 1000\n", "getpid");

        let s = s.expect("found").expect("ok");
        assert_eq!((s.value, s.iters), (52.5, Some(1000)));
    }

    #[test]
    fn guest_failed_line_gives_the_reason() {
        let s = parse_guest_line("case fork-wait failed fork: Function not implemented\n", "fork-wait");

        assert_eq!(s.expect("found").err(), Some("fork: Function not implemented".to_owned()));
    }

    #[test]
    fn guest_line_for_another_case_is_not_taken() {
        let s = parse_guest_line("case getpid ns_per_op 52.5 iters 1000\n", "stat");

        assert!(s.is_none());
    }

    #[test]
    fn log_line_loses_its_timestamp_and_boot_info_lines_are_left_out() {
        let got: Vec<Option<String>> = [
            "2026-12-04T04:56:39.482072Z  INFO bulwark::boot: unshared namespaces namespaces=mnt",
            "2026-12-04T04:56:39.5Z  WARN sentry::kernel: unsupported system call syscall=\"bpf\"",
            "",
        ]
        .iter()
        .map(|l| log_message(l))
        .collect();

        assert_eq!(got, [None, Some("WARN sentry::kernel: unsupported system call syscall=\"bpf\"".to_owned()), None]);
    }

    #[test]
    fn compare_spec_splits_name_and_prefix() {
        let rt = Runtime::parse_compare("runsc=runsc --network=none do").expect("valid");

        assert_eq!((rt.name.as_str(), rt.prefix.len(), rt.bulwark), ("runsc", 3, false));
    }

    #[test]
    fn compare_spec_without_equals_is_rejected() {
        assert!(Runtime::parse_compare("runsc").is_err());
    }

    fn micro(name: &str, veth: bool) -> Case {
        let mut argv = vec!["/g".to_owned()];
        if veth {
            argv.extend(["--peer".to_owned(), PEER_ARG.to_owned()]);
        }
        argv.push(name.to_owned());
        Case { name: name.into(), kind: Kind::Micro, argv, unavailable: None, veth }
    }

    fn netns() -> Netns {
        Netns { ip: "/sbin/ip".into(), name: "bulwark-bench-9".into(), peer: "10.213.9.1:4000".parse().expect("addr") }
    }

    #[test]
    fn sandbox_runtime_runs_every_case_in_the_namespace_with_a_debug_log() {
        let rt = Runtime::platform_in(Path::new("/b"), "ptrace", "sandbox");

        let argv = rt.command_line(&micro("getpid", false), Some(&netns()), Some(Path::new("/log")));

        assert_eq!(
            (rt.name.as_str(), argv),
            (
                "ptrace+sandbox",
                ["/sbin/ip", "netns", "exec", "bulwark-bench-9", "/b", "do", "--platform", "ptrace"]
                    .into_iter()
                    .chain(["--network", "sandbox", "--debug-log", "/log", "--", "/g", "getpid"])
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            )
        );
    }

    #[test]
    fn native_runs_a_veth_case_in_the_namespace_with_the_peer_address() {
        let argv = Runtime::native().command_line(&micro("veth-rr", true), Some(&netns()), None);

        assert_eq!(
            argv,
            ["/sbin/ip", "netns", "exec", "bulwark-bench-9", "/g", "--peer", "10.213.9.1:4000", "veth-rr"]
        );
    }

    #[test]
    fn host_mode_runtime_runs_other_cases_outside_the_namespace() {
        let rt = Runtime::platform_in(Path::new("/b"), "ptrace", "host");

        let argv = rt.command_line(&micro("tcp-rr", false), Some(&netns()), None);

        assert_eq!(argv, ["/b", "do", "--platform", "ptrace", "--network", "host", "--", "/g", "tcp-rr"]);
    }

    #[test]
    fn compare_runtime_runs_a_veth_case_in_the_namespace() {
        let rt = Runtime::parse_compare("runsc=runsc do").expect("valid");

        let argv = rt.command_line(&micro("veth-rr", true), Some(&netns()), Some(Path::new("/log")));

        assert_eq!(
            argv,
            [
                "/sbin/ip",
                "netns",
                "exec",
                "bulwark-bench-9",
                "runsc",
                "do",
                "/g",
                "--peer",
                "10.213.9.1:4000",
                "veth-rr"
            ]
        );
    }
}
