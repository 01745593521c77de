//! A container's state directory (`ROOT/ID/`) and what is known of the
//! container from it and from `/proc`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The runtime-spec version bulwark's state and config follow (runc 1.1's).
pub const OCI_VERSION: &str = "1.0.2-dev";

/// The state file in a container's directory.
const STATE_FILE: &str = "state.json";
/// The control socket in a container's directory.
const CONTROL_SOCKET: &str = "control.sock";
/// How long a control request may take: a sandbox that is busy or stopped
/// (SIGSTOP) is then judged from the state file.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(2);
/// The directory, in a container's, naming the waiters `exec --detach`
/// leaves (see [`super::exec`]): a file per waiter, named by its pid and
/// holding its start time.
const WAITERS_DIR: &str = "waiters";
/// `sun_path`'s size, terminating NUL included.
const SUN_PATH_MAX: usize = 108;

/// What `create` records, and later verbs read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    /// The sandbox's (boot's) host pid.
    pub pid: i32,
    /// Its start time (field 22 of `/proc/PID/stat`, clock ticks after
    /// boot), so that a pid reused by another process is not taken for it.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    pub annotations: BTreeMap<String, String>,
    /// `start` has been answered `ok`.
    pub started: bool,
}

/// A container's status, as `state` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What `state` prints, in runc's order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: &'static str,
    pub id: String,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// "" in `state`, the state directory's owner in `list` (as runc).
    pub owner: String,
}

/// A container known under `--root`.
#[derive(Debug)]
pub struct Container {
    pub dir: PathBuf,
    pub saved: Saved,
}

/// A container id as runc takes them: letters, digits and `_+-.`, not `.`
/// or `..` (it names a directory under the root).
pub fn check_id(id: &str) -> anyhow::Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+-.".contains(c);
    if id.is_empty() || id == "." || id == ".." || !id.chars().all(ok_char) {
        bail!("invalid container id format: {id:?}");
    }
    Ok(())
}

/// Make `ROOT/ID` (and ROOT, mode 0700, if missing); an existing one is the
/// duplicate-id error. Returns the directory.
pub fn make_dir(root: &Path, id: &str) -> anyhow::Result<PathBuf> {
    check_id(id)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .with_context(|| format!("state root {}", root.display()))?;
    let dir = root.join(id);
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!("container with id exists: {id}"),
        Err(e) => Err(e).with_context(|| format!("state directory {}", dir.display())),
    }
}

/// The control socket's path in `dir`.
pub fn control_path(dir: &Path) -> PathBuf {
    dir.join(CONTROL_SOCKET)
}

