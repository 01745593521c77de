//! From a bundle's config.json to the sandbox that runs it: the
//! [`DoOpts`] `bulwark do` would take, and the network namespace to join.
//!
//! Honoured: process.args, env, cwd, user (uid, gid, additionalGids),
//! terminal, rlimits, oomScoreAdj, capabilities (the five sets, the
//! program's before its execve, as runc sets them); root.path (relative
//! to the bundle) and root.readonly; hostname; mounts (bind mounts of
//! directories and files, tmpfs); hooks (run by `super::hooks`); the
//! network namespace (see [`Netns`]); linux.resources.pids.limit and memory.limit;
//! linux.maskedPaths and readonlyPaths; linux.seccomp (see `super::seccomp`); annotations. The
//! sentry provides /proc, /sys, /dev, /dev/pts, /dev/shm and /dev/mqueue
//! itself, so those mounts are passed over, as are linux.devices it has.
//!
//! Partial, with a note in the log: process.noNewPrivileges (always on),
//! linux.sysctl (kernel.hostname, kernel.domainname and
//! net.ipv4.ip_unprivileged_port_start are applied, others noted),
//! linux.devices it does not have (left out). Other fields are ignored.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use crate::cli::{BindSpec, DoOpts, LogFormat, LogLevel, Network, Overlay};

/// The global flags that shape every container's sandbox.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub platform: Option<String>,
    pub network: Option<Network>,
    pub strace: bool,
    pub debug_log: Option<PathBuf>,
    pub debug: bool,
}

/// Something of the config left out, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Expected: the sandbox provides it another way.
    Debug(String),
    /// The container will lack it.
    Warn(String),
}

/// How to run a bundle.
#[derive(Debug, Clone)]
pub struct Plan {
    pub opts: DoOpts,
    /// The network namespace the sandbox joins.
    pub netns: Option<PathBuf>,
    /// process.terminal.
    pub terminal: bool,
    pub annotations: BTreeMap<String, String>,
    /// linux.seccomp in the sentry's text form (see `super::seccomp`).
    pub seccomp: Option<String>,
    /// The config's hooks (see `super::hooks`).
    pub hooks: Option<oci_spec::runtime::Hooks>,
    pub notes: Vec<Note>,
}

/// Read and parse `bundle/config.json`.
pub fn load(bundle: &Path) -> anyhow::Result<Spec> {
    let path = bundle.join("config.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("malformed config.json ({})", path.display()))
}

fn parse(text: &str) -> anyhow::Result<Spec> {
    Ok(serde_json::from_str(text)?)
}

/// What a network namespace that config.json names by path is to the
/// sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Netns {
    /// The one bulwark runs in. containerd's CRI plugin names the pod
    /// sandbox's (`/proc/PID/ns/net`) for every container of a pod, and
    /// for a pod on the node's network that is the host's: the sandbox's
    /// sockets are host sockets there, as a runc container shares it.
    Own,
    /// Another, with an interface the sandbox's stack can take.
    Usable,
    /// Another, without one: the sandbox keeps a loopback of its own.
    Unusable,
}

