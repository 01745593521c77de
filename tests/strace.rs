//! `--strace` against strace(1): the same program's system calls, as the
//! host's strace decodes them natively and as the sandbox prints them, must
//! read the same, argument by argument (flags by name, structures decoded,
//! errno names and messages).

mod common;

use common::{native_command, run, run_sandboxed};

/// The calls the dynamic loader makes to map a program and its libraries,
/// which do not depend on the kernel under them.
const LOADER_CALLS: &[&str] = &[
    "brk",
    "mmap",
    "access",
    "openat",
    "newfstatat",
    "close",
    "read",
    "pread64",
    "mprotect",
    "munmap",
    "arch_prctl",
    "set_robust_list",
    "prlimit64",
];

/// One strace line made comparable: no `[pid N]` prefix, no padding
/// before `=`, addresses (which ASLR and the sandbox's layout change) as
/// `0x?`.
fn normalize(line: &str) -> String {
    let line = match line.strip_prefix("[pid ") {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, call)| call),
        None => line,
    };
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        out.push_str("0x?");
        rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    match out.split_once(") ") {
        Some((call, result)) if result.trim_start().starts_with("= ") => format!("{call}) {}", result.trim_start()),
        _ => out,
    }
}

fn name_of(line: &str) -> &str {
    line.split('(').next().unwrap_or("")
}

/// The loader's lines of a trace: from the first call up to the unmapping
/// of `ld.so.cache`, only the calls in [`LOADER_CALLS`].
fn loader_lines(trace: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in trace.lines().map(normalize) {
        let name = name_of(&line).to_string();
        if LOADER_CALLS.contains(&name.as_str()) {
            lines.push(line);
        }
        if name == "munmap" {
            break;
        }
    }
    lines
}

/// The native trace of `argv` (first process only, as the sandbox's
/// single-process programs give).
fn native_trace(argv: &[&str]) -> String {
    // Tests run in parallel threads of one process: each trace gets a
    // directory of its own.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = common::fresh_dir(&format!("strace-native-{n}"));
    let out_file = dir.join("trace");
    let mut full = vec!["strace", "-o", out_file.to_str().expect("utf-8 path")];
    full.extend_from_slice(argv);
    let out = run(native_command(&full));
    assert_eq!(out.status.code(), Some(0), "native strace failed: {}", out.stderr_str());
    std::fs::read_to_string(&out_file).expect("strace wrote its trace")
}

fn assert_loader_lines_match(argv: &[&str]) {
    let native = loader_lines(&native_trace(argv));
    let out = run_sandboxed(argv, &["--strace"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr_str());
    let ours = loader_lines(&out.stderr_str());

    assert!(native.len() > 20, "too few loader calls natively: {native:#?}");
    let diffs: Vec<String> = native
        .iter()
        .zip(ours.iter())
        .filter(|(n, o)| n != o)
        .map(|(n, o)| format!("native:  {n}\nsandbox: {o}"))
        .collect();
    assert!(
        diffs.is_empty() && native.len() == ours.len(),
        "{}\n({} native lines, {} ours)",
        diffs.join("\n"),
        native.len(),
        ours.len()
    );
}

#[test]
fn ls_start_up_prints_as_strace_decodes_it() {
    assert_loader_lines_match(&["/bin/ls", "-la", "/etc/hostname"]);
}

#[test]
fn python_start_up_prints_as_strace_decodes_it() {
    assert_loader_lines_match(&["/usr/bin/python3", "-S", "-c", "print(1)"]);
}

#[test]
fn a_few_lines_read_exactly_as_strace_prints_them() {
    let out = run_sandboxed(&["/bin/ls", "-la", "/etc/hostname"], &["--strace"]);
    let ours: Vec<String> = out.stderr_str().lines().map(normalize).collect();
    for want in [
        r#"access("/etc/ld.so.preload", R_OK) = -1 ENOENT (No such file or directory)"#,
        r#"openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3"#,
        "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x?",
        "arch_prctl(ARCH_SET_FS, 0x?) = 0",
        "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0",
        r#"ioctl(1, TCGETS, 0x?) = -1 ENOTTY (Inappropriate ioctl for device)"#,
    ] {
        assert!(ours.iter().any(|l| l == want), "no line `{want}` in:\n{}", ours.join("\n"));
    }
}

/// The socket calls of `script`, traced natively and sandboxed alike.
const SOCKET_CALLS: &[&str] = &["socket", "bind", "listen", "connect", "setsockopt", "getsockopt", "sendto"];

#[test]
fn socket_calls_print_as_strace_decodes_them() {
    let script = "import socket\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
        s.bind(('127.0.0.1', 0)); s.listen(5)\n\
        s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)\n\
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP)\n\
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\n\
        u.sendto(b'x', ('::1', 9))\n\
        n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n\
        n.bind((0, 0))\n";
    let argv = ["/usr/bin/python3", "-S", "-c", script];
    let pick = |trace: &str| -> Vec<String> {
        trace
            .lines()
            .map(normalize)
            .filter(|l| SOCKET_CALLS.contains(&name_of(l)) && !l.contains("AF_UNIX"))
            // Ports are the host's ephemeral choice: not compared.
            .map(|l| {
                l.split("sin_port=htons(")
                    .map(|p| p.trim_start_matches(char::is_numeric))
                    .collect::<Vec<_>>()
                    .join("sin_port=htons(")
            })
            .collect()
    };
    let native = pick(&native_trace(&argv));
    let out = run_sandboxed(&argv, &["--strace"]);
    let ours = pick(&out.stderr_str());
    assert!(native.len() >= 10, "too few socket calls natively: {native:#?}");
    assert_eq!(ours, native, "{}", out.stderr_str());
}

#[test]
fn normalize_drops_pids_padding_and_addresses() {
    assert_eq!(normalize("[pid 2] brk(0x55d000)     = 0x55d000"), "brk(0x?) = 0x?");
    assert_eq!(normalize("close(3)                          = 0"), "close(3) = 0");
}
