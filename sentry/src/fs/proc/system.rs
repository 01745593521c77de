//! `/proc` files about the whole system: meminfo, uptime, version, mounts,
//! /proc/sys and the rest of the root's files.

use std::sync::Arc;

use abi::types::Timespec;
use abi::Errno;

use crate::kernel::Kernel;
use crate::net::netlink::{self, Iface};
use std::net::{IpAddr, SocketAddr};

use crate::vfs::Caller;
use crate::vfs::{KResult, Location};

pub(super) fn static_file(k: &Arc<Kernel>, name: &str, cx: Caller<'_>) -> KResult<Vec<u8>> {
    let up = k.start.elapsed();
    Ok(match name {
        "cpuinfo" => {
            let n = crate::kernel::ncpus();
            let mut s = String::new();
            for i in 0..n {
                s += &format!(
                    "processor\t: {i}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: bulwark virtual CPU\nstepping\t: 0\ncpu MHz\t\t: 2000.000\ncache size\t: 16384 KB\nphysical id\t: 0\nsiblings\t: {n}\ncore id\t\t: {i}\ncpu cores\t: {n}\nfpu\t\t: yes\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 syscall nx lm rep_good nopl cpuid pni ssse3 cx16 sse4_1 sse4_2 popcnt aes xsave avx hypervisor\nbogomips\t: 4000.00\naddress sizes\t: 46 bits physical, 48 bits virtual\n\n"
                );
            }
            s.into_bytes()
        }
        n if n.starts_with("net/") => net_file(&n[4..]),
        "filesystems" => b"nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\toverlay\n\text4\n".to_vec(),
        "loadavg" => {
            format!("0.00 0.00 0.00 1/{} {}\n", k.pids().len(), k.pids().last().copied().unwrap_or(1)).into_bytes()
        }
        "meminfo" => {
            // SAFETY-free: the sentry reads its host's totals for itself.
            let total = crate::kernel::limits::mem_total_kb(k, host_mem_kb().0);
            let used =
                k.pids().iter().filter_map(|p| k.process(*p)).map(|p| p.mm().lock().resident()).sum::<u64>() / 1024;
            let free = total.saturating_sub(used);
            format!(
                "MemTotal:       {total:8} kB\nMemFree:        {free:8} kB\nMemAvailable:   {free:8} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\nActive:         {used:8} kB\nInactive:              0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nDirty:                 0 kB\nShmem:                 0 kB\nHugePages_Total:       0\nHugePagesize:       2048 kB\n"
            )
            .into_bytes()
        }
        "mounts" => mounts(k, &cx.root_or(|| k.vfs.root()), false),
        "stat" => {
            let boot = now_realtime().tv_sec - up.as_secs() as i64;
            let t = up.as_millis() as u64 / 10;
            format!("cpu  {t} 0 0 {t} 0 0 0 0 0 0\ncpu0 {t} 0 0 {t} 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime {boot}\nprocesses {}\nprocs_running 1\nprocs_blocked 0\n", k.pids().len()).into_bytes()
        }
        "uptime" => {
            format!("{}.{:02} {}.{:02}\n", up.as_secs(), up.subsec_millis() / 10, up.as_secs(), up.subsec_millis() / 10)
                .into_bytes()
        }
        "version" => format!(
            "Linux version {} (bulwark) {}\n",
            String::from_utf8_lossy(&k.release.lock()),
            String::from_utf8_lossy(crate::syscalls::sys::VERSION)
        )
        .into_bytes(),
        "sys/kernel/hostname" => {
            let mut h = k.hostname.lock().clone();
            h.push(b'\n');
            h
        }
        "sys/net/ipv4/ip_unprivileged_port_start" => {
            format!("{}\n", k.unprivileged_port_start.load(std::sync::atomic::Ordering::Relaxed)).into_bytes()
        }
        "sys/kernel/domainname" => {
            let mut h = k.domainname.lock().clone();
            h.push(b'\n');
            h
        }
        "sys/kernel/osrelease" => {
            let mut r = k.release.lock().clone();
            r.push(b'\n');
            r
        }
        "sys/kernel/ostype" => b"Linux\n".to_vec(),
        "sys/kernel/pid_max" => b"4194304\n".to_vec(),
        "sys/kernel/ngroups_max" => b"65536\n".to_vec(),
        "sys/vm/overcommit_memory" => b"0\n".to_vec(),
        "sys/vm/swappiness" => b"60\n".to_vec(),
        "sys/kernel/cap_last_cap" => b"40\n".to_vec(),
        "sys/kernel/shmall" => b"18446744073692774399\n".to_vec(),
        "sys/kernel/shmmax" => b"18446744073692774399\n".to_vec(),
        "sys/kernel/shmmni" => b"4096\n".to_vec(),
        "sys/kernel/threads-max" => b"126774\n".to_vec(),
        "sys/kernel/version" => {
            let mut v = crate::syscalls::sys::VERSION.to_vec();
            v.push(b'\n');
            v
        }
        "sys/vm/max_map_count" => b"65530\n".to_vec(),
        "sys/fs/file-max" => b"9223372036854775807\n".to_vec(),
        "sys/fs/nr_open" => b"1048576\n".to_vec(),
        _ => return Err(Errno::ENOENT),
    })
}

