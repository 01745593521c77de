//! `--network sandbox`: the user-space TCP/IP stack on a veth of a network
//! namespace made for the test. The same client script runs natively in
//! the namespace and sandboxed, against servers on the host's end of the
//! veth, with identical output; a server in the sandbox is reached from
//! the host; and the host kernel no longer holds the sandbox's address.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::netns::Netns;
use common::{bulwark, finish, run, spawn_piped};

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name).to_str().expect("utf-8 path").to_owned()
}

/// A TCP echo server and a UDP echo server on `at` (the host's end of the
/// veth), in threads; their ports, and a port nobody listens on.
fn echo_servers(at: &str) -> (u16, u16, u16) {
    let tcp = TcpListener::bind((at, 0)).expect("tcp listener");
    let udp = UdpSocket::bind((at, 0)).expect("udp socket");
    let closed = TcpListener::bind((at, 0)).expect("a port to close");
    let ports = (
        tcp.local_addr().expect("name").port(),
        udp.local_addr().expect("name").port(),
        closed.local_addr().expect("name").port(),
    );
    drop(closed);
    std::thread::spawn(move || {
        for conn in tcp.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(&buf[..n], from);
        }
    });
    ports
}

/// Run the client script natively in `ns`, then sandboxed; both outputs.
fn native_then_sandboxed(ns: &Netns, host: &str) -> (String, common::Output) {
    let (tcp, udp, closed) = echo_servers(host);
    let args = [host.to_owned(), tcp.to_string(), udp.to_string(), closed.to_string()];
    let mut argv = vec!["/usr/bin/python3", "-u"];
    let s = script("remote.py");
    argv.push(&s);
    argv.extend(args.iter().map(String::as_str));
    let native = run(ns.command(&argv));
    assert!(native.status.success(), "native run: {}", native.stderr_str());
    (native.stdout_str(), run(ns.sandboxed(&argv)))
}

#[test]
fn a_client_in_the_sandbox_reaches_servers_on_the_host_as_natively() {
    let Some(ns) = Netns::new() else { return };
    let host = ns.v4.0.clone();
    let (native, sandboxed) = native_then_sandboxed(&ns, &host);
    assert_eq!(sandboxed.stdout_str(), native, "sandbox stderr: {}", sandboxed.stderr_str());
    assert!(native.contains("echoed 1048576 True"), "{native}");
    assert!(native.contains("refused ECONNREFUSED"), "{native}");
}

#[test]
fn the_same_over_ipv6() {
    let Some(ns) = Netns::new() else { return };
    let host = ns.v6.0.clone();
    let (native, sandboxed) = native_then_sandboxed(&ns, &host);
    assert_eq!(sandboxed.stdout_str(), native, "sandbox stderr: {}", sandboxed.stderr_str());
    assert!(native.contains("echoed 1048576 True"), "{native}");
}

/// GET `path` from `addr` once; the response.
fn http_once(addr: &str, path: &str) -> std::io::Result<String> {
    let to = addr.parse().map_err(std::io::Error::other)?;
    let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(out)
}

