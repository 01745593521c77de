//! Process lifetime set-up.

use std::io;

use nix::sys::prctl;
use nix::sys::signal::Signal;
pub use rustix::thread::CapabilitySet;
use rustix::thread::CapabilitySets;

/// Be killed (SIGKILL) when the parent goes away, so no sandbox process
/// outlives the one that started it.
pub fn die_with_parent() -> io::Result<()> {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)
}

/// Keep only the capabilities `keep` (effective and permitted), none
/// inheritable or ambient, and drop every other one from the bounding set,
/// so no later exec can have them back.
pub fn drop_capabilities(keep: CapabilitySet) -> io::Result<()> {
    for cap in 0..64 {
        if keep.bits() & (1 << cap) != 0 {
            continue;
        }
        // Every number up to the kernel's last capability, named or not:
        // the drop fails with EINVAL past the last one.
        match rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(1 << cap)) {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL) => break,
            Err(err) => return Err(err.into()),
        }
    }
    let _ = rustix::thread::clear_ambient_capability_set();
    let sets = CapabilitySets { effective: keep, permitted: keep, inheritable: CapabilitySet::empty() };
    rustix::thread::set_capabilities(None, sets).map_err(io::Error::from)
}