/// The host's total memory and swap, in KiB.
pub(super) fn host_mem_kb() -> (u64, u64) {
    let (total, _, swap) = crate::host::memory();
    (total / 1024, swap / 1024)
}

pub(super) fn now_realtime() -> Timespec {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) }
}

/// `/proc/<pid>/mounts` (`info` false) or `mountinfo` (true) as seen from
/// `root`: mounts outside it are left out.
pub(super) fn mounts(k: &Arc<Kernel>, root: &Location, info: bool) -> Vec<u8> {
    let mut s = Vec::new();
    for m in k.vfs.mounts() {
        let loc = Location { mount: m.clone(), dentry: m.root.clone() };
        let (path, under) = k.vfs.path_from(&loc, root);
        if !under {
            continue;
        }
        let rw = if m.readonly() { "ro" } else { "rw" };
        let opts = if m.options.is_empty() { String::new() } else { format!(",{}", m.options) };
        if info {
            let parent = m.parent().map_or(m.id, |(pm, _)| pm.id);
            let dev = m.root.inode.attr().map_or(0, |a| a.dev);
            let (major, minor) = (crate::fs::major(dev), crate::fs::minor(dev));
            // The mount's root within its file system (not "/" for a bind
            // mount of a subdirectory).
            let mut fs_root = Vec::new();
            let mut d = Some(m.root.clone());
            while let Some(cur) = d {
                if cur.parent().is_some() {
                    fs_root.splice(0..0, [b"/".as_slice(), &cur.name()].concat());
                }
                d = cur.parent();
            }
            if fs_root.is_empty() {
                fs_root.push(b'/');
            }
            s.extend_from_slice(format!("{} {parent} {major}:{minor} ", m.id).as_bytes());
            s.extend_from_slice(&fs_root);
            s.push(b' ');
            s.extend_from_slice(&path);
            s.extend_from_slice(format!(" {rw},relatime - {} {} {rw}{opts}\n", m.fstype, m.source).as_bytes());
        } else {
            s.extend_from_slice(m.source.as_bytes());
            s.push(b' ');
            s.extend_from_slice(&path);
            s.extend_from_slice(format!(" {} {rw}{opts},relatime 0 0\n", m.fstype).as_bytes());
        }
    }
    s
}

/// An address as `/proc/net/tcp` prints it: the IPv4 address's or each
/// IPv6 word's bytes read as a host-order number, then the port.
fn proc_net_addr(a: SocketAddr, v6: bool) -> String {
    let words = |octets: &[u8]| -> String {
        octets.chunks(4).map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))).collect()
    };
    let ip = match (a.ip(), v6) {
        (IpAddr::V4(v4), false) => words(&v4.octets()),
        (IpAddr::V4(v4), true) => words(&v4.to_ipv6_mapped().octets()),
        (IpAddr::V6(v6), _) => words(&v6.octets()),
    };
    format!("{ip}:{:04X}", a.port())
}

