"""UDP control messages on receipt (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS,
their IPv6 forms, SO_TIMESTAMP[NS]) over the loopback: what a program
sees must match Linux."""
import socket
import struct
import time

IP_PKTINFO, IP_RECVTTL, IP_RECVTOS = 8, 12, 13
IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS = 49, 51, 66
SO_TIMESTAMP, SO_TIMESTAMPNS = 29, 35


def show(msgs):
    out = []
    for level, ty, data in msgs:
        if (level, ty) == (socket.SOL_SOCKET, SO_TIMESTAMP):
            sec, usec = struct.unpack("qq", data)
            out.append("timestamp recent=%s" % (abs(sec + usec / 1e6 - time.time()) < 5))
        elif (level, ty) == (socket.SOL_SOCKET, SO_TIMESTAMPNS):
            sec, nsec = struct.unpack("qq", data)
            out.append("timestampns recent=%s" % (abs(sec + nsec / 1e9 - time.time()) < 5))
        elif (level, ty) == (socket.IPPROTO_IP, 8):
            idx, spec, addr = struct.unpack("i4s4s", data)
            out.append("pktinfo if=%d spec=%s addr=%s" % (idx, socket.inet_ntoa(spec), socket.inet_ntoa(addr)))
        elif (level, ty) == (socket.IPPROTO_IPV6, 50):
            addr, idx = struct.unpack("16si", data)
            out.append("pktinfo6 if=%d addr=%s" % (idx, socket.inet_ntop(socket.AF_INET6, addr)))
        else:
            out.append("level=%d type=%d len=%d %s" % (level, ty, len(data), data.hex()))
    return out


def pair(fam, host):
    r = socket.socket(fam, socket.SOCK_DGRAM)
    r.bind((host, 0))
    s = socket.socket(fam, socket.SOCK_DGRAM)
    return r, s


r, s = pair(socket.AF_INET, "127.0.0.1")
for opt in (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS):
    r.setsockopt(socket.IPPROTO_IP, opt, 5)
    print("get", opt, r.getsockopt(socket.IPPROTO_IP, opt))
r.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
print("timestamp", r.getsockopt(socket.SOL_SOCKET, SO_TIMESTAMP), r.getsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS))
s.sendto(b"one", r.getsockname())
data, anc, flags, frm = r.recvmsg(100, 1024)
print(data, flags, show(anc))
# Too little room: what fits, and MSG_CTRUNC.
s.sendto(b"two", r.getsockname())
data, anc, flags, frm = r.recvmsg(100, 40)
print(data, flags & socket.MSG_CTRUNC != 0, show(anc))
r.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
print("timestampns", r.getsockopt(socket.SOL_SOCKET, SO_TIMESTAMP), r.getsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS))
r.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 0)
s.sendto(b"three", r.getsockname())
data, anc, flags, frm = r.recvmsg(100, 1024)
print(data, show(anc))
s.sendto(b"four", r.getsockname())
data, anc, flags, frm = r.recvmsg(100, 1024)
print(data, show(anc))

# IPv6, and IPv4 into a dual-stack socket.
r6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
r6.bind(("::", 0))
for opt in (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS):
    r6.setsockopt(socket.IPPROTO_IPV6, opt, 1)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.sendto(b"six", ("::1", r6.getsockname()[1]))
data, anc, flags, frm = r6.recvmsg(100, 1024)
print(data, show(anc))
s.sendto(b"mapped", ("127.0.0.1", r6.getsockname()[1]))
data, anc, flags, frm = r6.recvmsg(100, 1024)
print(data, show(anc))
r6.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
s.sendto(b"mapped+ip", ("127.0.0.1", r6.getsockname()[1]))
data, anc, flags, frm = r6.recvmsg(100, 1024)
print(data, show(anc))
