/* O_TMPFILE + linkat, open flag behaviour (O_EXCL without O_CREAT,
 * O_NOATIME), mknod of FIFOs, sockets and regular files. argv[1]: a
 * directory on tmpfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EEXIST: return "EEXIST";
    case EPERM: return "EPERM";
    case EISDIR: return "EISDIR";
    default: return strerror(e);
    }
}

static const char *ftype(mode_t m) {
    switch (m & S_IFMT) {
    case S_IFREG: return "regular";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "chardev";
    case S_IFDIR: return "dir";
    default: return "other";
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char dir[4096], name[4200], name2[4200], file[4200];
    snprintf(dir, sizeof dir, "%s/tmpfile-%d", argv[1], getpid());
    if (mkdir(dir, 0755)) return 3;
    umask(022);
    int fd = open(dir, O_TMPFILE | O_RDWR, 0640);
    printf("open O_TMPFILE: %s\n", fd >= 0 ? "OK" : ename(errno));
    if (fd < 0) return 4;
    if (write(fd, "hello", 5) != 5) return 5;
    struct stat s;
    fstat(fd, &s);
    printf("unnamed: nlink=%ld size=%lld mode=%o type=%s\n", (long)s.st_nlink, (long long)s.st_size,
           s.st_mode & 07777, ftype(s.st_mode));
    snprintf(name, sizeof name, "%s/named", dir);
    printf("linkat AT_EMPTY_PATH: %s\n", ename(linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) ? errno : 0));
    fstat(fd, &s);
    printf("after link: nlink=%ld\n", (long)s.st_nlink);
    struct stat s2;
    stat(name, &s2);
    printf("named: same inode=%d size=%lld\n", s.st_ino == s2.st_ino, (long long)s2.st_size);
    char buf[16] = {0};
    int rfd = open(name, O_RDONLY);
    printf("read through name: %.*s\n", (int)read(rfd, buf, sizeof buf), buf);
    close(rfd);
    close(fd);

    /* Through /proc/self/fd, as unprivileged programs do. */
    fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    snprintf(name2, sizeof name2, "%s/named2", dir);
    printf("linkat /proc/self/fd: %s\n",
           ename(linkat(AT_FDCWD, proc, AT_FDCWD, name2, AT_SYMLINK_FOLLOW) ? errno : 0));
    printf("linkat again: %s\n", ename(linkat(fd, "", AT_FDCWD, name2, AT_EMPTY_PATH) ? errno : 0));
    close(fd);

    fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
    snprintf(name2, sizeof name2, "%s/named3", dir);
    printf("linkat O_EXCL tmpfile: %s\n", ename(linkat(fd, "", AT_FDCWD, name2, AT_EMPTY_PATH) ? errno : 0));
    close(fd);

    printf("O_TMPFILE read-only: %s\n", ename(open(dir, O_TMPFILE | O_RDONLY, 0600) < 0 ? errno : 0));
    printf("O_TMPFILE|O_CREAT: %s\n", ename(open(dir, O_TMPFILE | O_CREAT | O_RDWR, 0600) < 0 ? errno : 0));
    printf("O_TMPFILE on a file: %s\n", ename(open(name, O_TMPFILE | O_RDWR, 0600) < 0 ? errno : 0));
    snprintf(file, sizeof file, "%s/missing", dir);
    printf("O_TMPFILE on missing: %s\n", ename(open(file, O_TMPFILE | O_RDWR, 0600) < 0 ? errno : 0));

    /* Open flags. */
    fd = open(name, O_RDONLY | O_EXCL);
    printf("O_EXCL without O_CREAT: %s\n", fd >= 0 ? "OK" : ename(errno));
    close(fd);
    fd = open(name, O_RDONLY | O_NOATIME);
    printf("O_NOATIME as owner: %s\n", fd >= 0 ? "OK" : ename(errno));
    close(fd);

    /* mknod. */
    const struct {
        const char *n;
        mode_t m;
        dev_t d;
    } nodes[] = {
        {"fifo", S_IFIFO | 0644, 0},
        {"sock", S_IFSOCK | 0600, 0},
        {"reg", S_IFREG | 0600, 0},
        {"plain", 0600, 0},
        {"null", S_IFCHR | 0666, makedev(1, 3)},
        {"dir", S_IFDIR | 0755, 0},
        {"fifo", S_IFIFO | 0644, 0},
    };
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        snprintf(file, sizeof file, "%s/%s", dir, nodes[i].n);
        int r = mknodat(AT_FDCWD, file, nodes[i].m, nodes[i].d);
        printf("mknod %s: %s", nodes[i].n, ename(r ? errno : 0));
        if (r == 0 && lstat(file, &s) == 0)
            printf(" type=%s mode=%o rdev=%u:%u", ftype(s.st_mode), s.st_mode & 07777, major(s.st_rdev),
                   minor(s.st_rdev));
        printf("\n");
    }
    snprintf(file, sizeof file, "%s/null", dir);
    unlink(file);
    snprintf(file, sizeof file, "%s/fifo", dir);
    unlink(file);
    snprintf(file, sizeof file, "%s/sock", dir);
    unlink(file);
    snprintf(file, sizeof file, "%s/reg", dir);
    unlink(file);
    snprintf(file, sizeof file, "%s/plain", dir);
    unlink(file);
    unlink(name);
    snprintf(name2, sizeof name2, "%s/named2", dir);
    unlink(name2);
    printf("rmdir: %s\n", ename(rmdir(dir) ? errno : 0));
    return 0;
}
