//! The container's host cgroup, as runc's cgroupfs driver makes it: a
//! directory named by linux.cgroupsPath in every cgroup hierarchy mounted
//! (each cgroup v1 controller's, named ones like `name=systemd`, and the
//! cgroup v2 tree, pure or hybrid), holding every host process of the
//! sandbox (boot, the sentry, its stubs, the gofers), with
//! linux.resources written to its files. podman (`top`, `stats`) and
//! containerd's shim (metrics, OOM events) read it from the host.
//!
//! The sandbox enforces its own pids and memory limits on the application
//! (exactly, with its own OOM killer); the host cgroup's limits leave room
//! for the sandbox itself: [`MEMORY_SLACK`] more bytes, and twice the
//! tasks plus [`PIDS_SLACK`] (each application task may cost a sentry
//! thread and a stub thread), so that the host never kills the sentry
//! before the sandbox's own limit is reached.
//!
//! `create` makes the cgroup and moves itself into it before the sandbox
//! is started, so that every process of the sandbox is born there; it
//! records the path in the state directory (`cgroup`) for `update`,
//! `events` and `delete`, which removes the directories.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use oci_spec::runtime::LinuxResources;

/// Host memory allowed above the container's limit, for the sandbox's own.
pub const MEMORY_SLACK: u64 = 64 << 20;
/// Host tasks allowed above twice the container's pids limit.
pub const PIDS_SLACK: u64 = 32;
/// The file in the state directory naming the cgroup.
const FILE: &str = "cgroup";

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hierarchy {
    mount: PathBuf,
    /// cgroup v2 (no controllers listed: they are in its files).
    v2: bool,
    /// The v1 controllers (and `name=...`, and other options).
    controllers: Vec<String>,
}

impl Hierarchy {
    fn v2(&self) -> bool {
        self.v2
    }

    fn has(&self, c: &str) -> bool {
        self.controllers.iter().any(|x| x == c)
    }
}

/// The hierarchies in `mountinfo` (`/proc/self/mountinfo`'s text).
fn hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount = left.split_whitespace().nth(4)?;
            let mut r = right.split_whitespace();
            let fstype = r.next()?;
            let _source = r.next()?;
            let opts = r.next().unwrap_or("");
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let controllers = if v2 {
                Vec::new()
            } else {
                opts.split(',').filter(|o| !matches!(*o, "rw" | "ro")).map(str::to_owned).collect()
            };
            Some(Hierarchy { mount: PathBuf::from(mount), v2, controllers })
        })
        .collect()
}

/// The cgroup path for container `id`: linux.cgroupsPath, or
/// `/bulwark/ID`. With `--systemd-cgroup`, a `slice:prefix:name` path is
/// laid out as systemd would (`/slice/prefix-name.scope`), for the files
/// only: bulwark asks systemd for nothing.
pub fn path_of(configured: Option<&Path>, id: &str, systemd: bool) -> anyhow::Result<String> {
    let Some(p) = configured.and_then(Path::to_str).filter(|p| !p.is_empty()) else {
        return Ok(format!("/bulwark/{id}"));
    };
    let parts: Vec<&str> = p.split(':').collect();
    let path = match (systemd, parts.as_slice()) {
        (true, [slice, prefix, name]) => {
            let slice = if slice.is_empty() { "system.slice" } else { slice };
            format!("/{slice}/{prefix}-{name}.scope")
        }
        _ if p.starts_with('/') => p.to_owned(),
        _ => format!("/{p}"),
    };
    if path.split('/').any(|c| c == "..") {
        bail!("linux.cgroupsPath {p:?} in config.json must not hold \"..\"");
    }
    Ok(path)
}

/// A container's cgroup: its path below every hierarchy's mount.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub path: String,
    dirs: Vec<(Hierarchy, PathBuf)>,
}

impl Cgroup {
    /// The cgroup at `path` in every hierarchy mounted here (none made).
    pub fn at(path: &str) -> Cgroup {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let rel = path.trim_start_matches('/');
        let dirs = hierarchies(&info)
            .into_iter()
            .map(|h| {
                let d = h.mount.join(rel);
                (h, d)
            })
            .collect();
        Cgroup { path: path.to_owned(), dirs }
    }