/// The plan for `spec` from the bundle `bundle` (absolute). `netns` tells
/// what a network namespace named by path is (see [`Netns`]).
pub fn plan(spec: &Spec, bundle: &Path, o: &Overrides, netns: impl Fn(&Path) -> Netns) -> anyhow::Result<Plan> {
    let mut notes = Vec::new();
    let process = spec.process().as_ref().context("config.json has no process")?;
    let argv: Vec<String> = process.args().clone().unwrap_or_default();
    if argv.is_empty() {
        bail!("process.args in config.json must not be empty");
    }
    let root = spec.root().as_ref().context("config.json has no root")?;
    let rootfs = bundle.join(root.path());
    if !rootfs.is_dir() {
        bail!("rootfs {} (root.path in config.json) does not exist or is not a directory", rootfs.display());
    }
    let readonly = root.readonly().unwrap_or(false);
    let cwd = path_str(process.cwd(), "process.cwd")?;
    let env = process.env().clone().unwrap_or_default();
    if let Some(bad) = env.iter().find(|kv| !matches!(kv.split_once('='), Some((k, _)) if !k.is_empty())) {
        bail!("process.env entry {bad:?} in config.json is not K=V");
    }
    let user = process.user();
    let user = match (user.uid(), user.gid()) {
        (0, 0) => None,
        ids => Some(ids),
    };
    let groups = process.user().additional_gids().clone().map(crate::cli::Groups);
    let mut ulimit = Vec::new();
    for r in process.rlimits().iter().flatten() {
        let name = serde_json::to_value(r.typ()).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let resource = crate::cli::Ulimit::resource(&name)
            .with_context(|| format!("process.rlimits in config.json: unknown type {name:?}"))?;
        if r.soft() > r.hard() {
            bail!("process.rlimits in config.json: the soft limit of {name} is above its hard limit");
        }
        ulimit.push(crate::cli::Ulimit { resource, soft: r.soft(), hard: r.hard() });
    }
    if let Some(adj) = process.oom_score_adj().filter(|a| !(-1000..=1000).contains(a)) {
        bail!("process.oomScoreAdj {adj} in config.json is outside -1000..=1000");
    }
    if process.no_new_privileges() == Some(false) {
        notes.push(Note::Debug(
            "process.noNewPrivileges false: the sandbox's processes never gain privileges on exec".into(),
        ));
    }
    let cap_set = capability_sets(process.capabilities().as_ref())?;
    let hostname = match spec.hostname() {
        Some(h) if !h.is_empty() => h.clone(),
        _ => nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "bulwark".into()),
    };

    let (mut binds, mut tmpfs) = (Vec::new(), Vec::new());
    for m in spec.mounts().iter().flatten() {
        mount(m, bundle, &mut binds, &mut tmpfs, &mut notes)?;
    }

    let linux = spec.linux().as_ref();
    let net = linux
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| ns.iter().find(|n| n.typ() == LinuxNamespaceType::Network));
    let mut netns_path = net.and_then(|n| n.path().clone());
    let kind = netns_path.as_deref().map(&netns);
    // A Kubernetes pod's containers (and its pause sandbox) share the
    // pod's network namespace, and bulwark runs a sandbox per container:
    // one sandbox's own stack would take the pod's interface from all the
    // others. They use host sockets in that namespace instead.
    let in_pod = POD_ANNOTATIONS.iter().any(|a| spec.annotations().as_ref().is_some_and(|m| m.contains_key(*a)));
    let network = match (o.network, net, &netns_path, kind) {
        (Some(mode), _, _, _) => mode,
        (None, Some(_), Some(_), Some(Netns::Own)) => {
            // Nothing to join.
            netns_path = None;
            Network::Host
        }
        (None, Some(_), Some(path), _) if in_pod => {
            notes.push(Note::Debug(format!(
                "a pod's container: host sockets in the pod's network namespace {}",
                path.display()
            )));
            Network::Host
        }
        (None, Some(_), Some(_), Some(Netns::Usable)) => Network::Sandbox,
        (None, Some(_), Some(path), _) => {
            notes.push(Note::Debug(format!(
                "network namespace {} has no interface with an address: the sandbox keeps its own loopback",
                path.display()
            )));
            Network::None
        }
        (None, Some(_), None, _) => Network::None,
        (None, None, _, _) => Network::Host,
    };
    let netns = netns_path;
    let mut sysctl = Vec::new();
    for (k, v) in linux.and_then(|l| l.sysctl().as_ref()).into_iter().flatten() {
        if sentry::container::SYSCTLS.contains(&k.as_str()) {
            sysctl.push(format!("{k}={v}"));
            continue;
        }
        let why = if k == "net.ipv4.ping_group_range" {
            "the sandbox has no ICMP sockets"
        } else {
            "the sandbox has no such setting"
        };
        let note = format!("linux.sysctl {k}={v} is not applied: {why}");
        notes.push(if k == "net.ipv4.ping_group_range" { Note::Debug(note) } else { Note::Warn(note) });
    }
    for d in linux.and_then(|l| l.devices().as_ref()).into_iter().flatten() {
        let (major, minor) = (d.major(), d.minor());
        let note = format!("linux.devices {} ({major}:{minor})", d.path().display());
        notes.push(if PROVIDED_DEVICES.contains(&(major, minor)) {
            Note::Debug(format!("{note}: provided by the sandbox's /dev"))
        } else {
            Note::Warn(format!("{note}: not provided (the sandbox passes no host device through)"))
        });
    }
    let masked_paths = linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default();
    let readonly_paths = linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default();
    for p in masked_paths.iter().chain(&readonly_paths) {
        if !p.starts_with('/') {
            bail!("linux.maskedPaths and readonlyPaths in config.json must be absolute, not {p:?}");
        }
    }
    let resources = linux.and_then(|l| l.resources().as_ref());
    let pids_limit = resources.and_then(|r| r.pids().as_ref()).map_or(0, |p| p.limit().max(0));
    let memory = resources
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .and_then(|l| u64::try_from(l).ok())
        .filter(|&l| l > 0);

    let opts = DoOpts {
        platform: o.platform.clone().unwrap_or_else(|| "ptrace".into()),
        rootfs,
        binds,
        tmpfs,
        // A writable root is written through, as runc's containers write
        // their rootfs; a read-only one needs no upper layer but gets one,
        // so that the mount points the sentry makes never touch the host.
        overlay: if readonly { Overlay::Memory } else { Overlay::None },
        readonly,
        user,
        cwd: Some(cwd),
        env,
        hostname,
        // The program is pid 1, as with runc.
        init: false,
        kernel_release: None,
        strace: o.strace,
        debug_log: o.debug_log.clone(),
        network,
        debug_log_format: LogFormat::Text,
        log_level: if o.debug { LogLevel::Debug } else { LogLevel::Info },
        pids_limit,
        memory,
        // Set by `create`, which writes the profile into the state directory.
        seccomp_profile: None,
        ulimit,
        groups,
        oom_score_adj: process.oom_score_adj(),
        cap_drop: Vec::new(),
        cap_add: Vec::new(),
        cap_set,
        masked_paths,
        readonly_paths,
        sysctl,
        argv: argv.into_iter().map(Into::into).collect(),
    };
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(super::seccomp::profile(s)?),
        None => None,
    };
    Ok(Plan {
        opts,
        netns,
        terminal: process.terminal().unwrap_or(false),
        annotations: spec.annotations().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
        seccomp,
        hooks: spec.hooks().clone(),
        notes,
    })
}

