/* memfd_create and file seals. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    default: return strerror(e);
    }
}

#define TRY(what, expr) printf("%s: %s\n", what, ename((expr) < 0 ? errno : 0))

int main(int argc, char **argv) {
    int fd = memfd_create("test", MFD_ALLOW_SEALING);
    if (fd < 0) return 3;
    char link[64], target[256] = {0};
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    if (readlink(link, target, sizeof target - 1) < 0) return 4;
    printf("link: %s\n", target);
    printf("F_GETFL: %#o\n", fcntl(fd, F_GETFL) & ~0100000);
    printf("F_GETFD: %d\n", fcntl(fd, F_GETFD));
    TRY("write", write(fd, "hello", 5));
    struct stat s;
    fstat(fd, &s);
    printf("fstat: size=%lld nlink=%ld type_reg=%d\n", (long long)s.st_size, (long)s.st_nlink, S_ISREG(s.st_mode));
    printf("seals: %#x\n", fcntl(fd, F_GET_SEALS));
    TRY("add SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    TRY("shrink to 2", ftruncate(fd, 2));
    TRY("grow to 10", ftruncate(fd, 10));
    TRY("add GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    TRY("grow to 20", ftruncate(fd, 20));
    TRY("write past end", pwrite(fd, "xy", 2, 9));
    TRY("write inside", pwrite(fd, "xy", 2, 1));
    TRY("add WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    TRY("write after WRITE", pwrite(fd, "z", 1, 0));
    char buf[16] = {0};
    printf("read: %zd %.5s\n", pread(fd, buf, sizeof buf, 0), buf);
    TRY("add SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    TRY("add after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
    printf("seals: %#x\n", fcntl(fd, F_GET_SEALS));
    TRY("bad seal bits", fcntl(fd, F_ADD_SEALS, 0x4000));
    close(fd);

    fd = memfd_create("plain", MFD_CLOEXEC);
    printf("no sealing: seals=%#x F_GETFD=%d\n", fcntl(fd, F_GET_SEALS), fcntl(fd, F_GETFD));
    TRY("add seal without ALLOW_SEALING", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    TRY("write", write(fd, "abc", 3));
    void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("mmap: %s %.3s\n", m == MAP_FAILED ? "failed" : "OK", m == MAP_FAILED ? "" : (char *)m);
    close(fd);

    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[250] = 0;
    TRY("name of 250 bytes", memfd_create(longname, 0));
    TRY("unknown flag", memfd_create("x", 0x100));

    if (argc > 1) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sealed-%d", argv[1], getpid());
        fd = open(path, O_RDWR | O_CREAT, 0600);
        printf("tmpfs file seals: %#x\n", fcntl(fd, F_GET_SEALS));
        int ro = open(path, O_RDONLY);
        TRY("add seal on read-only fd", fcntl(ro, F_ADD_SEALS, F_SEAL_WRITE));
        close(ro);
        close(fd);
        unlink(path);
    }
    return 0;
}
