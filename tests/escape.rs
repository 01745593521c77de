//! The escape suite: attacks on the host from inside the sandbox, each
//! judged from the host. Every attack also runs natively, as the same user
//! and against the same kind of canary, to show that it works there (where
//! this host's kernel makes it fail natively too, the test says so on
//! stderr); under `bulwark do` the canary must be untouched: a file's
//! content, a process alive and unchanged, a listener that accepted no
//! connection, a kernel object the host would list. The programs are
//! tests/c/escape_*.c.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::netns::Netns;
use common::procs::descendants;
use common::{c_program, fresh_dir, native_command, run, sandboxed_command, Output, TIMEOUT};

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("{test}: skipped: needs root");
    false
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A program started with its stdin piped, its stdout read line by line,
/// so that the host can look at it once it prints "ready" (the programs
/// then hold what they made until stdin ends).
struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stdout: String,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Held {
    fn start(mut cmd: Command) -> Held {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            buf
        });
        Held { child, stdin, lines, stdout: String::new(), stderr }
    }

    /// Wait for the "ready" line (or the end of stdout); true if it came.
    fn ready(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "ready" => return true,
                Ok(line) => {
                    self.stdout.push_str(&line);
                    self.stdout.push('\n');
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// The program and every host process below it.
    fn tree(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(descendants(self.child.id()).iter().map(|p| p.pid));
        pids
    }

    /// End stdin, wait for the exit (bounded by [`TIMEOUT`]), collect output.
    fn finish(mut self) -> Output {
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match self.child.try_wait().expect("wait") {
                Some(status) => break status,
                None if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("a held program did not finish within {TIMEOUT:?}");
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stdout.push_str(&line);
            self.stdout.push('\n');
        }
        let stderr = self.stderr.join().expect("stderr reader");
        Output { stdout: std::mem::take(&mut self.stdout).into_bytes(), stderr, status }
    }
}

/// Start `cmd`, wait for "ready", return the descriptor targets of its
/// whole host process tree, then finish it.
fn fds_while_held(cmd: Command) -> (Vec<String>, Output) {
    let mut held = Held::start(cmd);
    let ready = held.ready();
    let mut targets = Vec::new();
    for pid in held.tree() {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.filter_map(Result::ok) {
            if let Ok(t) = fs::read_link(fd.path()) {
                targets.push(t.to_string_lossy().into_owned());
            }
        }
    }
    let out = held.finish();
    assert!(ready, "no \"ready\" from the program: {} {}", out.stdout_str(), out.stderr_str());
    (targets, out)
}

/// What a run printed, for failure messages.
fn shown(out: &Output) -> String {
    format!("status {:?}, stdout {:?}, stderr {:?}", out.status, out.stdout_str(), out.stderr_str())
}

// ---------------------------------------------------------------------------
// Host files outside the rootfs.
// ---------------------------------------------------------------------------

/// A host file with a secret in it, outside a busybox root directory that
/// holds a static escape_fs in /bin: `DIR/canary` beside `DIR/rootfs`.
struct Canary {
    dir: PathBuf,
    file: PathBuf,
    rootfs: PathBuf,
    secret: String,
}

impl Canary {
    fn new(name: &str) -> Canary {
        let dir = fresh_dir(name);
        let rootfs = dir.join("rootfs");
        fs::create_dir_all(rootfs.join("bin")).expect("mkdir bin");
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("copy busybox (is busybox-static installed?)");
        for applet in ["sh", "cat", "echo", "ls"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).expect("applet symlink");
        }
        for d in ["etc", "tmp", "proc", "dev"] {
            fs::create_dir(rootfs.join(d)).expect("mkdir");
        }
        fs::copy(c_program("escape_fs", &["-static"]), rootfs.join("bin/escape_fs")).expect("copy escape_fs");
        let file = dir.join("canary");
        let secret = format!("secret-{}-{}\n", std::process::id(), name);
        let canary = Canary { dir, file, rootfs, secret };
        canary.reset();
        canary
    }

    /// A canary for a test that needs root, or `None` (said on stderr).
    fn for_root(test: &str, name: &str) -> Option<Canary> {
        root_or_skip(test).then(|| Canary::new(name))
    }

    fn reset(&self) {
        fs::write(&self.file, &self.secret).expect("write canary");
        fs::set_permissions(&self.file, fs::Permissions::from_mode(0o666)).expect("chmod canary");
    }

    fn content(&self) -> String {
        fs::read_to_string(&self.file).expect("canary still on the host")
    }

    /// The native run reached the file: it read the secret and wrote.
    fn assert_reached(&self, out: &Output) {
        assert_eq!(self.content(), "PWNED\n", "the attack did not work natively: {}", shown(out));
        assert!(out.stdout_str().contains(self.secret.trim()), "natively: {}", shown(out));
        self.reset();
    }

    /// The sandboxed run did not: the file is as it was, the secret unread.
    fn assert_untouched(&self, out: &Output) {
        assert_eq!(self.content(), self.secret, "the sandbox changed the host's canary: {}", shown(out));
        let all = format!("{}{}", out.stdout_str(), out.stderr_str());
        assert!(!all.contains(self.secret.trim()), "the sandbox read the host's canary: {}", shown(out));
        assert!(!out.status.success(), "the attack claims success in the sandbox: {}", shown(out));
    }

    /// `bulwark do --rootfs DIR [opts] -- /bin/escape_fs args`, in both
    /// overlay modes (`none` sends writes to the rootfs on the host), each
    /// judged from the host.
    fn assert_sandbox_holds(&self, args: &[&str], opts: &[&str]) {
        for overlay in ["memory", "none"] {
            let mut all = vec!["--rootfs", path_str(&self.rootfs), "--overlay", overlay];
            all.extend_from_slice(opts);
            let mut argv = vec!["/bin/escape_fs"];
            argv.extend_from_slice(args);
            let out = run(sandboxed_command(&argv, &all));
            self.assert_untouched(&out);
        }
    }

    fn native(&self, args: &[&str]) -> Output {
        let mut argv = vec![path_str(&self.rootfs.join("bin/escape_fs")).to_owned()];
        argv.extend(args.iter().map(|a| a.to_string()));
        run(native_command(&argv))
    }

    /// Natively, in a real `chroot DIR` (as the sandbox's rootfs would be
    /// for a container runtime without an application kernel).
    fn native_chrooted(&self, args: &[&str]) -> Output {
        let mut argv = vec!["chroot", path_str(&self.rootfs), "/bin/escape_fs"];
        argv.extend_from_slice(args);
        run(native_command(&argv))
    }
}

