//! The sandbox's clocks: CLOCK_MONOTONIC, CLOCK_REALTIME and CLOCK_BOOTTIME,
//! computed from the TSC the same way by the sentry (the system calls) and
//! by the vDSO (in the application, from the vvar page), so the two paths
//! agree to the nanosecond and monotonic time never goes back across them.
//!
//! At boot the fast path is off (the page's `mode` is 0: the vDSO makes the
//! system call and the sentry reads the host's clocks). The timer thread
//! samples the TSC against the host's CLOCK_MONOTONIC, again
//! [`CALIBRATE`] later, and then turns the TSC path on; it re-samples after
//! [`SETTLE`] and then every [`REFRESH`], and slews the rate so the
//! sandbox's clocks follow the host's (within tens of nanoseconds on the
//! development VM). Without an invariant TSC (CPUID 0x8000_0007 EDX bit 8)
//! the fast path stays off.
//!
//! The page is a seqlock: the sentry makes `seq` odd, writes the rest, and
//! makes it even again; readers retry while it is odd or changed.

use parking_lot::Mutex;
use std::sync::atomic::{fence, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::mm::{FileRange, MemoryFile};

use super::Kernel;

/// Words of the vvar page; the layout is `struct vvar` in `sentry/vdso/vdso.c`.
const SEQ: usize = 0;
const MODE: usize = 1;
const MULT: usize = 2;
const SHIFT_WORD: usize = 3;
const TSC_BASE: usize = 4;
const MONO: usize = 5;
const REAL: usize = 6;
const BOOT: usize = 7;

/// `ns = ticks * mult >> SHIFT`.
const SHIFT: u32 = 32;
/// How long the first TSC rate measurement lasts: short, so that a
/// program's start-up already runs without trapping. Each sample is good to
/// tens of nanoseconds, so the rate is good to ~20 ppm; [`SETTLE`] fixes it.
pub const CALIBRATE: Duration = Duration::from_millis(2);
/// When the first refresh comes, measuring the rate over a longer span.
pub const SETTLE: Duration = Duration::from_millis(100);
/// How often the bases are refreshed against the host's clocks.
pub const REFRESH: Duration = Duration::from_secs(1);
/// The most the rate is slewed to catch up with the host (NTP's limit).
const MAX_SLEW_PPM: i128 = 500;
/// Behind the host by more than this, monotonic time steps forward.
const STEP_NS: i128 = 1_000_000;
/// A change of the host's realtime (or boottime) offset from monotonic
/// larger than this is a step of the host's clock, which the sandbox follows.
const OFFSET_STEP_NS: i128 = 100_000;
const NSEC: u64 = 1_000_000_000;

/// Which clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Monotonic,
    Realtime,
    Boottime,
}

impl Base {
    fn host_id(self) -> libc::clockid_t {
        match self {
            Base::Monotonic => libc::CLOCK_MONOTONIC,
            Base::Realtime => libc::CLOCK_REALTIME,
            Base::Boottime => libc::CLOCK_BOOTTIME,
        }
    }
}

/// The conversion from the TSC, as the page holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Params {
    mult: u64,
    tsc_base: u64,
    mono: u64,
    real: u64,
    boot: u64,
}

impl Params {
    /// Nanoseconds of clock `base` at TSC value `tsc` (never before the base).
    fn at(&self, tsc: u64, base: Base) -> u64 {
        let b = match base {
            Base::Monotonic => self.mono,
            Base::Realtime => self.real,
            Base::Boottime => self.boot,
        };
        let ticks = tsc.saturating_sub(self.tsc_base);
        let d = (u128::from(ticks) * u128::from(self.mult)) >> SHIFT;
        b.wrapping_add(u64::try_from(d).unwrap_or(u64::MAX))
    }
}

/// One reading of the TSC and the host's clocks at (about) the same moment.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// TSC before the host clocks were read.
    before: u64,
    /// TSC halfway through the reading.
    tsc: u64,
    mono: u64,
    real: u64,
    boot: u64,
}

struct State {
    /// The conversion in force; `None` while the host's clocks are used.
    params: Option<Params>,
    seq: u64,
    /// The first calibration sample: (TSC, host monotonic ns).
    anchor: Option<(u64, u64)>,
    /// Realtime and boottime minus monotonic, as applied.
    real_off: u64,
    boot_off: u64,
}

/// The sandbox's clocks and the vvar page that shows them to the vDSO.
pub struct Clock {
    mf: Arc<MemoryFile>,
    page: Option<FileRange>,
    /// Whether the TSC may be used (invariant TSC).
    tsc_ok: bool,
    state: Mutex<State>,
}