/// process.capabilities as `--cap-set`s: every set, those the config
/// leaves out empty (none at all: no `--cap-set`, the sandbox's default).
/// Sets no process could hold (effective beyond permitted, inheritable
/// beyond bounding, ambient beyond both) are refused, as runc's `capset`
/// would fail.
pub(super) fn capability_sets(
    c: Option<&oci_spec::runtime::LinuxCapabilities>,
) -> anyhow::Result<Vec<crate::caps::CapSet>> {
    let Some(c) = c else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (set, caps) in
        [c.bounding(), c.effective(), c.inheritable(), c.permitted(), c.ambient()].into_iter().enumerate()
    {
        let mut mask = 0;
        for cap in caps.iter().flatten() {
            let n = sentry::caps::number(&cap.to_string())
                .with_context(|| format!("process.capabilities in config.json: unknown capability {cap}"))?;
            mask |= sentry::caps::bit(n);
        }
        out.push(crate::caps::CapSet { set, caps: crate::caps::CapList(mask) });
    }
    if let Some(sets) = crate::caps::sets(&[], &[], &out, 0) {
        sets.validate().map_err(|e| anyhow::anyhow!("process.capabilities in config.json: {e}"))?;
    }
    Ok(out)
}

/// An absolute path in the container, as a string.
fn path_str(p: &Path, what: &str) -> anyhow::Result<String> {
    match p.to_str() {
        Some(s) if s.starts_with('/') => Ok(s.to_owned()),
        _ => bail!("{what} {} in config.json must be an absolute path", p.display()),
    }
}