/// GET `path` from `addr`, retrying while the server starts; the response.
fn http_get(addr: &str, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http_once(addr, path) {
            Ok(out) if !out.is_empty() => return out,
            _ => assert!(Instant::now() < deadline, "no answer from {addr}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_host_reaches_a_python_http_server_in_the_sandbox_and_the_kernel_gave_up_the_address() {
    let Some(ns) = Netns::new() else { return };
    let mut server = ns.sandboxed(&["/usr/bin/python3", "-m", "http.server", "8000", "-d", "/etc"]);
    server.stdin(Stdio::null());
    let child = spawn_piped(&mut server);
    let reply = http_get(&format!("{}:8000", ns.v4.1), "/hostname");
    let body = std::fs::read_to_string("/etc/hostname").expect("/etc/hostname");
    assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
    assert!(reply.ends_with(&body), "{reply}");
    let reply6 = http_get(&format!("[{}]:8000", ns.v6.1), "/hostname");
    assert!(reply6.starts_with("HTTP/1.0 200 OK"), "{reply6}");
    // The host kernel holds none of the interface's addresses now.
    let addrs =
        Command::new("ip").args(["-n", &ns.name, "-o", "addr", "show", "scope", "global"]).output().expect("ip");
    let addrs = String::from_utf8_lossy(&addrs.stdout).into_owned();
    assert!(!addrs.contains(&ns.v4.1) && !addrs.contains(&ns.v6.1), "{addrs}");
    let mut child = child;
    let _ = child.kill();
    let out = finish(child, "http.server");
    assert!(!out.stderr_str().contains("panicked"), "{}", out.stderr_str());
}

#[test]
fn the_sandboxs_own_address_and_the_loopback_stay_inside() {
    let Some(ns) = Netns::new() else { return };
    // A server on the wildcard answers the loopback and the interface's
    // address from inside; a UDP server inside answers the host.
    let py = format!(
        "import socket, threading\n\
         l = socket.socket(); l.bind(('0.0.0.0', 7000)); l.listen(8)\n\
         def serve():\n    while True:\n        c, _ = l.accept(); c.sendall(b'hi ' + c.getsockname()[0].encode()); c.close()\n\
         threading.Thread(target=serve, daemon=True).start()\n\
         for a in ('127.0.0.1', '{me}'):\n    c = socket.create_connection((a, 7000)); print(c.recv(100).decode(), c.getpeername()[0])\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 7001))\n\
         print('ready', flush=True)\n\
         d, frm = u.recvfrom(100); u.sendto(d.upper(), frm); print('udp from host', d.decode())\n",
        me = ns.v4.1
    );
    let mut cmd = ns.sandboxed(&["/usr/bin/python3", "-c", &py]);
    cmd.stdin(Stdio::null());
    let mut child = spawn_piped(&mut cmd);
    let host = UdpSocket::bind((ns.v4.0.as_str(), 0)).expect("udp");
    host.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    let mut buf = [0u8; 100];
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let _ = host.send_to(b"hello", (ns.v4.1.as_str(), 7001));
        if let Ok((n, _)) = host.recv_from(&mut buf) {
            break String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            break String::new();
        }
    };
    let out = finish(child, "sandboxed python");
    assert_eq!(answer, "HELLO", "{}", out.stderr_str());
    let me = &ns.v4.1;
    assert_eq!(
        out.stdout_str(),
        format!("hi 127.0.0.1 127.0.0.1\nhi {me} {me}\nready\nudp from host hello\n"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn sandbox_mode_refuses_the_hosts_own_network_namespace() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.args(["do", "--network", "sandbox", "--", "/bin/true"]);
        c
    });
    assert_eq!(out.status.code(), Some(125), "{}", out.stderr_str());
    assert!(out.stderr_str().contains("network namespace"), "{}", out.stderr_str());
}

#[test]
fn ip_addr_in_the_sandbox_shows_the_interface_it_took() {
    let Some(ns) = Netns::new() else { return };
    let out = run(ns.sandboxed(&["/usr/sbin/ip", "-o", "addr", "show"]));
    let text = out.stdout_str();
    assert!(text.contains("1: lo    inet 127.0.0.1/8 scope host lo"), "{text}{}", out.stderr_str());
    let v4 = format!("2: {}    inet {}/24 brd ", ns.ns_if, ns.v4.1);
    let v6 = format!("2: {}    inet6 {}/64 scope global", ns.ns_if, ns.v6.1);
    assert!(text.contains(&v4) && text.contains(&v6), "{text}");
}

#[test]
fn concurrent_connections_from_the_host_are_all_served() {
    let Some(ns) = Netns::new() else { return };
    // python's http.server is single-threaded with a backlog of 5: most
    // of the 16 clients' connections wait for room, as on Linux.
    let mut server = ns.sandboxed(&["/usr/bin/python3", "-m", "http.server", "8000", "-d", "/etc"]);
    server.stdin(Stdio::null());
    let mut child = spawn_piped(&mut server);
    let addr = format!("{}:8000", ns.v4.1);
    http_get(&addr, "/hostname");
    let body = std::fs::read_to_string("/etc/hostname").expect("/etc/hostname");
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (addr, body) = (addr.clone(), body.clone());
            std::thread::spawn(move || {
                (0..10).filter(|_| http_once(&addr, "/hostname").is_ok_and(|r| r.ends_with(&body))).count()
            })
        })
        .collect();
    let served: usize = clients.into_iter().map(|c| c.join().expect("client")).sum();
    let _ = child.kill();
    let out = finish(child, "http.server");
    assert_eq!(served, 160, "{}", out.stderr_str());
}
