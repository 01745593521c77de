//! config.json's `linux.seccomp` as the sentry's application profile
//! (`sentry::syscalls::filter`): system call names resolved to x86-64
//! numbers, actions and argument conditions as libseccomp reads them.
//! The sentry checks every call the container's programs make against it
//! before carrying the call out.

use anyhow::bail;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use sentry::syscalls::filter::{AppFilter, Cond, Op, Rule, Verdict};

/// runc's errno for `SCMP_ACT_ERRNO` without `errnoRet`.
const EPERM: u16 = 1;
/// What an `SCMP_ACT_TRACE` call gets with no tracer (the kernel's answer).
const ENOSYS: u16 = 38;

/// The profile's text form for the sandbox. Names this architecture does
/// not have are left out, as libseccomp leaves them out.
pub fn profile(s: &LinuxSeccomp) -> anyhow::Result<String> {
    let default = verdict(s.default_action(), s.default_errno_ret())?;
    let mut rules = Vec::new();
    for sc in s.syscalls().iter().flatten() {
        let v = verdict(sc.action(), sc.errno_ret())?;
        let mut conds = Vec::new();
        for a in sc.args().iter().flatten() {
            let Ok(arg) = u8::try_from(a.index()) else { bail!("seccomp: argument index {} out of range", a.index()) };
            if arg > 5 {
                bail!("seccomp: argument index {arg} out of range");
            }
            let (op, value) = match a.op() {
                LinuxSeccompOperator::ScmpCmpNe => (Op::Ne, a.value()),
                LinuxSeccompOperator::ScmpCmpLt => (Op::Lt, a.value()),
                LinuxSeccompOperator::ScmpCmpLe => (Op::Le, a.value()),
                LinuxSeccompOperator::ScmpCmpEq => (Op::Eq, a.value()),
                LinuxSeccompOperator::ScmpCmpGe => (Op::Ge, a.value()),
                LinuxSeccompOperator::ScmpCmpGt => (Op::Gt, a.value()),
                // libseccomp: `value` is the mask, `valueTwo` the datum.
                LinuxSeccompOperator::ScmpCmpMaskedEq => (Op::MaskedEq(a.value()), a.value_two().unwrap_or(0)),
            };
            conds.push(Cond { arg, op, value });
        }
        for name in sc.names() {
            if let Some(nr) = number_of(name) {
                rules.push(Rule { nr, verdict: v, conds: conds.clone() });
            }
        }
    }
    Ok(AppFilter::new(default, rules).encode())
}

fn verdict(a: LinuxSeccompAction, errno: Option<u32>) -> anyhow::Result<Verdict> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => Verdict::Allow,
        LinuxSeccompAction::ScmpActLog => Verdict::Log,
        LinuxSeccompAction::ScmpActErrno => {
            Verdict::Errno(errno.map_or(EPERM, |e| u16::try_from(e).unwrap_or(u16::MAX)))
        }
        LinuxSeccompAction::ScmpActTrace => Verdict::Errno(ENOSYS),
        LinuxSeccompAction::ScmpActTrap => Verdict::Trap,
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => Verdict::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => Verdict::KillProcess,
        LinuxSeccompAction::ScmpActNotify => {
            bail!("seccomp: SCMP_ACT_NOTIFY is not supported (no seccomp agent reaches the sandbox)")
        }
    })
}

/// The x86-64 number of system call `name`.
fn number_of(name: &str) -> Option<u32> {
    (0..abi::sysno::NR_SYSCALLS as u64)
        .find(|&nr| abi::sysno::syscall_name(nr) == Some(name))
        .and_then(|nr| u32::try_from(nr).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_style_profile_becomes_rules_by_number() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "syscalls": [
                  {"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
                   "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
                  {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"}
                ]}"#,
        )
        .expect("profile");
        let f = AppFilter::parse(&profile(&s).expect("converts")).expect("parses");
        assert_eq!(f.check(39, &[0; 6]), Verdict::Allow, "getpid");
        assert_eq!(f.check(41, &[40, 0, 0, 0, 0, 0]), Verdict::Errno(97), "socket(AF_VSOCK)");
        assert_eq!(f.check(41, &[2, 0, 0, 0, 0, 0]), Verdict::Errno(38), "socket(AF_INET): the default");
        assert_eq!(f.check(135, &[0x108, 0, 0, 0, 0, 0]), Verdict::Allow, "personality masked");
        assert_eq!(f.check(62, &[0; 6]), Verdict::KillProcess, "kill");
        assert_eq!(number_of("no_such_call"), None);
    }

    #[test]
    fn notify_is_refused() {
        let s: LinuxSeccomp = serde_json::from_str(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#).expect("profile");
        assert!(profile(&s).is_err());
    }
}
