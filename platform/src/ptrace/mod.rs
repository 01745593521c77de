//! The ptrace platform (to be written).

use std::os::fd::RawFd;

/// Placeholder until the ptrace platform lands.
pub struct PtracePlatform;

impl PtracePlatform {
    pub fn new(_memfd: RawFd) -> crate::Result<Self> {
        Err(crate::Error::Unavailable(
            "ptrace",
            "not written yet".into(),
        ))
    }
}

impl crate::Platform for PtracePlatform {
    fn name(&self) -> &'static str {
        "ptrace"
    }
    fn new_address_space(&self) -> crate::Result<std::sync::Arc<dyn crate::AddressSpace>> {
        Err(crate::Error::Unavailable(
            "ptrace",
            "not written yet".into(),
        ))
    }
    fn new_context(&self) -> crate::Result<Box<dyn crate::Context>> {
        Err(crate::Error::Unavailable(
            "ptrace",
            "not written yet".into(),
        ))
    }
}