/// `f` on an address naming the control socket in `dir`: its path, or,
/// where that is too long for a socket address (containerd's CRI plugin
/// gives the shim a --root under its state directory and 64-character
/// ids), the same file through a descriptor of `dir`
/// (`/proc/self/fd/N/control.sock`), held open while `f` runs.
fn on_control_socket<T>(dir: &Path, f: impl FnOnce(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    let path = control_path(dir);
    if path.as_os_str().len() < SUN_PATH_MAX {
        return f(&path);
    }
    let fd = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    f(&Path::new("/proc/self/fd").join(fd.as_raw_fd().to_string()).join(CONTROL_SOCKET))
}

/// Bind the control socket in `dir`.
pub fn bind_control(dir: &Path) -> anyhow::Result<UnixListener> {
    on_control_socket(dir, |p| UnixListener::bind(p))
        .with_context(|| format!("control socket {}", control_path(dir).display()))
}

/// Connect to the control socket in `dir`.
pub fn connect_control(dir: &Path) -> anyhow::Result<UnixStream> {
    on_control_socket(dir, |p| UnixStream::connect(p))
        .with_context(|| format!("connecting to the sandbox at {}", control_path(dir).display()))
}

impl Container {
    /// The container `id` under `root`.
    pub fn load(root: &Path, id: &str) -> anyhow::Result<Container> {
        check_id(id)?;
        let dir = root.join(id);
        let path = dir.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("container does not exist: {id}"),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let saved = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Container { dir, saved })
    }

    /// The container `id` under `root`, or `None` if there is none.
    pub fn load_if_there(root: &Path, id: &str) -> anyhow::Result<Option<Container>> {
        check_id(id)?;
        if !root.join(id).join(STATE_FILE).exists() {
            return Ok(None);
        }
        Container::load(root, id).map(Some)
    }

    /// Write the state file (a new file renamed over the old one, so that
    /// a reader never sees half of it).
    pub fn save(&self) -> anyhow::Result<()> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!(".{STATE_FILE}.tmp"));
        let text = serde_json::to_string(&self.saved).context("encoding the state")?;
        fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Whether the sandbox still runs: its pid is there, with the start
    /// time recorded, and is not a zombie.
    pub fn alive(&self) -> bool {
        proc_stat(self.saved.pid).is_some_and(|s| s.start_time == self.saved.start_time && s.state != 'Z')
    }

    pub fn status(&self) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        match self.ask("state").as_deref() {
            Ok("created") => Status::Created,
            Ok("running") => Status::Running,
            Ok("paused") => Status::Paused,
            _ if self.saved.started => Status::Running,
            _ => Status::Created,
        }
    }

    /// Send one request to the sandbox's control socket; its answer,
    /// without the newline.
    pub fn ask(&self, request: &str) -> anyhow::Result<String> {
        self.ask_within(request, CONTROL_TIMEOUT)
    }

    /// [`Container::ask`], waiting up to `timeout` for the answer.
    pub fn ask_within(&self, request: &str, timeout: Duration) -> anyhow::Result<String> {
        let mut conn = connect_control(&self.dir)?;
        conn.set_read_timeout(Some(timeout)).context("control socket timeout")?;
        conn.set_write_timeout(Some(CONTROL_TIMEOUT)).context("control socket timeout")?;
        conn.write_all(format!("{request}\n").as_bytes()).context("writing to the control socket")?;
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).context("reading the control socket")?;
        if line.is_empty() {
            bail!("the sandbox closed its control socket");
        }
        Ok(line.trim_end().to_owned())
    }

    /// The state as runc's `state` prints it (pid 0 once stopped).
    pub fn oci_state(&self, status: Status) -> OciState {
        OciState {
            oci_version: OCI_VERSION,
            id: self.saved.id.clone(),
            pid: if status == Status::Stopped { 0 } else { self.saved.pid },
            status: status.as_str(),
            bundle: self.saved.bundle.clone(),
            rootfs: self.saved.rootfs.clone(),
            created: self.saved.created.clone(),
            annotations: self.saved.annotations.clone(),
            owner: String::new(),
        }
    }

    /// The container's host processes, as `ps` lists them: the sandbox
    /// and its descendants, and the waiters of `exec --detach` still
    /// running ([`record_waiter`]); the sandbox first, the rest in
    /// ascending order.
    pub fn host_pids(&self) -> Vec<i32> {
        let mut pids = descendants(self.saved.pid);
        for w in waiters(&self.dir) {
            if !pids.contains(&w) {
                pids.push(w);
            }
        }
        if let Some(rest) = pids.get_mut(1..) {
            rest.sort_unstable();
        }
        pids
    }

    /// Remove the state directory.
    pub fn remove(&self) -> anyhow::Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.dir.display())),
        }
    }
}

/// The ids of the containers under `root`, sorted (none if it is missing).
pub fn ids(root: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Record `pid`, a waiter of `exec --detach` for the container whose
/// directory is `dir`, so that [`Container::host_pids`] lists it while it
/// runs. One that has already exited is not recorded.
pub fn record_waiter(dir: &Path, pid: i32) -> anyhow::Result<()> {
    let Some(stat) = proc_stat(pid) else {
        return Ok(());
    };
    let waiters = dir.join(WAITERS_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&waiters)
        .with_context(|| format!("creating {}", waiters.display()))?;
    // Written whole under another name first: a half-written record would
    // be taken for a stale one.
    let path = waiters.join(pid.to_string());
    let tmp = waiters.join(format!(".{pid}.tmp"));
    fs::write(&tmp, stat.start_time.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// The recorded waiters in `dir` that still run (same start time, not a
/// zombie); the records of those gone are removed.
fn waiters(dir: &Path) -> Vec<i32> {
    let Ok(entries) = fs::read_dir(dir.join(WAITERS_DIR)) else {
        return Vec::new();
    };
    let mut live = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let recorded = fs::read_to_string(e.path()).ok().and_then(|t| t.trim().parse::<u64>().ok());
        match proc_stat(pid) {
            Some(s) if Some(s.start_time) == recorded && s.state != 'Z' => live.push(pid),
            // Gone, reused, or a zombie about to be reaped.
            _ => {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    live
}

/// What `/proc/PID/stat` tells about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: R, S, D, Z, T...
    pub state: char,
    /// Field 4.
    pub ppid: i32,
    /// Field 14, in clock ticks.
    pub utime: u64,
    /// Field 15, in clock ticks.
    pub stime: u64,
    /// Field 22.
    pub start_time: u64,
}

/// `/proc/PID/stat` of `pid`, if there is such a process.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parse a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses itself: the fields
/// after it start after the last `)`.
fn parse_stat(line: &str) -> Option<ProcStat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// `pid` and all its descendants, by the parent links in `/proc`, `pid`
/// first, the rest in ascending order.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(s) = proc_stat(p) {
                parents.push((p, s.ppid));
            }
        }
    }
    tree_from(pid, &parents)
}

