//! The sandbox's own network (`--network none`): TCP and UDP over an
//! in-sentry loopback, run natively and under `bulwark do` with identical
//! output, real servers (python's http.server) inside, and nothing
//! reaching the host.

mod common;

use std::net::TcpListener;
use std::path::Path;

use common::{assert_same, c_program, run_sandboxed};

const PYTHON: &str = "/usr/bin/python3";

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name).to_str().expect("utf-8 path").to_owned()
}

#[test]
fn loopback_tcp_and_udp_names_options_errors_and_readiness_match_linux() {
    assert_same(&[PYTHON, &script("loopback.py")]);
}

#[test]
fn a_megabyte_through_a_hundred_connections_and_a_hundred_udp_echoes() {
    let out = assert_same(&[PYTHON, &script("echo_many.py")]);
    assert_eq!(out.stdout_str(), "tcp connections 100 bytes 1048600\nudp echoed 100\n");
}

#[test]
fn udp_control_messages_on_receipt_match_linux() {
    let out = assert_same(&[PYTHON, &script("ancillary.py")]);
    assert!(out.stdout_str().contains("pktinfo if=1 spec=127.0.0.1 addr=127.0.0.1"), "{}", out.stdout_str());
}

#[test]
fn bad_socket_arguments_get_linux_errnos() {
    let prog = c_program("inet_errors", &[]);
    let out = assert_same(&[prog.to_str().expect("utf-8 path")]);
    assert!(out.stdout_str().contains("bind foreign address                     EADDRNOTAVAIL"));
}

#[test]
fn python_http_server_answers_urllib_inside_the_sandbox() {
    // The port is the sandbox's own: nothing on the host can hold it.
    let sh = r#"
        cd /etc
        python3 -m http.server 8000 >/dev/null 2>&1 &
        for i in $(seq 50); do
            python3 -c 'import urllib.request as u; r = u.urlopen("http://localhost:8000/hostname"); print(r.status, r.headers["Content-Type"])' 2>/dev/null && break
            sleep 0.1
        done
        kill $!
    "#;
    let out = run_sandboxed(&["/bin/sh", "-c", sh], &[]);
    assert_eq!(out.stdout_str(), "200 application/octet-stream\n", "{}", out.stderr_str());
}

#[test]
fn nothing_reaches_the_host() {
    // A listener on the host's loopback is not the sandbox's.
    let host = TcpListener::bind("127.0.0.1:0").expect("host listener");
    let port = host.local_addr().expect("address").port();
    let py = format!(
        "import socket, errno\n\
         print(errno.errorcode[socket.socket().connect_ex(('127.0.0.1', {port}))])\n\
         print(errno.errorcode[socket.socket().connect_ex(('192.0.2.1', 80))])\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         try:\n    u.sendto(b'x', ('8.8.8.8', 53))\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n"
    );
    let out = run_sandboxed(&[PYTHON, "-c", &py], &[]);
    assert_eq!(out.stdout_str(), "ECONNREFUSED\nENETUNREACH\nENETUNREACH\n", "{}", out.stderr_str());
    host.set_nonblocking(true).expect("nonblocking");
    assert!(host.accept().is_err(), "a sandboxed connect reached the host");
}

/// Serve one HTTP response with `body` on a fresh port of the host's
/// loopback, for each of `n` connections; the port.
fn host_http_server(body: &'static str, n: usize) -> u16 {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").expect("host listener");
    let port = l.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut c, _)) = l.accept() else { return };
            let mut req = [0u8; 4096];
            let _ = c.read(&mut req);
            let reply = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            let _ = c.write_all(reply.as_bytes());
        }
    });
    port
}

#[test]
fn host_network_reaches_a_server_on_the_hosts_loopback() {
    let port = host_http_server("hello from the host\n", 2);
    let url = format!("http://127.0.0.1:{port}/");
    let out = run_sandboxed(&["/usr/bin/curl", "-s", &url], &["--network", "host"]);
    assert_eq!(out.stdout_str(), "hello from the host\n", "{}", out.stderr_str());
    let py =
        format!("import urllib.request as u; print(u.urlopen('http://localhost:{port}/').read().decode(), end='')");
    let out = run_sandboxed(&[PYTHON, "-c", &py], &["--network", "host"]);
    assert_eq!(out.stdout_str(), "hello from the host\n", "{}", out.stderr_str());
}

