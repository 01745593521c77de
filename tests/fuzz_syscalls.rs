//! An in-sandbox system call fuzzer (tests/c/fuzz_syscalls.c: random
//! numbers and arguments from forking workers) run under `bulwark do` for a
//! short budget: the sandbox must neither panic nor abort nor log an error,
//! and the host must see nothing of it (canary files unchanged, a canary
//! process alive, nothing new in the host's /tmp). What it found is
//! `fuzz_findings_answer_as_linux`, compared with the native run.
//!
//! Longer runs by hand (the seed is printed; a run is reproducible call by
//! call from it, see the C file's header for FUZZ_WORKER, FUZZ_NR and
//! FUZZ_VERBOSE):
//!
//! ```text
//! FUZZ_TIME=600 FUZZ_COUNT=100000000 FUZZ_SEED=random|0x... \
//!     cargo test --test fuzz_syscalls -- --nocapture
//! ```
//!
//! (the test's own time bound grows with FUZZ_TIME).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_same, c_program, fresh_dir};

/// The seed CI runs (see the test).
const CI_SEED: &str = "0x5eed0001";

/// What a directory tree holds: each path's mode, size, mtime and bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, u64, i64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read canary dir") {
            let p = e.expect("entry").path();
            let m = std::fs::symlink_metadata(&p).expect("stat canary");
            let bytes = if m.is_file() { std::fs::read(&p).expect("read canary") } else { Vec::new() };
            if m.is_dir() {
                todo.push(p.clone());
            }
            out.insert(p.display().to_string(), (m.mode(), m.size(), m.mtime(), bytes));
        }
    }
    let m = std::fs::metadata(dir).expect("stat canary dir");
    out.insert(dir.display().to_string(), (m.mode(), m.size(), m.mtime(), Vec::new()));
    out
}

/// The host's /tmp entries the fuzzer's paths could make.
fn host_tmp_fuzz_entries() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/tmp")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| n.starts_with("fuzz"));
    v.sort();
    v
}

/// Run `cmd` (stdin /dev/null), killing it and failing past `limit`.
fn run_within(mut cmd: Command, limit: Duration) -> common::Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start bulwark");
    let collect = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = collect(Box::new(child.stdout.take().expect("stdout")));
    let err = collect(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait bulwark") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (out, err) = (out.join().expect("stdout"), err.join().expect("stderr"));
            panic!(
                "the fuzzer's sandbox did not finish within {limit:?} (a hang of the sentry); stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    common::Output { stdout: out.join().expect("stdout"), stderr: err.join().expect("stderr"), status }
}

fn make_canary(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).expect("canary dir");
    std::fs::write(dir.join("file"), b"canary\n").expect("canary file");
    std::fs::write(dir.join("sub/deep"), b"deep canary\n").expect("canary file");
}

#[test]
fn fuzzer_leaves_sandbox_and_host_intact() {
    let prog = c_program("fuzz_syscalls", &["-fno-stack-protector"]);
    let dir = fresh_dir("fuzz-syscalls");
    // One canary directory the sandbox sees read-only (bound at
    // /canary-ro, and at its own path through the read-only root), one it
    // cannot see at all (masked).
    let visible = dir.join("visible");
    let hidden = dir.join("hidden");
    make_canary(&visible);
    make_canary(&hidden);
    let before = (snapshot(&visible), snapshot(&hidden), host_tmp_fuzz_entries());
    let mut canary = Command::new("sleep")
        .arg("3600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start canary process");
    let log = dir.join("debug.log");

    let env = |k: &str, d: &str| format!("{k}={}", std::env::var(k).unwrap_or_else(|_| d.to_string()));
    let secs: u64 = std::env::var("FUZZ_TIME").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let mut cmd = Command::new(common::bulwark());
    cmd.arg("do")
        .args(["--memory", "1g"])
        .arg("--bind")
        .arg(format!("{}:/canary-ro:ro", visible.display()))
        .arg("--mask")
        .arg(&hidden)
        .arg("--debug-log")
        .arg(&log)
        .args(["-e", &env("FUZZ_TIME", "20"), "-e", &env("FUZZ_COUNT", "30000")])
        .args(["-e", &format!("FUZZ_PATHS={}:{}", visible.display(), hidden.display())])
        .current_dir("/")
        .env_remove("TERM");
    // CI runs one fixed seed (a known state to compare with); FUZZ_SEED
    // picks another, `FUZZ_SEED=random` a fresh one each run. Random seeds
    // still find one known bug: a write far past the end of a tmpfs file
    // or memfd (pwrite at 4 GiB) fills the gap with real zeros, which takes
    // longer than the worker's bound (tmpfs files are not sparse yet).
    let seed = std::env::var("FUZZ_SEED").unwrap_or_else(|_| CI_SEED.to_owned());
    if seed != "random" {
        cmd.args(["-e", &format!("FUZZ_SEED={seed}")]);
    }
    cmd.arg("--").arg(&prog);
    // A hang of the whole sentry shows as a run past its budget.
    let out = run_within(cmd, Duration::from_secs(secs + 60));

    let stdout = out.stdout_str();
    let stderr = out.stderr_str();
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("fuzz: done"), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for bad in ["panicked", "sentry", "internal error", "memory allocation"] {
        assert!(!stderr.contains(bad), "{bad:?} in bulwark's stderr ({stdout}):\n{stderr}");
    }
    let log_text = std::fs::read_to_string(&log).expect("debug log written");
    let errors: Vec<&str> = log_text.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "errors in the debug log ({stdout}):\n{}", errors.join("\n"));

    assert_eq!(canary.try_wait().expect("wait canary"), None, "the host's canary process died");
    let _ = canary.kill();
    let _ = canary.wait();
    let after = (snapshot(&visible), snapshot(&hidden), host_tmp_fuzz_entries());
    assert_eq!(after.0, before.0, "the read-only canary directory changed");
    assert_eq!(after.1, before.1, "the hidden canary directory changed");
    assert_eq!(after.2, before.2, "the fuzzer made files in the host's /tmp");
}

/// What the fuzzer found: huge I/O lengths (vmsplice's 1<<62 aborted the
/// sentry allocating it; readv/writev/read/getrandom answered EFAULT where
/// Linux moves what is readable), and clone's TLS past the user address
/// space (the child's first switch failed in the host).
#[test]
fn fuzz_findings_answer_as_linux() {
    let prog = c_program("fuzz_findings", &[]);
    let out = assert_same(&[&prog]);
    let stdout = out.stdout_str();
    assert!(stdout.contains("vmsplice({2 pages, 1<<62}) = 8192\n"), "{stdout}");
    assert!(stdout.contains("vmsplice({40 pages, 1<<62}) into an empty pipe = 65536\n"), "{stdout}");
    assert!(stdout.contains("clone(CLONE_SETTLS, tls=0xffff800000000000) = -1 EPERM\n"), "{stdout}");
    assert!(!out.stderr_str().contains("memory allocation"), "{}", out.stderr_str());
}