    /// Make the directories (as runc: a cpuset one gets its parent's CPUs
    /// and memory nodes) and write `resources`.
    pub fn create(path: &str, resources: Option<&LinuxResources>) -> anyhow::Result<Cgroup> {
        let cg = Cgroup::at(path);
        for (h, dir) in &cg.dirs {
            fs::create_dir_all(dir).with_context(|| format!("making the cgroup {}", dir.display()))?;
            if h.has("cpuset") {
                inherit_cpuset(&h.mount, dir)?;
            }
            if h.v2() {
                enable_v2_controllers(&h.mount, dir);
            }
        }
        if let Some(r) = resources {
            cg.apply(r)?;
        }
        Ok(cg)
    }

    /// Move process `pid` (0: the caller) into the cgroup everywhere.
    pub fn join(&self, pid: u32) -> anyhow::Result<()> {
        for (_, dir) in &self.dirs {
            let procs = dir.join("cgroup.procs");
            fs::write(&procs, pid.to_string()).with_context(|| format!("joining {}", procs.display()))?;
        }
        Ok(())
    }

    /// Write what bulwark applies of `r`: memory and pids (with the
    /// sandbox's slack), CPU shares, quota and period, cpuset, blkio
    /// weight. A file a hierarchy lacks is passed over.
    pub fn apply(&self, r: &LinuxResources) -> anyhow::Result<()> {
        let memory = r.memory().as_ref().and_then(|m| m.limit()).filter(|&l| l > 0);
        let pids = r.pids().as_ref().map(|p| p.limit()).filter(|&l| l > 0);
        let cpu = r.cpu().as_ref();
        for (h, dir) in &self.dirs {
            let mut files: Vec<(&str, String)> = Vec::new();
            let mem = memory.map(|l| host_memory(l as u64));
            let tasks = pids.map(|l| host_tasks(l as u64));
            if h.v2() {
                if let Some(m) = mem {
                    files.push(("memory.max", m.to_string()));
                }
                if let Some(t) = tasks {
                    files.push(("pids.max", t.to_string()));
                }
                if let Some(c) = cpu {
                    if let Some(q) = c.quota().filter(|&q| q > 0) {
                        files.push(("cpu.max", format!("{q} {}", c.period().unwrap_or(100_000))));
                    }
                    if let Some(s) = c.shares().filter(|&s| s > 0) {
                        // runc's conversion of shares (2..262144) to weight (1..10000).
                        let w = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
                        files.push(("cpu.weight", w.to_string()));
                    }
                    if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
                        files.push(("cpuset.cpus", cpus.clone()));
                    }
                }
            } else {
                if h.has("memory") {
                    if let Some(m) = mem {
                        files.push(("memory.limit_in_bytes", m.to_string()));
                    }
                }
                if h.has("pids") {
                    if let Some(t) = tasks {
                        files.push(("pids.max", t.to_string()));
                    }
                }
                if let Some(c) = cpu {
                    if h.has("cpu") {
                        if let Some(s) = c.shares().filter(|&s| s > 0) {
                            files.push(("cpu.shares", s.to_string()));
                        }
                        if let Some(p) = c.period().filter(|&p| p > 0) {
                            files.push(("cpu.cfs_period_us", p.to_string()));
                        }
                        if let Some(q) = c.quota().filter(|&q| q != 0) {
                            files.push(("cpu.cfs_quota_us", q.to_string()));
                        }
                    }
                    if h.has("cpuset") {
                        if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
                            files.push(("cpuset.cpus", cpus.clone()));
                        }
                        if let Some(mems) = c.mems().as_ref().filter(|s| !s.is_empty()) {
                            files.push(("cpuset.mems", mems.clone()));
                        }
                    }
                }
                if h.has("blkio") {
                    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
                        files.push(("blkio.weight", w.to_string()));
                    }
                }
            }
            write_files(dir, &files)?;
        }
        Ok(())
    }

    /// Set the memory and pids limits `bulwark update` changes (`Some(None)`:
    /// no limit), with the sandbox's slack.
    pub fn set_limits(&self, l: &sentry::control::Limits) -> anyhow::Result<()> {
        for (h, dir) in &self.dirs {
            let mut files: Vec<(&str, String)> = Vec::new();
            if let Some(m) = l.memory {
                let v = m.map(host_memory);
                match (h.v2(), h.has("memory")) {
                    (true, _) => files.push(("memory.max", v.map_or_else(|| "max".to_owned(), |b| b.to_string()))),
                    (false, true) => {
                        files.push(("memory.limit_in_bytes", v.map_or_else(|| "-1".to_owned(), |b| b.to_string())))
                    }
                    _ => {}
                }
            }
            if let Some(p) = l.pids {
                if h.v2() || h.has("pids") {
                    let v = p.map(host_tasks);
                    files.push(("pids.max", v.map_or_else(|| "max".to_owned(), |n| n.to_string())));
                }
            }
            write_files(dir, &files)?;
        }
        Ok(())
    }

    /// The host pids in the cgroup (the first hierarchy that lists any).
    pub fn pids(&self) -> Vec<i32> {
        for (_, dir) in &self.dirs {
            let text = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !pids.is_empty() {
                return pids;
            }
        }
        Vec::new()
    }

    /// The CPU time the cgroup's processes used, in nanoseconds, if a
    /// hierarchy counts it.
    pub fn cpu_ns(&self) -> Option<u64> {
        for (h, dir) in &self.dirs {
            if h.has("cpuacct") {
                if let Some(n) = read_u64(&dir.join("cpuacct.usage")) {
                    return Some(n);
                }
            }
            if h.v2() {
                let text = fs::read_to_string(dir.join("cpu.stat")).unwrap_or_default();
                let usec =
                    text.lines().find_map(|l| l.strip_prefix("usage_usec ")).and_then(|v| v.trim().parse::<u64>().ok());
                if let Some(u) = usec {
                    return Some(u * 1000);
                }
            }
        }
        None
    }

    /// SIGKILL whatever is left in the cgroup (a gofer, say), then
    /// [`Cgroup::remove`] it.
    pub fn kill_and_remove(&self, timeout: Duration) -> anyhow::Result<()> {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        self.remove(timeout)
    }

    /// Remove the directories, waiting up to `timeout` for the processes
    /// in them to be gone. One that never empties is an error.
    pub fn remove(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        for (_, dir) in &self.dirs {
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => return Err(e).with_context(|| format!("removing the cgroup {}", dir.display())),
                }
            }
        }
        Ok(())
    }
}