/// `/proc/net/dev`: a line per interface, its counters zero.
fn net_dev(ifaces: &[Iface<'_>]) -> String {
    let mut s = String::from("Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
    // The widths of the receive and transmit counters' columns, as Linux
    // prints them (`dev_seq_printf_stats`).
    const WIDTHS: [usize; 16] = [8, 7, 4, 4, 4, 5, 10, 9, 8, 7, 4, 4, 4, 5, 7, 10];
    for i in ifaces {
        let counters: Vec<String> = WIDTHS.iter().map(|&w| format!("{:>w$}", 0)).collect();
        s += &format!("{:>6}:{}\n", i.name, counters.join(" "));
    }
    s
}

/// `/proc/net/if_inet6`: a line per IPv6 address: the address in hex, the
/// interface's index, the prefix length, the scope (as `IPV6_ADDR_*`
/// bits), the flags (`IFA_F_PERMANENT`) and the interface's name.
fn if_inet6(ifaces: &[Iface<'_>]) -> String {
    let mut s = String::new();
    for i in ifaces {
        for (a, prefix) in i.ipv6() {
            // IPV6_ADDR_LOOPBACK, _LINKLOCAL, _SITELOCAL; global is 0.
            let scope = match netlink::scope6(a) {
                netlink::RT_SCOPE_HOST => 0x10,
                netlink::RT_SCOPE_LINK => 0x20,
                netlink::RT_SCOPE_SITE => 0x40,
                _ => 0,
            };
            let hex: String = a.octets().iter().map(|b| format!("{b:02x}")).collect();
            s += &format!("{hex} {:02x} {prefix:02x} {scope:02x} 80 {:>8}\n", i.index, i.name);
        }
    }
    s
}

/// `/proc/net/*`: the sandbox's own network, its interfaces (`lo` and,
/// with `--network sandbox`, the Ethernet one) and the Internet sockets
/// (with `--network host`, the program's host sockets are not listed).
fn net_file(name: &str) -> Vec<u8> {
    use crate::net::inet;
    use crate::net::SockType;
    const TCP_HEADER: &str =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    const TCP6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    match name {
        "dev" => net_dev(&netlink::interfaces(crate::net::stack::interface())).into_bytes(),
        "if_inet6" => if_inet6(&netlink::interfaces(crate::net::stack::interface())).into_bytes(),
        "tcp" | "tcp6" | "udp" | "udp6" => {
            let (stype, v6) =
                (if name.starts_with("tcp") { SockType::Stream } else { SockType::Dgram }, name.ends_with('6'));
            let mut s = String::from(if v6 { TCP6_HEADER } else { TCP_HEADER });
            let unspec = SocketAddr::new(
                if v6 {
                    IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                },
                0,
            );
            for (i, l) in inet::sockets().into_iter().filter(|l| l.stype == stype && l.v6 == v6).enumerate() {
                // TCP_LISTEN 0A, TCP_ESTABLISHED 01, TCP_CLOSE 07.
                let st = match (l.listening, l.peer.is_some()) {
                    (true, _) => 0x0a,
                    (_, true) => 0x01,
                    _ => 0x07,
                };
                s += &format!(
                    "{i:4}: {} {} {st:02X} 00000000:{:08X} 00:00000000 00000000     0        0 {} 1 0000000000000000 100 0 0 10 0\n",
                    proc_net_addr(l.local, v6),
                    proc_net_addr(l.peer.unwrap_or(unspec), v6),
                    l.rx_queue.min(u64::from(u32::MAX)),
                    l.ino
                );
            }
            s.into_bytes()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::stack::IfInfo;

    fn eth0() -> IfInfo {
        IfInfo {
            name: "eth0".into(),
            index: 2,
            mac: [2, 0, 0, 0, 0, 1],
            mtu: 1500,
            addrs: vec![
                ("10.0.2.15".parse().expect("address"), 24),
                ("fe80::e0c3:2aff:fe32:b884".parse().expect("address"), 64),
                ("fd00::2".parse().expect("address"), 64),
            ],
        }
    }

    #[test]
    fn net_dev_has_a_line_per_interface_in_linux_columns() {
        let eth = eth0();
        let dev = net_dev(&netlink::interfaces(Some(&eth)));
        let lines: Vec<&str> = dev.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[2], "    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0");
        assert_eq!(lines[3], "  eth0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0");
    }

    #[test]
    fn if_inet6_lists_each_ipv6_address_with_index_prefix_and_scope() {
        let eth = eth0();
        assert_eq!(
            if_inet6(&netlink::interfaces(Some(&eth))),
            "00000000000000000000000000000001 01 80 10 80       lo\n\
             fe80000000000000e0c32afffe32b884 02 40 20 80     eth0\n\
             fd000000000000000000000000000002 02 40 00 80     eth0\n"
        );
        assert_eq!(if_inet6(&netlink::interfaces(None)), "00000000000000000000000000000001 01 80 10 80       lo\n");
    }
}
