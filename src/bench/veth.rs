//! The network fixture of `bulwark bench`: a network namespace holding one
//! end of a veth pair, and a TCP peer in the bench process on the other.
//!
//! Two things need it. A runtime in `--network sandbox` mode runs every
//! case inside the namespace (`ip netns exec NS bulwark do ...`), where its
//! stack takes the namespace's interface. The `veth-*` cases run inside it
//! under every runtime, native too, and talk to the peer: over the host
//! kernel's stack natively, over the sentry's in sandbox mode, over host
//! sockets in `host` mode.
//!
//! IPv4 only: 10.213.N.0/24, the host end .1 (where the peer listens), the
//! namespace end .2, with a default route via .1. A sandbox-mode run takes
//! the namespace end's address away; [`Veth::reset`] puts it and the route
//! back before each run.
//!
//! Made once per bench run, when a case first needs it, and removed on
//! drop. Its names carry the bench's process id (`bulwark-bench-PID`,
//! `bwbPIDh`, `bwbPIDn`), and N is a subnet no host interface uses, so two
//! benches do not collide. A namespace left by a bench that was killed (its
//! process is gone) is removed when the next bench makes its own.
//!
//! The peer's protocol: the client's first byte picks the mode,
//! [`PEER_ECHO`] (send back everything) or [`PEER_DRAIN`] (read and drop
//! everything); the peer answers it with the same byte once it is ready,
//! and closes the connection on any other byte. The guest has the same
//! two constants.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// First byte from a client: echo what follows.
pub const PEER_ECHO: u8 = b'e';
/// First byte from a client: read and drop what follows.
pub const PEER_DRAIN: u8 = b'd';

/// The first two octets of the fixture's subnets.
const NET_PREFIX: [u8; 2] = [10, 213];
/// Prefix length of the fixture's subnet.
const PREFIX_LEN: u8 = 24;
/// Prefix of the namespaces' names; the bench's pid follows.
const NETNS_PREFIX: &str = "bulwark-bench-";
/// A peer connection with nothing to read for this long is given up.
const PEER_IDLE: Duration = Duration::from_secs(60);

/// How a run enters the namespace and reaches the peer: all that a
/// command line needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    /// The `ip` program.
    pub ip: PathBuf,
    /// The namespace's name (`ip netns exec NAME`).
    pub name: String,
    /// Where the peer listens: the host end's address.
    pub peer: SocketAddr,
}

impl Netns {
    /// `ip netns exec NAME`, to put before a command line.
    pub fn exec_prefix(&self) -> Vec<String> {
        vec![self.ip.to_string_lossy().into_owned(), "netns".into(), "exec".into(), self.name.clone()]
    }
}

/// The namespace, the veth pair and the peer; all removed on drop.
pub struct Veth {
    pub netns: Netns,
    host_if: String,
    ns_if: String,
    subnet: u8,
    peer: Option<Peer>,
}

impl Veth {
    /// Make the namespace, the pair, the addresses and the peer. `Err`
    /// says why not, for the cases and runtimes that needed it.
    pub fn make() -> Result<Veth, String> {
        let why = |e: String| format!("no veth fixture (needs root and iproute2): {e}");
        let ip = find_ip().ok_or_else(|| why("`ip` is not installed".into()))?;
        remove_stale_namespaces(&ip);
        let pid = std::process::id();
        let subnet = free_subnet(&ip, pid).map_err(why)?;
        let name = format!("{NETNS_PREFIX}{pid}");
        run_ip(&ip, &["netns", "add", &name]).map_err(why)?;
        // From here on, dropping `veth` undoes what was made.
        let mut veth = Veth {
            netns: Netns { ip, name, peer: SocketAddr::V4(SocketAddrV4::new(addr(subnet, 1), 0)) },
            host_if: format!("bwb{pid}h"),
            ns_if: format!("bwb{pid}n"),
            subnet,
            peer: None,
        };
        veth.set_up().map_err(why)?;
        let peer = Peer::start(veth.netns.peer).map_err(|e| why(format!("peer on {}: {e}", veth.netns.peer)))?;
        veth.netns.peer = peer.addr;
        veth.peer = Some(peer);
        Ok(veth)
    }

    fn set_up(&self) -> Result<(), String> {
        let ip = &self.netns.ip;
        let (h, n, ns) = (self.host_if.as_str(), self.ns_if.as_str(), self.netns.name.as_str());
        let host_addr = format!("{}/{PREFIX_LEN}", addr(self.subnet, 1));
        run_ip(ip, &["link", "add", h, "type", "veth", "peer", "name", n, "netns", ns])?;
        run_ip(ip, &["addr", "add", &host_addr, "dev", h])?;
        run_ip(ip, &["link", "set", h, "up"])?;
        run_ip(ip, &["-n", ns, "link", "set", "lo", "up"])?;
        self.reset()
    }

    /// Give the namespace end its address, and the namespace its default
    /// route, again (a sandbox-mode run took them): one `ip -batch`.
    pub fn reset(&self) -> Result<(), String> {
        let n = &self.ns_if;
        let script = format!(
            "addr replace {}/{PREFIX_LEN} dev {n}\nlink set {n} up\nroute replace default via {}\n",
            addr(self.subnet, 2),
            addr(self.subnet, 1)
        );
        let mut child = Command::new(&self.netns.ip)
            .args(["-n", &self.netns.name, "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("run {}: {e}", self.netns.ip.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.as_bytes()).map_err(|e| format!("write to ip -batch: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("wait for ip -batch: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "re-adding {}'s address in {}: {}",
                self.ns_if,
                self.netns.name,
                first_line(&out.stderr)
            ));
        }
        Ok(())
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // The peer first, while its address is still there to wake it.
        drop(self.peer.take());
        let ip = &self.netns.ip;
        // Deleting one end deletes the pair, even if a straggler still
        // holds the namespace.
        let _ = run_ip(ip, &["link", "del", &self.host_if]);
        let _ = run_ip(ip, &["netns", "del", &self.netns.name]);
    }
}

