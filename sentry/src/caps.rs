//! Linux capabilities (capabilities(7)): the five sets a process holds,
//! their names, and how they change on `execve`, on a change of uid and on
//! `capset`, as Linux's commoncap changes them.
//!
//! The sandbox has no file capabilities and no set-user-id programs (the
//! processes never gain privileges on exec), so an `execve` computes the
//! new sets from the old ones and the uids alone: a root process gets its
//! bounding and inheritable sets back, any other process keeps only its
//! ambient set.

use abi::consts::*;
use abi::Errno;

/// Capability `cap`'s bit in a set.
pub const fn bit(cap: u32) -> u64 {
    1 << cap
}

/// Every capability Linux 6.x defines (`CAP_CHOWN` to `CAP_LAST_CAP`).
pub const ALL: u64 = (1 << (CAP_LAST_CAP + 1)) - 1;

/// `CAP_FS_SET`: the capabilities a change of fsuid away from 0 takes from
/// the effective set, and one back to 0 restores from the permitted one.
const FS_SET: u64 = bit(CAP_CHOWN)
    | bit(CAP_DAC_OVERRIDE)
    | bit(CAP_DAC_READ_SEARCH)
    | bit(CAP_FOWNER)
    | bit(CAP_FSETID)
    | bit(CAP_LINUX_IMMUTABLE)
    | bit(CAP_MKNOD)
    | bit(CAP_MAC_OVERRIDE);

/// A process's capability sets, one bit per capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The most an `execve` may give (`PR_CAPBSET_READ`/`DROP`).
    pub bounding: u64,
    /// What the permission checks consult.
    pub effective: u64,
    /// What an `execve` passes on to root, and ambient ones may come from.
    pub inheritable: u64,
    /// The most the effective set may hold.
    pub permitted: u64,
    /// What an `execve` passes on to any program (`PR_CAP_AMBIENT`).
    pub ambient: u64,
}

impl Capabilities {
    /// Every capability, in every set but the inheritable and ambient ones:
    /// what Linux's root starts with.
    pub const ROOT: Capabilities =
        Capabilities { bounding: ALL, effective: ALL, inheritable: 0, permitted: ALL, ambient: 0 };

    /// What a process of `uid` starts with when nothing says otherwise:
    /// [`Capabilities::ROOT`] for 0, only the full bounding set otherwise.
    pub fn default_for(uid: u32) -> Capabilities {
        if uid == 0 {
            Capabilities::ROOT
        } else {
            Capabilities { bounding: ALL, ..Capabilities::default() }
        }
    }

    /// Whether the effective set holds `cap`.
    pub fn has(&self, cap: u32) -> bool {
        cap <= CAP_LAST_CAP && self.effective & bit(cap) != 0
    }

    /// What a set of sets a process could hold must satisfy, as runc's
    /// `capset` and `PR_CAP_AMBIENT_RAISE` would find: no unknown bit,
    /// effective within permitted, inheritable within bounding, ambient
    /// within permitted and inheritable.
    pub fn validate(&self) -> Result<(), String> {
        let sets = [
            ("bounding", self.bounding),
            ("effective", self.effective),
            ("inheritable", self.inheritable),
            ("permitted", self.permitted),
            ("ambient", self.ambient),
        ];
        if let Some((name, v)) = sets.iter().find(|(_, v)| v & !ALL != 0) {
            return Err(format!("the {name} capability set {v:#x} has bits past CAP_LAST_CAP"));
        }
        let outside = |what: &str, set: u64, within: u64, of: &str| {
            let extra = set & !within;
            if extra == 0 {
                Ok(())
            } else {
                Err(format!("{what} capabilities {} are not {of}", names(extra).join(",")))
            }
        };
        outside("effective", self.effective, self.permitted, "permitted")?;
        outside("inheritable", self.inheritable, self.bounding, "in the bounding set")?;
        outside("ambient", self.ambient, self.permitted & self.inheritable, "both permitted and inheritable")
    }

    /// The sets after an `execve` by a process with real uid `uid` and
    /// effective uid `euid` of a file without capabilities or set-id bits
    /// (Linux's `cap_bprm_creds_from_file`): root (either uid 0) gets its
    /// bounding and inheritable sets as permitted, effective too when the
    /// effective uid is 0; every process keeps its ambient set, which is
    /// added to both.
    pub fn exec(&self, uid: u32, euid: u32) -> Capabilities {
        let ambient = self.ambient;
        let root = uid == 0 || euid == 0;
        let permitted = (if root { self.bounding | self.inheritable } else { 0 }) | ambient;
        let effective = if euid == 0 { permitted } else { ambient };
        Capabilities { permitted, effective, ambient, ..*self }
    }

