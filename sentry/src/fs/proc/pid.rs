//! `/proc/<pid>/...`: a process's files, its limits, and where its fd links
//! lead.

use std::sync::Arc;

use abi::consts::*;
use abi::Errno;

use super::system::{host_mem_kb, mounts};
use super::write;
use crate::kernel::{Kernel, Process};
use crate::vfs::anon::{anon_location, AnonInode};
use crate::vfs::{FileDescription, InodeRef, KResult, Location};

pub(super) fn pid_file(k: &Arc<Kernel>, p: &Arc<Process>, name: &str) -> KResult<Vec<u8>> {
    let comm = String::from_utf8_lossy(&p.comm.lock()).into_owned();
    let ppid = p.ppid();
    Ok(match name {
        "cmdline" | "environ" => {
            let mmr = p.mm();
            let mut mm = mmr.lock();
            let (s, e) = if name == "cmdline" { (mm.arg_start, mm.arg_end) } else { (mm.env_start, mm.env_end) };
            let mut v = vec![0u8; e.saturating_sub(s).min(1 << 20) as usize];
            mm.read_bytes(s, &mut v)?;
            v
        }
        "comm" => format!("{comm}\n").into_bytes(),
        "cgroup" => b"0::/\n".to_vec(),
        "io" => b"rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"
            .to_vec(),
        "oom_score_adj" => format!("{}\n", p.oom.lock().adj).into_bytes(),
        "oom_adj" => format!("{}\n", write::oom_adj_of(p.oom.lock().adj)).into_bytes(),
        "oom_score" => {
            let resident = p.mm().lock().resident() / PAGE_SIZE;
            let (ram, swap) = host_mem_kb();
            let total = (ram + swap) * 1024 / PAGE_SIZE;
            format!("{}\n", write::oom_score(p.oom.lock().adj, resident, total)).into_bytes()
        }
        "limits" => limits(&p.rlimits.lock()),
        "smaps_rollup" => {
            let mmr = p.mm();
            let mm = mmr.lock();
            let lo = mm.vmas().map(|v| v.start).min().unwrap_or(0);
            let hi = mm.vmas().map(|v| v.end).max().unwrap_or(0);
            let rss = mm.resident() / 1024;
            format!(
                "{lo:08x}-{hi:08x} ---p 00000000 00:00 0                          [rollup]\nRss:            {rss:8} kB\nPss:            {rss:8} kB\nPss_Anon:       {rss:8} kB\nPss_File:              0 kB\nPss_Shmem:             0 kB\nShared_Clean:          0 kB\nShared_Dirty:          0 kB\nPrivate_Clean:         0 kB\nPrivate_Dirty:  {rss:8} kB\nReferenced:     {rss:8} kB\nAnonymous:      {rss:8} kB\nSwap:                  0 kB\nSwapPss:               0 kB\nLocked:                0 kB\n"
            )
            .into_bytes()
        }
        "maps" => {
            let mmr = p.mm();
            let mm = mmr.lock();
            let mut s = Vec::new();
            for v in mm.vmas() {
                let perms = format!(
                    "{}{}{}{}",
                    if v.prot & PROT_READ != 0 { 'r' } else { '-' },
                    if v.prot & PROT_WRITE != 0 { 'w' } else { '-' },
                    if v.prot & PROT_EXEC != 0 { 'x' } else { '-' },
                    if v.shared { 's' } else { 'p' }
                );
                let (dev, ino) = v.dev_ino;
                let line = format!(
                    "{:08x}-{:08x} {perms} {:08x} {:02x}:{:02x} {ino}",
                    v.start,
                    v.end,
                    v.offset(),
                    (dev >> 8) & 0xfff,
                    dev & 0xff
                );
                s.extend_from_slice(line.as_bytes());
                if !v.name.is_empty() {
                    let pad = 73usize.saturating_sub(line.len());
                    s.extend(std::iter::repeat_n(b' ', pad.max(1)));
                    s.extend_from_slice(&v.name);
                }
                s.push(b'\n');
            }
            s
        }
        "mounts" | "mountinfo" => mounts(k, &p.fs().lock().root.clone(), name == "mountinfo"),
        "stat" | "statm" => {
            let mmr = p.mm();
            let mm = mmr.lock();
            let vsize: u64 = mm.vmas().map(|v| v.end - v.start).sum();
            let rss = mm.resident() / PAGE_SIZE;
            if name == "statm" {
                return Ok(format!("{} {rss} 0 0 0 0 0\n", vsize / PAGE_SIZE).into_bytes());
            }
            let start = p.start.duration_since(k.start).as_millis() as u64 / 10;
            let (tty_nr, tpgid) = controlling_tty(k, p);
            format!(
                "{} ({comm}) {state} {ppid} {} {} {tty_nr} {tpgid} 4194304 0 0 0 0 0 0 0 0 20 0 1 0 {start} {vsize} {rss} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                p.pid,
                p.pgid.load(std::sync::atomic::Ordering::Relaxed),
                p.sid.load(std::sync::atomic::Ordering::Relaxed),
                state = p.state_letter(),
            )
            .into_bytes()
        }
        "status" => {
            let c = p.creds.lock().clone();
            let mmr = p.mm();
            let mm = mmr.lock();
            let vsize: u64 = mm.vmas().map(|v| v.end - v.start).sum::<u64>() / 1024;
            let rss = mm.resident() / 1024;
            let umask = p.fs().lock().umask;
            let groups: Vec<String> = c.groups.iter().map(|g| g.to_string()).collect();
            format!(
                "Name:\t{comm}\nUmask:\t{umask:04o}\nState:\t{state}\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\nTracerPid:\t0\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{}\nVmPeak:\t{vsize:8} kB\nVmSize:\t{vsize:8} kB\nVmRSS:\t{rss:8} kB\nThreads:\t{threads}\nSigQ:\t0/63432\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nCapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\nNoNewPrivs:\t1\nSeccomp:\t{seccomp}\nSeccomp_filters:\t{filters}\nCpus_allowed_list:\t0-{}\n",
                c.uid,
                c.euid,
                c.suid,
                c.fsuid,
                c.gid,
                c.egid,
                c.sgid,
                c.fsgid,
                groups.join(" "),
                c.caps.inheritable,
                c.caps.permitted,
                c.caps.effective,
                c.caps.bounding,
                c.caps.ambient,
                crate::kernel::ncpus() - 1,
                pid = p.pid,
                state = match p.state_letter() {
                    'Z' => "Z (zombie)",
                    'T' => "T (stopped)",
                    _ => "S (sleeping)",
                },
                threads = p.threads.lock().len(),
                // The config's seccomp profile filters every process.
                seccomp = if k.app_filter.get().is_some() { 2 } else { 0 },
                filters = u8::from(k.app_filter.get().is_some()),
            )
            .into_bytes()
        }
        _ => return Err(Errno::ENOENT),
    })
}

