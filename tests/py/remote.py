"""Talk to another host (the test's side of a veth): argv = host address,
its TCP echo port, its UDP echo port, a TCP port nobody listens on.
Prints what Linux and the sandbox must agree on."""
import errno
import select
import socket
import sys

host, tcp_port, udp_port, closed_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET

# A blocking connection: names, then a megabyte each way.
s = socket.socket(fam, socket.SOCK_STREAM)
s.connect((host, tcp_port))
print("peer", s.getpeername()[:2] == (host, tcp_port))
print("local", s.getsockname()[0])
blob = bytes(range(256)) * 4096
s.sendall(blob)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print("echoed", len(got), got == blob)
s.close()

# A non-blocking connection: EINPROGRESS, then writable with SO_ERROR 0.
s = socket.socket(fam, socket.SOCK_STREAM)
s.setblocking(False)
print("nonblocking connect", errno.errorcode.get(s.connect_ex((host, tcp_port)), "0"))
_, w, _ = select.select([], [s], [], 10)
print("writable", bool(w), "so_error", s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
s.setblocking(True)
s.sendall(b"ping")
s.shutdown(socket.SHUT_WR)
print("reply", s.recv(10))
s.close()

# Refused, blocking and not.
s = socket.socket(fam, socket.SOCK_STREAM)
print("refused", errno.errorcode[s.connect_ex((host, closed_port))])
s.close()
s = socket.socket(fam, socket.SOCK_STREAM)
s.setblocking(False)
print("nonblocking refused", errno.errorcode.get(s.connect_ex((host, closed_port)), "0"))
select.select([s], [s], [], 10)
print("so_error", errno.errorcode[s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)])
s.close()

# UDP: sendto/recvfrom, then a connected socket.
u = socket.socket(fam, socket.SOCK_DGRAM)
u.settimeout(10)
for i in range(5):
    u.sendto(b"datagram %d" % i, (host, udp_port))
    data, frm = u.recvfrom(100)
    print("udp", data, frm[:2] == (host, udp_port))
u.connect((host, udp_port))
u.send(b"connected")
print("udp connected", u.recv(100))
u.close()

# The destination address of a datagram from the other host (IP_PKTINFO).
u = socket.socket(fam, socket.SOCK_DGRAM)
u.settimeout(10)
if fam == socket.AF_INET:
    u.setsockopt(socket.IPPROTO_IP, 8, 1)
else:
    u.setsockopt(socket.IPPROTO_IPV6, 49, 1)
u.sendto(b"pktinfo", (host, udp_port))
data, anc, flags, frm = u.recvmsg(100, 256)
for level, ty, raw in anc:
    if fam == socket.AF_INET:
        print("pktinfo to", socket.inet_ntoa(raw[8:12]))
    else:
        print("pktinfo to", socket.inet_ntop(socket.AF_INET6, raw[:16]))
u.close()
