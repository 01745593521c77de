//! Linux capabilities in the sandbox: the privilege checks ask for the
//! capability Linux asks for, and the sets change on setuid, execve,
//! capset and prctl as capabilities(7) says. Each behaviour runs natively
//! (capsh and setpriv dropping or keeping capabilities) and under
//! `bulwark do` (its --cap-drop/--cap-add, and the same capsh and setpriv
//! inside), with the same output. One OCI bundle checks that
//! config.json's process.capabilities reach the container.
//!
//! They need root, as the native runs change uids; without it each test
//! says so and passes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{bulwark, fresh_dir, native_command, run, sandboxed_command, Output};

/// capabilities(7)'s names, by number.
const NAMES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    println!("skipping {test}: the native runs change uids, which needs root");
    false
}

/// This process's bounding set, from /proc/self/status.
fn host_bounding() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hex = status.lines().find_map(|l| l.strip_prefix("CapBnd:\t")).unwrap_or("0");
    u64::from_str_radix(hex.trim(), 16).unwrap_or(0)
}

/// `--cap-drop` options that start the sandbox's root where this process
/// is: without the capabilities the host has taken from it (a container
/// running the tests may lack some), so that native and sandboxed runs
/// start alike.
fn like_host() -> Vec<String> {
    let missing: Vec<&str> = (0..41).filter(|c| host_bounding() & (1 << c) == 0).map(|c| NAMES[c]).collect();
    if missing.is_empty() {
        Vec::new()
    } else {
        vec![format!("--cap-drop={}", missing.join(","))]
    }
}