/// Host address `host` in subnet `subnet`.
fn addr(subnet: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(NET_PREFIX[0], NET_PREFIX[1], subnet, host)
}

/// `ip` in the usual places.
fn find_ip() -> Option<PathBuf> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| super::cases::is_executable(p))
}

/// Run `ip ARGS`; `Err` quotes its first line of complaint.
fn run_ip(ip: &Path, args: &[&str]) -> Result<String, String> {
    let out =
        Command::new(ip).args(args).stdin(Stdio::null()).output().map_err(|e| format!("run {}: {e}", ip.display()))?;
    if !out.status.success() {
        return Err(format!("ip {}: {}", args.join(" "), first_line(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_owned()
}

/// A third octet, tried from `pid` on, whose 10.213.N.0/24 no interface
/// of the host has an address in.
fn free_subnet(ip: &Path, pid: u32) -> Result<u8, String> {
    let used = run_ip(ip, &["-o", "-4", "addr", "show"])?;
    let start = pid % 256;
    (0..256u32)
        .filter_map(|k| u8::try_from((start + k) % 256).ok())
        .find(|&n| !used.contains(&format!(" {}.{}.{n}.", NET_PREFIX[0], NET_PREFIX[1])))
        .ok_or_else(|| format!("every subnet {}.{}.N.0/24 is in use", NET_PREFIX[0], NET_PREFIX[1]))
}

/// The pid in a fixture namespace's name, if `name` is one.
fn netns_owner(name: &str) -> Option<u32> {
    let pid = name.strip_prefix(NETNS_PREFIX)?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Delete the fixture namespaces whose bench is gone (it was killed before
/// it could clean up); deleting a namespace deletes its veth pair.
fn remove_stale_namespaces(ip: &Path) {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for name in entries.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
        if let Some(pid) = netns_owner(&name) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = run_ip(ip, &["netns", "del", &name]);
            }
        }
    }
}

/// The peer: a TCP server on a thread, one more thread per connection.
/// Stopped (and its listener closed) on drop.
pub struct Peer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    /// Listen on `bind` (port 0: any) and serve every connection.
    pub fn start(bind: SocketAddr) -> io::Result<Peer> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new().name("bench-peer".into()).spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    return;
                }
                match conn {
                    Ok(s) => {
                        // Without a thread the connection is dropped: the
                        // client sees it closed, and the case fails.
                        let _ = std::thread::Builder::new().name("bench-peer-conn".into()).stack_size(256 << 10).spawn(
                            move || {
                                let _ = serve(s);
                            },
                        );
                    }
                    // Out of descriptors, say: do not spin.
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })?;
        Ok(Peer { addr, stop, thread: Some(thread) })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept; only then is there an end to wait for.
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// One connection: the mode byte, its answer, then echo or drain until the
/// client closes (or idles for [`PEER_IDLE`]).
fn serve(mut s: TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(PEER_IDLE))?;
    let mut mode = [0u8; 1];
    s.read_exact(&mut mode)?;
    if !matches!(mode[0], PEER_ECHO | PEER_DRAIN) {
        return s.shutdown(Shutdown::Both);
    }
    s.write_all(&mode)?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        if mode[0] == PEER_ECHO {
            s.write_all(&buf[..n])?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer on the loopback and a client that has sent `mode`.
    fn client(mode: u8) -> (Peer, TcpStream) {
        let peer = Peer::start("127.0.0.1:0".parse().expect("addr")).expect("peer starts");
        let mut c = TcpStream::connect(peer.addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        c.write_all(&[mode]).expect("send the mode");
        (peer, c)
    }

    #[test]
    fn peer_answers_the_echo_byte_then_echoes() {
        let (_peer, mut c) = client(PEER_ECHO);

        c.write_all(b"x").expect("send");
        let mut got = [0u8; 2];
        c.read_exact(&mut got).expect("recv");

        assert_eq!(&got, b"ex");
    }

    #[test]
    fn peer_answers_the_drain_byte_then_sends_nothing_more() {
        let (_peer, mut c) = client(PEER_DRAIN);

        c.write_all(&vec![7u8; 1 << 20]).expect("send a MiB");
        c.shutdown(Shutdown::Write).expect("shutdown");
        let mut got = Vec::new();
        c.read_to_end(&mut got).expect("recv until the peer closes");

        assert_eq!(got, [PEER_DRAIN]);
    }

    #[test]
    fn peer_closes_on_an_unknown_mode_byte() {
        let (_peer, mut c) = client(b'z');

        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);

        assert!(got.is_empty());
    }

    #[test]
    fn exec_prefix_enters_the_namespace_with_ip() {
        let ns = Netns {
            ip: "/usr/sbin/ip".into(),
            name: "bulwark-bench-7".into(),
            peer: "10.213.7.1:4000".parse().expect("addr"),
        };

        assert_eq!(ns.exec_prefix(), ["/usr/sbin/ip", "netns", "exec", "bulwark-bench-7"]);
    }

    #[test]
    fn only_fixture_namespaces_name_an_owner() {
        let owners: Vec<Option<u32>> = ["bulwark-bench-123", "bulwark-bench-", "bulwark-bench-12x", "bwm"]
            .iter()
            .map(|n| netns_owner(n))
            .collect();

        assert_eq!(owners, [Some(123), None, None, None]);
    }
}