/// Annotations CRI runtimes put on a pod's containers (containerd's,
/// CRI-O's).
const POD_ANNOTATIONS: &[&str] = &["io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"];

/// Devices (major, minor) the sandbox's /dev has: null, zero, full,
/// random, urandom, tty, ptmx.
const PROVIDED_DEVICES: &[(i64, i64)] = &[(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)];

/// Mount types the sentry provides by itself.
const PROVIDED: &[&str] = &["proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"];

/// Add mount `m` to `binds` or `tmpfs`, or note why it is left out.
fn mount(
    m: &Mount,
    bundle: &Path,
    binds: &mut Vec<BindSpec>,
    tmpfs: &mut Vec<String>,
    notes: &mut Vec<Note>,
) -> anyhow::Result<()> {
    let dst = path_str(m.destination(), "mount destination")?;
    let typ = m.typ().as_deref().unwrap_or("");
    let options = m.options().as_deref().unwrap_or_default();
    let has = |o: &str| options.iter().any(|x| x == o);
    if typ == "bind" || has("bind") || has("rbind") {
        let src = m.source().as_ref().with_context(|| format!("bind mount at {dst} has no source"))?;
        let src = bundle.join(src);
        let meta = fs::metadata(&src).with_context(|| format!("bind mount source {} (for {dst})", src.display()))?;
        if meta.is_dir() || meta.is_file() {
            binds.push(BindSpec { src, dst, readonly: has("ro") || has("rro") });
        } else {
            notes.push(Note::Warn(format!(
                "bind mount of {} at {dst} is not supported (only directories and regular files are): left out",
                src.display()
            )));
        }
        return Ok(());
    }
    if PROVIDED.contains(&typ) || (matches!(typ, "tmpfs" | "devtmpfs") && (dst == "/dev" || dst == "/dev/shm")) {
        notes.push(Note::Debug(format!("{typ} mount at {dst}: provided by the sentry")));
        return Ok(());
    }
    if typ == "tmpfs" {
        tmpfs.push(dst);
        return Ok(());
    }
    bail!(
        "mount type {typ:?} at {dst} in config.json is not supported (bind mounts of directories and tmpfs are; \
         proc, sysfs, devpts, mqueue, cgroup and /dev are provided by the sandbox)"
    )
}

