/* What tests/c/fuzz_syscalls.c found, one line each, compared with the
 * native run: system calls given lengths far beyond any buffer (1<<62, two
 * of them, -1), which Linux cuts at MAX_RW_COUNT, moving what it can up to
 * the first unreadable byte (EINVAL only for a negative length, EFAULT for
 * a range past the user address space); clone with a TLS address past the
 * user address space. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long r) {
    if (r < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, r);
    fflush(stdout);
}

/* `pages` read-write pages followed by an unmapped one. */
static char *region(int pages) {
    char *p = mmap(NULL, (pages + 1) * 4096UL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    munmap(p + pages * 4096UL, 4096);
    memset(p, 'x', pages * 4096UL);
    return p;
}

static void drain(int fd) {
    char b[4096];
    while (read(fd, b, sizeof b) > 0) {
    }
}

int main(void) {
    volatile size_t minus_one = -1;
    char *two = region(2), *many = region(40);
    if (!two || !many)
        return 1;
    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0)
        return 1;

    struct iovec huge = {two, 1UL << 62};
    report("vmsplice({2 pages, 1<<62})", vmsplice(p[1], &huge, 1, 0));
    drain(p[0]);
    struct iovec more = {many, 1UL << 62};
    report("vmsplice({40 pages, 1<<62}) into an empty pipe", vmsplice(p[1], &more, 1, 0));
    report("vmsplice(SPLICE_F_NONBLOCK) into the full pipe", vmsplice(p[1], &more, 1, SPLICE_F_NONBLOCK));
    drain(p[0]);
    struct iovec twice[2] = {{two, 1UL << 62}, {two, 1UL << 62}};
    report("vmsplice({1<<62}, {1<<62})", vmsplice(p[1], twice, 2, 0));
    drain(p[0]);
    struct iovec negative = {two, -1UL};
    report("vmsplice({-1})", vmsplice(p[1], &negative, 1, 0));
    struct iovec nowhere = {(void *)0x1000, 1UL << 62};
    report("vmsplice({unmapped, 1<<62})", vmsplice(p[1], &nowhere, 1, 0));
    struct iovec lots[1025];
    for (int i = 0; i < 1025; i++)
        lots[i] = (struct iovec){two, 1};
    report("vmsplice(1025 iovecs)", vmsplice(p[1], lots, 1025, 0));

    /* Blocking: a full pipe after a partial move returns what moved. */
    int q[2];
    if (pipe(q) != 0)
        return 1;
    report("blocking vmsplice({40 pages, 1<<62})", vmsplice(q[1], &more, 1, 0));

    int zero = open("/dev/zero", O_RDONLY);
    report("readv(/dev/zero, {2 pages, 1<<62})", readv(zero, &huge, 1));
    report("readv(/dev/zero, {1<<62}, {1<<62})", readv(zero, twice, 2));
    report("readv(/dev/zero, {-1})", readv(zero, &negative, 1));
    report("read(/dev/zero, 2 pages, 1<<62)", read(zero, two, 1UL << 62));
    report("read(/dev/zero, kernel address, 0)", read(zero, (void *)0xffff800000000000UL, 0));
    report("read(/dev/zero, last user page, 4096)", read(zero, (void *)0x7ffffffff000UL, 4096));
    report("read(/dev/zero, 2 pages, 0x7ffff000)", read(zero, two, 0x7ffff000));
    int tmp = open("/tmp", O_TMPFILE | O_RDWR, 0600);
    report("writev(tmpfile, {2 pages, 1<<62})", writev(tmp, &huge, 1));
    report("pwritev(tmpfile, {1<<62}, {1<<62})", pwritev(tmp, twice, 2, 0));
    report("write(tmpfile, 2 pages, -1)", write(tmp, two, minus_one));
    report("getrandom(2 pages, 1<<62)", getrandom(two, 1UL << 62, 0));

    long pid = syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0, 0, 0, 0xffff800000000000UL);
    if (pid == 0)
        _exit(0);
    report("clone(CLONE_SETTLS, tls=0xffff800000000000)", pid > 0 ? 0 : pid);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    pid = syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0, 0, 0, 0x7ffffffff000UL);
    if (pid == 0)
        _exit(0);
    report("clone(CLONE_SETTLS, tls=0x7ffffffff000)", pid > 0 ? 0 : pid);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return 0;
}