/// Write each `(name, value)` in `dir`; a file the hierarchy does not
/// have (a controller not enabled there) is passed over.
fn write_files(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<()> {
    for (name, value) in files {
        let f = dir.join(name);
        if !f.exists() {
            continue;
        }
        fs::write(&f, value).with_context(|| format!("writing {value} to {}", f.display()))?;
    }
    Ok(())
}

/// Where a process is, in every hierarchy: the directories to go back to.
#[derive(Debug)]
pub struct Place(Vec<PathBuf>);

impl Place {
    /// The caller's place now.
    pub fn own() -> Place {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mine = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Place(hierarchies(&info).iter().filter_map(|h| place_in(h, &mine)).collect())
    }

    /// Move the caller back there (best effort).
    pub fn go_back(&self) {
        for dir in &self.0 {
            let _ = fs::write(dir.join("cgroup.procs"), "0");
        }
    }
}

/// The directory of hierarchy `h` that `/proc/self/cgroup`'s text `mine`
/// puts the process in.
fn place_in(h: &Hierarchy, mine: &str) -> Option<PathBuf> {
    mine.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let matches = if h.v2() { ctrls.is_empty() } else { ctrls.split(',').any(|c| !c.is_empty() && h.has(c)) };
        matches.then(|| h.mount.join(path.trim_start_matches('/')))
    })
}

/// The host cgroup's memory limit for a container limit of `bytes`.
fn host_memory(bytes: u64) -> u64 {
    bytes.saturating_add(MEMORY_SLACK)
}

/// The host cgroup's task limit for a container limit of `n`.
fn host_tasks(n: u64) -> u64 {
    n.saturating_mul(2).saturating_add(PIDS_SLACK)
}

/// Record `cg` in the state directory `dir`.
pub fn save(dir: &Path, cg: &Cgroup) -> anyhow::Result<()> {
    let path = dir.join(FILE);
    fs::write(&path, &cg.path).with_context(|| format!("writing {}", path.display()))
}

