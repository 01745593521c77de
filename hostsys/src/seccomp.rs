//! Seccomp policies as data: each process's allowed host system calls, a
//! reason for each, compiled to classic BPF by `seccompiler`.
//!
//! A policy lists [`Rule`]s; a call with no rule gets the policy's
//! `default` action, and so does any call made with another architecture's
//! numbering (the compiled prologue checks `seccomp_data.arch`). Order does
//! not matter for speed: since Linux 5.11 the kernel caches the verdict of
//! calls whose rules read no argument.
//!
//! [`evaluate`] runs a compiled program over one `seccomp_data` so each
//! policy's tests check the program the kernel will run, not the list.

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

pub use seccompiler::sock_filter;

/// `AUDIT_ARCH_X86_64`: `seccomp_data.arch` for a 64-bit x86 call.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// One allowed host system call.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The system call's number (x86-64's).
    pub nr: i64,
    /// Why the process makes it: which code path, with which arguments.
    pub why: &'static str,
    /// Arguments that must equal these values (index, 64-bit value), all
    /// of them; empty: any arguments.
    pub args: &'static [(u8, u64)],
    /// Arguments whose bits under a mask must equal a value (index, mask,
    /// value), all of them, as well as `args`: `(2, PROT_EXEC, 0)` is "the
    /// third argument has no PROT_EXEC".
    pub masked: &'static [(u8, u64, u64)],
    /// Not allowed but refused with this errno (any arguments): a call
    /// whose arguments a filter cannot read, refused so that the caller
    /// falls back to one it can (`clone3` to `clone`).
    pub errno: Option<u32>,
    /// Allowed with any arguments when made from an instruction in
    /// `[start, end)` (`seccomp_data.instruction_pointer`, the address
    /// after the `syscall`), whatever the other rules for `nr` say: the
    /// sentry's filter, which stubs inherit, passes the calls it injects
    /// into a stub from the stub's code page.
    pub from: Option<(u64, u64)>,
}

impl Rule {
    /// The call `nr`, with any arguments.
    pub const fn any(nr: i64, why: &'static str) -> Rule {
        Rule { nr, why, args: &[], masked: &[], errno: None, from: None }
    }

    /// The call `nr`, only with these argument values.
    pub const fn with(nr: i64, args: &'static [(u8, u64)], why: &'static str) -> Rule {
        Rule { nr, why, args, masked: &[], errno: None, from: None }
    }

    /// The call `nr`, only with these argument values and these bits
    /// (index, mask, value) of its arguments.
    pub const fn masked(
        nr: i64,
        args: &'static [(u8, u64)],
        masked: &'static [(u8, u64, u64)],
        why: &'static str,
    ) -> Rule {
        Rule { nr, why, args, masked, errno: None, from: None }
    }

    /// The call `nr` fails with `errno` without being made.
    pub const fn errno(nr: i64, errno: u32, why: &'static str) -> Rule {
        Rule { nr, why, args: &[], masked: &[], errno: Some(errno), from: None }
    }

    /// The call `nr`, with any arguments, from an instruction pointer in
    /// `[start, end)` (which must not cross a 4 GiB boundary).
    pub const fn from(nr: i64, start: u64, end: u64, why: &'static str) -> Rule {
        Rule { nr, why, args: &[], masked: &[], errno: None, from: Some((start, end)) }
    }
}

/// What happens to a call no rule allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The whole process dies with SIGSYS (`SECCOMP_RET_KILL_PROCESS`).
    KillProcess,
    /// The call fails with this errno and is not made.
    Errno(u32),
    /// The call is made and logged to the kernel's audit log
    /// (`SECCOMP_RET_LOG`): for finding what a policy lacks.
    Log,
}

/// A process's seccomp policy.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Whose policy it is, for error messages.
    pub name: &'static str,
    pub rules: &'static [Rule],
    pub default: Action,
}

/// A policy that cannot be compiled or installed.
#[derive(Debug)]
pub struct Error {
    policy: &'static str,
    what: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} seccomp filter: {}", self.policy, self.what)
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}

impl Policy {
    fn error(&self, what: impl fmt::Display) -> Error {
        Error { policy: self.name, what: what.to_string() }
    }

