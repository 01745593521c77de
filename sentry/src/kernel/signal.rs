//! Signals: queues, actions, default dispositions, and the x86-64
//! `rt_sigframe` that delivery builds and `rt_sigreturn` unwinds.

pub use abi::consts::{
    CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, SIG_DFL, SIG_IGN, SI_KERNEL, SI_QUEUE, SI_TIMER,
    SI_TKILL, SI_USER,
};
use std::collections::VecDeque;

use abi::consts::*;
use abi::types::{KernelSigaction, RtSigframe, Sigcontext, Siginfo, StackT, Ucontext};
use abi::Errno;
use platform::Registers;

pub use abi::consts::{
    SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER, SA_SIGINFO,
};

/// The bit of signal `sig` in a mask.
pub fn bit(sig: u32) -> u64 {
    if (1..=64).contains(&sig) {
        1u64 << (sig - 1)
    } else {
        0
    }
}

/// Signals that can be neither blocked, caught nor ignored.
pub const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// What a signal does when its handler is `SIG_DFL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    CoreDump,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        SIGCHLD | 23 /* SIGURG */ | 28 /* SIGWINCH */ => DefaultAction::Ignore,
        SIGCONT => DefaultAction::Continue,
        SIGSTOP | 20 /* SIGTSTP */ | 21 /* SIGTTIN */ | 22 /* SIGTTOU */ => DefaultAction::Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | 24 | 25 | SIGSYS => DefaultAction::CoreDump,
        _ => DefaultAction::Terminate,
    }
}

/// Whether `sig` would be discarded on arrival under `act`.
pub fn ignored(sig: u32, act: &KernelSigaction) -> bool {
    if sig == SIGKILL || sig == SIGSTOP {
        return false;
    }
    act.handler == SIG_IGN || (act.handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore)
}

/// A siginfo for signal `sig` with code `code`.
pub fn info(sig: u32, code: i32) -> Siginfo {
    Siginfo { si_signo: sig as i32, si_code: code, ..Default::default() }
}

/// A siginfo from `kill`-like senders.
pub fn info_from(sig: u32, code: i32, pid: i32, uid: u32) -> Siginfo {
    let mut i = info(sig, code);
    i.fields[0] = u64::from(pid as u32) | (u64::from(uid) << 32);
    i
}

/// Pending signals: standard signals are queued once, real-time ones each.
#[derive(Default)]
pub struct SigQueue {
    q: VecDeque<Siginfo>,
    pub set: u64,
}

impl SigQueue {
    pub fn push(&mut self, i: Siginfo) {
        let sig = i.si_signo as u32;
        if sig < 32 && self.set & bit(sig) != 0 {
            return;
        }
        self.set |= bit(sig);
        self.q.push_back(i);
    }

    /// Take the lowest-numbered pending signal not in `blocked`
    /// (standard signals first, as Linux does).
    pub fn take(&mut self, blocked: u64) -> Option<Siginfo> {
        let avail = self.set & !blocked;
        if avail == 0 {
            return None;
        }
        let sig = avail.trailing_zeros() + 1;
        let idx = self.q.iter().position(|i| i.si_signo as u32 == sig)?;
        let i = self.q.remove(idx)?;
        if !self.q.iter().any(|x| x.si_signo as u32 == sig) {
            self.set &= !bit(sig);
        }
        Some(i)
    }

    /// Drop every queued `sig`.
    pub fn discard(&mut self, sig: u32) {
        self.q.retain(|i| i.si_signo as u32 != sig);
        self.set &= !bit(sig);
    }
}

/// Where the handler frame goes and what the new registers are.
pub struct Frame {
    pub sp: u64,
    pub bytes: Vec<u8>,
    pub fp_addr: u64,
}

const FXSAVE_LEN: u64 = 512;