/// The cgroup recorded in the state directory `dir`, if one is.
pub fn load(dir: &Path) -> Option<Cgroup> {
    let path = fs::read_to_string(dir.join(FILE)).ok()?;
    Some(Cgroup::at(path.trim()))
}

fn read_u64(p: &Path) -> Option<u64> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Give the new cpuset `dir` its parent's CPUs and memory nodes (empty
/// ones refuse tasks), from the top down.
fn inherit_cpuset(mount: &Path, dir: &Path) -> anyhow::Result<()> {
    let Ok(rel) = dir.strip_prefix(mount) else { return Ok(()) };
    let mut cur = mount.to_path_buf();
    for part in rel.components() {
        let parent = cur.clone();
        cur.push(part);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = fs::read_to_string(cur.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = fs::read_to_string(parent.join(f)).unwrap_or_default();
                fs::write(cur.join(f), theirs.trim()).with_context(|| format!("writing {}", cur.join(f).display()))?;
            }
        }
    }
    Ok(())
}

/// Enable the controllers the container's limits need in every cgroup v2
/// directory above `dir`, best effort (a hybrid tree has none to enable).
fn enable_v2_controllers(mount: &Path, dir: &Path) {
    let Ok(rel) = dir.strip_prefix(mount) else { return };
    let mut cur = mount.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in parts {
        let available = fs::read_to_string(cur.join("cgroup.controllers")).unwrap_or_default();
        let want: Vec<String> = available
            .split_whitespace()
            .filter(|c| matches!(*c, "cpu" | "cpuset" | "memory" | "pids" | "io"))
            .map(|c| format!("+{c}"))
            .collect();
        if !want.is_empty() {
            let _ = fs::write(cur.join("cgroup.subtree_control"), want.join(" "));
        }
        cur.push(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
22 1 0:21 / /proc rw - proc proc rw";

    #[test]
    fn hierarchies_are_read_from_mountinfo() {
        let h = hierarchies(MOUNTINFO);
        let got: Vec<(String, Vec<String>)> =
            h.iter().map(|h| (h.mount.display().to_string(), h.controllers.clone())).collect();
        assert_eq!(
            got,
            [
                ("/sys/fs/cgroup/cpu".to_owned(), vec!["cpu".to_owned()]),
                ("/sys/fs/cgroup/cpu,cpuacct".to_owned(), vec!["cpu".to_owned(), "cpuacct".to_owned()]),
                ("/sys/fs/cgroup/systemd".to_owned(), vec!["xattr".to_owned(), "name=systemd".to_owned()]),
                ("/sys/fs/cgroup/unified".to_owned(), vec![]),
            ]
        );
    }

    #[test]
    fn a_process_place_is_found_per_hierarchy() {
        let h = hierarchies(MOUNTINFO);
        let mine = "4:cpu,cpuacct:/a\n9:name=systemd:/b\n0::/c\n";
        let places: Vec<Option<PathBuf>> = h.iter().map(|h| place_in(h, mine)).collect();
        assert_eq!(
            places,
            [
                Some(PathBuf::from("/sys/fs/cgroup/cpu/a")),
                Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a")),
                Some(PathBuf::from("/sys/fs/cgroup/systemd/b")),
                Some(PathBuf::from("/sys/fs/cgroup/unified/c")),
            ]
        );
    }

    #[test]
    fn paths_follow_the_config_or_default_to_bulwark_id() {
        assert_eq!(path_of(None, "c1", false).ok().as_deref(), Some("/bulwark/c1"));
        assert_eq!(
            path_of(Some(Path::new("/libpod_parent/libpod-x")), "c1", false).ok().as_deref(),
            Some("/libpod_parent/libpod-x")
        );
        assert_eq!(path_of(Some(Path::new("k8s/pod1")), "c1", false).ok().as_deref(), Some("/k8s/pod1"));
        assert_eq!(
            path_of(Some(Path::new("machine.slice:libpod:abc")), "c1", true).ok().as_deref(),
            Some("/machine.slice/libpod-abc.scope")
        );
        assert!(path_of(Some(Path::new("/a/../b")), "c1", false).is_err());
    }
}