#[test]
fn host_network_server_inside_is_reached_from_the_host() {
    use std::io::Read;
    let port = TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("address").port();
    let py = format!(
        "import socket\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen()\n\
         c, a = s.accept(); c.sendall(b'from inside ' + a[0].encode()); c.shutdown(socket.SHUT_WR); c.recv(1); c.close()\n"
    );
    let child = common::spawn_piped(
        common::sandboxed_command(&[PYTHON, "-c", &py], &["--network", "host"]).stdin(std::process::Stdio::null()),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut got = String::new();
    while std::time::Instant::now() < deadline {
        // Other tests run at once and may briefly hold the same port
        // number: keep trying until the sandbox's server answers.
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            got.clear();
            if c.read_to_string(&mut got).is_ok() && got.starts_with("from inside") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = common::finish(child, "sandboxed server");
    assert_eq!(got, "from inside 127.0.0.1", "{}", out.stderr_str());
}

#[test]
fn host_network_shows_the_hosts_interfaces() {
    let native = common::run_native(&["/usr/sbin/ip", "-o", "link"]);
    let out = run_sandboxed(&["/usr/sbin/ip", "-o", "link"], &["--network", "host"]);
    let names = |s: String| s.lines().map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(out.stdout_str()), names(native.stdout_str()), "{}", out.stderr_str());
}

#[test]
fn sigio_reaches_the_owner_of_an_o_async_socket() {
    let py = "import fcntl, os, select, signal, socket\n\
              got = []\n\
              signal.signal(signal.SIGIO, lambda s, f: got.append(s))\n\
              a, b = socket.socketpair()\n\
              fcntl.fcntl(a, fcntl.F_SETOWN, os.getpid())\n\
              fcntl.fcntl(a, fcntl.F_SETFL, fcntl.fcntl(a, fcntl.F_GETFL) | os.O_ASYNC)\n\
              print('owner', fcntl.fcntl(a, fcntl.F_GETOWN) == os.getpid(), 'async', bool(fcntl.fcntl(a, fcntl.F_GETFL) & os.O_ASYNC))\n\
              b.send(b'x')\n\
              select.select([a], [], [], 1)\n\
              print('sigio', got[:1] == [signal.SIGIO])\n";
    let out = assert_same(&[PYTHON, "-c", py]);
    assert_eq!(out.stdout_str(), "owner True async True\nsigio True\n");
}

/// Run shell script `sh` in the sandbox; its output.
fn sandboxed_sh(sh: &str) -> common::Output {
    run_sandboxed(&["/bin/sh", "-c", sh], &[])
}

#[test]
fn redis_server_and_redis_benchmark_inside_the_sandbox() {
    let sh = r#"
        redis-server --port 6379 --save '' --appendonly no --dir /tmp --logfile /tmp/redis.log &
        for i in $(seq 100); do redis-cli ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
        redis-cli set greeting hello
        redis-cli get greeting
        redis-benchmark -q -n 2000 -c 10 -t set,get | tr '\r' '\n' | grep -o '^[A-Z]*: [0-9.]* requests per second' | sed 's/: [0-9.]*/: N/'
        redis-cli shutdown nosave >/dev/null 2>&1
        wait
    "#;
    let out = sandboxed_sh(sh);
    assert_eq!(
        out.stdout_str(),
        "OK\nhello\nSET: N requests per second\nGET: N requests per second\n",
        "{}",
        out.stderr_str()
    );
}

#[test]
fn nginx_serves_a_file_to_curl_inside_the_sandbox() {
    let sh = r#"
        mkdir -p /tmp/site && echo 'served by nginx' > /tmp/site/index.html
        cat > /tmp/nginx.conf <<'CONF'
daemon off;
worker_processes 2;
error_log /tmp/nginx-error.log;
pid /tmp/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path /tmp/nginx-body;
    proxy_temp_path /tmp/nginx-proxy;
    fastcgi_temp_path /tmp/nginx-fcgi;
    uwsgi_temp_path /tmp/nginx-uwsgi;
    scgi_temp_path /tmp/nginx-scgi;
    server { listen 127.0.0.1:8080; listen [::1]:8080; root /tmp/site; }
}
CONF
        nginx -c /tmp/nginx.conf &
        for i in $(seq 100); do curl -s http://127.0.0.1:8080/ && break; sleep 0.1; done
        curl -s 'http://[::1]:8080/index.html'
        curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:8080/missing
        kill $! && wait
        grep -v 'No such file or directory' /tmp/nginx-error.log
    "#;
    let out = sandboxed_sh(sh);
    assert_eq!(out.stdout_str(), "served by nginx\nserved by nginx\n404\n", "{}", out.stderr_str());
}