/// `cmd` with `file` open as descriptor `fd` (not close-on-exec) in the
/// program it starts.
fn inheriting(mut cmd: Command, file: &fs::File, fd: i32) -> Command {
    let raw = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: dup2 is async-signal-safe; it runs in the child before exec.
    unsafe {
        cmd.pre_exec(move || match libc::dup2(raw, fd) {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    cmd
}

/// The canary's host path climbed to from the root with `..`s.
fn dotdot_path(file: &Path) -> String {
    format!("{}{}", "/..".repeat(16), path_str(file))
}

#[test]
fn dotdot_from_the_rootfs_does_not_reach_a_host_file() {
    let c = Canary::new("escape-dotdot");
    let path = dotdot_path(&c.file);

    c.assert_reached(&c.native(&["open", &path]));
    c.assert_sandbox_holds(&["open", &path], &[]);
    // A relative climb from the working directory, too.
    let relative = format!("{}{}", "../".repeat(16), path_str(&c.file).trim_start_matches('/'));
    c.assert_sandbox_holds(&["open", &relative], &["--cwd", "/etc"]);
}

#[test]
fn absolute_symlink_in_the_rootfs_does_not_reach_a_host_file() {
    let c = Canary::new("escape-abs-link");
    std::os::unix::fs::symlink(&c.file, c.rootfs.join("link")).expect("symlink");

    c.assert_reached(&c.native(&["open", path_str(&c.rootfs.join("link"))]));
    c.assert_sandbox_holds(&["open", "/link"], &[]);
}

#[test]
fn relative_symlink_in_the_rootfs_does_not_reach_a_host_file() {
    let c = Canary::new("escape-rel-link");
    // rootfs/etc/link -> ../../canary: from the host, DIR/canary.
    std::os::unix::fs::symlink("../../canary", c.rootfs.join("etc/link")).expect("symlink");
    let deep = format!("{}{}", "../".repeat(16), path_str(&c.file).trim_start_matches('/'));
    std::os::unix::fs::symlink(&deep, c.rootfs.join("etc/deep")).expect("symlink");

    c.assert_reached(&c.native(&["open", path_str(&c.rootfs.join("etc/link"))]));
    c.assert_reached(&c.native(&["open", path_str(&c.rootfs.join("etc/deep"))]));
    c.assert_sandbox_holds(&["open", "/etc/link"], &[]);
    c.assert_sandbox_holds(&["open", "/etc/deep"], &[]);
}

#[test]
fn proc_self_root_does_not_reach_a_host_file() {
    let c = Canary::new("escape-proc-self-root");
    let path = format!("/proc/self/root{}", path_str(&c.file));

    c.assert_reached(&c.native(&["open", &path]));
    c.assert_sandbox_holds(&["open", &path], &[]);
}

#[test]
fn proc_1_root_does_not_reach_a_host_file() {
    let Some(c) = Canary::for_root("proc_1_root_does_not_reach_a_host_file", "escape-proc-1-root") else { return };
    let path = format!("/proc/1/root{}", path_str(&c.file));

    let native = c.native(&["open", &path]);
    if native.stdout_str() == "open: EACCES\n" {
        // A host whose pid 1 is beyond even root's reach (another user
        // namespace's, a VM's agent): the sandbox must hold all the same.
        eprintln!("proc_1_root_does_not_reach_a_host_file: natively EACCES on this host");
    } else {
        c.assert_reached(&native);
    }
    c.assert_sandbox_holds(&["open", &path], &[]);
}

#[test]
fn open_by_handle_at_does_not_reach_a_host_file() {
    let Some(c) = Canary::for_root("open_by_handle_at_does_not_reach_a_host_file", "escape-by-handle") else { return };
    // The handle as the host's kernel makes it (an attacker would guess it:
    // "shocker" walks inode numbers from the root's handle).
    let handle = c.native(&["gethandle", path_str(&c.file)]);
    assert!(handle.status.success(), "name_to_handle_at: {}", shown(&handle));
    let stdout = handle.stdout_str();
    let (kind, hex) = stdout.trim().split_once(' ').expect("TYPE HEX");

    // Natively a chroot into the root directory does not stop it.
    c.assert_reached(&c.native_chrooted(&["handle", "/", kind, hex]));
    c.assert_sandbox_holds(&["handle", "/", kind, hex], &[]);
}

#[test]
fn chroot_escape_does_not_reach_a_host_file() {
    let Some(c) = Canary::for_root("chroot_escape_does_not_reach_a_host_file", "escape-chroot") else { return };
    let path = path_str(&c.file).to_owned();

    // Natively: chroot(subdir), chdir("..") past the root, chroot(".").
    c.assert_reached(&c.native_chrooted(&["chroot", &path]));
    c.assert_sandbox_holds(&["chroot", &path], &[]);
}

#[test]
fn inherited_directory_descriptor_does_not_reach_a_host_file() {
    let c = Canary::new("escape-inherited-fd");
    // Descriptor 9, open on the canary's directory, left open across exec.
    let dir = fs::File::open(&c.dir).expect("open canary directory");
    let with_fd9 = |cmd: Command| run(inheriting(cmd, &dir, 9));

    let native = with_fd9(native_command(&[path_str(&c.rootfs.join("bin/escape_fs")), "openat", "9", "canary"]));
    c.assert_reached(&native);
    for overlay in ["memory", "none"] {
        let opts = ["--rootfs", path_str(&c.rootfs), "--overlay", overlay];
        let out = with_fd9(sandboxed_command(&["/bin/escape_fs", "openat", "9", "canary"], &opts));
        c.assert_untouched(&out);
    }
}

/// A host Unix socket at `path` whose every client is sent a descriptor of
/// `file` (SCM_RIGHTS); returns a count of the clients it served.
fn fd_server(path: &Path, file: &Path) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    use std::os::fd::AsRawFd;
    let listener = UnixListener::bind(path).expect("bind fd server");
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    let file = file.to_owned();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let f = fs::OpenOptions::new().read(true).write(true).open(&file).expect("open canary");
            let fds = [f.as_raw_fd()];
            let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
            let iov = [std::io::IoSlice::new(b"x")];
            let sent = nix::sys::socket::sendmsg::<()>(
                conn.as_raw_fd(),
                &iov,
                &cmsg,
                nix::sys::socket::MsgFlags::empty(),
                None,
            );
            if sent.is_ok() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    served
}

#[test]
fn descriptor_passed_over_a_host_unix_socket_in_the_rootfs_does_not_reach_a_host_file() {
    let Some(c) = Canary::for_root(
        "descriptor_passed_over_a_host_unix_socket_in_the_rootfs_does_not_reach_a_host_file",
        "escape-fd-passing",
    ) else {
        return;
    };
    let served = fd_server(&c.rootfs.join("fds.sock"), &c.file);
    let count = || served.load(std::sync::atomic::Ordering::SeqCst);

    // Natively a chroot does not stop a socket in the root from handing
    // out a descriptor of a file outside it.
    c.assert_reached(&c.native_chrooted(&["recvfd", "/fds.sock"]));
    assert_eq!(count(), 1);
    c.assert_sandbox_holds(&["recvfd", "/fds.sock"], &[]);
    assert_eq!(count(), 1, "the sandbox reached the host's socket");
}

#[test]
fn writes_to_the_host_root_stay_in_the_overlay() {
    if !root_or_skip("writes_to_the_host_root_stay_in_the_overlay") {
        return;
    }
    let canary = PathBuf::from(format!("/etc/bulwark-escape-canary-{}", std::process::id()));
    let fresh = PathBuf::from(format!("/etc/bulwark-escape-new-{}", std::process::id()));
    let script = format!("echo x > {0}; echo y > {1}; cat {0} {1}", canary.display(), fresh.display());
    let reset = || {
        fs::write(&canary, "precious\n").expect("write /etc canary");
        let _ = fs::remove_file(&fresh);
    };

    reset();
    let native = run(native_command(&["/bin/sh", "-c", &script]));
    let native_effect = (fs::read_to_string(&canary).ok(), fresh.exists());
    reset();
    let sandboxed = run(sandboxed_command(&["/bin/sh", "-c", &script], &[]));
    let sandboxed_effect = (fs::read_to_string(&canary).ok(), fresh.exists());
    let _ = fs::remove_file(&canary);
    let _ = fs::remove_file(&fresh);

    assert_eq!(native_effect, (Some("x\n".to_owned()), true), "natively: {}", shown(&native));
    assert_eq!(sandboxed.stdout_str(), "x\ny\n", "{}", shown(&sandboxed));
    assert_eq!(sandboxed_effect, (Some("precious\n".to_owned()), false), "the sandbox's writes reached the host");
}

// ---------------------------------------------------------------------------
// Host processes.
// ---------------------------------------------------------------------------

/// A host process the attacks aim at: escape_proc's victim, whose memory
/// at `addr` holds "untouch\0".
struct Victim {
    child: Child,
    pid: u32,
    addr: String,
}

impl Victim {
    fn start() -> Victim {
        let mut child = Command::new(c_program("escape_proc", &[]))
            .arg("victim")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start victim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("victim's line");
        let (pid, addr) = line.trim().split_once(' ').expect("PID ADDR");
        let pid = pid.parse().expect("pid");
        Victim { child, pid, addr: addr.trim_start_matches("0x").to_owned() }
    }

    /// Its memory at the address, read by the host.
    fn memory(&self) -> Vec<u8> {
        let mem = fs::File::open(format!("/proc/{}/mem", self.pid)).expect("open victim's memory");
        let mut buf = [0u8; 8];
        mem.read_at(&mut buf, u64::from_str_radix(&self.addr, 16).expect("hex address")).expect("read victim");
        buf.to_vec()
    }

    /// Alive, not stopped, not traced, its memory as it was.
    fn assert_unharmed(&mut self, out: &Output) {
        std::thread::sleep(Duration::from_millis(100));
        assert!(self.child.try_wait().expect("wait").is_none(), "the victim died: {}", shown(out));
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).expect("victim's status");
        let field = |name: &str| {
            status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default()
        };
        assert_eq!(field("TracerPid:"), "0", "the victim is traced: {}", shown(out));
        assert!(field("State:").starts_with('S'), "the victim is {}: {}", field("State:"), shown(out));
        assert_eq!(self.memory(), b"untouch\0", "the victim's memory changed: {}", shown(out));
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `escape_proc ATTACK PID ADDR` natively against one victim (which must
/// come out poked), sandboxed against another (which must not).
fn process_attack(attack: &str) {
    let prog = c_program("escape_proc", &[]);
    let native_victim = Victim::start();
    let native = run(native_command(&[path_str(&prog), attack, &native_victim.pid.to_string(), &native_victim.addr]));
    assert!(native.status.success(), "natively: {}", shown(&native));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(native_victim.memory(), b"PWNED!!\0", "the attack did not work natively: {}", shown(&native));

    let mut victim = Victim::start();
    let out = run(sandboxed_command(&[path_str(&prog), attack, &victim.pid.to_string(), &victim.addr], &[]));
    victim.assert_unharmed(&out);
    assert!(!out.status.success(), "the attack claims success in the sandbox: {}", shown(&out));
}

#[test]
fn kill_does_not_reach_a_host_process() {
    let prog = c_program("escape_proc", &[]);
    let sleep = || Command::new("sleep").arg("600").spawn().expect("start sleep");
    let mut native_target = sleep();
    let native = run(native_command(&[path_str(&prog), "kill", &native_target.id().to_string()]));
    let native_status = native_target.wait().expect("wait");

    let mut target = sleep();
    let out = run(sandboxed_command(&[path_str(&prog), "kill", &target.id().to_string()], &[]));
    std::thread::sleep(Duration::from_millis(200));
    let alive = target.try_wait().expect("wait").is_none();
    let _ = target.kill();
    let _ = target.wait();

    assert_eq!(native_status.code(), None, "natively the sleep survived: {}", shown(&native));
    assert!(alive, "the sandbox killed a host process: {}", shown(&out));
    assert!(!out.status.success(), "{}", shown(&out));
}

#[test]
fn ptrace_attach_does_not_reach_a_host_process() {
    if root_or_skip("ptrace_attach_does_not_reach_a_host_process") {
        process_attack("ptrace");
    }
}

#[test]
fn process_vm_writev_does_not_reach_a_host_process() {
    if root_or_skip("process_vm_writev_does_not_reach_a_host_process") {
        process_attack("vmwrite");
    }
}

#[test]
fn proc_pid_mem_does_not_reach_a_host_process() {
    if root_or_skip("proc_pid_mem_does_not_reach_a_host_process") {
        process_attack("procmem");
    }
}

// ---------------------------------------------------------------------------
// Host sockets.
// ---------------------------------------------------------------------------

/// Listeners the host runs: an abstract Unix socket, a Unix socket at a
/// path the sandbox can see (the host's root is its root), and TCP on the
/// host's 127.0.0.1. Each counts the connections it accepted.
struct Listeners {
    abstract_name: String,
    path: PathBuf,
    port: u16,
    unix_abstract: UnixListener,
    unix_path: UnixListener,
    tcp: TcpListener,
}

impl Listeners {
    fn new(name: &str) -> Listeners {
        use std::os::linux::net::SocketAddrExt;
        let abstract_name = format!("bulwark-escape-{}-{name}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&abstract_name).expect("abstract address");
        let unix_abstract = UnixListener::bind_addr(&addr).expect("bind abstract");
        let path = fresh_dir(&format!("escape-sock-{name}")).join("s");
        let unix_path = UnixListener::bind(&path).expect("bind path socket");
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().expect("address").port();
        for l in [unix_abstract.set_nonblocking(true), unix_path.set_nonblocking(true), tcp.set_nonblocking(true)] {
            l.expect("non-blocking");
        }
        Listeners { abstract_name, path, port, unix_abstract, unix_path, tcp }
    }

    /// The three attacks' arguments to escape_sock, with each one's
    /// listener's count of connections accepted so far.
    fn attacks(&self) -> [(&'static str, String); 3] {
        [
            ("abstract", self.abstract_name.clone()),
            ("unix", path_str(&self.path).to_owned()),
            ("tcp", self.port.to_string()),
        ]
    }

    fn accepted(&self, kind: &str) -> usize {
        let mut n = 0;
        loop {
            let got = match kind {
                "abstract" => self.unix_abstract.accept().map(drop),
                "unix" => self.unix_path.accept().map(drop),
                _ => self.tcp.accept().map(drop),
            };
            if got.is_err() {
                return n;
            }
            n += 1;
        }
    }
}

/// Natively each socket is reached; through `sandboxed(kind, arg)` those
/// in `reachable` only.
fn socket_attacks(name: &str, reachable: &[&str], sandboxed: impl Fn(&str, &str) -> Command) {
    let l = Listeners::new(name);
    let prog = c_program("escape_sock", &[]);
    for (kind, arg) in l.attacks() {
        let native = run(native_command(&[path_str(&prog), kind, &arg]));
        assert_eq!((native.stdout_str().as_str(), l.accepted(kind)), ("sent\n", 1), "natively {kind}");

        let out = run(sandboxed(kind, &arg));
        let want = usize::from(reachable.contains(&kind));
        assert_eq!(l.accepted(kind), want, "{kind} {arg} from the sandbox: {}", shown(&out));
        if want == 0 {
            assert!(!out.status.success(), "{kind}: {}", shown(&out));
        }
    }
}

#[test]
fn host_sockets_are_unreachable_with_network_none() {
    let prog = c_program("escape_sock", &[]);
    socket_attacks("none", &[], |kind, arg| sandboxed_command(&[path_str(&prog), kind, arg], &["--network", "none"]));
}

#[test]
fn abstract_and_path_unix_sockets_are_unreachable_with_network_host() {
    // --network host makes Internet sockets host sockets: TCP to the
    // host's 127.0.0.1 is meant to work. Unix sockets stay the sandbox's.
    let prog = c_program("escape_sock", &[]);
    socket_attacks("host", &["tcp"], |kind, arg| {
        sandboxed_command(&[path_str(&prog), kind, arg], &["--network", "host"])
    });
}

#[test]
fn host_sockets_are_unreachable_with_network_sandbox() {
    let Some(ns) = Netns::new() else { return };
    let prog = c_program("escape_sock", &[]);
    socket_attacks("sandbox", &[], |kind, arg| {
        let mut cmd = ns.sandboxed(&[path_str(&prog), kind, arg]);
        cmd.stdin(Stdio::null());
        cmd
    });
}

// ---------------------------------------------------------------------------
// Devices.
// ---------------------------------------------------------------------------

/// The FNV-1a hash of the first 64 KiB of `path`, as escape_dev prints
/// it, or why the host cannot read it.
fn hash_of(path: &Path) -> Result<String, std::io::Error> {
    let mut buf = Vec::new();
    fs::File::open(path)?.take(65536).read_to_end(&mut buf)?;
    let h = buf.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3));
    Ok(format!("hash {h:016x}"))
}

/// The host's block devices with data on them: (path, major, minor).
fn host_disks() -> Vec<(PathBuf, String, String)> {
    let Ok(entries) = fs::read_dir("/sys/class/block") else { return Vec::new() };
    let mut disks = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let size: u64 = fs::read_to_string(e.path().join("size")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        let dev = fs::read_to_string(e.path().join("dev")).unwrap_or_default();
        let path = PathBuf::from("/dev").join(&name);
        if let (true, Some((major, minor))) = (size > 0 && path.exists(), dev.trim().split_once(':')) {
            disks.push((path, major.to_owned(), minor.to_owned()));
        }
    }
    disks
}

/// escape_dev with `args`, natively (from `cwd`) and sandboxed: each
/// run's descriptor targets on the host while held, and its output.
fn dev_runs(args: &[&str], cwd: &Path) -> ((Vec<String>, Output), (Vec<String>, Output)) {
    let prog = c_program("escape_dev", &[]);
    let mut argv = vec![path_str(&prog)];
    argv.extend_from_slice(args);
    let mut native = native_command(&argv);
    native.current_dir(cwd);
    (fds_while_held(native), fds_while_held(sandboxed_command(&argv, &[])))
}

/// Reading each host disk through escape_dev `args(disk, major, minor)`:
/// natively it reads what the host reads (where the host may read it at
/// all: a device cgroup may refuse even root); sandboxed the open fails
/// and no host descriptor of the disk exists.
fn disk_attack(test: &str, args: impl Fn(&str, &str, &str) -> Vec<String>) {
    let disks = host_disks();
    assert!(!disks.is_empty(), "no block device with data on this host");
    let cwd = fresh_dir(test);
    for (disk, major, minor) in &disks {
        let argv = args(path_str(disk), major, minor);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let ((_, native), (fds, out)) = dev_runs(&argv, &cwd);
        match hash_of(disk) {
            Ok(host) => assert!(native.stdout_str().contains(&host), "natively {argv:?}: {}", shown(&native)),
            Err(e) => eprintln!(
                "{test}: natively {argv:?}: {:?} (the host itself may not read {}: {e})",
                native.stdout_str().trim(),
                disk.display()
            ),
        }
        let stdout = out.stdout_str();
        assert!(
            stdout.starts_with("open: ") || stdout.starts_with("mknod: "),
            "the sandbox read {argv:?}: {}",
            shown(&out)
        );
        assert!(
            !fds.iter().any(|t| Path::new(t) == disk || t.contains("escape-blockdev")),
            "the sandbox holds {} open: {fds:?}",
            disk.display()
        );
    }
}

#[test]
fn host_disks_are_unreadable() {
    if root_or_skip("host_disks_are_unreadable") {
        disk_attack("escape-disks", |disk, _, _| vec!["read".into(), disk.into()]);
    }
}

#[test]
fn host_disk_device_node_made_with_mknod_is_unreadable() {
    if root_or_skip("host_disk_device_node_made_with_mknod_is_unreadable") {
        disk_attack("escape-mknod", |_, major, minor| vec!["mknod".into(), major.into(), minor.into()]);
    }
}

/// A working directory for a test of `device`, if the test can run: as
/// root, on a host that has the device.
fn device_or_skip(test: &str, device: &str) -> Option<PathBuf> {
    if !root_or_skip(test) {
        return None;
    }
    if !Path::new(device).exists() {
        eprintln!("{test}: skipped: this host has no {device}");
        return None;
    }
    Some(fresh_dir(test))
}

#[test]
fn dev_mem_is_unreadable() {
    let Some(cwd) = device_or_skip("dev_mem_is_unreadable", "/dev/mem") else { return };
    let ((native_fds, native), (fds, out)) = dev_runs(&["read", "/dev/mem"], &cwd);
    assert!(native_fds.iter().any(|t| t == "/dev/mem"), "natively: {}", shown(&native));
    assert!(!fds.iter().any(|t| t == "/dev/mem"), "the sandbox holds /dev/mem open: {}", shown(&out));
    assert!(!out.stdout_str().contains("hash"), "the sandbox read /dev/mem: {}", shown(&out));
}

/// Whether the host's kernel log holds `text`.
fn kmsg_has(text: &str) -> bool {
    let mut kmsg =
        fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg").expect("open /dev/kmsg");
    let mut record = vec![0u8; 8192];
    loop {
        match kmsg.read(&mut record) {
            Ok(n) if n > 0 => {
                if String::from_utf8_lossy(&record[..n]).contains(text) {
                    return true;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue, // records overwritten meanwhile
            _ => return false,
        }
    }
}

#[test]
fn dev_kmsg_is_not_writable() {
    if !root_or_skip("dev_kmsg_is_not_writable") {
        return;
    }
    let cwd = fresh_dir("escape-kmsg");
    let text = |who: &str| format!("bulwark-escape-{who}-{}", std::process::id());
    let prog = c_program("escape_dev", &[]);
    // Writes to /dev/kmsg close together may be dropped (its rate limit):
    // write natively until the text shows.
    let native = |text: &str| {
        for _ in 0..20 {
            let mut cmd = native_command(&[path_str(&prog), "kmsg", text]);
            cmd.current_dir(&cwd);
            let out = fds_while_held(cmd).1;
            std::thread::sleep(Duration::from_millis(500));
            if kmsg_has(text) {
                return out;
            }
        }
        panic!("natively a write does not reach the kernel log");
    };
    let first = native(&text("native"));
    let (_, out) = fds_while_held(sandboxed_command(&[path_str(&prog), "kmsg", &text("sandboxed")], &[]));
    // A record written after the sandbox's run: once it shows, the
    // sandbox's would have too.
    native(&text("fence"));

    assert!(kmsg_has(&text("native")), "natively the text is not in the kernel log: {}", shown(&first));
    assert!(!kmsg_has(&text("sandboxed")), "the sandbox wrote to the host's kernel log: {}", shown(&out));
    assert!(out.stdout_str().starts_with("open: "), "{}", shown(&out));
}

#[test]
fn dev_kvm_makes_no_virtual_machine() {
    let Some(cwd) = device_or_skip("dev_kvm_makes_no_virtual_machine", "/dev/kvm") else { return };
    let ((native_fds, native), (fds, out)) = dev_runs(&["kvm"], &cwd);
    assert!(native_fds.iter().any(|t| t == "anon_inode:kvm-vm"), "natively: {} {native_fds:?}", shown(&native));
    assert!(!fds.iter().any(|t| t.contains("kvm")), "the sandbox reached KVM: {fds:?} {}", shown(&out));
    assert!(out.stdout_str().starts_with("open: "), "{}", shown(&out));
}

// ---------------------------------------------------------------------------
// Kernel surfaces.
// ---------------------------------------------------------------------------

/// escape_kernel CALL natively and sandboxed. Natively the host sees the
/// object it made (a descriptor whose target contains `host_object`) where
/// this kernel has the call; sandboxed the call fails with ENOSYS or EPERM
/// and nothing in the sandbox's host processes is such an object.
fn kernel_surface(call: &str, host_object: Option<&str>) {
    let prog = c_program("escape_kernel", &[]);
    let (native_fds, native) = fds_while_held(native_command(&[path_str(&prog), call]));
    let (fds, out) = fds_while_held(sandboxed_command(&[path_str(&prog), call], &[]));

    eprintln!("{call}: natively {:?}, sandboxed {:?}", native.stdout_str().trim(), out.stdout_str().trim());
    match host_object {
        Some(object) => assert!(native_fds.iter().any(|t| t.contains(object)), "natively: {}", shown(&native)),
        None => eprintln!("{call}: this host's kernel has no such call natively"),
    }
    let stdout = out.stdout_str();
    assert!(
        stdout == format!("{call}: ENOSYS\n") || stdout == format!("{call}: EPERM\n"),
        "sandboxed: {}",
        shown(&out)
    );
    if let Some(object) = host_object {
        assert!(!fds.iter().any(|t| t.contains(object)), "the sandbox made a host {object}: {fds:?}");
    }
}

#[test]
fn io_uring_setup_fails_inside() {
    kernel_surface("io_uring", Some("anon_inode:[io_uring]"));
}

#[test]
fn bpf_fails_inside() {
    kernel_surface("bpf", Some("anon_inode:bpf-map"));
}

#[test]
fn userfaultfd_fails_inside() {
    kernel_surface("userfaultfd", Some("anon_inode:[userfaultfd]"));
}

#[test]
fn perf_event_open_fails_inside() {
    kernel_surface("perf_event", Some("anon_inode:[perf_event]"));
}

/// kexec_load, init_module and finit_module: where the host's kernel has
/// them, natively they get past the permission check to EINVAL/ENOEXEC.
fn privileged_surface(call: &str) {
    let prog = c_program("escape_kernel", &[]);
    let native = run(native_command(&[path_str(&prog), call]));
    let host_has_it = !native.stdout_str().contains("ENOSYS");
    kernel_surface(call, None);
    if host_has_it {
        assert!(!native.stdout_str().contains("EPERM"), "natively: {}", shown(&native));
    }
}

#[test]
fn kexec_load_fails_inside() {
    privileged_surface("kexec_load");
}

#[test]
fn init_module_fails_inside() {
    privileged_surface("init_module");
}

#[test]
fn finit_module_fails_inside() {
    privileged_surface("finit_module");
}

/// The lines of the host's /proc/keys that name `description`, live.
fn host_keys(description: &str) -> Vec<String> {
    let keys = fs::read_to_string("/proc/keys").unwrap_or_default();
    // The second field's flags: 'i' once invalidated, before collection.
    keys.lines()
        .filter(|l| l.contains(description) && !l.split_whitespace().nth(1).unwrap_or("").contains('i'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn add_key_fails_inside_and_adds_no_host_key() {
    let prog = c_program("escape_kernel", &[]);
    let native_key = format!("bulwark-escape-native-{}", std::process::id());
    let key = format!("bulwark-escape-sandboxed-{}", std::process::id());

    let (_, native) = fds_while_held(native_command(&[path_str(&prog), "add_key", &native_key]));
    let native_keys = host_keys(&native_key);
    if let Some(serial) = native.stdout_str().trim().strip_prefix("add_key = ") {
        let _ = run(native_command(&[path_str(&prog), "invalidate_key", serial]));
    }
    let (_, out) = fds_while_held(sandboxed_command(&[path_str(&prog), "add_key", &key], &[]));

    assert_eq!(native_keys.len(), 1, "natively the key is not in /proc/keys: {}", shown(&native));
    assert!(host_keys(&key).is_empty(), "the sandbox added a host key: {:?}", host_keys(&key));
    let stdout = out.stdout_str();
    assert!(stdout == "add_key: ENOSYS\n" || stdout == "add_key: EPERM\n", "{}", shown(&out));
}

// ---------------------------------------------------------------------------
// System calls the sentry's dispatch might not expect: from code written
// at run time, and by the 32-bit entry points.
// ---------------------------------------------------------------------------

/// Every pid the processes of `tree` have on the host, at every pid
/// namespace level (/proc/PID/status's NSpid).
fn host_pids(tree: &[u32]) -> BTreeSet<i64> {
    let mut pids = BTreeSet::new();
    for pid in tree {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(ns) = status.lines().find_map(|l| l.strip_prefix("NSpid:")) {
            pids.extend(ns.split_whitespace().filter_map(|p| p.parse::<i64>().ok()));
        }
        pids.insert(i64::from(*pid));
    }
    pids
}

/// `escape_jit MODE`, a getpid: natively it is the process's pid; in the
/// sandbox it is none of the host pids of the sandbox's processes.
fn getpid_attack(mode: &str) {
    let prog = c_program("escape_jit", &[]);
    let result = |out: &Output| -> Option<i64> { out.stdout_str().trim().strip_prefix("result ")?.parse().ok() };

    let mut native = Held::start(native_command(&[path_str(&prog), mode]));
    assert!(native.ready());
    let native_pid = native.child.id();
    let native = native.finish();
    assert_eq!(result(&native), Some(i64::from(native_pid)), "natively: {}", shown(&native));

    let mut held = Held::start(sandboxed_command(&[path_str(&prog), mode], &[]));
    let ready = held.ready();
    let pids = host_pids(&held.tree());
    let out = held.finish();
    assert!(ready && out.status.success(), "{}", shown(&out));
    let got = result(&out).expect("a result");
    assert!(!pids.contains(&got), "the sandbox's getpid revealed host pid {got} (the sandbox's are {pids:?})");
}

/// `escape_jit MODE PID` aimed at a host `sleep`: it must stay alive.
/// Returns how the native run fared (whether its target died).
fn kill_attack(mode: &str) -> bool {
    let prog = c_program("escape_jit", &[]);
    let sleep = || Command::new("sleep").arg("600").spawn().expect("start sleep");

    let mut native_target = sleep();
    let (_, native) = fds_while_held(native_command(&[path_str(&prog), mode, &native_target.id().to_string()]));
    std::thread::sleep(Duration::from_millis(100));
    let native_killed = native_target.try_wait().expect("wait").is_some();
    let _ = native_target.kill();
    let _ = native_target.wait();
    eprintln!("{mode}: natively {:?}, target killed: {native_killed}", native.stdout_str().trim());

    let mut target = sleep();
    let (_, out) = fds_while_held(sandboxed_command(&[path_str(&prog), mode, &target.id().to_string()], &[]));
    std::thread::sleep(Duration::from_millis(200));
    let alive = target.try_wait().expect("wait").is_none();
    let _ = target.kill();
    let _ = target.wait();
    assert!(alive, "{mode} in the sandbox killed a host process: {}", shown(&out));
    native_killed
}

#[test]
fn syscall_from_rwx_memory_does_not_reveal_the_host_pid() {
    getpid_attack("rwx-getpid");
}

#[test]
fn syscall_from_memory_written_then_made_executable_does_not_reach_a_host_process() {
    assert!(kill_attack("wx-kill"), "natively the JIT kill did not work");
}

#[test]
fn int_0x80_getpid_does_not_reveal_the_host_pid() {
    getpid_attack("int80-getpid");
}

#[test]
fn int_0x80_kill_does_not_reach_a_host_process() {
    assert!(kill_attack("int80-kill"), "natively int 0x80's kill did not work");
}

#[test]
fn sysenter_kill_does_not_reach_a_host_process() {
    // On AMD processors sysenter is an invalid opcode in 64-bit mode
    // (SIGILL natively, nothing killed); on Intel's it enters the kernel.
    kill_attack("sysenter-kill");
}

// ---------------------------------------------------------------------------
// Descriptors and /proc.
// ---------------------------------------------------------------------------

#[test]
fn program_holds_only_its_own_descriptors_before_and_after_exec() {
    let prog = c_program("escape_fds", &[]);
    let listing = |out: &Output| -> BTreeSet<String> {
        out.stdout_str().lines().filter_map(|l| Some(l.split_once(": ")?.1.split(" -> ").next()?.to_owned())).collect()
    };
    // Natively a descriptor the caller leaves open (9) is listed, as a leak
    // would be. In the sandbox, given the same, only the program's stdio:
    // neither the caller's nor the sentry's or gofer's descriptors.
    let dev_null = fs::File::open("/dev/null").expect("open /dev/null");
    let native = run(inheriting(native_command(&[path_str(&prog)]), &dev_null, 9));
    assert!(listing(&native).contains("9"), "natively: {}", shown(&native));

    let out = run(inheriting(sandboxed_command(&[path_str(&prog)], &[]), &dev_null, 9));
    let stdout = out.stdout_str();
    let fds: Vec<&str> = stdout.lines().collect();
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(listing(&out), BTreeSet::from(["0".to_owned(), "1".to_owned(), "2".to_owned()]), "{stdout}");
    assert_eq!(fds.len(), 6, "{stdout}");
    assert!(
        fds.iter().all(|l| l.contains("-> /dev/null") || l.contains("-> pipe:") || l.contains("-> host:")),
        "{stdout}"
    );
}

/// The pids /proc lists, from `ls /proc`'s output.
fn pids_listed(out: &Output) -> BTreeSet<u32> {
    out.stdout_str().split_whitespace().filter_map(|w| w.parse().ok()).collect()
}

#[test]
fn proc_lists_only_the_sandboxs_processes() {
    let mut sleep = Command::new("sleep").arg("600").spawn().expect("start sleep");
    let host_pid = sleep.id();
    let native = run(native_command(&["/bin/ls", "/proc"]));
    let out = run(sandboxed_command(&["/bin/sh", "-c", "ls /proc; cat /proc/*/cmdline | tr '\\0' ' '"], &[]));
    let _ = sleep.kill();
    let _ = sleep.wait();

    assert!(pids_listed(&native).contains(&host_pid), "natively: {}", shown(&native));
    let pids = pids_listed(&out);
    assert!(!pids.contains(&host_pid), "the sandbox lists host process {host_pid}: {}", shown(&out));
    // init, sh and ls (and tr, cat): the sandbox's own.
    assert!(!pids.is_empty() && pids.len() <= 6 && pids.iter().all(|p| *p < 10), "{}", shown(&out));
    assert!(!out.stdout_str().contains("sleep 600"), "{}", shown(&out));
}

#[test]
fn proc_1_cmdline_is_the_sandboxs() {
    let host = fs::read("/proc/1/cmdline").expect("host's /proc/1/cmdline");
    let native = run(native_command(&["/bin/cat", "/proc/1/cmdline"]));
    let out = run(sandboxed_command(&["/bin/cat", "/proc/1/cmdline"], &[]));

    assert_eq!(native.stdout, host);
    assert!(out.status.success(), "{}", shown(&out));
    assert_ne!(out.stdout, host, "the sandbox's pid 1 is the host's init");
}

/// The mount points of a mountinfo.
fn mount_points(mountinfo: &str) -> BTreeSet<String> {
    mountinfo.lines().filter_map(|l| l.split_whitespace().nth(4)).map(str::to_owned).collect()
}

#[test]
fn mountinfo_shows_no_host_mounts() {
    let host = fs::read_to_string("/proc/self/mountinfo").expect("host's mountinfo");
    let native = run(native_command(&["/bin/cat", "/proc/self/mountinfo"]));
    let out = run(sandboxed_command(&["/bin/cat", "/proc/self/mountinfo"], &[]));

    let common = ["/", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/proc", "/sys", "/tmp", "/run"];
    let host_only: BTreeSet<String> =
        mount_points(&host).into_iter().filter(|m| !common.contains(&m.as_str())).collect();
    assert_eq!(mount_points(&native.stdout_str()), mount_points(&host));
    let inside = out.stdout_str();
    assert!(out.status.success() && !inside.is_empty(), "{}", shown(&out));
    let leaked: Vec<String> = mount_points(&inside).into_iter().filter(|m| host_only.contains(m)).collect();
    assert!(leaked.is_empty(), "host mounts inside: {leaked:?}\n{inside}");
    for line in inside.lines() {
        assert!(!host.lines().any(|h| h == line), "a host mount line inside: {line}");
    }
}

// ---------------------------------------------------------------------------
// Resource exhaustion ending inside.
// ---------------------------------------------------------------------------

/// The longest of a few runs of `/bin/true` on the host.
fn host_latency() -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new("/bin/true").status().expect("run /bin/true");
            assert!(status.success());
            start.elapsed()
        })
        .max()
        .unwrap_or_default()
}

/// A pid and its start time (field 22 of /proc/PID/stat), so that a pid
/// used again later is not taken for the same process.
fn identity(pid: u32) -> Option<(u32, String)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some((pid, stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.to_owned()))
}

/// The resident memory of `pids` on the host, in KiB (shared pages count
/// in each process that maps them: an upper bound).
fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

/// What [`watch_hog`] saw of a sandbox exhausting a resource.
struct Watched {
    out: Output,
    /// The most host processes the sandbox had at once.
    most_processes: usize,
    /// The most host memory they held at once (KiB).
    most_rss_kib: u64,
}

/// Watch a sandbox run while it exhausts a resource, until it exits (or,
/// with `hold`, until it prints "ready"): the host's latency stays low;
/// afterwards none of its host processes remain.
fn watch_hog(cmd: Command, hold: bool) -> Watched {
    let mut held = Held::start(cmd);
    let mut seen = BTreeSet::new();
    let (mut most_processes, mut most_rss_kib, mut worst) = (0, 0, Duration::ZERO);
    let mut sample = |held: &Held| {
        let tree = held.tree();
        most_processes = most_processes.max(tree.len());
        most_rss_kib = most_rss_kib.max(rss_kib(&tree));
        seen.extend(tree.into_iter().filter_map(identity));
        worst = worst.max(host_latency());
    };
    let ready = if hold {
        held.ready()
    } else {
        let deadline = Instant::now() + TIMEOUT;
        while held.child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
            sample(&held);
        }
        true
    };
    sample(&held);
    let out = held.finish();
    assert!(ready, "{}", shown(&out));
    assert!(worst < Duration::from_secs(2), "the host answered in {worst:?} during the run");
    // The sandbox's host processes end with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = seen.iter().filter(|(pid, start)| identity(*pid).is_some_and(|(_, s)| &s == start)).count();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} host processes of the sandbox outlived it");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "at most {most_processes} host processes, {most_rss_kib} KiB resident; the host answered within {worst:?}"
    );
    Watched { out, most_processes, most_rss_kib }
}

#[test]
fn fork_bomb_ends_inside_the_pids_limit() {
    let prog = c_program("escape_hog", &[]);
    // Natively 200 children are made.
    let (_, native) = fds_while_held(native_command(&[path_str(&prog), "fork", "200"]));
    assert_eq!(native.stdout_str(), "forked 200\n", "{}", shown(&native));

    // 64 tasks: init, the program and 62 children.
    let limit = ["--pids-limit", "64"];
    let w = watch_hog(sandboxed_command(&[path_str(&prog), "fork", "200"], &limit), true);
    assert_eq!(w.out.stdout_str(), "forked 62 EAGAIN\n", "{}", shown(&w.out));

    // A real bomb, every process forking until the limit, for 3 seconds.
    let w = watch_hog(sandboxed_command(&[path_str(&prog), "bomb", "3"], &limit), false);
    assert!(w.out.status.success(), "{}", shown(&w.out));
    let eagain: u64 = w.out.stdout_str().trim().strip_prefix("eagain ").and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(eagain > 0, "the bomb never hit the limit: {}", shown(&w.out));
    // A host process per task at most, besides bulwark's own few.
    assert!(w.most_processes <= 64 + 8, "the sandbox had {} host processes at once", w.most_processes);
}

#[test]
fn memory_hog_ends_inside_the_memory_limit() {
    use std::os::unix::process::ExitStatusExt;
    let prog = c_program("escape_hog", &[]);
    let native = run(native_command(&[path_str(&prog), "mem", "256"]));
    assert_eq!(native.stdout_str(), "allocated 256\n", "{}", shown(&native));

    // 4 GiB asked for under a 64 MiB limit.
    let w = watch_hog(sandboxed_command(&[path_str(&prog), "mem", "4096"], &["--memory", "64m"]), false);
    let killed = w.out.status.signal() == Some(libc::SIGKILL);
    let refused = w.out.stdout_str().starts_with("allocated ") && w.out.stdout_str().contains("ENOMEM");
    assert!(killed || refused, "{}", shown(&w.out));
    assert!(w.most_rss_kib < 1 << 20, "the sandbox held {} KiB of the host's memory", w.most_rss_kib);
}

#[test]
fn fd_hog_gets_emfile_inside() {
    let prog = c_program("escape_hog", &[]);
    let (native_fds, native) = fds_while_held(native_command(&[path_str(&prog), "fds", "1000000"]));
    assert!(native.stdout_str().ends_with(" EMFILE\n"), "{}", shown(&native));
    assert!(native_fds.len() > 1000, "natively {} descriptors", native_fds.len());

    let mut held = Held::start(sandboxed_command(&[path_str(&prog), "fds", "1000000"], &["--ulimit", "nofile=4096"]));
    let ready = held.ready();
    let host_fds: usize =
        held.tree().iter().filter_map(|pid| fs::read_dir(format!("/proc/{pid}/fd")).ok()).map(|d| d.count()).sum();
    let latency = host_latency();
    let out = held.finish();
    assert!(ready && out.status.success(), "{}", shown(&out));
    assert_eq!(out.stdout_str(), "opened 4093 EMFILE\n", "{}", shown(&out));
    assert!(latency < Duration::from_secs(2), "the host answered in {latency:?}");
    eprintln!("4096 descriptors in the sandbox, {host_fds} on the host");
    assert!(host_fds < 1000, "the sandbox's descriptors are {host_fds} host descriptors");
}

#[test]
fn an_i386_system_call_is_enosys_and_shown_by_strace_not_taken_for_the_x86_64_one() {
    let prog = c_program("escape_jit", &[]);
    // i386 getpid (20) is x86-64's writev: it must not be carried out as that.
    let out = run(sandboxed_command(&[path_str(&prog), "int80-getpid"], &["--strace"]));

    assert!(out.stdout_str().contains("result -38"), "{}", shown(&out));
    assert!(out.stderr_str().contains("int0x80_20() = -1 ENOSYS"), "{}", shown(&out));
    assert!(!out.stderr_str().contains("writev("), "{}", shown(&out));
}
