//! Replays every file of every fuzz corpus (`fuzz/corpus/TARGET/`) through
//! the body of its cargo-fuzz target, on stable: a crash the fuzzers found
//! and that was fixed fails here if it comes back. `fuzz/run.sh` runs the
//! fuzzers themselves (nightly).
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seeds` rewrites the
//! seed files (`seed-*`) from the encoders and from host executables.

use std::path::{Path, PathBuf};

use gofer::fuzzing::join_messages;
use gofer::protocol::{Reply, Request};
use gofer::{Attr, DirEnt, Handle, SetAttr, SetTime, Time};

/// A fuzz target's body.
type Target = fn(&[u8]);

/// Each target and the function its fuzz target calls.
const TARGETS: &[(&str, Target)] = &[
    ("gofer_protocol", gofer::fuzzing::protocol),
    ("gofer_server", gofer::fuzzing::server),
    ("elf_loader", sentry::fuzzing::elf),
    ("syscall_args", sentry::fuzzing::syscall_args),
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

fn replay(target: &str, f: Target) {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for p in files {
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let r = std::panic::catch_unwind(|| f(&data));
        assert!(r.is_ok(), "{target}: {} panics", p.display());
    }
}

#[test]
fn gofer_protocol_corpus() {
    replay(TARGETS[0].0, TARGETS[0].1);
}

#[test]
fn gofer_server_corpus() {
    replay(TARGETS[1].0, TARGETS[1].1);
}

#[test]
fn elf_loader_corpus() {
    replay(TARGETS[2].0, TARGETS[2].1);
}

#[test]
fn syscall_args_corpus() {
    replay(TARGETS[3].0, TARGETS[3].1);
}

// ---- seeds ----

fn attr() -> Attr {
    Attr { dev: 1, ino: 2, mode: 0o100644, nlink: 1, size: 6, atime: Time { sec: 1, nsec: 2 }, ..Attr::default() }
}

fn requests() -> Vec<Request> {
    let (root, h) = (Handle(1), Handle(2));
    vec![
        Request::Attach,
        Request::Walk { dir: root, names: vec![b"d".to_vec(), b"g".to_vec()] },
        Request::GetAttr { h },
        Request::Open { h, flags: 2 },
        Request::ReadDir { h: root, cookie: 0 },
        Request::ReadLink { h },
        Request::StatFs { h },
        Request::Close { h },
        Request::Create { dir: root, name: b"new".to_vec(), mode: 0o644, flags: 2 },
        Request::Mkdir { dir: root, name: b"nd".to_vec(), mode: 0o755 },
        Request::Symlink { dir: root, name: b"sl".to_vec(), target: b"../outside".to_vec() },
        Request::Link { dir: root, name: b"hl".to_vec(), target: h },
        Request::Unlink { dir: root, name: b"f".to_vec(), flags: 0 },
        Request::Rename { olddir: root, old: b"f".to_vec(), newdir: h, new: b"f2".to_vec() },
        Request::SetAttr {
            h,
            attr: SetAttr {
                mode: Some(0o600),
                uid: Some(0),
                gid: None,
                size: Some(3),
                atime: Some(SetTime::Now),
                mtime: Some(SetTime::At(Time { sec: 5, nsec: 6 })),
            },
        },
        Request::GetXattr { h, name: b"user.a".to_vec() },
        Request::ListXattr { h },
        Request::SetXattr { h, name: b"user.a".to_vec(), value: b"v".to_vec(), flags: 0 },
        Request::RemoveXattr { h, name: b"user.a".to_vec() },
        Request::WalkDirs { dir: root, names: vec![b"d".to_vec(), b"f".to_vec(), b"nope".to_vec()] },
        Request::Pin { cpu: 0 },
    ]
}

fn replies() -> Vec<Reply> {
    vec![
        Reply::Error(2),
        Reply::Handles(vec![(Handle(1), attr())]),
        Reply::Attr(attr()),
        Reply::Opened,
        Reply::Created(Handle(3), attr()),
        Reply::Dirents { entries: vec![DirEnt { ino: 5, kind: 4, name: b"d".to_vec() }], next: 9, more: true },
        Reply::Target(b"f".to_vec()),
        Reply::Ok,
        Reply::Xattr(b"v".to_vec()),
        Reply::XattrNames(vec![b"user.a".to_vec()]),
    ]
}

/// Request sequences over the scratch tree (handle 1 is the root after
/// `Attach`; handles count up from there).
fn sessions() -> Vec<Vec<Request>> {
    let h = Handle;
    let walk =
        |dir: u64, names: &[&[u8]]| Request::Walk { dir: h(dir), names: names.iter().map(|n| n.to_vec()).collect() };
    vec![
        // Read: walk, stat, open, list, read a link, statfs, close.
        vec![
            Request::Attach,
            walk(1, &[b"d", b"g"]),
            Request::GetAttr { h: h(3) },
            Request::Open { h: h(3), flags: 0 },
            Request::ReadDir { h: h(1), cookie: 0 },
            walk(1, &[b"l"]),
            Request::ReadLink { h: h(4) },
            walk(1, &[b"out"]),
            Request::ReadLink { h: h(5) },
            Request::StatFs { h: h(1) },
            Request::WalkDirs { dir: h(1), names: vec![b"d".to_vec(), b"f".to_vec(), b"p".to_vec()] },
            Request::Close { h: h(2) },
            Request::Open { h: h(2), flags: 0 },
        ],
        // Write: create, mkdir, symlink, link, rename, unlink, setattr, xattrs.
        vec![
            Request::Attach,
            Request::Create { dir: h(1), name: b"new".to_vec(), mode: 0o644, flags: 2 },
            Request::Mkdir { dir: h(1), name: b"nd".to_vec(), mode: 0o755 },
            Request::Symlink { dir: h(3), name: b"sl".to_vec(), target: b"../../outside/secret".to_vec() },
            Request::Link { dir: h(3), name: b"hl".to_vec(), target: h(2) },
            Request::Rename { olddir: h(1), old: b"new".to_vec(), newdir: h(3), new: b"moved".to_vec() },
            Request::Open { h: h(2), flags: 0o1002 },
            Request::SetAttr {
                h: h(2),
                attr: SetAttr { mode: Some(0o600), size: Some(4096), atime: Some(SetTime::Now), ..SetAttr::default() },
            },
            Request::SetXattr { h: h(2), name: b"user.k".to_vec(), value: b"v".to_vec(), flags: 1 },
            Request::GetXattr { h: h(2), name: b"user.k".to_vec() },
            Request::ListXattr { h: h(2) },
            Request::RemoveXattr { h: h(2), name: b"user.k".to_vec() },
            walk(1, &[b"p"]),
            Request::ListXattr { h: h(6) },
            Request::Unlink { dir: h(3), name: b"hl".to_vec(), flags: 0 },
            Request::Unlink { dir: h(1), name: b"d".to_vec(), flags: 0x200 },
        ],
    ]
}

/// `struct sockaddr_*`, `struct cmsghdr`, `iovec`s and a `msghdr`, each
/// after six register values.
fn syscall_args_seeds() -> Vec<(String, Vec<u8>)> {
    let regs = |v: [u64; 6]| v.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
    let with = |r: [u64; 6], buf: &[u8]| [regs(r), buf.to_vec()].concat();
    let mut un = 1u16.to_ne_bytes().to_vec();
    un.extend_from_slice(b"/tmp/sock\0");
    let mut abs = 1u16.to_ne_bytes().to_vec();
    abs.extend_from_slice(b"\0name");
    let mut inet = 2u16.to_ne_bytes().to_vec();
    inet.extend_from_slice(&80u16.to_be_bytes());
    inet.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut inet6 = 10u16.to_ne_bytes().to_vec();
    inet6.extend_from_slice(&443u16.to_be_bytes());
    inet6.extend_from_slice(&0u32.to_be_bytes());
    inet6.extend_from_slice(&[0; 15]);
    inet6.push(1);
    inet6.extend_from_slice(&0u32.to_ne_bytes());
    let mut nl = 16u16.to_ne_bytes().to_vec();
    nl.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    let mut rights = 20u64.to_ne_bytes().to_vec();
    rights.extend_from_slice(&1i32.to_ne_bytes());
    rights.extend_from_slice(&1i32.to_ne_bytes());
    rights.extend_from_slice(&3i32.to_ne_bytes());
    rights.extend_from_slice(&[0; 4]);
    let iovs: Vec<u8> = [0x1000u64, 10, 0x2000, 0, 0x3000, u64::MAX].iter().flat_map(|w| w.to_le_bytes()).collect();
    let msghdr: Vec<u8> = [0x1000u64, 16, 0x2000, 2, 0x3000, 24, 0x40].iter().flat_map(|w| w.to_le_bytes()).collect();
    let flags = [0o2101102, 0x22, 0x1200011, 0x80 | 9, u64::MAX, 0xffff_ff9c];
    vec![
        ("regs".into(), regs(flags)),
        ("sockaddr_un".into(), with([8, 1, 64, 1, 1, 64], &un)),
        ("sockaddr_abstract".into(), with([8, 0, 64, 1, 2, 64], &abs)),
        ("sockaddr_in".into(), with([16, 0, 128, 0, 6, 64], &inet)),
        ("sockaddr_in6".into(), with([28, 1, 128, 41, 67, 64], &inet6)),
        ("sockaddr_nl".into(), with([12, 0, 96, 270, 1, 64], &nl)),
        ("cmsg_rights".into(), with([24, 0, 192, 1, 1, 24], &rights)),
        ("iovecs".into(), with([48, 0, 384, 0, 0, 0], &iovs)),
        ("msghdr".into(), with([56, 0, 448, 0, 0, 0], &msghdr)),
    ]
}

/// A smallest static x86-64 executable: the ELF header, one PT_LOAD.
fn tiny_elf() -> Vec<u8> {
    let mut e = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let w16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let w32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    let w64 = |v: &mut Vec<u8>, x: u64| v.extend_from_slice(&x.to_le_bytes());
    w16(&mut e, 2); // ET_EXEC
    w16(&mut e, 62); // EM_X86_64
    w32(&mut e, 1);
    w64(&mut e, 0x40_0078); // entry
    w64(&mut e, 64); // phoff
    w64(&mut e, 0); // shoff
    w32(&mut e, 0);
    w16(&mut e, 64); // ehsize
    w16(&mut e, 56); // phentsize
    w16(&mut e, 1); // phnum
    w16(&mut e, 64);
    w16(&mut e, 0);
    w16(&mut e, 0);
    w32(&mut e, 1); // PT_LOAD
    w32(&mut e, 5); // R+X
    w64(&mut e, 0);
    w64(&mut e, 0x40_0000);
    w64(&mut e, 0x40_0000);
    w64(&mut e, 0x80);
    w64(&mut e, 0x80);
    w64(&mut e, 0x1000);
    // exit(0)
    e.extend_from_slice(&[0x31, 0xff, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05]);
    e
}

#[test]
#[ignore = "rewrites fuzz/corpus/*/seed-*"]
fn write_seeds() {
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        std::fs::write(dir.join(format!("seed-{name}")), data).expect("seed");
    };
    for (i, r) in requests().iter().enumerate() {
        write("gofer_protocol", &format!("request-{i:02}"), &r.encode());
    }
    for (i, r) in replies().iter().enumerate() {
        write("gofer_protocol", &format!("reply-{i:02}"), &r.encode());
    }
    for (i, s) in sessions().iter().enumerate() {
        write(
            "gofer_server",
            &format!("session-{i}"),
            &join_messages(&s.iter().map(Request::encode).collect::<Vec<_>>()),
        );
    }
    write("elf_loader", "tiny-static", &tiny_elf());
    write("elf_loader", "script", b"#!/bin/sh -e\necho hi\n");
    write("elf_loader", "script-env", b"#! /usr/bin/env python3\n");
    for (name, path) in
        [("bin-true", "/bin/true"), ("busybox", "/bin/busybox"), ("ld-so", "/lib64/ld-linux-x86-64.so.2")]
    {
        if let Ok(b) = std::fs::read(path) {
            // The first page holds the headers and the interpreter path.
            write("elf_loader", name, &b[..b.len().min(4096)]);
        }
    }
    for (name, data) in syscall_args_seeds() {
        write("syscall_args", &name, &data);
    }
}