    /// The sets after the real, effective and saved uids change from `old`
    /// to `new` (`cap_emulate_setxuid`): leaving uid 0 in all three clears
    /// permitted and effective (unless `keep`, `PR_SET_KEEPCAPS`) and
    /// ambient; an effective uid leaving 0 clears effective, one coming
    /// to 0 restores it from permitted.
    pub fn setxuid(&self, old: [u32; 3], new: [u32; 3], keep: bool) -> Capabilities {
        let mut c = *self;
        if old.contains(&0) && !new.contains(&0) {
            if !keep {
                c.permitted = 0;
                c.effective = 0;
            }
            c.ambient = 0;
        }
        if old[1] == 0 && new[1] != 0 {
            c.effective = 0;
        }
        if old[1] != 0 && new[1] == 0 {
            c.effective = c.permitted;
        }
        c
    }

    /// The sets after the fsuid changes from `old` to `new`: the file
    /// system capabilities leave the effective set with uid 0, and come
    /// back from the permitted set with it.
    pub fn setfsuid(&self, old: u32, new: u32) -> Capabilities {
        let mut c = *self;
        if old == 0 && new != 0 {
            c.effective &= !FS_SET;
        }
        if old != 0 && new == 0 {
            c.effective |= c.permitted & FS_SET;
        }
        c
    }

    /// The sets `capset` makes of `effective`, `permitted` and
    /// `inheritable` (Linux's `cap_capset`), `EPERM` if it may not: a new
    /// inheritable one from outside the old inheritable and permitted ones
    /// (without `CAP_SETPCAP`) or outside the old inheritable and bounding
    /// ones; a new permitted capability; an effective one not permitted.
    /// The ambient set keeps only what stays permitted and inheritable.
    pub fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> Result<Capabilities, Errno> {
        let (effective, permitted, inheritable) = (effective & ALL, permitted & ALL, inheritable & ALL);
        if !self.has(CAP_SETPCAP) && inheritable & !(self.inheritable | self.permitted) != 0 {
            return Err(Errno::EPERM);
        }
        if inheritable & !(self.inheritable | self.bounding) != 0 {
            return Err(Errno::EPERM);
        }
        if permitted & !self.permitted != 0 || effective & !permitted != 0 {
            return Err(Errno::EPERM);
        }
        let ambient = self.ambient & permitted & inheritable;
        Ok(Capabilities { effective, permitted, inheritable, ambient, ..*self })
    }
}

/// The number of the capability named `name`: `CAP_NET_RAW`, `NET_RAW`,
/// `net_raw`, `cap_net_raw`.
pub fn number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    abi::names::CAPABILITIES.iter().position(|n| *n == full).and_then(|i| u32::try_from(i).ok())
}

