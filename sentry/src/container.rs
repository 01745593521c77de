//! What an OCI config asks of the sandbox beyond `bulwark do`'s usual
//! options: the program's resource limits, supplementary groups,
//! `oom_score_adj` and capability sets (given to processes `bulwark exec`
//! adds too), and
//! masked and read-only paths, applied as runc applies them, once the
//! mounts are made and before the program runs.

use std::sync::Arc;

use abi::consts::*;
use abi::types::Rlimit;
use abi::Errno;

use crate::caps::Capabilities;
use crate::fs::Tmpfs;
use crate::kernel::Process;
use crate::vfs::{Caller, Creds, Location, Vfs};

/// The setup (all empty: `bulwark do`'s defaults).
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// `(RLIMIT_*, soft, hard)`, `u64::MAX` for unlimited.
    pub rlimits: Vec<(u32, u64, u64)>,
    /// The program's supplementary groups, instead of its gid alone.
    pub groups: Option<Vec<u32>>,
    /// The program's `oom_score_adj` (-1000..=1000).
    pub oom_score_adj: Option<i32>,
    /// Paths made unreadable: an empty read-only tmpfs on a directory,
    /// `/dev/null` on anything else. Missing ones are passed over.
    pub masked_paths: Vec<Vec<u8>>,
    /// Paths made read-only (a read-only bind mount on themselves,
    /// recursive). Missing ones are passed over.
    pub readonly_paths: Vec<Vec<u8>>,
    /// The capability sets the program's first process (and each process
    /// `bulwark exec` adds) holds before its `execve`, as runc sets them
    /// before executing the program; the `execve` then moves them as
    /// capabilities(7) says. `None`: root has every capability, others
    /// none ([`Capabilities::default_for`]).
    pub capabilities: Option<Capabilities>,
    /// Sysctls set before the program runs, by name (`kernel.hostname`):
    /// those of [`SYSCTLS`].
    pub sysctls: Vec<(String, String)>,
}

/// The sysctls the sandbox has settings of its own for.
pub const SYSCTLS: &[&str] = &["kernel.hostname", "kernel.domainname", "net.ipv4.ip_unprivileged_port_start"];

impl Setup {
    /// Check what no later step checks: every limit known, soft within
    /// hard; `oom_score_adj` in range.
    pub fn validate(&self) -> Result<(), String> {
        for &(r, soft, hard) in &self.rlimits {
            if r >= RLIMIT_NLIMITS {
                return Err(format!("unknown resource limit {r}"));
            }
            if soft > hard {
                return Err(format!("resource limit {r}: soft limit {soft} above hard limit {hard}"));
            }
        }
        if let Some(adj) = self.oom_score_adj {
            if !(-1000..=1000).contains(&adj) {
                return Err(format!("oom_score_adj {adj} is outside -1000..=1000"));
            }
        }
        if let Some(c) = &self.capabilities {
            c.validate()?;
        }
        for (name, value) in &self.sysctls {
            match name.as_str() {
                "kernel.hostname" | "kernel.domainname" if value.len() > 64 => {
                    return Err(format!("sysctl {name}: {value:?} is longer than 64 bytes"));
                }
                "kernel.hostname" | "kernel.domainname" => {}
                "net.ipv4.ip_unprivileged_port_start" => {
                    value.trim().parse::<u16>().map_err(|_| format!("sysctl {name}: {value:?} is not a port"))?;
                }
                _ => return Err(format!("sysctl {name} is not one the sandbox has (it has {})", SYSCTLS.join(", "))),
            }
        }
        Ok(())
    }

    /// Set the sysctls (after [`Setup::validate`]).
    pub fn apply_sysctls(&self, k: &crate::kernel::Kernel) {
        for (name, value) in &self.sysctls {
            match name.as_str() {
                "kernel.hostname" => *k.hostname.lock() = value.clone().into_bytes(),
                "kernel.domainname" => *k.domainname.lock() = value.clone().into_bytes(),
                "net.ipv4.ip_unprivileged_port_start" => {
                    if let Ok(p) = value.trim().parse::<u16>() {
                        k.unprivileged_port_start.store(p.into(), std::sync::atomic::Ordering::Relaxed);
                    }
                }
                _ => {}
            }
        }
    }

    /// The credentials of a program run as `user` (`uid:gid`; `None`:
    /// root), with these groups (by default: the gid alone, none for root)
    /// and capabilities.
    pub fn creds(&self, user: Option<(u32, u32)>) -> Creds {
        let (uid, gid) = user.unwrap_or((0, 0));
        let default = if user.is_some() { vec![gid] } else { Vec::new() };
        let groups = self.groups.clone().unwrap_or(default);
        Creds::of(uid, gid, groups, self.caps_for(uid))
    }

