//! IPC objects and their system calls: pipes, eventfd, timerfd,
//! epoll and Unix domain sockets, run natively and under `bulwark do` with
//! identical output.

mod common;

use common::{assert_same, c_program};

const PYTHON: &str = "/usr/bin/python3";

#[test]
fn c_conformance_of_pipes_eventfd_timerfd_epoll_and_sockets_in_one_process() {
    let prog = c_program("ipc_single", &[]);
    assert_same(&[prog.to_str().expect("utf-8 path")]);
}

#[test]
fn select_sees_a_readable_pipe() {
    assert_same(&[
        PYTHON,
        "-c",
        "import os,select; r,w=os.pipe(); os.write(w,b'hi'); print(select.select([r],[],[],1)[0]==[r], os.read(r,2))",
    ]);
}

#[test]
fn socketpairs_eventfd_epoll_and_pipe_sizes_from_python() {
    assert_same(&[PYTHON, "-c", SOCKETPAIR_SCRIPT]);
}

#[test]
fn path_and_abstract_unix_sockets_in_one_process() {
    assert_same(&[PYTHON, "-c", NAMED_SOCKETS_SCRIPT]);
}

#[test]
fn unix_socket_server_and_client_in_two_processes() {
    assert_same(&[PYTHON, "-c", TWO_PROCESS_SCRIPT]);
}

#[test]
fn shell_pipeline_through_pipes() {
    assert_same(&["/bin/sh", "-c", "for i in $(seq 1 20); do echo $i; done | sort -n | tail -3 | tr '\\n' ' '"]);
}

#[test]
fn blocking_pipe_reader_wakes_when_the_child_writes_and_sees_eof_when_it_exits() {
    assert_same(&[
        PYTHON,
        "-c",
        "import os,time\nr,w=os.pipe()\npid=os.fork()\nif pid==0:\n    os.close(r); time.sleep(0.1); os.write(w,b'x'*100000); os._exit(0)\nos.close(w)\nn=0\nwhile True:\n    b=os.read(r,65536)\n    if not b: break\n    n+=len(b)\nos.waitpid(pid,0); print(n)",
    ]);
}

const SOCKETPAIR_SCRIPT: &str = r#"import socket, os, select, array, fcntl, struct
a, b = socket.socketpair()
for i in range(3):
    a.sendall(b'ping%d' % i)
    print(b.recv(100))
    b.sendall(b'pong%d' % i)
    print(a.recv(100))
a.sendall(b'x' * 100000)
n = 0
while n < 100000:
    n += len(b.recv(65536))
print("got", n)
# dgram boundaries
c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
c.send(b'one'); c.send(b'two')
print(d.recv(10), d.recv(10))
s1, s2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s1.send(b'hello'); print(s2.recvmsg(3))
# SCM_RIGHTS
r, w = os.pipe()
a.sendmsg([b'f'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [w]))])
msg, anc, flags, addr = b.recvmsg(10, socket.CMSG_SPACE(4))
fds = array.array('i'); fds.frombytes(anc[0][2])
os.write(fds[0], b'via-fd'); print(msg, os.read(r, 10), fds[0] != w)
# peercred
cr = a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
pid, uid, gid = struct.unpack('3i', cr); print(pid == os.getpid(), uid, gid)
print(a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE), c.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
# EOF
a.close(); print(b.recv(10))
try:
    b.send(b'x')
except BrokenPipeError as e: print("EPIPE")
# eventfd + epoll
efd = os.eventfd(0, os.EFD_NONBLOCK)
ep = select.epoll()
ep.register(efd, select.EPOLLIN | select.EPOLLET)
print(ep.poll(0))
os.eventfd_write(efd, 3)
print(ep.poll(1), ep.poll(0))
print(os.eventfd_read(efd))
sem = os.eventfd(2, os.EFD_SEMAPHORE)
print(os.eventfd_read(sem), os.eventfd_read(sem))
r2, w2 = os.pipe()
print(fcntl.fcntl(w2, 1032), fcntl.fcntl(w2, 1031, 10000), fcntl.fcntl(w2, 1032))
os.set_blocking(w2, False)
tot = 0
try:
    while True: tot += os.write(w2, b'z' * 1000)
except BlockingIOError: pass
print("pipe cap", tot)
print(os.fstat(r2).st_mode & 0o170000 == 0o10000, os.fstat(c.fileno()).st_mode & 0o170000 == 0o140000)
"#;

const NAMED_SOCKETS_SCRIPT: &str = r#"import socket, os, select, time, struct
p = '/tmp/ipc-test.sock'
try: os.unlink(p)
except FileNotFoundError: pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(p); s.listen(5)
print(os.stat(p).st_mode & 0o170000 == 0o140000, s.getsockname())
try:
    socket.socket(socket.AF_UNIX).bind(p)
except OSError as e: print("bind again", e.errno)
c = socket.socket(socket.AF_UNIX)
c.connect(p)
ep = select.epoll(); ep.register(s, select.EPOLLIN)
print(ep.poll(1))
conn, addr = s.accept()
print(repr(addr), conn.getsockname(), c.getpeername())
c.sendall(b'hello'); print(conn.recv(10))
cr = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
print(struct.unpack('3i', cr)[0] == os.getpid())
c.close(); print(conn.recv(10))
try:
    socket.socket(socket.AF_UNIX).connect('/tmp/nonexist.sock')
except OSError as e: print("connect missing", e.errno)
s.close()
try:
    socket.socket(socket.AF_UNIX).connect(p)
except OSError as e: print("connect closed", e.errno)
a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); a.bind('\0abstract-x')
b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); b.bind('\0abstract-y')
b.sendto(b'dg', '\0abstract-x'); print(a.recvfrom(10))
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); u.sendto(b'anon', '\0abstract-x'); print(a.recvfrom(10))
try:
a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 10000); print(a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
try: a.recv(10)
x = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); x.setblocking(False)
y = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); y.bind('\0lst'); y.listen(0)
x.connect('\0lst')
z = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); z.setblocking(False)
try: z.connect('\0lst')
except BlockingIOError as e: print("backlog full", e.errno)
print(select.select([y], [x], [], 0)[0:2] == ([y], [x]))
"#;

const TWO_PROCESS_SCRIPT: &str = r#"
import os, socket, array
p = '/tmp/bulwark-two-process-%d.sock' % os.getpid()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(p); s.listen(1)
pid = os.fork()
if pid == 0:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(p)
    c.sendall(b'ping')
    print('child got', c.recv(10), flush=True)
    r, w = os.pipe()
    os.write(w, b'through a passed fd')
    os.close(w)
    c.sendmsg([b'f'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [r]))])
    c.close()
    os._exit(0)
conn, _ = s.accept()
print('parent got', conn.recv(10), flush=True)
conn.sendall(b'pong')
msg, anc, flags, addr = conn.recvmsg(10, socket.CMSG_SPACE(4))
fds = array.array('i'); fds.frombytes(anc[0][2])
print(msg, os.read(fds[0], 100))
print('eof', conn.recv(10))
os.waitpid(pid, 0)
os.unlink(p)
"#;
