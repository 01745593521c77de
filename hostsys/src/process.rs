//! Process lifetime set-up.

use std::io;

use nix::sys::prctl;
use nix::sys::signal::Signal;

/// Be killed (SIGKILL) when the parent goes away, so no sandbox process
/// outlives the one that started it.
pub fn die_with_parent() -> io::Result<()> {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)
}