/// The names of the capabilities in `set` (`CAP_CHOWN`, ...), lowest first.
pub fn names(set: u64) -> Vec<&'static str> {
    abi::names::CAPABILITIES.iter().enumerate().filter(|(i, _)| set & (1 << i) != 0).map(|(_, n)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNPRIVILEGED: Capabilities =
        Capabilities { bounding: ALL, effective: 0, inheritable: 0, permitted: 0, ambient: 0 };

    #[test]
    fn root_exec_gets_bounding_and_inheritable_as_permitted_and_effective() {
        let dropped = Capabilities { bounding: ALL & !bit(CAP_CHOWN), effective: 0, ..Capabilities::ROOT };
        let with_inh = Capabilities { bounding: bit(CAP_KILL), inheritable: bit(CAP_CHOWN), ..UNPRIVILEGED };

        let a = dropped.exec(0, 0);
        let b = with_inh.exec(0, 0);

        assert_eq!((a.permitted, a.effective), (ALL & !bit(CAP_CHOWN), ALL & !bit(CAP_CHOWN)));
        assert_eq!((b.permitted, b.effective), (bit(CAP_KILL) | bit(CAP_CHOWN), bit(CAP_KILL) | bit(CAP_CHOWN)));
    }

    #[test]
    fn exec_with_only_the_real_uid_0_gets_permitted_but_not_effective() {
        let c = Capabilities::ROOT.exec(0, 1000);

        assert_eq!((c.permitted, c.effective), (ALL, 0));
    }

    #[test]
    fn non_root_exec_keeps_only_the_ambient_set() {
        let nbs = bit(CAP_NET_BIND_SERVICE);
        let c = Capabilities { permitted: ALL, effective: ALL, inheritable: nbs, ambient: nbs, ..UNPRIVILEGED };

        let after = c.exec(1000, 1000);

        assert_eq!((after.permitted, after.effective, after.inheritable, after.ambient), (nbs, nbs, nbs, nbs));
        assert_eq!(Capabilities::ROOT.exec(1000, 1000), UNPRIVILEGED);
    }

    #[test]
    fn leaving_uid_0_clears_permitted_effective_and_ambient_unless_kept() {
        let nbs = bit(CAP_NET_BIND_SERVICE);
        let c = Capabilities { inheritable: nbs, ambient: nbs, ..Capabilities::ROOT };

        let plain = c.setxuid([0, 0, 0], [1000, 1000, 1000], false);
        let kept = c.setxuid([0, 0, 0], [1000, 1000, 1000], true);

        assert_eq!((plain.permitted, plain.effective, plain.ambient), (0, 0, 0));
        assert_eq!((kept.permitted, kept.effective, kept.ambient), (ALL, 0, 0));
    }

    #[test]
    fn effective_uid_back_to_0_restores_effective_from_permitted() {
        let away = Capabilities::ROOT.setxuid([0, 0, 0], [0, 1000, 0], false);

        let back = away.setxuid([0, 1000, 0], [0, 0, 0], false);

        assert_eq!((away.permitted, away.effective), (ALL, 0));
        assert_eq!(back.effective, ALL);
    }

    #[test]
    fn fsuid_away_from_0_drops_only_the_file_system_capabilities() {
        let c = Capabilities::ROOT.setfsuid(0, 1000);

        assert!(!c.has(CAP_CHOWN) && !c.has(CAP_DAC_OVERRIDE) && c.has(CAP_KILL));
        assert_eq!(c.setfsuid(1000, 0).effective, ALL);
    }

    #[test]
    fn capset_may_drop_but_not_add_permitted_nor_go_past_it() {
        let dropped = Capabilities::ROOT.capset(bit(CAP_KILL), bit(CAP_KILL) | bit(CAP_CHOWN), 0);
        let d = dropped.unwrap_or_default();

        assert_eq!((d.effective, d.permitted), (bit(CAP_KILL), bit(CAP_KILL) | bit(CAP_CHOWN)));
        assert_eq!(d.capset(0, bit(CAP_SETUID), 0), Err(Errno::EPERM));
        assert_eq!(d.capset(bit(CAP_CHOWN), bit(CAP_KILL), 0), Err(Errno::EPERM));
    }

    #[test]
    fn capset_inheritable_needs_setpcap_beyond_permitted_and_stays_in_bounding() {
        let no_setpcap = Capabilities { permitted: bit(CAP_KILL), ..UNPRIVILEGED };
        let setpcap = Capabilities { permitted: bit(CAP_SETPCAP), effective: bit(CAP_SETPCAP), ..UNPRIVILEGED };
        let narrow = Capabilities { bounding: bit(CAP_KILL), ..Capabilities::ROOT };

        assert_eq!(no_setpcap.capset(0, bit(CAP_KILL), bit(CAP_CHOWN)), Err(Errno::EPERM));
        assert_eq!(no_setpcap.capset(0, bit(CAP_KILL), bit(CAP_KILL)).map(|c| c.inheritable), Ok(bit(CAP_KILL)));
        assert_eq!(setpcap.capset(0, 0, bit(CAP_CHOWN)).map(|c| c.inheritable), Ok(bit(CAP_CHOWN)));
        assert_eq!(narrow.capset(ALL, ALL, bit(CAP_CHOWN)), Err(Errno::EPERM));
        assert_eq!(narrow.capset(ALL, ALL, bit(CAP_KILL)).map(|c| c.inheritable), Ok(bit(CAP_KILL)));
    }

    #[test]
    fn capset_trims_ambient_to_permitted_and_inheritable() {
        let nbs = bit(CAP_NET_BIND_SERVICE);
        let c = Capabilities { inheritable: nbs, ambient: nbs, ..Capabilities::ROOT };

        let after = c.capset(ALL, ALL, 0).unwrap_or_default();

        assert_eq!(after.ambient, 0);
    }

    #[test]
    fn names_parse_with_or_without_prefix_in_any_case() {
        assert_eq!(number("NET_RAW"), Some(CAP_NET_RAW));
        assert_eq!(number("cap_net_raw"), Some(CAP_NET_RAW));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("NET_WIZARDRY"), None);
        assert_eq!(names(bit(CAP_CHOWN) | bit(CAP_KILL)), ["CAP_CHOWN", "CAP_KILL"]);
    }

    #[test]
    fn validate_refuses_what_capset_or_an_ambient_raise_would() {
        let eff = Capabilities { permitted: 0, ..Capabilities::ROOT };
        let amb = Capabilities { ambient: bit(CAP_KILL), ..Capabilities::ROOT };
        let inh = Capabilities { bounding: 0, inheritable: bit(CAP_KILL), ..Capabilities::ROOT };

        assert!(Capabilities::ROOT.validate().is_ok());
        assert!(eff.validate().is_err_and(|e| e.contains("effective capabilities CAP_CHOWN,")));
        assert!(amb.validate().is_err_and(|e| e.contains("ambient capabilities CAP_KILL")));
        assert!(inh.validate().is_err_and(|e| e.contains("inheritable")));
    }
}