/// What the sandbox applies of `r` for `bulwark update`: the pids and
/// memory limits (a limit of -1, or 0 pids, is none), and the names of
/// what neither it nor the host cgroup applies.
pub fn update_limits(r: &oci_spec::runtime::LinuxResources) -> (sentry::control::Limits, Vec<&'static str>) {
    let mut l = sentry::control::Limits::default();
    if let Some(p) = r.pids() {
        l.pids = Some(u64::try_from(p.limit()).ok().filter(|&n| n > 0));
    }
    if let Some(m) = r.memory().as_ref().and_then(|m| m.limit()) {
        l.memory = Some(u64::try_from(m).ok().filter(|&n| n > 0));
    }
    // cpu and blockIO.weight go to the host cgroup (see `super::cgroup`).
    let mut ignored = Vec::new();
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        ignored.push("hugepageLimits");
    }
    if r.memory().as_ref().is_some_and(|m| m.swap().is_some() || m.reservation().is_some()) {
        ignored.push("memory.swap and memory.reservation");
    }
    (l, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bundle directory with an empty rootfs, unique to `name`.
    fn bundle(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bulwark-oci-config-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("rootfs/data")).expect("bundle");
        dir
    }

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).expect("valid spec")
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "args": ["sh", "-c", "echo hi"],
                "env": ["PATH=/bin", "A=1"],
                "cwd": "/data",
                "user": {"uid": 1000, "gid": 100},
                "terminal": false
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "box",
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}]}
        })
    }

    #[test]
    fn process_root_and_hostname_map_onto_the_sandbox_options() {
        let b = bundle("map");

        let p = plan(&spec(base()), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");

        let o = &p.opts;
        assert_eq!(o.argv, ["sh", "-c", "echo hi"].map(std::ffi::OsString::from));
        assert_eq!(
            (o.env.clone(), o.cwd.clone(), o.user),
            (vec!["PATH=/bin".into(), "A=1".into()], Some("/data".into()), Some((1000, 100)))
        );
        assert_eq!((o.rootfs.clone(), o.readonly, o.overlay, o.init), (b.join("rootfs"), true, Overlay::Memory, false));
        assert_eq!((o.hostname.as_str(), o.network, p.terminal), ("box", Network::None, false));
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn a_writable_root_is_written_through() {
        let b = bundle("rw");
        let mut j = base();
        j["root"]["readonly"] = false.into();

        let p = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");

        assert_eq!((p.opts.readonly, p.opts.overlay), (false, Overlay::None));
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn network_follows_the_network_namespace() {
        let b = bundle("net");
        let with = |ns: serde_json::Value, kind: Netns| {
            let mut j = base();
            j["linux"]["namespaces"] = ns;
            let p = plan(&spec(j), &b, &Overrides::default(), |_| kind).expect("plan");
            (p.opts.network, p.netns)
        };

        let path = serde_json::json!([{"type": "network", "path": "/run/netns/x"}]);
        assert_eq!(with(path.clone(), Netns::Usable), (Network::Sandbox, Some("/run/netns/x".into())));
        assert_eq!(with(path.clone(), Netns::Unusable), (Network::None, Some("/run/netns/x".into())));
        // A pod on the node's network: its containers name the host's.
        assert_eq!(with(path, Netns::Own), (Network::Host, None));
        assert_eq!(with(serde_json::json!([{"type": "network"}]), Netns::Usable), (Network::None, None));
        assert_eq!(with(serde_json::json!([{"type": "pid"}]), Netns::Usable), (Network::Host, None));
        // A Kubernetes pod's container: host sockets in the pod's namespace.
        let mut j = base();
        j["linux"]["namespaces"] = serde_json::json!([{"type": "network", "path": "/run/netns/pod"}]);
        j["annotations"] = serde_json::json!({"io.kubernetes.cri.container-type": "container"});
        let p = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");
        assert_eq!((p.opts.network, p.netns), (Network::Host, Some("/run/netns/pod".into())));
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn mounts_become_binds_and_tmpfs_and_provided_ones_are_passed_over() {
        let b = bundle("mounts");
        fs::create_dir_all(b.join("shared")).expect("dir");
        fs::write(b.join("hosts"), "").expect("file");
        let mut j = base();
        j["mounts"] = serde_json::json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/mnt", "type": "bind", "source": b.join("shared"), "options": ["rbind", "ro"]},
            {"destination": "/rel", "source": "shared", "options": ["bind"]},
            {"destination": "/etc/hosts", "type": "bind", "source": b.join("hosts"), "options": ["rbind"]}
        ]);

        let p = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");

        assert_eq!(
            p.opts.binds,
            vec![
                BindSpec { src: b.join("shared"), dst: "/mnt".into(), readonly: true },
                BindSpec { src: b.join("shared"), dst: "/rel".into(), readonly: false },
                BindSpec { src: b.join("hosts"), dst: "/etc/hosts".into(), readonly: false },
            ]
        );
        assert_eq!(p.opts.tmpfs, ["/scratch"]);
        assert_eq!(p.notes.iter().filter(|n| matches!(n, Note::Warn(_))).count(), 0);
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn update_takes_pids_and_memory_and_names_the_rest() {
        let r: oci_spec::runtime::LinuxResources = serde_json::from_value(serde_json::json!({
            "pids": {"limit": -1}, "memory": {"limit": 1048576, "swap": 2097152}, "cpu": {"shares": 512}
        }))
        .expect("resources");
        let (l, ignored) = update_limits(&r);
        assert_eq!((l.pids, l.memory), (Some(None), Some(Some(1 << 20))));
        assert_eq!(ignored, ["memory.swap and memory.reservation"]);
        let none: oci_spec::runtime::LinuxResources = serde_json::from_str("{}").expect("empty");
        assert_eq!(update_limits(&none).0, sentry::control::Limits::default());
    }

    #[test]
    fn the_sandbox_s_sysctls_are_passed_on_and_others_noted() {
        let b = bundle("sysctl");
        let mut j = base();
        j["linux"] = serde_json::json!({"sysctl": {
            "net.ipv4.ip_unprivileged_port_start": "0",
            "net.ipv4.ping_group_range": "0 0",
            "net.core.somaxconn": "10"
        }});

        let p = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");

        assert_eq!(p.opts.sysctl, ["net.ipv4.ip_unprivileged_port_start=0"]);
        let warned: Vec<&Note> = p.notes.iter().filter(|n| matches!(n, Note::Warn(_))).collect();
        assert_eq!(warned.len(), 1, "{:?}", p.notes);
        assert!(matches!(warned[0], Note::Warn(m) if m.contains("net.core.somaxconn")));
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn an_unknown_mount_type_is_an_error_naming_it() {
        let b = bundle("badmount");
        let mut j = base();
        j["mounts"] = serde_json::json!([{"destination": "/x", "type": "nfs", "source": "srv:/x"}]);

        let err = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).map(|_| ()).unwrap_err();

        assert!(format!("{err}").contains("mount type \"nfs\" at /x"), "{err}");
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn a_missing_rootfs_or_empty_args_is_an_error() {
        let b = bundle("bad");
        let mut no_root = base();
        no_root["root"]["path"] = "nope".into();
        let mut no_args = base();
        no_args["process"]["args"] = serde_json::json!([]);

        let errs = [no_root, no_args].map(|j| plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).is_err());

        assert_eq!(errs, [true, true]);
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn limits_come_from_linux_resources() {
        let b = bundle("limits");
        let mut j = base();
        j["linux"]["resources"] = serde_json::json!({"pids": {"limit": 100}, "memory": {"limit": 1048576}});

        let p = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");

        assert_eq!((p.opts.pids_limit, p.opts.memory), (100, Some(1 << 20)));
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn malformed_json_is_a_parse_error() {
        assert!(parse("{\"ociVersion\": ").is_err());
    }

    #[test]
    fn capabilities_become_the_five_sets_with_those_left_out_empty() {
        let b = bundle("caps");
        let mut j = base();
        j["process"]["capabilities"] = serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "NET_BIND_SERVICE"]
        });

        let p = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");
        let none = plan(&spec(base()), &b, &Overrides::default(), |_| Netns::Usable).expect("plan");

        let sets: Vec<String> = p.opts.cap_set.iter().map(|s| s.to_arg()).collect();
        assert_eq!(
            sets,
            [
                "bounding=CAP_KILL,CAP_NET_BIND_SERVICE",
                "effective=CAP_KILL",
                "inheritable=",
                "permitted=CAP_KILL,CAP_NET_BIND_SERVICE",
                "ambient="
            ]
        );
        assert!(none.opts.cap_set.is_empty());
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn capabilities_no_process_could_hold_are_refused() {
        let b = bundle("badcaps");
        let mut j = base();
        j["process"]["capabilities"] = serde_json::json!({"effective": ["CAP_KILL"], "permitted": []});

        let err = plan(&spec(j), &b, &Overrides::default(), |_| Netns::Usable).map(|_| ()).unwrap_err().to_string();

        assert!(err.contains("effective capabilities CAP_KILL are not permitted"), "{err}");
        let _ = fs::remove_dir_all(&b);
    }
}
