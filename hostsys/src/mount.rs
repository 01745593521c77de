//! The mount steps boot and the gofer both take to leave the host's
//! filesystem behind, in a mount namespace of their own.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, pivot_root};
use nix::Error;

/// Keep mount events from propagating between this mount namespace and
/// the host's (`MS_REC | MS_PRIVATE` on "/").
pub fn make_private() -> nix::Result<()> {
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
}

/// Make the current directory, a mount of its own, the root, and go there.
/// `pivot_root(".", ".")` stacks the old root on the new one at "."; the
/// detach of "." then removes it, leaving no path to the host's files. On
/// failure, the step that failed and its error.
pub fn pivot_to_cwd() -> Result<(), (&'static str, Error)> {
    pivot_root(".", ".").map_err(|e| ("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| ("detach the old root", e))?;
    chdir("/").map_err(|e| ("chdir /", e))
}