impl Clock {
    /// The clocks, with a fresh vvar page (all zeros: fast path off).
    pub fn new(mf: Arc<MemoryFile>) -> Clock {
        let page = mf.allocate(abi::consts::PAGE_SIZE);
        Clock {
            mf,
            page,
            tsc_ok: invariant_tsc(),
            state: Mutex::new(State { params: None, seq: 0, anchor: None, real_off: 0, boot_off: 0 }),
        }
    }

    /// The vvar page, for mapping into address spaces.
    pub fn vvar_page(&self) -> Option<FileRange> {
        self.page
    }

    /// Whether the vDSO currently answers from the TSC.
    pub fn fast(&self) -> bool {
        self.state.lock().params.is_some()
    }

    /// The current value of `base`, in nanoseconds since its epoch.
    pub fn now_ns(&self, base: Base) -> u64 {
        let s = self.state.lock();
        match s.params {
            // Read under the lock: a refresh cannot slip between the TSC
            // reading and the parameters it is converted with.
            Some(p) => p.at(rdtsc_ordered(), base),
            None => host_ns(base.host_id()),
        }
    }

    /// The current value of `base` as a timespec.
    pub fn now(&self, base: Base) -> abi::types::Timespec {
        let ns = self.now_ns(base);
        abi::types::Timespec { tv_sec: (ns / NSEC) as i64, tv_nsec: (ns % NSEC) as i64 }
    }

    /// One step of calibration or refresh; returns when the next is due, or
    /// `None` when the TSC path is not used.
    pub fn tick(&self) -> Option<Duration> {
        if !self.tsc_ok || self.page.is_none() {
            return None;
        }
        let mut s = self.state.lock();
        let Some((t0, m0)) = s.anchor else {
            let x = sample();
            s.anchor = Some((x.tsc, x.mono));
            return Some(CALIBRATE);
        };
        let x = sample();
        if x.tsc <= t0 || x.mono <= m0 {
            return None;
        }
        // The long-run rate, measured since the anchor.
        let rate = (u128::from(x.mono - m0) << SHIFT) / u128::from(x.tsc - t0);
        let rate = u64::try_from(rate).ok().filter(|&r| r > 0)?;
        let host_real_off = x.real.wrapping_sub(x.mono);
        let host_boot_off = x.boot.wrapping_sub(x.mono);
        let (new, next) = match s.params {
            None => {
                // Start at the host's monotonic time read after `before`,
                // so nothing the host reported earlier is ahead of us.
                s.real_off = host_real_off;
                s.boot_off = host_boot_off;
                (next_params(x.before, x.mono, rate, s.real_off, s.boot_off), SETTLE)
            }
            Some(p) => {
                // Continue from where the current conversion is (one
                // nanosecond on, for rounding), slewing toward the host
                // over the next REFRESH.
                let mut ours = p.at(x.tsc, Base::Monotonic).wrapping_add(1);
                let mut err = i128::from(x.mono) - i128::from(ours);
                if err > STEP_NS {
                    ours = x.mono;
                    err = 0;
                }
                let max = i128::from(REFRESH.as_nanos() as u64) * MAX_SLEW_PPM / 1_000_000;
                let slew = err.clamp(-max, max);
                let mult = i128::from(rate) + i128::from(rate) * slew / REFRESH.as_nanos() as i128;
                let mult = u64::try_from(mult).unwrap_or(rate);
                if (i128::from(host_real_off as i64) - i128::from(s.real_off as i64)).abs() > OFFSET_STEP_NS {
                    s.real_off = host_real_off;
                }
                if (i128::from(host_boot_off as i64) - i128::from(s.boot_off as i64)).abs() > OFFSET_STEP_NS {
                    s.boot_off = host_boot_off;
                }
                (next_params(x.tsc, ours, mult, s.real_off, s.boot_off), REFRESH)
            }
        };
        self.publish(&mut s, new);
        Some(next)
    }