/// `tty_nr` and `tpgid` of `/proc/<pid>/stat`: the device number of the
/// process's controlling terminal (a host terminal or a pty of the
/// sandbox's, for the session that holds it) and that terminal's
/// foreground process group; `0 -1` without
/// one. `ps` finds the TTY column's name from them.
fn controlling_tty(k: &Kernel, p: &Process) -> (u64, i32) {
    use std::sync::atomic::Ordering::Relaxed;
    let sid = p.sid.load(Relaxed);
    let exec_tty = k.exec_ttys.lock().iter().find(|(_, j)| j.sid.load(Relaxed) == sid).map(|(r, j)| (*r, j.clone()));
    if let Some((rdev, j)) = exec_tty {
        return (rdev & 0xffff_ffff, j.pgrp.load(Relaxed));
    }
    if let Some((rdev, pgrp)) = crate::fs::pty::controlling_terminal(sid) {
        return (rdev, pgrp);
    }
    let rdev = match k.host_tty.get() {
        Some(tty) if sid == k.tty_sid.load(Relaxed) => nix::sys::stat::fstat(tty).map(|st| st.st_rdev),
        _ => return (0, -1),
    };
    match rdev {
        // The kernel's 32-bit encoding of a device number (new_encode_dev),
        // which is stat's st_rdev.
        Ok(rdev) => (rdev & 0xffff_ffff, k.tty_pgrp.load(Relaxed)),
        Err(_) => (0, -1),
    }
}

/// Where `/proc/<pid>/fd/N` leads for a description with no path: its
/// inode (a pipe re-opens as a new end, a socket answers `ENXIO`, a memfd
/// opens again), or for an anonymous-inode file Linux's shared anon inode
/// (`ENXIO`; a pidfd re-opens as itself, as pidfs does).
pub(super) fn reopen_target(f: &FileDescription) -> Location {
    let name = f.anon_name.clone().unwrap_or_default();
    anon_location(name, description_inode(f))
}

/// The inode of open file `f`: its own, or for an anonymous-inode file
/// (eventfd, epoll, signalfd, timerfd, inotify, pidfd) Linux's shared anon
/// inode, which `fstat` and `/proc/<pid>/fd/N` show.
pub fn description_inode(f: &FileDescription) -> InodeRef {
    f.inode.clone().unwrap_or_else(|| {
        if crate::syscalls::pidfd::process_of(f).is_some() {
            AnonInode::new(0o700, Some(f.file.clone()))
        } else {
            AnonInode::new(0o600, None)
        }
    })
}

/// `/proc/<pid>/limits`.
pub(super) fn limits(r: &[abi::types::Rlimit; 16]) -> Vec<u8> {
    const NAMES: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let v = |x: u64| if x == RLIM_INFINITY { "unlimited".to_string() } else { x.to_string() };
    let mut s = format!("{:<25} {:<20} {:<20} {:<10}\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    for (i, (name, unit)) in NAMES.iter().enumerate() {
        s += &format!("{:<25} {:<20} {:<20} {:<10}\n", name, v(r[i].rlim_cur), v(r[i].rlim_max), unit);
    }
    s.into_bytes()
}
