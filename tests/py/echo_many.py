# A megabyte through 100 TCP connections to one echo server (a thread per
# connection), then UDP echo of 100 datagrams: prints totals and whether
# every byte came back.
import socket, threading

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(128)
addr = srv.getsockname()

def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)

def accept_all(n):
    for _ in range(n):
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,)).start()

N, SIZE = 100, 10486
acceptor = threading.Thread(target=accept_all, args=(N,))
acceptor.start()
total, good = 0, 0
for i in range(N):
    payload = bytes([i % 256]) * SIZE
    c = socket.create_connection(addr)
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    back = bytearray()
    while True:
        d = c.recv(65536)
        if not d:
            break
        back += d
    c.close()
    total += len(back)
    good += back == payload
acceptor.join()
print("tcp connections", good, "bytes", total)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
def udp_echo():
    for _ in range(100):
        d, a = u.recvfrom(2048)
        u.sendto(d, a)
t = threading.Thread(target=udp_echo)
t.start()
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ok = 0
for i in range(100):
    msg = b"datagram %d" % i
    c.sendto(msg, u.getsockname())
    ok += c.recvfrom(2048)[0] == msg
t.join()
print("udp echoed", ok)
