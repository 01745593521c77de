# Loopback TCP and UDP as a server and client in one process: names,
# options, errors and readiness. Prints only what Linux fixes (no ports,
# which are ephemeral), so native and sandboxed runs print the same.
import errno, select, socket, threading

def ephemeral(port):
    return 32768 <= port <= 60999

# TCP over IPv4: bind to port 0, listen, connect, accept.
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
host, port = srv.getsockname()
print("bound", host, ephemeral(port))
print("unbound client", socket.socket().getsockname())
srv.listen(8)
print("acceptconn", srv.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
cli = socket.create_connection(("127.0.0.1", port))
conn, peer = srv.accept()
print("peer of accepted is the client", peer == cli.getsockname())
print("client's peer is the server", cli.getpeername() == ("127.0.0.1", port))
print("accepted's name", conn.getsockname() == ("127.0.0.1", port))
print("type, domain, protocol", conn.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE),
      conn.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN), conn.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("nodelay", cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0)

# A megabyte each way, the server echoing from a thread.
def echo():
    while True:
        d = conn.recv(65536)
        if not d:
            break
        conn.sendall(d)
    conn.shutdown(socket.SHUT_WR)
th = threading.Thread(target=echo)
th.start()
blob = bytes(range(256)) * 4096
sender = threading.Thread(target=lambda: (cli.sendall(blob), cli.shutdown(socket.SHUT_WR)))
sender.start()
got = bytearray()
while True:
    d = cli.recv(65536)
    if not d:
        break
    got += d
sender.join()
th.join()
print("echoed", len(got), bytes(got) == blob)

# Peek, wait-all and don't-wait.
a = socket.create_connection(("127.0.0.1", port))
b, _ = srv.accept()
a.sendall(b"hello world")
print("peek", b.recv(5, socket.MSG_PEEK), "then", b.recv(5, socket.MSG_WAITALL))
print("rest", b.recv(100))
try:
    b.recv(1, socket.MSG_DONTWAIT)
except BlockingIOError as e:
    print("dontwait", errno.errorcode[e.errno])
a.close()
print("eof after close", b.recv(10))
try:
    b.send(b"x"); b.send(b"y")
except OSError as e:
    print("send to closed", errno.errorcode[e.errno])

# Refused connections, blocking and not.
closed = socket.socket()
closed.bind(("127.0.0.1", 0))
cport = closed.getsockname()[1]
closed.close()
r = socket.socket()
print("blocking refused", errno.errorcode[r.connect_ex(("127.0.0.1", cport))])
nb = socket.socket()
nb.setblocking(False)
print("non-blocking", errno.errorcode[nb.connect_ex(("127.0.0.1", cport))])
p = select.poll()
p.register(nb, select.POLLIN | select.POLLOUT)
print("poll", [ev for _, ev in p.poll(1000)])
print("so_error", errno.errorcode[nb.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)])
ok = socket.socket()
ok.setblocking(False)
print("non-blocking to a listener", errno.errorcode[ok.connect_ex(("127.0.0.1", port))])
print("writable", select.select([], [ok], [], 1)[1] == [ok], "so_error", ok.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
srv.accept()[0].close()

# Address in use, and SO_REUSEPORT sharing.
dup = socket.socket()
try:
    dup.bind(("127.0.0.1", port))
except OSError as e:
    print("in use", errno.errorcode[e.errno])
rp = [socket.socket() for _ in range(2)]
for s in rp:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
rp[0].bind(("127.0.0.1", 0))
rp[1].bind(rp[0].getsockname())
print("reuseport shares", rp[0].getsockname() == rp[1].getsockname())

# IPv6: a dual-stack listener takes IPv4 clients, v4-mapped.
six = socket.socket(socket.AF_INET6)
six.bind(("::", 0))
six.listen()
p6 = six.getsockname()[1]
c4 = socket.create_connection(("127.0.0.1", p6))
a6, peer6 = six.accept()
print("v6 accepted", peer6[0], a6.getsockname()[0])
c6 = socket.create_connection(("::1", p6))
a66, peer66 = six.accept()
print("v6 client", peer66[0], c6.getpeername()[0])
only = socket.socket(socket.AF_INET6)
only.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
only.bind(("::", 0))
only.listen()
print("v6only refuses v4", errno.errorcode[socket.socket().connect_ex(("127.0.0.1", only.getsockname()[1]))])

# UDP: unconnected and connected.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto(b"ping", u.getsockname())
data, src = u.recvfrom(100)
print("udp", data, src == v.getsockname(), ephemeral(src[1]))
u.sendto(b"pong", src)
print("udp reply", v.recvfrom(100)[0])
v.connect(u.getsockname())
v.send(b"connected")
print("udp connected", u.recv(100), v.getpeername() == u.getsockname())
v.sendto(b"big" * 1000, u.getsockname())
print("udp truncated", len(u.recv(10)))
dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dead.bind(("127.0.0.1", 0))
dport = dead.getsockname()[1]
dead.close()
lone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("udp to nobody", lone.sendto(b"x", ("127.0.0.1", dport)))
lone.connect(("127.0.0.1", dport))
lone.send(b"x")
try:
    lone.recv(10)
except OSError as e:
    print("udp connected to nobody", errno.errorcode[e.errno])
print("socketpair inet", end=" ")
try:
    socket.socketpair(socket.AF_INET)
except OSError as e:
    print(errno.errorcode[e.errno])

# recvmsg: a stream's data whole, a datagram cut short with MSG_TRUNC.
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
c = socket.create_connection(s.getsockname())
a, _ = s.accept()
c.sendall(b"hello over recvmsg")
data, anc, flags, _ = a.recvmsg(100)
print("recvmsg stream", data, anc, flags)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"0123456789", u.getsockname())
data, anc, flags, src = u.recvmsg(4)
print("recvmsg datagram", data, bool(flags & socket.MSG_TRUNC), src[0])

# Writes to a peer that closed: the first goes out, the reset makes the
# rest EPIPE; reading then sees end of file.
a = socket.create_connection(srv.getsockname())
b, _ = srv.accept()
b.close()
for i in range(3):
    try:
        print("send after close", a.send(b"x"))
    except OSError as e:
        print("send after close", errno.errorcode[e.errno])
print("recv after close", a.recv(10))