    /// The classic BPF program for this policy.
    pub fn compile(&self) -> Result<BpfProgram, Error> {
        let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        // Calls allowed with any arguments; seccompiler's empty rule list.
        let mut unconditional = Vec::new();
        // Refused calls: checked first, by a prologue of our own in front
        // of seccompiler's program (whose one action for matches is
        // "allow"): arch, then each refused number.
        let mut refused: Vec<sock_filter> = Vec::new();
        for rule in self.rules {
            let Some(errno) = rule.errno else { continue };
            let nr = u32::try_from(rule.nr).map_err(|e| self.error(e))?;
            refused.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
            refused.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ERRNO | (errno & libc::SECCOMP_RET_DATA)));
        }
        for rule in self.rules {
            let Some((start, end)) = rule.from else { continue };
            let nr = u32::try_from(rule.nr).map_err(|e| self.error(e))?;
            let last = end.checked_sub(1).filter(|&l| l >= start && l >> 32 == start >> 32);
            let last = last.ok_or_else(|| self.error("an instruction range crossing 4 GiB"))?;
            // Not this call: skip the block. Else allow when the pointer's
            // high word matches and its low word is in range; then reload
            // the number for the checks that follow.
            refused.extend([
                jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 7),
                stmt(BPF_LD | BPF_W_ABS, 12),
                jump(BPF_JMP | BPF_JEQ | BPF_K, (start >> 32) as u32, 0, 4),
                stmt(BPF_LD | BPF_W_ABS, 8),
                jump(BPF_JMP | BPF_JGE | BPF_K, start as u32, 0, 2),
                jump(BPF_JMP | BPF_JGT | BPF_K, last as u32, 1, 0),
                stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW),
                stmt(BPF_LD | BPF_W_ABS, 0),
            ]);
        }
        for rule in self.rules.iter().filter(|r| r.errno.is_none() && r.from.is_none()) {
            if rule.args.is_empty() && rule.masked.is_empty() {
                unconditional.push(rule.nr);
                continue;
            }
            let conditions = rule
                .args
                .iter()
                .map(|&(index, value)| SeccompCondition::new(index, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, value))
                .chain(rule.masked.iter().map(|&(index, mask, value)| {
                    SeccompCondition::new(index, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(mask), value)
                }))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.error(e))?;
            map.entry(rule.nr).or_default().push(SeccompRule::new(conditions).map_err(|e| self.error(e))?);
        }
        for nr in unconditional {
            map.insert(nr, Vec::new());
        }
        let default = match self.default {
            Action::KillProcess => SeccompAction::KillProcess,
            Action::Errno(e) => SeccompAction::Errno(e),
            Action::Log => SeccompAction::Log,
        };
        let filter =
            SeccompFilter::new(map, default, SeccompAction::Allow, TargetArch::x86_64).map_err(|e| self.error(e))?;
        let prog: BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| self.error(e))?;
        if refused.is_empty() {
            return Ok(prog);
        }
        // ld arch; if not x86-64 skip to seccompiler's program (which
        // gives it the default); ld nr; the refused checks.
        let skip = u8::try_from(refused.len() + 1).map_err(|_| self.error("too many refused or ranged calls"))?;
        let mut out = vec![
            stmt(BPF_LD | BPF_W_ABS, 4),
            jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, skip),
            stmt(BPF_LD | BPF_W_ABS, 0),
        ];
        out.extend(refused);
        out.extend(prog);
        Ok(out)
    }

    /// Compile the policy and install it on the calling thread, setting
    /// `no_new_privs` first (which the kernel requires of an unprivileged
    /// caller).
    pub fn install(&self) -> Result<(), Error> {
        let prog = self.compile()?;
        seccompiler::apply_filter(&prog).map_err(|e| self.error(e))
    }

    /// [`Policy::install`] on every thread of the calling process at once
    /// (`SECCOMP_FILTER_FLAG_TSYNC`): threads started before the call get
    /// the filter too, as threads started after it inherit it.
    pub fn install_all_threads(&self) -> Result<(), Error> {
        let prog = self.compile()?;
        seccompiler::apply_filter_all_threads(&prog).map_err(|e| self.error(e))
    }
}

// Classic BPF (linux/filter.h, linux/bpf_common.h), the subset seccompiler
// emits.
const BPF_CLASS_MASK: u16 = 0x07;
const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_OP_MASK: u16 = 0xf0;
const BPF_AND: u16 = 0x50;
const BPF_JA: u16 = 0x00;
const BPF_JEQ: u16 = 0x10;
const BPF_JGT: u16 = 0x20;
const BPF_JGE: u16 = 0x30;
const BPF_JSET: u16 = 0x40;
const BPF_W_ABS: u16 = 0x20;