    /// The capability sets a process of `uid` starts with.
    pub fn caps_for(&self, uid: u32) -> Capabilities {
        self.capabilities.unwrap_or_else(|| Capabilities::default_for(uid))
    }

    /// Give process `p` the limits and `oom_score_adj`.
    pub fn apply_to(&self, p: &Arc<Process>) {
        {
            let mut limits = p.rlimits.lock();
            for &(r, soft, hard) in &self.rlimits {
                if let Some(l) = limits.get_mut(r as usize) {
                    *l = Rlimit { rlim_cur: soft, rlim_max: hard };
                }
            }
        }
        if let Some(adj) = self.oom_score_adj {
            let adj = adj.clamp(-1000, 1000) as i16;
            // As a privileged write sets it: the floor moves along.
            let mut o = p.oom.lock();
            o.adj = adj;
            o.min = adj;
        }
    }

    /// Mask and make read-only the paths asked for, in `vfs`.
    pub fn apply_paths(&self, vfs: &Vfs) -> Result<(), (Vec<u8>, Errno)> {
        for path in &self.masked_paths {
            let Some(at) = lookup(vfs, path).map_err(|e| (path.clone(), e))? else { continue };
            mask(vfs, &at).map_err(|e| (path.clone(), e))?;
        }
        for path in &self.readonly_paths {
            let Some(at) = lookup(vfs, path).map_err(|e| (path.clone(), e))? else { continue };
            vfs.bind(&at, &at, true).set_readonly(true);
        }
        Ok(())
    }
}

/// `path` in `vfs`, not following a final symlink; `None` if missing.
fn lookup(vfs: &Vfs, path: &[u8]) -> Result<Option<Location>, Errno> {
    if !path.starts_with(b"/") {
        return Err(Errno::EINVAL);
    }
    let root = vfs.root();
    match vfs.resolve(Caller::SENTRY, &root, &root, path, false, &Creds::root()) {
        Ok(loc) => Ok(Some(vfs.cross_down(loc))),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Hide what is at `at`: a directory under an empty read-only tmpfs, a
/// file under `/dev/null` (a bind of the sandbox's own).
fn mask(vfs: &Vfs, at: &Location) -> Result<(), Errno> {
    if at.inode().attr()?.is_dir() {
        let fs = Tmpfs::new(crate::fs::next_dev(), S_IFDIR | 0o755, 0, 0);
        vfs.mount(at, fs.root(), "tmpfs", "tmpfs", true);
        return Ok(());
    }
    let null = lookup(vfs, b"/dev/null")?.ok_or(Errno::ENOENT)?;
    vfs.bind(&null, at, false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_refuses_bad_limits_and_scores() {
        let ok = Setup { rlimits: vec![(RLIMIT_NOFILE, 10, 20)], oom_score_adj: Some(-1000), ..Setup::default() };
        assert_eq!(ok.validate(), Ok(()));
        let inverted = Setup { rlimits: vec![(RLIMIT_NOFILE, 30, 20)], ..Setup::default() };
        assert!(inverted.validate().is_err());
        let unknown = Setup { rlimits: vec![(RLIMIT_NLIMITS, 1, 1)], ..Setup::default() };
        assert!(unknown.validate().is_err());
        let score = Setup { oom_score_adj: Some(1001), ..Setup::default() };
        assert!(score.validate().is_err());
    }

    #[test]
    fn only_the_sandbox_s_sysctls_with_good_values_pass() {
        let with = |k: &str, v: &str| Setup { sysctls: vec![(k.into(), v.into())], ..Setup::default() }.validate();
        assert_eq!(with("net.ipv4.ip_unprivileged_port_start", "0"), Ok(()));
        assert!(with("net.ipv4.ip_unprivileged_port_start", "70000").is_err());
        assert_eq!(with("kernel.domainname", "example"), Ok(()));
        assert!(with("kernel.domainname", &"x".repeat(65)).is_err());
        assert!(with("net.core.somaxconn", "10").is_err());
    }

    #[test]
    fn groups_replace_the_gid_alone() {
        let plain = Setup::default();
        assert_eq!(&*plain.creds(Some((1000, 100))).groups, &[100]);
        assert!(plain.creds(None).groups.is_empty());
        let extra = Setup { groups: Some(vec![10, 20]), ..Setup::default() };
        let c = extra.creds(Some((1000, 100)));
        assert_eq!((c.egid, &*c.groups), (100, &[10, 20][..]));
        assert_eq!(&*extra.creds(None).groups, &[10, 20]);
    }
}