/// Build the `rt_sigframe` for `info` under `act`, from the interrupted
/// `regs`, the old signal mask and alternate stack. The FPU area (512-byte
/// FXSAVE) is written by the caller at `fp_addr`.
pub fn build_frame(regs: &Registers, act: &KernelSigaction, info: &Siginfo, oldmask: u64, alt: &StackT) -> Frame {
    let on_alt = alt.ss_flags & SS_DISABLE == 0
        && alt.ss_size != 0
        && regs.rsp > alt.ss_sp
        && regs.rsp <= alt.ss_sp.wrapping_add(alt.ss_size);
    let mut sp = if act.flags & SA_ONSTACK != 0 && alt.ss_flags & SS_DISABLE == 0 && alt.ss_size != 0 && !on_alt {
        alt.ss_sp.wrapping_add(alt.ss_size)
    } else {
        regs.rsp.wrapping_sub(128)
    };
    sp = sp.wrapping_sub(FXSAVE_LEN) & !63;
    let fp_addr = sp;
    let frame_len = std::mem::size_of::<RtSigframe>() as u64;
    sp = (sp.wrapping_sub(frame_len) & !15).wrapping_sub(8);
    let mc = Sigcontext {
        r8: regs.r8,
        r9: regs.r9,
        r10: regs.r10,
        r11: regs.r11,
        r12: regs.r12,
        r13: regs.r13,
        r14: regs.r14,
        r15: regs.r15,
        rdi: regs.rdi,
        rsi: regs.rsi,
        rbp: regs.rbp,
        rbx: regs.rbx,
        rdx: regs.rdx,
        rax: regs.rax,
        rcx: regs.rcx,
        rsp: regs.rsp,
        rip: regs.rip,
        eflags: regs.eflags,
        cs: regs.cs as u16,
        ss: regs.ss as u16,
        oldmask,
        cr2: if matches!(info.si_signo as u32, SIGSEGV | SIGBUS) { info.fields[0] } else { 0 },
        trapno: match info.si_signo as u32 {
            SIGSEGV => 14,
            SIGFPE => 0,
            SIGTRAP => 3,
            SIGILL => 6,
            _ => 0,
        },
        fpstate: fp_addr,
        ..Default::default()
    };
    let uc_stack = StackT {
        ss_sp: alt.ss_sp,
        ss_flags: if alt.ss_flags & SS_DISABLE != 0 {
            SS_DISABLE
        } else if on_alt {
            SS_ONSTACK
        } else {
            0
        },
        __pad: 0,
        ss_size: alt.ss_size,
    };
    let f = RtSigframe {
        pretcode: act.restorer,
        uc: Ucontext { uc_flags: 0x6, uc_link: 0, uc_stack, uc_mcontext: mc, uc_sigmask: oldmask },
        info: *info,
    };
    Frame { sp, bytes: zerocopy::AsBytes::as_bytes(&f).to_vec(), fp_addr }
}

/// The registers after `rt_sigreturn` from the ucontext the application
/// left on its stack. Segment and flag bits are sanitised as Linux does.
pub fn restore_regs(regs: &mut Registers, uc: &Ucontext) -> Result<(), Errno> {
    let m = &uc.uc_mcontext;
    const FIX_EFLAGS: u64 = 0x0004_0dd5; // CF PF AF ZF SF TF DF OF RF AC
    regs.r8 = m.r8;
    regs.r9 = m.r9;
    regs.r10 = m.r10;
    regs.r11 = m.r11;
    regs.r12 = m.r12;
    regs.r13 = m.r13;
    regs.r14 = m.r14;
    regs.r15 = m.r15;
    regs.rdi = m.rdi;
    regs.rsi = m.rsi;
    regs.rbp = m.rbp;
    regs.rbx = m.rbx;
    regs.rdx = m.rdx;
    regs.rax = m.rax;
    regs.rcx = m.rcx;
    regs.rsp = m.rsp;
    regs.rip = m.rip;
    regs.eflags = (regs.eflags & !FIX_EFLAGS) | (m.eflags & FIX_EFLAGS);
    regs.cs = 0x33;
    regs.ss = 0x2b;
    regs.orig_rax = u64::MAX;
    Ok(())
}
