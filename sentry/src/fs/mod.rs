//! File systems: the gofer-backed host root, tmpfs, overlay, /dev, /proc,
//! and host descriptors (stdio).
