/* IPC objects in one process: pipes, eventfd, timerfd, epoll, Unix sockets.
 * Prints results that are identical natively and under bulwark. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

/* Print a call's result and, when it failed, its errno (evaluated after). */
#define SHOW(label, expr)                                                                    \
    do {                                                                                     \
        long r_ = (long)(expr);                                                              \
        printf("%s=%ld errno=%s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-");      \
    } while (0)

static void pipes(void) {
    int p[2];
    char buf[70000];
    memset(buf, 'a', sizeof buf);
    pipe2(p, O_NONBLOCK | O_CLOEXEC);
    printf("pipe cloexec=%d size=%d\n", fcntl(p[0], F_GETFD), fcntl(p[0], F_GETPIPE_SZ));
    ssize_t n = write(p[1], buf, sizeof buf);
    printf("pipe big write=%zd\n", n);
    n = write(p[1], buf, 1);
    SHOW("pipe full write", n);
    n = read(p[0], buf, 100);
    printf("read=%zd\n", n);
    SHOW("small write into 100 free", write(p[1], buf, 200));
    int avail = 0;
    ioctl(p[0], FIONREAD, &avail);
    printf("fionread=%d\n", avail);
    SHOW("setpipe small", fcntl(p[1], F_SETPIPE_SZ, 4096));
    close(p[1]);
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
    }
    printf("eof read=%zd\n", n);
    close(p[0]);
    pipe(p);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    n = write(p[1], "x", 1);
    SHOW("epipe write", n);
    struct pollfd pf = {p[1], POLLOUT, 0};
    poll(&pf, 1, 0);
    printf("poll writer without reader revents=%#x\n", pf.revents);
    close(p[1]);
}

static void eventfds(void) {
    int e = eventfd(0, EFD_NONBLOCK | EFD_SEMAPHORE);
    uint64_t v = 3;
    write(e, &v, 8);
    read(e, &v, 8);
    printf("sem read=%llu\n", (unsigned long long)v);
    SHOW("short read", read(e, &v, 4));
    v = UINT64_MAX;
    SHOW("max write", write(e, &v, 8));
    close(e);
}

static void timerfds(void) {
    int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = {{0, 10000000}, {0, 10000000}}, old;
    uint64_t v = 0;
    ssize_t n;
    SHOW("disarmed read", read(t, &v, 8));
    timerfd_settime(t, 0, &its, NULL);
    struct pollfd pf = {t, POLLIN, 0};
    int r = poll(&pf, 1, 1000);
    read(t, &v, 8);
    printf("poll=%d expirations>=1: %d\n", r, v >= 1);
    struct itimerspec zero = {{0, 0}, {0, 0}};
    timerfd_settime(t, 0, &zero, &old);
    printf("old interval ns=%ld\n", old.it_interval.tv_nsec);
    timerfd_gettime(t, &old);
    printf("after disarm value=%ld.%ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    its.it_interval.tv_nsec = 0;
    its.it_value = now;
    timerfd_settime(t, TFD_TIMER_ABSTIME, &its, NULL);
    n = read(t, &v, 8);
    printf("abstime past read=%zd fired=%d\n", n, v >= 1);
    SHOW("bad clock", timerfd_create(12345, 0));
    close(t);
}

static void epolls(void) {
    int p[2];
    pipe2(p, O_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {EPOLLIN | EPOLLET, {.u64 = 42}}, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    SHOW("add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    printf("empty wait=%d\n", epoll_wait(ep, out, 4, 0));
    write(p[1], "abc", 3);
    int n = epoll_wait(ep, out, 4, 100);
    printf("et wait=%d events=%#x data=%llu\n", n, out[0].events, (unsigned long long)out[0].data.u64);
    printf("et again=%d\n", epoll_wait(ep, out, 4, 0));
    char c;
    read(p[0], &c, 1);
    printf("et after partial read=%d\n", epoll_wait(ep, out, 4, 0));
    write(p[1], "d", 1);
    printf("et after new data=%d\n", epoll_wait(ep, out, 4, 0));
    ev.events = EPOLLIN | EPOLLONESHOT;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    SHOW("oneshot", epoll_wait(ep, out, 4, 0));
    SHOW("then", epoll_wait(ep, out, 4, 0));
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    printf("rearmed=%d\n", epoll_wait(ep, out, 4, 0));
    ev.events = EPOLLOUT;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
    int ep2 = epoll_create1(0);
    ev.events = EPOLLIN;
    epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev);
    SHOW("nested", epoll_wait(ep2, out, 4, 0));
    SHOW("loop", epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev));
    int f = open("/etc/hostname", O_RDONLY);
    SHOW("regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
    close(p[1]);
    epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    n = epoll_wait(ep, out, 4, 0);
    printf("hup wait=%d events=%#x\n", n, out[0].events);
    close(f);
    close(ep2);
    close(ep);
    close(p[0]);
}

static void sockets(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    send(sv[0], "hello", 5, 0);
    char buf[16];
    struct iovec iov = {buf, 3};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = recvmsg(sv[1], &mh, 0);
    printf("seqpacket recv=%zd flags=%#x\n", n, mh.msg_flags);
    send(sv[0], "hello", 5, 0);
    printf("trunc recv=%zd\n", recv(sv[1], buf, 2, MSG_TRUNC));
    int type;
    socklen_t len = sizeof type;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len);
    printf("so_type=%d len=%u\n", type, len);
    shutdown(sv[0], SHUT_WR);
    printf("after shutdown recv=%zd\n", recv(sv[1], buf, sizeof buf, 0));
    struct pollfd pf = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&pf, 1, 0);
    printf("revents=%#x\n", pf.revents);
    close(sv[0]);
    close(sv[1]);

    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un a = {AF_UNIX, "\0bulwark-ipc-test"};
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen("bulwark-ipc-test");
    bind(s, (struct sockaddr *)&a, alen);
    SHOW("accept before listen", accept(s, NULL, NULL));
    listen(s, 4);
    SHOW("accept nothing", accept(s, NULL, NULL));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("connect=%d\n", connect(c, (struct sockaddr *)&a, alen));
    int d = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    printf("accepted cloexec=%d\n", fcntl(d, F_GETFD));
    struct sockaddr_un got;
    socklen_t glen = sizeof got;
    getpeername(c, (struct sockaddr *)&got, &glen);
    printf("peername len=%u name=%s\n", glen, got.sun_path + 1);
    glen = sizeof got;
    getsockname(c, (struct sockaddr *)&got, &glen);
    printf("unbound sockname len=%u\n", glen);
    SHOW("connect again", connect(c, (struct sockaddr *)&a, alen));
    close(d);
    SHOW("write to closed peer", send(c, "x", 1, MSG_NOSIGNAL));
    close(c);
    close(s);
    SHOW("bad type", socket(AF_UNIX, 99, 0));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pipes();
    eventfds();
    timerfds();
    epolls();
    sockets();
    return 0;
}
