//! Real programs that thread, fork, signal and talk over pipes and sockets:
//! python3, gcc and make. Each runs natively
//! and sandboxed with the same output.

mod common;

use common::{assert_same, Output};

/// Run a python3 script natively and sandboxed; require the same output
/// and a zero exit status.
fn assert_python(script: &str) -> Output {
    let out = assert_same(&["/usr/bin/python3", "-c", script]);

    assert_eq!(out.status.code(), Some(0), "{}", out.stderr_str());
    out
}

#[test]
fn eight_python_threads_sharing_a_lock_reach_a_deterministic_total() {
    let out = assert_python(
        r#"import threading
lock = threading.Lock()
total = 0
def work(n):
    global total
    for i in range(20000):
        with lock:
            total += n
threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 9)]
for t in threads: t.start()
for t in threads: t.join()
print(total, threading.active_count())
"#,
    );

    assert_eq!(out.stdout_str(), "720000 1\n");
}

#[test]
fn python_subprocess_run_captures_ls_and_a_shells_output_and_status() {
    let out = assert_python(
        r#"import subprocess
r = subprocess.run(["ls", "/"], capture_output=True, text=True)
print(r.returncode)
print(r.stdout, end="")
r = subprocess.run("echo out; echo err >&2; exit 3", shell=True, capture_output=True, text=True)
print(repr(r.stdout), repr(r.stderr), r.returncode)
"#,
    );

    assert!(out.stdout_str().starts_with("0\nbin\n"), "{}", out.stdout_str());
}

#[test]
fn python_multiprocessing_pool_maps_in_worker_processes() {
    let out = assert_python(
        r#"import multiprocessing, os
def square(x):
    return x * x, os.getpid() != parent
parent = os.getpid()
if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        results = pool.map(square, range(10))
    print([r[0] for r in results], all(r[1] for r in results))
"#,
    );

    assert_eq!(out.stdout_str(), "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81] True\n");
}

#[test]
fn python_fork_and_waitpid_pass_data_and_exit_status() {
    let out = assert_python(
        r#"import os
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b"from child %d" % (os.getppid() != os.getpid()))
    os._exit(3)
os.close(w)
data = os.read(r, 100)
got, status = os.waitpid(pid, 0)
print(data.decode(), got == pid, os.WIFEXITED(status), os.WEXITSTATUS(status))
"#,
    );

    assert_eq!(out.stdout_str(), "from child 1 True True 3\n");
}

#[test]
fn python_alarm_handler_interrupts_a_blocking_pipe_read() {
    let out = assert_python(
        r#"import os, signal
seen = []
def handler(signum, frame):
    seen.append((signal.Signals(signum).name, frame is not None))
    raise TimeoutError("alarm fired")
signal.signal(signal.SIGALRM, handler)
r, w = os.pipe()
signal.alarm(1)
try:
    os.read(r, 10)
    print("read returned")
except TimeoutError as e:
    print("interrupted:", type(e).__name__, e)
print("handler saw", seen)
"#,
    );

    assert_eq!(
        out.stdout_str(),
        r#"interrupted: TimeoutError alarm fired
handler saw [('SIGALRM', True)]
"#
    );
}

#[test]
fn python_select_and_poll_on_pipes_report_readiness() {
    let out = assert_python(
        r#"import os, select
r1, w1 = os.pipe()
r2, w2 = os.pipe()
print(select.select([r1, r2], [], [], 0.05))
os.write(w2, b"x")
ready = select.select([r1, r2], [], [], 5)[0]
print(ready == [r2])
print(select.select([], [w1], [], 0)[1] == [w1])
os.close(w1)
ready = select.select([r1, r2], [], [], 5)[0]
print(sorted(ready) == sorted([r1, r2]), os.read(r1, 1), os.read(r2, 1))
p = select.poll()
p.register(r2, select.POLLIN)
print(p.poll(50))
"#,
    );

    assert_eq!(
        out.stdout_str(),
        r#"([], [], [])
True
True
True b'' b'x'
[]
"#
    );
}

#[test]
fn python_socketpair_ping_pong_between_two_processes() {
    let out = assert_python(
        r#"import os, socket
a, b = socket.socketpair()
pid = os.fork()
if pid == 0:
    a.close()
    while True:
        msg = b.recv(100)
        if not msg:
            break
        b.sendall(msg.replace(b"ping", b"pong"))
    os._exit(0)
b.close()
for i in range(5):
    a.sendall(b"ping %d" % i)
    print(a.recv(100).decode())
a.shutdown(socket.SHUT_WR)
print(a.recv(100), os.waitpid(pid, 0)[1])
"#,
    );

    assert_eq!(
        out.stdout_str(),
        r#"pong 0
pong 1
pong 2
pong 3
pong 4
b'' 0
"#
    );
}

#[test]
fn python_unix_socket_server_and_client_in_two_processes() {
    let out = assert_python(
        r#"import os, socket, struct
path = "/tmp/bulwark-unix-%d.sock" % os.getpid()
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
pid = os.fork()
if pid == 0:
    srv.close()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(b"hello server")
    print("client got", c.recv(100).decode(), flush=True)
    c.close()
    os._exit(0)
conn, _ = srv.accept()
msg = conn.recv(100)
conn.sendall(msg.upper())
cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
print("SO_PEERCRED names the client:", struct.unpack("3i", cred)[0] == pid, "then EOF:", conn.recv(100))
_, status = os.waitpid(pid, 0)
print("server got", msg.decode(), "client status", status)
os.unlink(path)
"#,
    );

    assert_eq!(
        out.stdout_str(),
        r#"client got HELLO SERVER
SO_PEERCRED names the client: True then EOF: b''
server got hello server client status 0
"#
    );
}

#[test]
fn gcc_compiles_and_links_a_program_in_tmp_that_then_runs() {
    // The sandbox's /tmp is its own: the source is written there by the
    // same shell that compiles it.
    let script = r#"set -e
d=$(mktemp -d)
cat > "$d/hello.c" <<'SRC'
#include <stdio.h>
int main(void) { printf("hello from gcc\n"); return 0; }
SRC
gcc -O2 "$d/hello.c" -o "$d/h"
"$d/h"
rm -rf "$d"
"#;

    let out = assert_same(&["/bin/bash", "-c", script]);

    assert_eq!((out.stdout_str().as_str(), out.status.code()), ("hello from gcc\n", Some(0)), "{}", out.stderr_str());
}

#[test]
fn make_j2_builds_a_three_file_c_project_that_then_runs() {
    let script = "set -e
d=$(mktemp -d)
cd \"$d\"
cat > calc.h <<'SRC'
int add(int a, int b);
int mul(int a, int b);
SRC
cat > add.c <<'SRC'
#include \"calc.h\"
int add(int a, int b) { return a + b; }
SRC
cat > mul.c <<'SRC'
#include \"calc.h\"
int mul(int a, int b) { return a * b; }
SRC
cat > main.c <<'SRC'
#include <stdio.h>
#include \"calc.h\"
int main(void) { printf(\"add %d mul %d\\n\", add(2, 3), mul(4, 5)); return 0; }
SRC
cat > Makefile <<'SRC'
calc: main.o add.o mul.o
\t$(CC) -o $@ $^
%.o: %.c calc.h
\t$(CC) -O2 -c $<
SRC
make -s -j2
./calc
make -q && echo up to date
cd /
rm -rf \"$d\"
";

    let out = assert_same(&["/bin/bash", "-c", script]);

    assert_eq!(
        (out.stdout_str().as_str(), out.status.code()),
        ("add 5 mul 20\nup to date\n", Some(0)),
        "{}",
        out.stderr_str()
    );
}
