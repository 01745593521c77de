/* Internet socket calls with bad arguments: every one must fail with the
 * errno Linux gives (printed by name), natively and sandboxed alike. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case 0: return "ok";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EADDRINUSE: return "EADDRINUSE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTCONN: return "ENOTCONN";
    case EPIPE: return "EPIPE";
    case EISCONN: return "EISCONN";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EAGAIN: return "EAGAIN";
    default: return "other";
    }
}

#define TRY(what, call) do { errno = 0; long r_ = (long)(call); printf("%-40s %s\n", what, r_ < 0 ? name(errno) : "ok"); } while (0)

static struct sockaddr_in lo4(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int main(void) {
    TRY("socket inet seqpacket", socket(AF_INET, SOCK_SEQPACKET, 0));
    TRY("socket inet stream udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    TRY("socket inet dgram tcp", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
    TRY("socket inet type 99", socket(AF_INET, 99, 0));
    TRY("socket family 77", socket(77, SOCK_STREAM, 0));

    int s = socket(AF_INET, SOCK_STREAM, 0);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(0);
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;

    TRY("bind short", bind(s, (struct sockaddr *)&a, sizeof a - 1));
    TRY("bind null", bind(s, NULL, sizeof a));
    TRY("bind bad pointer", bind(s, (struct sockaddr *)8, sizeof a));
    TRY("bind v6 name to v4 socket", bind(s, (struct sockaddr *)&a6, sizeof a6));
    TRY("bind v4 name to v6 socket", bind(s6, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in far = lo4(0);
    far.sin_addr.s_addr = inet_addr("10.9.8.7");
    TRY("bind foreign address", bind(s, (struct sockaddr *)&far, sizeof far));
    TRY("bind", bind(s, (struct sockaddr *)&a, sizeof a));
    TRY("bind again", bind(s, (struct sockaddr *)&a, sizeof a));
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    TRY("bind taken port", bind(t, (struct sockaddr *)&a, sizeof a));
    TRY("accept before listen", accept(s, NULL, NULL));
    TRY("listen", listen(s, 4));
    TRY("listen udp", listen(u, 4));
    TRY("getpeername unconnected", getpeername(t, (struct sockaddr *)&a6, &len));
    TRY("recv unconnected", recv(t, &len, 1, MSG_DONTWAIT));
    TRY("send unconnected", send(t, "x", 1, MSG_NOSIGNAL));
    TRY("shutdown unconnected", shutdown(t, SHUT_RDWR));
    TRY("connect short", connect(t, (struct sockaddr *)&a, 4));
    TRY("connect bad pointer", connect(t, (struct sockaddr *)8, sizeof a));
    TRY("connect", connect(t, (struct sockaddr *)&a, sizeof a));
    TRY("connect again", connect(t, (struct sockaddr *)&a, sizeof a));
    TRY("shutdown how 7", shutdown(t, 7));

    int one = 1;
    socklen_t ol = sizeof one;
    TRY("getsockopt unknown level", getsockopt(t, 999, 1, &one, &ol));
    TRY("setsockopt unknown level", setsockopt(t, 999, 1, &one, sizeof one));
    TRY("getsockopt unknown tcp option", getsockopt(t, IPPROTO_TCP, 9999, &one, &ol));
    TRY("getsockopt bad optlen pointer", getsockopt(t, SOL_SOCKET, SO_TYPE, &one, (socklen_t *)8));
    TRY("getsockopt bad optval", getsockopt(t, SOL_SOCKET, SO_TYPE, (int *)8, &ol));
    TRY("setsockopt short", setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, 2));
    TRY("setsockopt bad optval", setsockopt(t, SOL_SOCKET, SO_REUSEADDR, (int *)8, 4));
    TRY("setsockopt tcp option on udp", setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    TRY("setsockopt v6only on v4", setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    TRY("setsockopt so_type", setsockopt(t, SOL_SOCKET, SO_TYPE, &one, sizeof one));

    TRY("udp send unconnected", send(u, "x", 1, 0));
    struct sockaddr_in zero = lo4(0);
    TRY("udp sendto port 0", sendto(u, "x", 1, 0, (struct sockaddr *)&zero, sizeof zero));
    TRY("udp sendto short name", sendto(u, "x", 1, 0, (struct sockaddr *)&a, 3));
    TRY("udp sendto bad buffer", sendto(u, (void *)8, 1, 0, (struct sockaddr *)&a, sizeof a));
    TRY("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0, 0}));
    /* Pointers and lengths of the address-returning calls. */
    socklen_t small = 2;
    TRY("getsockname bad pointer", getsockname(s, (struct sockaddr *)8, &len));
    TRY("getsockname bad length pointer", getsockname(s, (struct sockaddr *)&a, (socklen_t *)8));
    socklen_t neg = (socklen_t)-1;
    TRY("getsockname negative length", getsockname(s, (struct sockaddr *)&a, &neg));
    TRY("getsockname short buffer", getsockname(s, (struct sockaddr *)&a, &small));
    printf("%-40s %u\n", "  full length reported", small);
    int l2 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = lo4(0);
    bind(l2, (struct sockaddr *)&la, sizeof la);
    listen(l2, 1);
    socklen_t lal = sizeof la;
    getsockname(l2, (struct sockaddr *)&la, &lal);
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    connect(c2, (struct sockaddr *)&la, sizeof la);
    TRY("accept bad length pointer", accept(l2, (struct sockaddr *)&a, (socklen_t *)8));
    TRY("accept4 bad flags", accept4(l2, NULL, NULL, 0x40000000));
    TRY("send bad buffer", send(c2, (void *)8, 10, MSG_NOSIGNAL));
    TRY("recv bad buffer", recv(t, (void *)8, 10, MSG_DONTWAIT));
    struct msghdr m;
    memset(&m, 0, sizeof m);
    TRY("sendmsg bad header", sendmsg(c2, (struct msghdr *)8, 0));
    TRY("recvmsg bad header", recvmsg(c2, (struct msghdr *)8, MSG_DONTWAIT));
    struct iovec bad = {(void *)8, 10};
    m.msg_iov = &bad;
    m.msg_iovlen = 1;
    TRY("sendmsg bad iovec buffer", sendmsg(c2, &m, MSG_NOSIGNAL));
    m.msg_iovlen = 100000;
    TRY("sendmsg too many iovecs", sendmsg(c2, &m, MSG_NOSIGNAL));
    char rights[CMSG_SPACE(sizeof(int))];
    memset(rights, 0, sizeof rights);
    struct cmsghdr *cm = (struct cmsghdr *)rights;
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &(int){0}, sizeof(int));
    struct iovec onebyte = {"x", 1};
    m.msg_iov = &onebyte;
    m.msg_iovlen = 1;
    m.msg_control = rights;
    m.msg_controllen = sizeof rights;
    TRY("sendmsg SCM_RIGHTS over TCP", sendmsg(c2, &m, MSG_NOSIGNAL));
    TRY("recvfrom bad address pointer", recvfrom(u, &one, sizeof one, MSG_DONTWAIT, (struct sockaddr *)8, &len));
    TRY("setsockopt SO_RCVTIMEO short", setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &one, 4));
    TRY("getsockopt negative optlen", getsockopt(t, SOL_SOCKET, SO_TYPE, &one, &neg));
    TRY("bind unix name to inet socket", bind(u, (struct sockaddr *)&(struct sockaddr){.sa_family = AF_UNIX}, 16));
    TRY("connect on a file", connect(1, (struct sockaddr *)&a, sizeof a));
    return 0;
}
