//! Test harness: run a program natively and under `bulwark do`, compare.
//!
//! Both runs get the same clean environment (the sandbox's default one),
//! `/` as working directory and `/dev/null` as stdin, so that any difference
//! in output is the sandbox's.

#![allow(dead_code)] // each test binary uses part of the harness

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod netns;
pub mod procs;

/// The sandbox's default `PATH` (see `bulwark do --help`).
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long one run may take before the test fails (and the run is killed).
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: ExitStatus,
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The `bulwark` binary under test.
pub fn bulwark() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bulwark"))
}

/// A directory for files the tests make. It is under `target/`, not under
/// the host's `/tmp`, because the sandbox has its own `/tmp`.
pub fn scratch_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// A fresh empty directory under [`scratch_dir`], unique to this process
/// and `name`.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = scratch_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test directory");
    dir
}

/// `Command` for `argv`, with the sandbox's default environment and `/` as
/// working directory.
pub fn native_command<S: AsRef<OsStr>>(argv: &[S]) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).env_clear().env("PATH", SANDBOX_PATH).env("HOME", "/root").current_dir("/");
    cmd
}

/// `Command` for `bulwark do [opts] -- argv`, started from `/` (the
/// sandbox's default working directory is the caller's). TERM is removed
/// so that the sandbox's environment matches [`native_command`]'s.
pub fn sandboxed_command<S: AsRef<OsStr>>(argv: &[S], opts: &[&str]) -> Command {
    let mut cmd = Command::new(bulwark());
    cmd.arg("do").args(opts).arg("--").args(argv).env_remove("TERM").current_dir("/");
    cmd
}

/// Run `cmd` with stdin from `/dev/null`, collecting its output; fail the
/// test if it takes longer than [`TIMEOUT`].
pub fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null());
    let child = spawn_piped(&mut cmd);
    finish(child, &format!("{cmd:?}"))
}

/// Spawn with stdout and stderr piped (stdin as set on `cmd`).
pub fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
}

/// Wait for `child` (bounded by [`TIMEOUT`]) and collect its output.
pub fn finish(mut child: Child, what: &str) -> Output {
    let out = collect(child.stdout.take().expect("piped stdout"));
    let err = collect(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {TIMEOUT:?}");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    Output { stdout: out.join().expect("stdout reader"), stderr: err.join().expect("stderr reader"), status }
}

fn collect<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Run `argv` natively.
pub fn run_native<S: AsRef<OsStr>>(argv: &[S]) -> Output {
    run(native_command(argv))
}

/// Run `argv` under `bulwark do` with extra `do` options.
pub fn run_sandboxed<S: AsRef<OsStr>>(argv: &[S], opts: &[&str]) -> Output {
    run(sandboxed_command(argv, opts))
}

/// Run `argv` natively and sandboxed; assert the same stdout and status.
/// Returns the sandboxed run.
pub fn assert_same<S: AsRef<OsStr> + std::fmt::Debug>(argv: &[S]) -> Output {
    let native = run_native(argv);
    let sandboxed = run_sandboxed(argv, &[]);
    assert_eq!(
        sandboxed.stdout_str(),
        native.stdout_str(),
        "stdout of {argv:?} differs (sandbox stderr: {})",
        sandboxed.stderr_str()
    );
    assert_eq!(
        sandboxed.status.code(),
        native.status.code(),
        "exit status of {argv:?} differs (sandbox stderr: {})",
        sandboxed.stderr_str()
    );
    sandboxed
}

/// Compile `tests/c/<name>.c` with `gcc` and extra flags (once per test
/// process, whichever test asks first) and return the binary's path.
pub fn c_program(name: &str, flags: &[&str]) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
    let key = format!("{name} {}", flags.join(" "));
    let slot = {
        let mut map = BUILT.get_or_init(Default::default).lock().expect("lock");
        Arc::clone(map.entry(key).or_default())
    };
    slot.get_or_init(|| compile(name, flags)).clone()
}

fn compile(name: &str, flags: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c").join(format!("{name}.c"));
    let dir = scratch_dir().join("test-c");
    std::fs::create_dir_all(&dir).expect("create test-c directory");
    let suffix: String = flags.concat().chars().filter(char::is_ascii_alphanumeric).collect();
    // The pid keeps concurrent test processes from writing the same file.
    let out = dir.join(format!("{name}{suffix}-{}", std::process::id()));
    let status = Command::new("gcc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .args(flags)
        .status()
        .expect("run gcc (is it installed?)");
    assert!(status.success(), "gcc failed on {}", src.display());
    out
}
