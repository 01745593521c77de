//! The capability options of `bulwark do`: `--cap-drop` and `--cap-add`
//! (docker's and podman's), and `--cap-set` (the five sets outright, as
//! config.json's process.capabilities gives them), and the sets they make
//! for the sandbox (`sentry::container::Setup::capabilities`).

use sentry::caps::{Capabilities, ALL};

/// A comma-separated list of capabilities (`NET_RAW`, `CAP_NET_RAW`,
/// `net_raw`; `ALL` for every one), as one mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapList(pub u64);

impl CapList {
    /// The list as `--cap-add` takes it back: `ALL`, or the names.
    pub fn to_arg(self) -> String {
        if self.0 == ALL {
            return "ALL".into();
        }
        sentry::caps::names(self.0).join(",")
    }
}

/// `--cap-add`/`--cap-drop`'s value.
pub fn parse_list(s: &str) -> Result<CapList, String> {
    let mut mask = 0;
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("all") {
            mask = ALL;
            continue;
        }
        let cap = sentry::caps::number(name)
            .ok_or_else(|| format!("unknown capability {name:?} (NET_RAW, CAP_CHOWN, ALL, ...)"))?;
        mask |= sentry::caps::bit(cap);
    }
    Ok(CapList(mask))
}

/// The sets `--cap-set` names, in the order config.json lists them.
pub const SET_NAMES: [&str; 5] = ["bounding", "effective", "inheritable", "permitted", "ambient"];

/// One `--cap-set SET=CAP,...`: set number `set` of [`SET_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapSet {
    pub set: usize,
    pub caps: CapList,
}

impl CapSet {
    pub fn to_arg(self) -> String {
        format!("{}={}", SET_NAMES.get(self.set).copied().unwrap_or("?"), self.caps.to_arg())
    }
}

/// `--cap-set`'s value.
pub fn parse_set(s: &str) -> Result<CapSet, String> {
    let (name, list) = s.split_once('=').ok_or_else(|| format!("expected SET=CAP,..., got {s:?}"))?;
    let set = SET_NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)).ok_or_else(|| {
        format!("unknown capability set {name:?} (bounding, effective, inheritable, permitted, ambient)")
    })?;
    Ok(CapSet { set, caps: parse_list(list)? })
}

/// The sets a program of `uid` starts with: `sets` outright when given
/// (the sets not named empty); else, with `adds` or `drops`, docker's
/// rules from bulwark's default of every capability (`--cap-add ALL`:
/// every one not dropped; `--cap-drop ALL`: only those added; otherwise
/// every one not dropped, and those added), in the bounding set and, for
/// root, the effective and permitted ones; a program of another uid holds
/// only those added, as ambient capabilities, as podman gives them to a
/// non-root user. `None` with no option: the sentry's default.
pub fn sets(adds: &[CapList], drops: &[CapList], sets: &[CapSet], uid: u32) -> Option<Capabilities> {
    if !sets.is_empty() {
        let mut masks = [0u64; 5];
        for s in sets {
            if let Some(m) = masks.get_mut(s.set) {
                *m |= s.caps.0;
            }
        }
        let [bounding, effective, inheritable, permitted, ambient] = masks;
        return Some(Capabilities { bounding, effective, inheritable, permitted, ambient });
    }
    if adds.is_empty() && drops.is_empty() {
        return None;
    }
    let add = adds.iter().fold(0, |m, l| m | l.0);
    let drop = drops.iter().fold(0, |m, l| m | l.0);
    let caps = if add == ALL {
        ALL & !drop
    } else if drop == ALL {
        add
    } else {
        (ALL & !drop) | add
    };
    Some(if uid == 0 {
        Capabilities { bounding: caps, effective: caps, permitted: caps, inheritable: 0, ambient: 0 }
    } else {
        let held = add & caps;
        Capabilities { bounding: caps, effective: held, permitted: held, inheritable: held, ambient: held }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::consts::{CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_NET_RAW};
    use sentry::caps::bit;

    fn list(s: &str) -> CapList {
        parse_list(s).unwrap_or_default()
    }

    #[test]
    fn lists_take_docker_names_with_or_without_prefix_and_all() {
        assert_eq!(parse_list("NET_RAW,cap_chown"), Ok(CapList(bit(CAP_NET_RAW) | bit(CAP_CHOWN))));
        assert_eq!(parse_list("ALL"), Ok(CapList(ALL)));
        assert!(parse_list("NET_WIZARD").is_err_and(|e| e.contains("NET_WIZARD")));
    }

    #[test]
    fn drop_takes_from_every_set_of_root() {
        let c = sets(&[], &[list("CHOWN")], &[], 0);

        let want = ALL & !bit(CAP_CHOWN);
        assert_eq!(
            c,
            Some(Capabilities { bounding: want, effective: want, permitted: want, ..Capabilities::default() })
        );
    }

    #[test]
    fn drop_all_keeps_only_what_is_added() {
        let c = sets(&[list("KILL")], &[list("ALL")], &[], 0).unwrap_or_default();

        assert_eq!((c.bounding, c.effective), (bit(CAP_KILL), bit(CAP_KILL)));
    }

    #[test]
    fn add_all_keeps_every_one_not_dropped() {
        let c = sets(&[list("ALL")], &[list("KILL")], &[], 0).unwrap_or_default();

        assert_eq!(c.bounding, ALL & !bit(CAP_KILL));
    }

    #[test]
    fn a_non_root_program_holds_only_the_added_ones_as_ambient() {
        let nbs = bit(CAP_NET_BIND_SERVICE);

        let c = sets(&[list("NET_BIND_SERVICE")], &[list("CHOWN")], &[], 1000).unwrap_or_default();

        assert_eq!((c.bounding, c.permitted, c.inheritable, c.ambient), (ALL & !bit(CAP_CHOWN), nbs, nbs, nbs));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn cap_set_gives_the_named_sets_and_empties_the_others() {
        let s = [parse_set("bounding=CHOWN,KILL"), parse_set("effective=CHOWN"), parse_set("permitted=CHOWN")]
            .map(|r| r.unwrap_or(CapSet { set: 9, caps: CapList(0) }));

        let c = sets(&[list("NET_RAW")], &[], &s, 0).unwrap_or_default();

        assert_eq!(
            (c.bounding, c.effective, c.permitted),
            (bit(CAP_CHOWN) | bit(CAP_KILL), bit(CAP_CHOWN), bit(CAP_CHOWN))
        );
        assert_eq!((c.inheritable, c.ambient), (0, 0));
        assert!(parse_set("sideways=CHOWN").is_err());
    }

    #[test]
    fn no_option_leaves_the_default() {
        assert_eq!(sets(&[], &[], &[], 0), None);
    }

    #[test]
    fn lists_and_sets_print_back_as_they_parse() {
        let l = list("KILL,CHOWN");
        let s = CapSet { set: 4, caps: l };

        assert_eq!((l.to_arg(), CapList(ALL).to_arg()), ("CAP_CHOWN,CAP_KILL".to_owned(), "ALL".to_owned()));
        assert_eq!(parse_set(&s.to_arg()), Ok(s));
        assert_eq!(parse_set("ambient="), Ok(CapSet { set: 4, caps: CapList(0) }));
    }
}
