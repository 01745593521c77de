/* openat2: each RESOLVE_* flag and argument validation. argv[1]: a
 * directory on tmpfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EXDEV: return "EXDEV";
    case ELOOP: return "ELOOP";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case EAGAIN: return "EAGAIN";
    default: return strerror(e);
    }
}

static int o2(int dirfd, const char *path, unsigned long long flags, unsigned long long resolve, size_t size) {
    char buf[64] = {0};
    struct open_how how = {.flags = flags, .resolve = resolve};
    memcpy(buf, &how, sizeof how);
    long fd = syscall(SYS_openat2, dirfd, path, buf, size);
    if (fd < 0) return errno;
    close((int)fd);
    return 0;
}

static void t(const char *what, int dirfd, const char *path, unsigned long long flags, unsigned long long resolve) {
    printf("%-28s %-22s %s\n", what, path, ename(o2(dirfd, path, flags, resolve, sizeof(struct open_how))));
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char d[4096], p[4200];
    snprintf(d, sizeof d, "%s/openat2-%d", argv[1], getpid());
    if (mkdir(d, 0755)) return 3;
    snprintf(p, sizeof p, "%s/sub", d);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/f", d);
    close(open(p, O_CREAT | O_WRONLY, 0644));
    snprintf(p, sizeof p, "%s/abs", d);
    if (symlink("/f", p)) return 4;
    snprintf(p, sizeof p, "%s/rel", d);
    if (symlink("sub", p)) return 5;
    snprintf(p, sizeof p, "%s/up", d);
    if (symlink("../..", p)) return 6;
    int dfd = open(d, O_RDONLY | O_DIRECTORY);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", dfd);

    t("plain", dfd, "f", O_RDONLY, 0);
    t("BENEATH", dfd, "f", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH", dfd, "sub/../f", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH", dfd, "rel/..", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH", dfd, "..", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH", dfd, "sub/../../x", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH", dfd, "/", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH", dfd, "abs", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH", dfd, "up", O_RDONLY, RESOLVE_BENEATH);
    t("BENEATH create", dfd, "new", O_CREAT | O_WRONLY, RESOLVE_BENEATH);
    t("IN_ROOT", dfd, "/f", O_RDONLY, RESOLVE_IN_ROOT);
    t("IN_ROOT", dfd, "../../f", O_RDONLY, RESOLVE_IN_ROOT);
    t("IN_ROOT", dfd, "abs", O_RDONLY, RESOLVE_IN_ROOT);
    t("IN_ROOT", dfd, "up/f", O_RDONLY, RESOLVE_IN_ROOT);
    t("IN_ROOT", dfd, "/etc/passwd", O_RDONLY, RESOLVE_IN_ROOT);
    t("NO_SYMLINKS", dfd, "f", O_RDONLY, RESOLVE_NO_SYMLINKS);
    t("NO_SYMLINKS", dfd, "rel", O_RDONLY, RESOLVE_NO_SYMLINKS);
    t("NO_SYMLINKS", dfd, "rel/..", O_RDONLY, RESOLVE_NO_SYMLINKS);
    t("NO_SYMLINKS O_PATH|NOFOLLOW", dfd, "rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    t("plain", AT_FDCWD, self, O_RDONLY, 0);
    printf("%-28s %-22s %s\n", "NO_MAGICLINKS", "/proc/self/fd/N",
           ename(o2(AT_FDCWD, self, O_RDONLY, RESOLVE_NO_MAGICLINKS, sizeof(struct open_how))));
    printf("%-28s %-22s %s\n", "NO_SYMLINKS", "/proc/self/fd/N",
           ename(o2(AT_FDCWD, self, O_RDONLY, RESOLVE_NO_SYMLINKS, sizeof(struct open_how))));
    printf("%-28s %-22s %s\n", "BENEATH", "/proc/self/fd/N",
           ename(o2(AT_FDCWD, self, O_RDONLY, RESOLVE_BENEATH, sizeof(struct open_how))));
    t("NO_MAGICLINKS", AT_FDCWD, "/proc/self", O_RDONLY | O_DIRECTORY, RESOLVE_NO_MAGICLINKS);
    t("NO_XDEV", dfd, "sub/../f", O_RDONLY, RESOLVE_NO_XDEV);
    t("NO_XDEV", AT_FDCWD, "/proc/self", O_RDONLY, RESOLVE_NO_XDEV);
    t("NO_XDEV", AT_FDCWD, "/dev/shm/..", O_RDONLY, RESOLVE_NO_XDEV);
    t("BENEATH|IN_ROOT", dfd, "f", O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT);
    t("unknown resolve bit", dfd, "f", O_RDONLY, 0x400);
    t("unknown open flag", dfd, "f", O_RDONLY | (1ULL << 40), 0);
    printf("%-28s %-22s %s\n", "size 8", "f", ename(o2(dfd, "f", O_RDONLY, 0, 8)));
    printf("%-28s %-22s %s\n", "size 32", "f", ename(o2(dfd, "f", O_RDONLY, 0, 32)));
    {
        char buf[40] = {0};
        struct open_how how = {.flags = O_RDONLY};
        memcpy(buf, &how, sizeof how);
        buf[30] = 1;
        long fd = syscall(SYS_openat2, dfd, "f", buf, 40);
        printf("%-28s %-22s %s\n", "nonzero tail", "f", ename(fd < 0 ? errno : 0));
    }
    {
        struct open_how how = {.flags = O_RDONLY, .mode = 0644};
        long fd = syscall(SYS_openat2, dfd, "f", &how, sizeof how);
        printf("%-28s %-22s %s\n", "mode without O_CREAT", "f", ename(fd < 0 ? errno : 0));
    }
    const char *names[] = {"f", "abs", "rel", "up", "new"};
    for (int i = 0; i < 5; i++) unlinkat(dfd, names[i], 0);
    unlinkat(dfd, "sub", AT_REMOVEDIR);
    close(dfd);
    printf("rmdir: %s\n", ename(rmdir(d) ? errno : 0));
    return 0;
}
