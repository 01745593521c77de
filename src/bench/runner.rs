//! Running one sample: a case under a runtime, once, with a time limit.

use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::cases::{is_executable, Case, Fixtures, Kind};
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
}

impl Runtime {
    pub fn native() -> Runtime {
        Runtime { name: "native".into(), prefix: Vec::new(), bulwark: false }
    }

    /// `bulwark do --platform NAME` with this very binary.
    pub fn platform(exe: &Path, name: &str) -> Runtime {
        let prefix = vec![exe.to_string_lossy().into_owned(), "do".into(), "--platform".into(), name.into()];
        Runtime { name: name.into(), prefix, bulwark: true }
    }

    /// `bulwark do --platform NAME --network MODE`: named NAME for the
    /// default mode, `none`, and NAME+MODE otherwise.
    pub fn platform_in(exe: &Path, name: &str, mode: &str) -> Runtime {
        let mut rt = Runtime::platform(exe, name);
        if mode != "none" {
            rt.prefix.extend(["--network".to_owned(), mode.to_owned()]);
            rt.name = format!("{name}+{mode}");
        }
        rt
    }

    /// `NAME=COMMAND PREFIX` (split at whitespace).
    pub fn parse_compare(spec: &str) -> Result<Runtime, String> {
        let (name, prefix) =
            spec.split_once('=').ok_or_else(|| format!("expected NAME=COMMAND-PREFIX, got {spec:?}"))?;
        let prefix: Vec<String> = prefix.split_whitespace().map(str::to_owned).collect();
        if name.is_empty() || prefix.is_empty() {
            return Err(format!("expected NAME=COMMAND-PREFIX, got {spec:?}"));
        }
        Ok(Runtime { name: name.to_owned(), prefix, bulwark: false })
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

    /// The whole command line of `case` under this runtime.
    pub fn command_line(&self, case: &Case) -> Vec<String> {
        let mut argv = self.prefix.clone();
        if self.bulwark {
            argv.push("--".into());
        }
        argv.extend(case.argv.iter().cloned());
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
    let mut argv = rt.prefix.clone();
    if rt.bulwark {
        let _ = File::create(&log_path);
        argv.extend(["--debug-log".into(), log_path.to_string_lossy().into_owned(), "--".into()]);
    }
    argv.extend(case.argv.iter().cloned());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).process_group(0);
    if rt.prefix.is_empty() {
        // The environment and working directory `bulwark do` gives.
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
/// could not do), without the `bulwark: ` prefix and the boot lines.
fn sandbox_log_lines(path: &PathBuf) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines().map(|l| l.trim_start_matches("bulwark: ")) {
        let l: String = l.chars().take(300).collect();
        if !l.trim().is_empty() && !l.starts_with("boot:") && !lines.contains(&l) && lines.len() < 8 {
            lines.push(l);
        }
    }
    lines
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
    fn compare_spec_splits_name_and_prefix() {
        let rt = Runtime::parse_compare("runsc=runsc --network=none do").expect("valid");

        assert_eq!((rt.name.as_str(), rt.prefix.len(), rt.bulwark), ("runsc", 3, false));
    }

    #[test]
    fn compare_spec_without_equals_is_rejected() {
        assert!(Runtime::parse_compare("runsc").is_err());
    }
}