#[test]
fn ip_shows_the_loopback_interface_as_linux_does() {
    assert_same(&["/usr/sbin/ip", "-o", "link", "show", "dev", "lo"]);
    let out = assert_same(&["/usr/sbin/ip", "-o", "addr", "show", "dev", "lo"]);
    assert!(out.stdout_str().contains("inet 127.0.0.1/8 scope host lo"), "{}", out.stdout_str());
}

#[test]
fn getifaddrs_lists_the_loopback_interface() {
    let prog = c_program("ifaddrs", &[]);
    let out = assert_same(&[prog.to_str().expect("utf-8 path")]);
    assert!(
        out.stdout_str().contains("lo family 2 flags 0x10049 addr 127.0.0.1 mask 255.0.0.0"),
        "{}",
        out.stdout_str()
    );
}

/// Run `argv` natively and with `--network host`: the host's sockets
/// through the sentry must answer as the host's sockets do directly.
fn assert_same_on_host_network(argv: &[&str]) -> common::Output {
    let native = common::run_native(argv);
    let out = run_sandboxed(argv, &["--network", "host"]);
    assert_eq!(out.stdout_str(), native.stdout_str(), "{argv:?} (sandbox stderr: {})", out.stderr_str());
    out
}

#[test]
fn host_network_sockets_answer_as_the_hosts() {
    assert_same_on_host_network(&[PYTHON, &script("loopback.py")]);
    assert_same_on_host_network(&[PYTHON, &script("echo_many.py")]);
    let prog = c_program("inet_errors", &[]);
    assert_same_on_host_network(&[prog.to_str().expect("utf-8 path")]);
}

#[test]
fn netstat_and_ss_list_the_sandboxs_listeners_from_proc_net() {
    let py = r#"
import socket, subprocess
s = socket.socket(); s.bind(("127.0.0.1", 8088)); s.listen()
s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 8089)); s6.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5353))
for cmd in (["netstat", "-tuln"], ["ss", "-tuln"]):
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    print(sorted(" ".join(l.split()) for l in out.splitlines()[1:] if l.strip() and not l.startswith("Proto")))
c = socket.create_connection(("127.0.0.1", 8088)); a, _ = s.accept()
eph = str(c.getsockname()[1])
out = subprocess.run(["netstat", "-tn"], capture_output=True, text=True).stdout
print(sorted(" ".join(l.split()).replace(eph, "EPH") for l in out.splitlines()[2:]))
"#;
    let out = run_sandboxed(&[PYTHON, "-c", py], &[]);
    assert_eq!(
        out.stdout_str(),
        "['tcp 0 0 127.0.0.1:8088 0.0.0.0:* LISTEN', 'tcp6 0 0 ::1:8089 :::* LISTEN', 'udp 0 0 0.0.0.0:5353 0.0.0.0:*']\n\
         ['tcp LISTEN 0 0 127.0.0.1:8088 0.0.0.0:*', 'tcp LISTEN 0 0 [::1]:8089 *:*', 'udp UNCONN 0 0 0.0.0.0:5353 0.0.0.0:*']\n\
         ['tcp 0 0 127.0.0.1:8088 127.0.0.1:EPH ESTABLISHED', 'tcp 0 0 127.0.0.1:EPH 127.0.0.1:8088 ESTABLISHED']\n",
        "{}",
        out.stderr_str()
    );
}

#[test]
fn host_network_low_ports_follow_the_programs_credentials() {
    // A low port free on the host (the tests run as root).
    let port = (900..1000).find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok()).expect("a free port below 1000");
    let py = format!(
        "import socket\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         try:\n    s.bind(('127.0.0.1', {port})); print('bound')\n\
         except OSError as e:\n    print(e.strerror)\n"
    );
    let root = run_sandboxed(&[PYTHON, "-c", &py], &["--network", "host"]);
    assert_eq!(root.stdout_str(), "bound\n", "{}", root.stderr_str());
    let user = run_sandboxed(&[PYTHON, "-c", &py], &["--network", "host", "--user", "1000:1000"]);
    assert_eq!(user.stdout_str(), "Permission denied\n", "{}", user.stderr_str());
}