/// `root` and its descendants in the (pid, ppid) pairs `parents`.
fn tree_from(root: i32, parents: &[(i32, i32)]) -> Vec<i32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|&&(c, pp)| pp == p && c != root).map(|&(c, _)| c));
        i += 1;
    }
    found[1..].sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_socket_whose_path_is_too_long_for_an_address_is_reached_through_its_directory() {
        // As under containerd's CRI plugin: a long --root and a 64-character id.
        let base = std::env::temp_dir().join(format!("bulwark-state-{}", std::process::id()));
        let dir = base.join("r".repeat(40)).join("c".repeat(64));
        fs::create_dir_all(&dir).expect("state directory");
        assert!(control_path(&dir).as_os_str().len() >= SUN_PATH_MAX);

        let listener = bind_control(&dir).expect("bind");
        let mut client = connect_control(&dir).expect("connect");
        client.write_all(b"state\n").expect("write");
        let (conn, _) = listener.accept().expect("accept");
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).expect("read");

        assert_eq!(line, "state\n");
        assert!(control_path(&dir).exists(), "the socket is in the directory itself");
        let _ = fs::remove_dir_all(&base);
    }

    #[test]
    fn stat_fields_are_found_after_a_command_name_with_spaces_and_parens() {
        let line = "42 (a b) c)) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";

        let s = parse_stat(line);

        assert_eq!(s, Some(ProcStat { state: 'S', ppid: 7, utime: 1, stime: 2, start_time: 987_654 }));
    }

    #[test]
    fn a_truncated_stat_line_is_no_process() {
        assert_eq!(parse_stat("42 (x) S 1 2"), None);
    }

    #[test]
    fn descendants_include_grandchildren_but_not_siblings() {
        let parents = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 10)];

        assert_eq!(tree_from(10, &parents), [10, 11, 12, 14]);
    }

    #[test]
    fn ids_with_slashes_or_dot_dot_are_rejected() {
        let bad = ["", ".", "..", "a/b", "a b"].map(|id| check_id(id).is_err());

        assert_eq!(bad, [true; 5]);
        assert!(check_id("abc-1.2_x+y").is_ok());
    }

    #[test]
    fn a_recorded_waiter_is_listed_while_it_runs_and_a_stale_record_is_removed() {
        let dir = std::env::temp_dir().join(format!("bulwark-oci-waiters-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let recorded = record_waiter(&dir, me);
        // A record whose start time is not the process's: its pid was reused.
        let stale = dir.join(WAITERS_DIR).join("1");
        let _ = fs::write(&stale, "0");

        let live = waiters(&dir);

        let stale_left = stale.exists();
        let _ = fs::remove_dir_all(&dir);
        assert!(recorded.is_ok(), "{recorded:?}");
        assert_eq!(live, [me]);
        assert!(!stale_left);
    }

    #[test]
    fn the_process_itself_is_alive_under_its_own_start_time() {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let s = proc_stat(me).map(|s| s.start_time).unwrap_or(0);
        let c = Container {
            dir: PathBuf::from("/nonexistent"),
            saved: Saved {
                id: "x".into(),
                pid: me,
                start_time: s,
                bundle: PathBuf::new(),
                rootfs: PathBuf::new(),
                created: String::new(),
                annotations: BTreeMap::new(),
                started: true,
            },
        };
        let reused = Container { saved: Saved { start_time: s + 1, ..c.saved.clone() }, dir: c.dir.clone() };

        assert_eq!((c.alive(), reused.alive()), (true, false));
    }
}
