//! Path resolution and permission checks.

use super::Caller;
use std::collections::VecDeque;
use std::sync::Arc;

use abi::consts::*;
use abi::Errno;

use super::{InodeAttr, KResult, Location, Vfs};
use crate::caps::Capabilities;

/// The credentials a path walk and permission checks use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    /// Supplementary groups; shared, since credentials are copied on
    /// every path walk and change rarely.
    pub groups: std::sync::Arc<[u32]>,
    /// The capability sets; privilege checks consult the effective one.
    pub caps: Capabilities,
}

impl Creds {
    /// Root with every id 0 and every capability.
    pub fn root() -> Creds {
        Creds::of(0, 0, Vec::new(), Capabilities::ROOT)
    }

    /// Every uid `uid` and every gid `gid`, with these supplementary groups
    /// and capabilities.
    pub fn of(uid: u32, gid: u32, groups: Vec<u32>, caps: Capabilities) -> Creds {
        Creds {
            uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups: groups.into(),
            caps,
        }
    }

    /// Whether these credentials hold capability `cap` (`CAP_*`) in their
    /// effective set, as Linux's `capable` asks.
    pub fn capable(&self, cap: u32) -> bool {
        self.caps.has(cap)
    }

    /// Whether the caller is the file's owner or holds `CAP_FOWNER`
    /// (`inode_owner_or_capable`).
    pub fn owner_or_capable(&self, attr: &InodeAttr) -> bool {
        self.fsuid == attr.uid || self.capable(CAP_FOWNER)
    }

    /// Whether `gid` is the fsgid or a supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        self.fsgid == gid || self.groups.contains(&gid)
    }
}

/// Whether `creds` may access a file with `attr` for `mask` (`R_OK|W_OK|X_OK`),
/// as `generic_permission` decides: the owner, group or other bits first,
/// then `CAP_DAC_READ_SEARCH` (reading a file, reading or searching a
/// directory) and `CAP_DAC_OVERRIDE` (anything but executing a file with no
/// execute bit).
pub fn may_access(attr: &InodeAttr, creds: &Creds, mask: u32) -> KResult<()> {
    let mode = attr.mode;
    let bits = if creds.fsuid == attr.uid {
        (mode >> 6) & 7
    } else if creds.in_group(attr.gid) {
        (mode >> 3) & 7
    } else {
        mode & 7
    };
    if bits & mask == mask {
        return Ok(());
    }
    if attr.is_dir() {
        if mask & W_OK == 0 && creds.capable(CAP_DAC_READ_SEARCH) {
            return Ok(());
        }
        return if creds.capable(CAP_DAC_OVERRIDE) { Ok(()) } else { Err(Errno::EACCES) };
    }
    if mask == R_OK && creds.capable(CAP_DAC_READ_SEARCH) {
        return Ok(());
    }
    if (mask & X_OK == 0 || mode & 0o111 != 0) && creds.capable(CAP_DAC_OVERRIDE) {
        return Ok(());
    }
    Err(Errno::EACCES)
}

/// A resolved parent directory and final component, for calls that create
/// or remove a name.
pub struct Resolved {
    pub parent: Location,
    /// The last component (may be `.` or `..`: callers reject as Linux does).
    pub name: Vec<u8>,
    /// The path ended with `/`.
    pub trailing_slash: bool,
}

/// `openat2(2)` resolution restrictions (`RESOLVE_*`). The default is an
/// ordinary walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolveOpts {
    /// `RESOLVE_BENEATH`: never leave the starting directory (`EXDEV`).
    pub beneath: bool,
    /// `RESOLVE_IN_ROOT`: the starting directory is the root (the caller
    /// passes it as `root`); `..` stops there.
    pub in_root: bool,
    /// `RESOLVE_NO_SYMLINKS`: following any symlink is `ELOOP`.
    pub no_symlinks: bool,
    /// `RESOLVE_NO_MAGICLINKS`: following a `/proc` magic link is `ELOOP`.
    pub no_magiclinks: bool,
    /// `RESOLVE_NO_XDEV`: crossing a mount is `EXDEV`.
    pub no_xdev: bool,
}

impl ResolveOpts {
    fn scoped(&self) -> bool {
        self.beneath || self.in_root
    }
}

fn same_loc(a: &Location, b: &Location) -> bool {
    Arc::ptr_eq(&a.dentry, &b.dentry) && Arc::ptr_eq(&a.mount, &b.mount)
}

fn split(path: &[u8]) -> VecDeque<Vec<u8>> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(|c| c.to_vec()).collect()
}

