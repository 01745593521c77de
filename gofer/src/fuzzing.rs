//! The bodies of the gofer's fuzz targets (`fuzz/fuzz_targets/gofer_*.rs`),
//! shared with the stable test that replays their corpora
//! (`tests/fuzz_corpus.rs`). Each takes arbitrary bytes and panics only
//! when an invariant of the code under test breaks.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::Attr;
use crate::protocol::{Reply, Request, MAX_MSG};
use crate::server::Server;

/// Decode `data` as every request and every reply; what decodes must
/// encode back to exactly `data` (the codec is canonical) and decode again
/// to the same message.
pub fn protocol(data: &[u8]) {
    if let Ok(req) = Request::decode(data) {
        let enc = req.encode();
        assert_eq!(enc, data, "{req:?} re-encodes differently");
        assert_eq!(Request::decode(&enc).as_ref(), Ok(&req));
    }
    if let Ok(rep) = Reply::decode(data) {
        let enc = rep.encode();
        assert_eq!(enc, data, "{rep:?} re-encodes differently");
        let again = Reply::decode(&enc).map(|r| r.encode());
        assert_eq!(again.as_deref(), Ok(&enc[..]));
    }
}

/// Most messages one input sends.
const MAX_MESSAGES: usize = 64;

/// Split `data` into request messages: each a little-endian `u16` length
/// then that many bytes (the last one cut short where `data` ends).
pub fn split_messages(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && out.len() < MAX_MESSAGES {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let body = &rest[2..];
        let n = n.min(body.len());
        out.push(&body[..n]);
        rest = &body[n..];
    }
    out
}

/// The inverse of [`split_messages`], for building seeds.
pub fn join_messages(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        let n = u16::try_from(m.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&m[..usize::from(n)]);
    }
    out
}

/// A fresh scratch directory: `root/` (what is served, with a file, a
/// directory with a file in it, a symlink to the file, a symlink out, a
/// FIFO and a hard link) beside `outside/` (which no request may reach).
struct Scratch {
    top: PathBuf,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let top = std::env::temp_dir().join(format!("bulwark-fuzz-gofer-{}-{n}", std::process::id()));
        let _ = remove_tree(&top);
        let s = Scratch { top };
        let root = s.root();
        std::fs::create_dir_all(root.join("d"))?;
        std::fs::create_dir_all(s.top.join("outside"))?;
        std::fs::write(s.top.join("outside/secret"), b"secret")?;
        std::fs::write(root.join("f"), b"hello\n")?;
        std::fs::write(root.join("d/g"), b"")?;
        std::os::unix::fs::symlink("f", root.join("l"))?;
        std::os::unix::fs::symlink("../outside/secret", root.join("out"))?;
        std::fs::hard_link(root.join("f"), root.join("h"))?;
        nix::unistd::mkfifo(&root.join("p"), nix::sys::stat::Mode::from_bits_truncate(0o644))?;
        Ok(s)
    }

    fn root(&self) -> PathBuf {
        self.top.join("root")
    }

    /// `(dev, ino)` of what lies outside the served tree.
    fn outside_ids(&self) -> Vec<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        [self.top.clone(), self.top.join("outside"), self.top.join("outside/secret")]
            .iter()
            .filter_map(|p| std::fs::symlink_metadata(p).ok())
            .map(|m| (m.dev(), m.ino()))
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = remove_tree(&self.top);
    }
}

/// `rm -rf`, first making every directory searchable and writable (a
/// request may have taken its permissions away).
fn remove_tree(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return Ok(());
    };
    if meta.is_dir() {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))?;
        for e in std::fs::read_dir(p)? {
            remove_tree(&e?.path())?;
        }
        std::fs::remove_dir(p)
    } else {
        std::fs::remove_file(p)
    }
}

/// The attributes a reply carries.
fn attrs_of(rep: &Reply) -> Vec<Attr> {
    match rep {
        Reply::Handles(v) => v.iter().map(|(_, a)| *a).collect(),
        Reply::Attr(a) | Reply::Created(_, a) => vec![*a],
        Reply::WalkedDirs(v) => v.iter().filter_map(|d| d.walked.ok()).map(|(_, a)| a).collect(),
        _ => Vec::new(),
    }
}

/// Feed the request messages of `data` (see [`split_messages`]) to a
/// server serving a fresh scratch directory, as the serving loop does (a
/// message that does not decode is `EINVAL`). Every reply must encode to a
/// message that fits and decodes; exactly `Opened` and `Created` carry a
/// descriptor; no reply may describe a file outside the served tree, and
/// the outside must be left as it was. `Pin` is answered without pinning
/// (it would move the calling thread).
pub fn server(data: &[u8]) {
    let Ok(scratch) = Scratch::new() else {
        return;
    };
    let Ok(root) = std::fs::File::open(scratch.root()) else {
        return;
    };
    let outside = scratch.outside_ids();
    let mut server = Server::new(OwnedFd::from(root));
    for msg in split_messages(data) {
        let (reply, fd) = match Request::decode(msg) {
            Ok(Request::Pin { .. }) => (Reply::Ok, None),
            Ok(req) => server.handle(req),
            Err(_) => (Reply::Error(libc::EINVAL), None),
        };
        let out = reply.encode();
        assert!(out.len() <= MAX_MSG, "a {}-byte reply: {reply:?}", out.len());
        assert!(Reply::decode(&out).is_ok(), "reply does not decode: {reply:?}");
        assert_eq!(fd.is_some(), matches!(reply, Reply::Opened | Reply::Created(..)), "{reply:?}");
        for a in attrs_of(&reply) {
            assert!(!outside.contains(&(a.dev, a.ino)), "reply describes a file outside the root: {reply:?}");
        }
    }
    drop(server);
    assert_eq!(std::fs::read(scratch.top.join("outside/secret")).ok().as_deref(), Some(&b"secret"[..]));
    let entries = std::fs::read_dir(scratch.top.join("outside")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(entries, 1, "something was made outside the root");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_and_join() {
        let msgs = vec![b"a".to_vec(), Vec::new(), b"xyz".to_vec()];
        let joined = join_messages(&msgs);
        let split: Vec<Vec<u8>> = split_messages(&joined).into_iter().map(<[u8]>::to_vec).collect();
        assert_eq!(split, msgs);
        assert_eq!(split_messages(&[5, 0, 1]), vec![&[1u8][..]]);
    }

    #[test]
    fn server_target_runs_a_walk_and_an_open() {
        use crate::client::Handle;
        let msgs = vec![
            Request::Attach.encode(),
            Request::Walk { dir: Handle(1), names: vec![b"d".to_vec(), b"g".to_vec()] }.encode(),
            Request::Open { h: Handle(3), flags: 0 }.encode(),
            Request::Walk { dir: Handle(1), names: vec![b"out".to_vec()] }.encode(),
            vec![0xff],
        ];
        server(&join_messages(&msgs));
    }
}