/// `argv` under `bulwark do` with `opts` after [`like_host`]'s.
fn sandboxed(argv: &[&str], opts: &[&str]) -> Output {
    let mut all = like_host();
    all.extend(opts.iter().map(|s| (*s).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    run(sandboxed_command(argv, &all))
}

fn native(argv: &[&str]) -> Output {
    run(native_command(argv))
}

/// stdout, then stderr, then the exit status: what must be the same.
fn seen(o: &Output) -> String {
    format!("{}{}[status {:?}]", o.stdout_str(), o.stderr_str(), o.status.code())
}

/// Run bash `script` natively with capabilities `drop` taken out of the
/// bounding set (capsh, so bash starts without them), under `bulwark do
/// --cap-drop`, and under `bulwark do` running the same capsh; assert the
/// three saw the same and return it.
fn same_without(drop: &[&str], script: &str) -> String {
    let capsh_drop = format!("--drop={}", drop.iter().map(|c| format!("cap_{c}")).collect::<Vec<_>>().join(","));
    let capsh = ["capsh", capsh_drop.as_str(), "--", "-c", script];
    let cap_drop = format!("--cap-drop={}", drop.join(","));

    let n = seen(&native(&capsh));
    let by_option = seen(&sandboxed(&["/bin/bash", "-c", script], &[&cap_drop]));
    let by_capsh = seen(&sandboxed(&capsh, &[]));

    assert_eq!(by_option, n, "bulwark do {cap_drop} differs from capsh natively");
    assert_eq!(by_capsh, n, "capsh under bulwark do differs from capsh natively");
    n
}

/// A directory for a test's files, world-searchable (the runs as uid 1000
/// reach into it).
fn scratch(name: &str) -> String {
    let dir = fresh_dir(&format!("caps-{name}"));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod scratch");
    dir.to_str().unwrap_or_default().to_owned()
}

#[test]
fn chown_without_cap_chown_fails_with_eperm_but_root_may_keep_its_own_file() {
    if !root_or_skip("chown_without_cap_chown") {
        return;
    }
    let dir = scratch("chown");
    let script = format!(
        "cd {dir} && rm -f f && touch f && chown 1:1 f; echo \"chown $?\"; chown 0:0 f; echo \"own $?\"; \
         chmod 4755 f; chown -h 0 f; stat -c %a f"
    );

    let out = same_without(&["chown"], &script);

    assert_eq!(out, "chown 1\nown 0\n755\nchown: changing ownership of 'f': Operation not permitted\n[status Some(0)]");
}

#[test]
fn root_without_dac_override_reads_only_with_dac_read_search() {
    if !root_or_skip("root_without_dac_override") {
        return;
    }
    let dir = scratch("dac");
    std::fs::write(format!("{dir}/secret"), "s3cret\n").expect("write secret");
    std::fs::create_dir_all(format!("{dir}/private")).expect("private dir");
    std::fs::write(format!("{dir}/private/inside"), "").expect("file inside");
    for p in ["secret", "private"] {
        let path = format!("{dir}/{p}");
        nix::unistd::chown(path.as_str(), Some(1000.into()), Some(1000.into())).expect("chown");
        let mode = if p == "secret" { 0o600 } else { 0o700 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let script = format!("cd {dir}; cat secret; ls private; echo x >> secret; echo \"write $?\"");

    let no_dac = same_without(&["dac_override", "dac_read_search"], &script);
    let read_search = same_without(&["dac_override"], &script);

    assert_eq!(
        no_dac,
        "write 1\ncat: secret: Permission denied\nls: cannot open directory 'private': Permission denied\n\
         /bin/bash: line 1: secret: Permission denied\n[status Some(0)]"
    );
    assert_eq!(read_search, "s3cret\ninside\nwrite 1\n/bin/bash: line 1: secret: Permission denied\n[status Some(0)]");
}

#[test]
fn device_nodes_raw_sockets_chroot_and_hostname_each_need_their_capability() {
    if !root_or_skip("device_nodes_raw_sockets_chroot_and_hostname") {
        return;
    }
    let dir = scratch("admin");
    let mknod = format!("mknod {dir}/null c 1 3; echo \"mknod $?\"");
    let raw = "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)' 2>&1 | tail -1";
    let packet = "python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)' 2>&1 | tail -1";
    let hostname = "python3 -c 'import socket; socket.sethostname(\"inside\")' 2>&1 | tail -1";

    let outs = [
        same_without(&["mknod"], &mknod),
        same_without(&["net_raw"], raw),
        same_without(&["net_raw"], packet),
        same_without(&["sys_chroot"], "chroot / true"),
        same_without(&["sys_admin"], hostname),
    ];

    assert_eq!(
        outs,
        [
            format!("mknod 1\nmknod: {dir}/null: Operation not permitted\n[status Some(0)]"),
            "PermissionError: [Errno 1] Operation not permitted\n[status Some(0)]".into(),
            "PermissionError: [Errno 1] Operation not permitted\n[status Some(0)]".into(),
            "chroot: cannot change root directory to '/': Operation not permitted\n[status Some(125)]".into(),
            "PermissionError: [Errno 1] Operation not permitted\n[status Some(0)]".into(),
        ]
    );
}

#[test]
fn capsh_inside_drops_from_the_bounding_set_and_needs_cap_setpcap_to() {
    if !root_or_skip("capsh_inside_drops_from_the_bounding_set") {
        return;
    }
    let script = "grep -E 'Cap(Prm|Eff|Bnd)' /proc/self/status; capsh --drop=cap_kill -- -c true; echo \"drop $?\"";

    let out = same_without(&["chown", "setpcap"], script);

    let left = host_bounding() & !1 & !(1 << 8);
    assert_eq!(
        out,
        format!(
            "CapPrm:\t{left:016x}\nCapEff:\t{left:016x}\nCapBnd:\t{left:016x}\ndrop 1\n\
             unable to raise CAP_SETPCAP for BSET changes: Operation not permitted\n[status Some(0)]"
        )
    );
}

/// Show the caller's effective, permitted and inheritable sets (capget).
const CAPS_PY: &str = r#"
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
V3 = 0x20080522
class Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
def err():
    return errno.errorcode[ctypes.get_errno()]
def get(pid=0):
    h, d = Hdr(V3, pid), (Data * 2)()
    if libc.capget(ctypes.byref(h), d) != 0:
        return err()
    j = lambda f: getattr(d[0], f) | getattr(d[1], f) << 32
    return "eff=%x prm=%x inh=%x" % (j("effective"), j("permitted"), j("inheritable"))
def masks():
    h, d = Hdr(V3, 0), (Data * 2)()
    libc.capget(ctypes.byref(h), d)
    return [getattr(d[0], f) | getattr(d[1], f) << 32 for f in ("effective", "permitted", "inheritable")]
def capset(e, p, i):
    h, d = Hdr(V3, 0), (Data * 2)()
    for k, v in (("effective", e), ("permitted", p), ("inheritable", i)):
        setattr(d[0], k, v & 0xffffffff)
        setattr(d[1], k, v >> 32)
    return "ok" if libc.capset(ctypes.byref(h), d) == 0 else err()
def prctl(*a):
    r = libc.prctl(*(list(a) + [0] * (5 - len(a))))
    return r if r >= 0 else err()
KILL, SETUID, NET_BIND_SERVICE = 5, 7, 10
"#;

#[test]
fn setuid_capget_capset_and_keepcaps_move_the_sets_as_linux_does() {
    if !root_or_skip("setuid_capget_capset_and_keepcaps") {
        return;
    }
    let script = format!(
        "{CAPS_PY}
probe = Hdr(0, 0)
print('probe', libc.capget(ctypes.byref(probe), None), hex(probe.version))
print('no such pid', get(99999999))
e, p, i = masks()
print('ambient raise, not inheritable', prctl(47, 2, NET_BIND_SERVICE))
print('inheritable', capset(e, p, 1 << NET_BIND_SERVICE))
print('ambient raise', prctl(47, 2, NET_BIND_SERVICE), prctl(47, 1, NET_BIND_SERVICE))
print('keepcaps', prctl(8, 1), prctl(7))
os.setresuid(1000, 1000, 1000)
print('kept', get() == 'eff=0 prm=%x inh=%x' % (p, 1 << NET_BIND_SERVICE), prctl(47, 1, NET_BIND_SERVICE))
print('drop kill', capset(0, p & ~(1 << KILL), 0))
print('add it back', capset(0, p, 0))
print('effective beyond permitted', capset(1 << KILL, p & ~(1 << KILL), 0))
print('effective setuid', capset(1 << SETUID, p & ~(1 << KILL), 0))
os.setuid(0)
print('back to root', os.getresuid(), get() == 'eff=%x prm=%x inh=0' % (p & ~(1 << KILL), p & ~(1 << KILL)))
print('keepcaps off', prctl(8, 0))
os.setuid(1000)
print('plain setuid', os.getresuid(), get())
try:
    os.setuid(0)
except OSError as e:
    print('setuid 0 again:', errno.errorcode[e.errno])
"
    );
    let argv = ["python3", "-c", script.as_str()];

    let n = native(&argv);
    let s = sandboxed(&argv, &[]);

    assert_eq!(seen(&s), seen(&n));
    assert_eq!(
        n.stdout_str(),
        "probe 0 0x20080522\n\
         no such pid ESRCH\n\
         ambient raise, not inheritable EPERM\n\
         inheritable ok\n\
         ambient raise 0 1\n\
         keepcaps 0 1\n\
         kept True 0\n\
         drop kill ok\n\
         add it back EPERM\n\
         effective beyond permitted EPERM\n\
         effective setuid ok\n\
         back to root (0, 0, 0) True\n\
         keepcaps off 0\n\
         plain setuid (1000, 1000, 1000) eff=0 prm=0 inh=0\n\
         setuid 0 again: EPERM\n"
    );
}

#[test]
fn status_of_a_non_root_program_shows_only_the_bounding_set_and_ambient_ones_survive_exec() {
    if !root_or_skip("status_of_a_non_root_program") {
        return;
    }
    let user = ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups"];
    let ambient = [&user[..], &["--inh-caps", "+net_bind_service", "--ambient-caps", "+net_bind_service"]].concat();
    let status = ["grep", "Cap", "/proc/self/status"];
    let plain = [&user[..], &status[..]].concat();
    let kept = [&ambient[..], &status[..]].concat();

    let (n_plain, n_kept) = (native(&plain), native(&kept));
    let (s_plain, s_kept) = (sandboxed(&plain, &[]), sandboxed(&kept, &[]));
    let by_user = sandboxed(&status, &["--user", "1000:1000"]);
    let by_add = sandboxed(&status, &["--user", "1000:1000", "--cap-add", "NET_BIND_SERVICE"]);

    let bnd = host_bounding();
    let want = |a: u64| {
        format!("CapInh:\t{a:016x}\nCapPrm:\t{a:016x}\nCapEff:\t{a:016x}\nCapBnd:\t{bnd:016x}\nCapAmb:\t{a:016x}\n")
    };
    assert_eq!((n_plain.stdout_str(), n_kept.stdout_str()), (want(0), want(1 << 10)));
    assert_eq!((s_plain.stdout_str(), s_kept.stdout_str()), (want(0), want(1 << 10)), "{}", s_kept.stderr_str());
    assert_eq!((by_user.stdout_str(), by_add.stdout_str()), (want(0), want(1 << 10)), "{}", by_add.stderr_str());
}

#[test]
fn non_root_binds_a_low_port_only_with_ambient_net_bind_service() {
    if !root_or_skip("non_root_binds_a_low_port") {
        return;
    }
    let bind = "import socket
s = socket.socket()
try:
    s.bind(('127.0.0.1', 979))
    print('bound')
except OSError as e:
    print('bind:', e.strerror)";
    let user = ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups"];
    let ambient = [&user[..], &["--inh-caps", "+net_bind_service", "--ambient-caps", "+net_bind_service"]].concat();
    let plain = [&user[..], &["python3", "-c", bind]].concat();
    let kept = [&ambient[..], &["python3", "-c", bind]].concat();

    let natively = [native(&plain), native(&kept)].map(|o| o.stdout_str());
    let inside = [sandboxed(&plain, &[]), sandboxed(&kept, &[])].map(|o| o.stdout_str());
    let by_option = [&["--user", "1000:1000"][..], &["--user", "1000:1000", "--cap-add", "NET_BIND_SERVICE"]]
        .map(|opts| sandboxed(&["python3", "-c", bind], opts).stdout_str());

    let want = ["bind: Permission denied\n", "bound\n"].map(str::to_owned);
    assert_eq!(natively, want);
    assert_eq!(inside, want);
    assert_eq!(by_option, want);
}

#[test]
fn signalling_another_users_process_needs_cap_kill_except_sigcont_in_the_session() {
    if !root_or_skip("signalling_another_users_process") {
        return;
    }
    let script = format!(
        "{CAPS_PY}
import signal, sys, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setresuid(1001, 1001, 1001)
    os.write(w, b'x')
    time.sleep(60)
    os._exit(0)
os.read(r, 1)
def probe(label, keep_kill):
    q = os.fork()
    if q == 0:
        if keep_kill:
            prctl(8, 1)
        os.setresuid(1000, 1000, 1000)
        if keep_kill:
            capset(1 << KILL, 1 << KILL, 0)
        out = []
        for sig in (0, signal.SIGCONT):
            try:
                os.kill(pid, sig)
                out.append('ok')
            except OSError as e:
                out.append(errno.errorcode[e.errno])
        print(label, *out)
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(q, 0)
probe('as 1000:', False)
probe('with CAP_KILL:', True)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
"
    );
    let argv = ["python3", "-c", script.as_str()];

    let n = native(&argv);
    let s = sandboxed(&argv, &[]);

    assert_eq!(seen(&s), seen(&n));
    assert_eq!(n.stdout_str(), "as 1000: EPERM ok\nwith CAP_KILL: ok ok\n");
}

#[test]
fn oom_score_adj_below_the_floor_needs_cap_sys_resource() {
    let write = "echo -500 > /proc/self/oom_score_adj; cat /proc/self/oom_score_adj";

    let with = run(sandboxed_command(&["/bin/bash", "-c", write], &[]));
    let without = run(sandboxed_command(&["/bin/bash", "-c", write], &["--cap-drop", "SYS_RESOURCE"]));

    assert_eq!((with.stdout_str(), with.stderr_str()), ("-500\n".into(), String::new()));
    assert_eq!(
        (without.stdout_str(), without.stderr_str()),
        ("0\n".into(), "/bin/bash: line 1: echo: write error: Permission denied\n".into())
    );
}

#[test]
fn unknown_capability_names_are_rejected_with_status_125() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.args(["do", "--cap-drop", "NET_WIZARDRY", "--", "/bin/true"]);
        c
    });

    assert_eq!(out.status.code(), Some(125));
    assert!(out.stderr_str().contains("unknown capability \"NET_WIZARDRY\""), "{}", out.stderr_str());
}

/// A bundle whose busybox rootfs runs `script` as root with `caps` in
/// every set but the inheritable and ambient ones, as docker writes them.
fn oci_bundle(name: &str, script: &str, caps: &[&str]) -> std::path::PathBuf {
    let dir = fresh_dir(&format!("caps-oci-{name}"));
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).expect("rootfs/bin");
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox (is busybox installed?)");
    for applet in ["sh", "grep", "touch", "chown", "echo"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet symlink");
    }
    let caps: Vec<String> = caps.iter().map(|c| format!("CAP_{}", c.to_ascii_uppercase())).collect();
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", script],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}
        },
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}]}
    });
    std::fs::write(dir.join("config.json"), config.to_string()).expect("write config.json");
    dir
}