const BPF_K: u16 = 0x00;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Run the classic BPF `prog` over a `seccomp_data` {nr, arch,
/// instruction_pointer: 0, args}, as the kernel would, and return its
/// verdict. `None` for an instruction outside what seccompiler emits or a
/// jump out of the program.
pub fn evaluate(prog: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> Option<u32> {
    evaluate_at(prog, arch, nr, 0, args)
}

/// [`evaluate`] for a call made with `instruction_pointer` `ip`.
pub fn evaluate_at(prog: &[sock_filter], arch: u32, nr: u32, ip: u64, args: [u64; 6]) -> Option<u32> {
    // struct seccomp_data: int nr; __u32 arch; __u64 ip; __u64 args[6].
    let word = |off: u32| -> Option<u32> {
        match off {
            0 => Some(nr),
            4 => Some(arch),
            8 => Some(ip as u32),
            12 => Some((ip >> 32) as u32),
            16..=60 if off.is_multiple_of(4) => {
                let arg = args[usize::try_from((off - 16) / 8).ok()?];
                // Little-endian: the low half first.
                Some(if (off - 16).is_multiple_of(8) { arg as u32 } else { (arg >> 32) as u32 })
            }
            _ => None,
        }
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = prog.get(pc)?;
        let next = pc + 1;
        match i.code & BPF_CLASS_MASK {
            BPF_LD if i.code == BPF_W_ABS => acc = word(i.k)?,
            BPF_ALU if i.code & BPF_OP_MASK == BPF_AND => acc &= i.k,
            BPF_JMP => {
                let taken = match i.code & BPF_OP_MASK {
                    BPF_JA => {
                        pc = next + usize::try_from(i.k).ok()?;
                        continue;
                    }
                    BPF_JEQ => acc == i.k,
                    BPF_JGT => acc > i.k,
                    BPF_JGE => acc >= i.k,
                    BPF_JSET => acc & i.k != 0,
                    _ => return None,
                };
                pc = next + usize::from(if taken { i.jt } else { i.jf });
                continue;
            }
            BPF_RET => return Some(i.k),
            _ => return None,
        }
        pc = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &[Rule] = &[
        Rule::any(libc::SYS_read, "reads"),
        Rule::with(libc::SYS_clone, &[(0, 0x1234_5678_9abc)], "threads with these flags"),
        Rule::with(libc::SYS_fcntl, &[(1, 1)], "F_GETFD"),
        Rule::with(libc::SYS_fcntl, &[(1, 3)], "F_GETFL"),
        Rule::masked(libc::SYS_mprotect, &[], &[(2, 4, 0)], "no PROT_EXEC"),
        Rule::masked(libc::SYS_mmap, &[(3, 1)], &[(2, 4, 4)], "MAP_SHARED with PROT_EXEC"),
        Rule::errno(libc::SYS_clone3, 38, "ENOSYS: fall back to clone"),
        Rule::from(libc::SYS_mprotect, 0x7000_0000_0000, 0x7000_0000_1000, "from the stub page: any prot"),
    ];
    const POLICY: Policy = Policy { name: "test", rules: RULES, default: Action::KillProcess };

    fn run(nr: i64, args: [u64; 6]) -> u32 {
        let prog = POLICY.compile().expect("compiles");
        evaluate(&prog, AUDIT_ARCH_X86_64, nr as u32, args).expect("runs")
    }

    #[test]
    fn unconditional_rules_allow_any_arguments() {
        assert_eq!(run(libc::SYS_read, [7, 8, 9, 0, 0, 0]), libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn argument_rules_compare_all_64_bits() {
        assert_eq!(run(libc::SYS_clone, [0x1234_5678_9abc, 0, 0, 0, 0, 0]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(libc::SYS_clone, [0x5678_9abc, 0, 0, 0, 0, 0]), libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(run(libc::SYS_clone, [0x1234_5678_9abd, 0, 0, 0, 0, 0]), libc::SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn rules_for_one_call_are_alternatives() {
        assert_eq!(run(libc::SYS_fcntl, [0, 1, 0, 0, 0, 0]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(libc::SYS_fcntl, [0, 3, 0, 0, 0, 0]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(libc::SYS_fcntl, [0, 4, 0, 0, 0, 0]), libc::SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn other_calls_and_architectures_get_the_default() {
        assert_eq!(run(libc::SYS_write, [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
        let prog = POLICY.compile().expect("compiles");
        // i386's 3 is read too, but its arch does not match.
        assert_eq!(evaluate(&prog, 0x4000_0003, 0, [0; 6]), Some(libc::SECCOMP_RET_KILL_PROCESS));
        // x32 numbering sets __X32_SYSCALL_BIT.
        let x32 = libc::SYS_read as u32 | 0x4000_0000;
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, x32, [0; 6]), Some(libc::SECCOMP_RET_KILL_PROCESS));
    }

    #[test]
    fn masked_rules_compare_only_the_masked_bits() {
        assert_eq!(run(libc::SYS_mprotect, [0, 0, 3, 0, 0, 0]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(libc::SYS_mprotect, [0, 0, 5, 0, 0, 0]), libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(run(libc::SYS_mprotect, [0, 0, 4 | (1 << 40), 0, 0, 0]), libc::SECCOMP_RET_KILL_PROCESS);
        // Masked and equal conditions together.
        assert_eq!(run(libc::SYS_mmap, [0, 0, 5, 1, 0, 0]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(libc::SYS_mmap, [0, 0, 5, 2, 0, 0]), libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(run(libc::SYS_mmap, [0, 0, 3, 1, 0, 0]), libc::SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn errno_rules_refuse_without_allowing() {
        assert_eq!(run(libc::SYS_clone3, [0; 6]), libc::SECCOMP_RET_ERRNO | 38);
        // Other calls still reach seccompiler's program.
        assert_eq!(run(libc::SYS_read, [0; 6]), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(libc::SYS_write, [0; 6]), libc::SECCOMP_RET_KILL_PROCESS);
        // Another architecture's number 435 gets the default.
        let prog = POLICY.compile().expect("compiles");
        let v = evaluate(&prog, 0x4000_0003, libc::SYS_clone3 as u32, [0; 6]);
        assert_eq!(v, Some(libc::SECCOMP_RET_KILL_PROCESS));
    }

    #[test]
    fn ranged_rules_allow_from_their_instructions_only() {
        let prog = POLICY.compile().expect("compiles");
        let at = |ip: u64, prot: u64| {
            evaluate_at(&prog, AUDIT_ARCH_X86_64, libc::SYS_mprotect as u32, ip, [0, 0, prot, 0, 0, 0])
        };
        let (allow, kill) = (Some(libc::SECCOMP_RET_ALLOW), Some(libc::SECCOMP_RET_KILL_PROCESS));
        assert_eq!(at(0x7000_0000_0042, 5), allow);
        assert_eq!(at(0x7000_0000_0000, 5), allow);
        assert_eq!(at(0x7000_0000_0fff, 5), allow);
        assert_eq!(at(0x7000_0000_1000, 5), kill);
        assert_eq!(at(0x6fff_ffff_ffff, 5), kill);
        assert_eq!(at(0x7001_0000_0042, 5), kill);
        assert_eq!(at(0x0000_0000_0042, 5), kill);
        // Elsewhere the other rules for the call still apply.
        assert_eq!(at(0x5555_0000_0042, 3), allow);
        // Other calls are unaffected by the range.
        let read = evaluate_at(&prog, AUDIT_ARCH_X86_64, libc::SYS_read as u32, 0x7000_0000_0042, [0; 6]);
        assert_eq!(read, allow);
        let write = evaluate_at(&prog, AUDIT_ARCH_X86_64, libc::SYS_write as u32, 0x7000_0000_0042, [0; 6]);
        assert_eq!(write, kill);
    }

    #[test]
    fn log_default() {
        let p = Policy { name: "t", rules: RULES, default: Action::Log };
        let prog = p.compile().expect("compiles");
        let v = evaluate(&prog, AUDIT_ARCH_X86_64, libc::SYS_write as u32, [0; 6]);
        assert_eq!(v, Some(libc::SECCOMP_RET_LOG));
    }

    #[test]
    fn errno_default() {
        let p = Policy { name: "t", rules: RULES, default: Action::Errno(1) };
        let prog = p.compile().expect("compiles");
        let v = evaluate(&prog, AUDIT_ARCH_X86_64, libc::SYS_write as u32, [0; 6]);
        assert_eq!(v, Some(libc::SECCOMP_RET_ERRNO | 1));
    }
}
