/* Passes invalid pointers to system calls (through syscall(2), never the
 * vDSO or libc wrappers) and prints what each returns. Every call must fail
 * with EFAULT, syscall(999) with ENOSYS, and the program must go on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, long r) {
    if (r < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, r);
    fflush(stdout);
}

int main(void) {
    void *bad[] = {(void *)1, (void *)0xdeadbeef000UL, (void *)-4096L};
    const char *names[] = {"0x1", "0xdeadbeef000", "-4096"};

    /* A page followed by an unmapped one: objects that straddle the end. */
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || munmap(p + page, page) != 0) {
        perror("mmap");
        return 2;
    }
    char *edge = p + page - 8;

    int fd = open("/etc/passwd", O_RDONLY);
    if (fd < 0) {
        perror("open /etc/passwd");
        return 2;
    }
    char what[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(what, sizeof what, "read(fd, %s, 16)", names[i]);
        report(what, syscall(SYS_read, fd, bad[i], 16));
        snprintf(what, sizeof what, "write(1, %s, 16)", names[i]);
        report(what, syscall(SYS_write, 1, bad[i], 16));
        snprintf(what, sizeof what, "openat(AT_FDCWD, %s, O_RDONLY)", names[i]);
        report(what, syscall(SYS_openat, AT_FDCWD, bad[i], O_RDONLY));
        snprintf(what, sizeof what, "stat(%s, &st)", names[i]);
        struct stat st;
        report(what, syscall(SYS_stat, bad[i], &st));
        snprintf(what, sizeof what, "stat(\"/etc/passwd\", %s)", names[i]);
        report(what, syscall(SYS_stat, "/etc/passwd", bad[i]));
        snprintf(what, sizeof what, "clock_gettime(CLOCK_MONOTONIC, %s)", names[i]);
        report(what, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, bad[i]));
    }
    report("stat(\"/etc/passwd\", straddling)", syscall(SYS_stat, "/etc/passwd", edge));
    report("clock_gettime(CLOCK_REALTIME, straddling)",
           syscall(SYS_clock_gettime, CLOCK_REALTIME, edge));
    memcpy(edge, "/etc/pas", 8); /* 8 bytes, no NUL, then the unmapped page */
    report("openat(AT_FDCWD, unterminated)", syscall(SYS_openat, AT_FDCWD, edge, O_RDONLY));
    report("syscall(999)", syscall(999, 0, 0, 0, 0, 0, 0));
    report("read(fd, buf, 4) still works", syscall(SYS_read, fd, p, 4));
    return 0;
}