    /// Write `p` to the page (seqlock) and make it the conversion in force.
    fn publish(&self, s: &mut State, p: Params) {
        let Some(page) = self.page else {
            return;
        };
        let w = self.mf.words(page);
        s.seq = s.seq.wrapping_add(1);
        w[SEQ].store(s.seq, Ordering::Relaxed);
        // The odd sequence must be visible before any field changes.
        fence(Ordering::SeqCst);
        w[MULT].store(p.mult, Ordering::Relaxed);
        w[SHIFT_WORD].store(u64::from(SHIFT), Ordering::Relaxed);
        w[TSC_BASE].store(p.tsc_base, Ordering::Relaxed);
        w[MONO].store(p.mono, Ordering::Relaxed);
        w[REAL].store(p.real, Ordering::Relaxed);
        w[BOOT].store(p.boot, Ordering::Relaxed);
        w[MODE].store(1, Ordering::Relaxed);
        s.seq = s.seq.wrapping_add(1);
        w[SEQ].store(s.seq, Ordering::Release);
        s.params = Some(p);
    }
}

fn next_params(tsc: u64, mono: u64, mult: u64, real_off: u64, boot_off: u64) -> Params {
    Params { mult, tsc_base: tsc, mono, real: mono.wrapping_add(real_off), boot: mono.wrapping_add(boot_off) }
}

/// Start the calibration on the kernel's timer thread, then keep the
/// clocks refreshed for as long as the kernel lives.
pub fn start(k: &Arc<Kernel>) {
    schedule(Arc::downgrade(k), Instant::now());
}

fn schedule(k: Weak<Kernel>, at: Instant) {
    let Some(kernel) = k.upgrade() else {
        return;
    };
    kernel.timers.add(
        at,
        Box::new(move || {
            let Some(kernel) = k.upgrade() else {
                return;
            };
            if let Some(next) = kernel.clock.tick() {
                drop(kernel);
                schedule(k, Instant::now() + next);
            }
        }),
    );
}

/// Whether the host CPU's TSC runs at a constant rate in every power state.
fn invariant_tsc() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The TSC, read after every earlier instruction (as the vDSO reads it).
fn rdtsc_ordered() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        hostsys::cpu::rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// A host clock in nanoseconds.
fn host_ns(id: libc::clockid_t) -> u64 {
    crate::host::clock_ns(nix::time::ClockId::from_raw(id))
}

/// The TSC and the host's clocks, read close together: the tightest of a
/// few tries, so a preemption in the middle does not skew the result.
fn sample() -> Sample {
    let mut best: Option<(u64, Sample)> = None;
    for _ in 0..5 {
        let before = rdtsc_ordered();
        let mono = host_ns(libc::CLOCK_MONOTONIC);
        let after = rdtsc_ordered();
        let real = host_ns(libc::CLOCK_REALTIME);
        let boot = host_ns(libc::CLOCK_BOOTTIME);
        let span = after.wrapping_sub(before);
        let s = Sample { before, tsc: before + span / 2, mono, real, boot };
        if best.is_none_or(|(b, _)| span < b) {
            best = Some((span, s));
        }
    }
    best.map_or_else(|| unreachable!("five samples were taken"), |(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_count_from_the_base_and_never_go_before_it() {
        // One tick is half a nanosecond.
        let p = Params { mult: 1 << (SHIFT - 1), tsc_base: 1000, mono: 5, real: 50, boot: 500 };

        let (early, mono, real, boot) = (
            p.at(10, Base::Monotonic),
            p.at(3000, Base::Monotonic),
            p.at(3000, Base::Realtime),
            p.at(3000, Base::Boottime),
        );

        assert_eq!((early, mono, real, boot), (5, 1005, 1050, 1500));
    }

    #[test]
    fn monotonic_time_never_goes_back_across_refreshes() {
        let mf = Arc::new(MemoryFile::new().unwrap());
        let c = Clock { tsc_ok: true, ..Clock::new(mf) };
        c.tick();
        std::thread::sleep(CALIBRATE);
        c.tick();

        let mut last = 0;
        let mut backwards = 0;
        for _ in 0..20 {
            c.tick();
            for _ in 0..1000 {
                let now = c.now_ns(Base::Monotonic);
                backwards += u32::from(now < last);
                last = now;
            }
        }

        assert!(c.fast());
        assert_eq!(backwards, 0);
    }

    #[test]
    fn calibrated_clock_stays_within_a_millisecond_of_the_host() {
        let mf = Arc::new(MemoryFile::new().unwrap());
        let c = Clock { tsc_ok: true, ..Clock::new(mf) };
        c.tick();
        std::thread::sleep(CALIBRATE);
        c.tick();
        std::thread::sleep(Duration::from_millis(50));

        let diff = i128::from(c.now_ns(Base::Realtime)) - i128::from(host_ns(libc::CLOCK_REALTIME));

        assert!(diff.abs() < 1_000_000, "{diff} ns off the host");
    }
}