impl Vfs {
    fn parent_of(&self, loc: &Location, root: &Location) -> Location {
        let mut cur = loc.clone();
        loop {
            if Arc::ptr_eq(&cur.dentry, &root.dentry) && Arc::ptr_eq(&cur.mount, &root.mount) {
                return cur;
            }
            // At a mount's root (a bind mount's root has a dentry parent in
            // the source tree: never walk into it), go to the mount point.
            let parent = if Arc::ptr_eq(&cur.dentry, &cur.mount.root) { None } else { cur.dentry.parent() };
            match parent {
                Some(p) => return Location { mount: cur.mount.clone(), dentry: p },
                None => match cur.mount.parent() {
                    Some((pm, pd)) => cur = Location { mount: pm, dentry: pd },
                    None => return cur,
                },
            }
        }
    }

    /// Walk `comps` from `cur`. When `stop_before_last` is set, the last
    /// component is not walked and is returned instead.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        cx: Caller<'_>,
        root: &Location,
        mut cur: Location,
        mut comps: VecDeque<Vec<u8>>,
        follow_last: bool,
        must_be_dir: bool,
        stop_before_last: bool,
        creds: &Creds,
        links: &mut u32,
        opts: &ResolveOpts,
    ) -> KResult<(Location, Option<Vec<u8>>)> {
        // Where RESOLVE_BENEATH stops `..`.
        let base = cur.clone();
        while let Some(c) = comps.pop_front() {
            let last = comps.is_empty();
            let attr = cur.inode().attr()?;
            if !attr.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            may_access(&attr, creds, X_OK)?;
            if last && stop_before_last {
                return Ok((cur, Some(c)));
            }
            if c.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            if c == b"." {
                continue;
            }
            if c == b".." {
                if opts.beneath && same_loc(&cur, &base) {
                    return Err(Errno::EXDEV);
                }
                let up = self.parent_of(&cur, root);
                if opts.no_xdev && !Arc::ptr_eq(&up.mount, &cur.mount) {
                    return Err(Errno::EXDEV);
                }
                cur = up;
                continue;
            }
            let child = cur.dentry.child(&c)?;
            let next = self.cross_down(Location { mount: cur.mount.clone(), dentry: child });
            if opts.no_xdev && !Arc::ptr_eq(&next.mount, &cur.mount) {
                return Err(Errno::EXDEV);
            }
            let nattr = next.inode().attr()?;
            if nattr.is_symlink() && (!last || follow_last || must_be_dir) {
                if opts.no_symlinks {
                    return Err(Errno::ELOOP);
                }
                *links += 1;
                if *links > MAXSYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if let Some(target) = next.inode().magic_link() {
                    if opts.no_magiclinks {
                        return Err(Errno::ELOOP);
                    }
                    if opts.no_xdev && !Arc::ptr_eq(&target.mount, &cur.mount) || opts.scoped() {
                        return Err(Errno::EXDEV);
                    }
                    cur = target;
                    continue;
                }
                let target = next.inode().readlink(cx)?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                let mut tcomps = split(&target);
                // A link to "/" or ending in "/": keep the directory demand.
                tcomps.extend(comps.drain(..));
                comps = tcomps;
                if target[0] == b'/' {
                    if opts.beneath || opts.no_xdev && !Arc::ptr_eq(&root.mount, &cur.mount) {
                        return Err(Errno::EXDEV);
                    }
                    cur = root.clone();
                }
                if comps.is_empty() {
                    // The link resolved to the root or its own directory.
                    continue;
                }
                continue;
            }
            cur = next;
        }
        if must_be_dir && !cur.inode().attr()?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok((cur, None))
    }

    /// Resolve `path` from `start` (used when it is relative) within `root`.
    pub fn resolve(
        &self,
        cx: Caller<'_>,
        root: &Location,
        start: &Location,
        path: &[u8],
        follow: bool,
        creds: &Creds,
    ) -> KResult<Location> {
        self.resolve_with(cx, root, start, path, follow, creds, &ResolveOpts::default())
    }

    /// [`Vfs::resolve`] with `openat2` restrictions. For `in_root`, pass the
    /// starting directory as `root` too.
    // The caller, where the walk starts and under which root and
    // credentials, and the openat2 options: each an independent input.
    #[allow(clippy::too_many_arguments)]
    pub fn resolve_with(
        &self,
        cx: Caller<'_>,
        root: &Location,
        start: &Location,
        path: &[u8],
        follow: bool,
        creds: &Creds,
        opts: &ResolveOpts,
    ) -> KResult<Location> {
        let begin = Self::walk_start(root, start, path, opts)?;
        let must_be_dir = path.last() == Some(&b'/');
        let mut links = 0;
        let (loc, _) = self.walk(cx, root, begin, split(path), follow, must_be_dir, false, creds, &mut links, opts)?;
        Ok(loc)
    }

    /// Where a walk of `path` begins (the root for an absolute path), after
    /// the checks every resolution makes.
    fn walk_start(root: &Location, start: &Location, path: &[u8], opts: &ResolveOpts) -> KResult<Location> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if path[0] == b'/' && opts.beneath {
            return Err(Errno::EXDEV);
        }
        Ok(if path[0] == b'/' { root.clone() } else { start.clone() })
    }

    /// Resolve all but the last component of `path`; symlinks in the parent
    /// part are followed.
    pub fn resolve_parent(
        &self,
        cx: Caller<'_>,
        root: &Location,
        start: &Location,
        path: &[u8],
        creds: &Creds,
    ) -> KResult<Resolved> {
        self.resolve_parent_with(cx, root, start, path, creds, &ResolveOpts::default())
    }

    /// [`Vfs::resolve_parent`] with `openat2` restrictions.
    pub fn resolve_parent_with(
        &self,
        cx: Caller<'_>,
        root: &Location,
        start: &Location,
        path: &[u8],
        creds: &Creds,
        opts: &ResolveOpts,
    ) -> KResult<Resolved> {
        let begin = Self::walk_start(root, start, path, opts)?;
        let trailing_slash = path.last() == Some(&b'/');
        let comps = split(path);
        if comps.is_empty() {
            // "/" itself.
            return Ok(Resolved { parent: begin, name: b".".to_vec(), trailing_slash });
        }
        let mut links = 0;
        let (parent, name) = self.walk(cx, root, begin, comps, true, false, true, creds, &mut links, opts)?;
        let name = name.ok_or(Errno::ENOENT)?;
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(Resolved { parent, name, trailing_slash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::{bit, Capabilities, ALL};

    fn file(mode: u32, uid: u32) -> InodeAttr {
        InodeAttr { mode, uid, gid: uid, ..InodeAttr::default() }
    }

    fn root_without(caps: u64) -> Creds {
        let c = Capabilities { effective: ALL & !caps, ..Capabilities::ROOT };
        Creds::of(0, 0, Vec::new(), c)
    }

    #[test]
    fn root_reads_and_writes_any_file_but_executes_only_one_with_an_execute_bit() {
        let root = Creds::root();

        assert_eq!(may_access(&file(S_IFREG, 1000), &root, R_OK | W_OK), Ok(()));
        assert_eq!(may_access(&file(S_IFREG, 1000), &root, X_OK), Err(Errno::EACCES));
        assert_eq!(may_access(&file(S_IFREG | 0o001, 1000), &root, X_OK), Ok(()));
        assert_eq!(may_access(&file(S_IFDIR, 1000), &root, W_OK | X_OK), Ok(()));
    }

    #[test]
    fn dac_read_search_reads_files_and_searches_directories_but_writes_nothing() {
        let c = root_without(bit(CAP_DAC_OVERRIDE));

        assert_eq!(may_access(&file(S_IFREG, 1000), &c, R_OK), Ok(()));
        assert_eq!(may_access(&file(S_IFREG, 1000), &c, W_OK), Err(Errno::EACCES));
        assert_eq!(may_access(&file(S_IFDIR, 1000), &c, R_OK | X_OK), Ok(()));
        assert_eq!(may_access(&file(S_IFDIR, 1000), &c, W_OK | X_OK), Err(Errno::EACCES));
    }

    #[test]
    fn without_dac_capabilities_root_gets_only_the_mode_bits() {
        let c = root_without(bit(CAP_DAC_OVERRIDE) | bit(CAP_DAC_READ_SEARCH));

        assert_eq!(may_access(&file(S_IFREG | 0o600, 0), &c, R_OK | W_OK), Ok(()));
        assert_eq!(may_access(&file(S_IFREG | 0o600, 1000), &c, R_OK), Err(Errno::EACCES));
        assert_eq!(may_access(&file(S_IFREG | 0o604, 1000), &c, R_OK), Ok(()));
    }

    #[test]
    fn a_holder_of_cap_fowner_counts_as_every_files_owner() {
        let owner = Creds::of(1000, 1000, vec![1000], Capabilities::default_for(1000));
        let other = Creds::of(1001, 1001, vec![1001], Capabilities::default_for(1001));

        assert!(owner.owner_or_capable(&file(S_IFREG, 1000)));
        assert!(!other.owner_or_capable(&file(S_IFREG, 1000)));
        assert!(Creds::root().owner_or_capable(&file(S_IFREG, 1000)));
        assert!(!root_without(bit(CAP_FOWNER)).owner_or_capable(&file(S_IFREG, 1000)));
    }
}