#[test]
fn oci_config_capabilities_reach_the_container_and_chown_needs_cap_chown() {
    if !root_or_skip("oci_config_capabilities") {
        return;
    }
    // docker's default set, less CAP_CHOWN.
    let caps = [
        "dac_override",
        "fsetid",
        "fowner",
        "mknod",
        "net_raw",
        "setgid",
        "setuid",
        "setfcap",
        "setpcap",
        "net_bind_service",
        "sys_chroot",
        "kill",
        "audit_write",
    ];
    let dir = oci_bundle("chown", "grep -E 'Cap(Eff|Bnd)' /proc/self/status; touch /tmp/f; chown 1 /tmp/f", &caps);
    let mask = caps.iter().filter_map(|c| NAMES.iter().position(|n| n == c)).fold(0u64, |m, i| m | 1 << i);

    let out = run({
        let mut c = Command::new(bulwark());
        c.arg("--root").arg(dir.join("state")).args(["run", "--bundle"]).arg(&dir).arg("caps1").current_dir(&dir);
        c
    });

    assert_eq!(out.stdout_str(), format!("CapEff:\t{mask:016x}\nCapBnd:\t{mask:016x}\n"), "{}", out.stderr_str());
    assert_eq!(out.stderr_str(), "chown: /tmp/f: Operation not permitted\n");
    assert_eq!(out.status.code(), Some(1));
}
