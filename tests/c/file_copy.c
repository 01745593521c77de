/* copy_file_range and sendfile round trips, close_range, fchmodat2,
 * sync/syncfs, name_to_handle_at. argv[1]: a directory on tmpfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EISDIR: return "EISDIR";
    default: return strerror(e);
    }
}

static unsigned sum(const char *path) {
    int fd = open(path, O_RDONLY);
    unsigned char buf[8192];
    unsigned s = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) s = s * 31 + buf[i];
    close(fd);
    return s;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    char src[4096], dst[4200], dst2[4200];
    snprintf(src, sizeof src, "%s/copy-src-%d", argv[1], getpid());
    snprintf(dst, sizeof dst, "%s/copy-dst-%d", argv[1], getpid());
    snprintf(dst2, sizeof dst2, "%s/copy-dst2-%d", argv[1], getpid());
    int in = open(src, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char *data = malloc(300000);
    for (int i = 0; i < 300000; i++) data[i] = (char)(i * 7 + i / 1000);
    if (write(in, data, 300000) != 300000) return 3;
    lseek(in, 0, SEEK_SET);

    int out = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
    long long total = 0;
    ssize_t n;
    while ((n = copy_file_range(in, NULL, out, NULL, 65536, 0)) > 0) total += n;
    printf("copy_file_range total=%lld end=%zd in_pos=%lld out_pos=%lld same=%d\n", total, n,
           (long long)lseek(in, 0, SEEK_CUR), (long long)lseek(out, 0, SEEK_CUR), sum(src) == sum(dst));
    loff_t oi = 10, oo = 5;
    n = copy_file_range(in, &oi, out, &oo, 20, 0);
    printf("with offsets: n=%zd off_in=%lld off_out=%lld in_pos=%lld\n", n, (long long)oi, (long long)oo,
           (long long)lseek(in, 0, SEEK_CUR));
    oi = 0;
    oo = 10;
    printf("overlap in one file: %s\n", ename(copy_file_range(in, &oi, in, &oo, 100, 0) < 0 ? errno : 0));
    printf("flags: %s\n", ename(copy_file_range(in, NULL, out, NULL, 1, 1) < 0 ? errno : 0));
    int ro = open(src, O_RDONLY);
    printf("to read-only fd: %s\n", ename(copy_file_range(in, NULL, ro, NULL, 1, 0) < 0 ? errno : 0));
    int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    printf("from a directory: %s\n", ename(copy_file_range(dirfd, NULL, out, NULL, 1, 0) < 0 ? errno : 0));

    int out2 = open(dst2, O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t off = 0;
    total = 0;
    while ((n = sendfile(out2, in, &off, 100000)) > 0) total += n;
    printf("sendfile total=%lld off=%lld in_pos=%lld same=%d\n", total, (long long)off,
           (long long)lseek(in, 0, SEEK_CUR), sum(src) == sum(dst2));
    lseek(in, 299990, SEEK_SET);
    n = sendfile(out2, in, NULL, 100);
    printf("sendfile from offset: n=%zd in_pos=%lld\n", n, (long long)lseek(in, 0, SEEK_CUR));
    int msg = open(dst2, O_RDWR | O_TRUNC);
    if (write(msg, "sent to stdout\n", 15) != 15) return 4;
    off = 0;
    printf("sendfile to stdout: ");
    n = sendfile(1, msg, &off, 100);
    printf("n=%zd\n", n);
    int app = open(dst2, O_WRONLY | O_APPEND);
    printf("sendfile to O_APPEND: %s\n", ename(sendfile(app, in, NULL, 1) < 0 ? errno : 0));
    close(app);
    close(msg);

    int r;
    /* close_range */
    int base = open("/dev/null", O_RDONLY);
    for (int fd = 20; fd < 25; fd++) dup2(base, fd);
    printf("close_range 21-23: %s\n", ename(syscall(SYS_close_range, 21, 23, 0) ? errno : 0));
    for (int fd = 20; fd < 25; fd++) printf(" %d:%d", fd, fcntl(fd, F_GETFD));
    printf("\n");
    printf("close_range cloexec 20-24: %s\n", ename(syscall(SYS_close_range, 20, 24, CLOSE_RANGE_CLOEXEC) ? errno : 0));
    for (int fd = 20; fd < 25; fd++) printf(" %d:%d", fd, fcntl(fd, F_GETFD));
    printf("\n");
    printf("close_range reversed: %s\n", ename(syscall(SYS_close_range, 5, 4, 0) ? errno : 0));
    printf("close_range bad flags: %s\n", ename(syscall(SYS_close_range, 20, 24, 0x80) ? errno : 0));
    printf("close_range unshare 20-~0: %s\n",
           ename(syscall(SYS_close_range, 20, ~0U, CLOSE_RANGE_UNSHARE) ? errno : 0));
    printf(" 20:%d 24:%d base:%d\n", fcntl(20, F_GETFD), fcntl(24, F_GETFD), fcntl(base, F_GETFD));

    /* fchmodat2 */
    printf("fchmodat2: %s", ename(syscall(452, AT_FDCWD, src, 0600, 0) ? errno : 0));
    struct stat s;
    stat(src, &s);
    printf(" mode=%o\n", s.st_mode & 07777);
    char lnk[4200];
    snprintf(lnk, sizeof lnk, "%s/copy-link-%d", argv[1], getpid());
    if (symlink(src, lnk)) return 5;
    printf("fchmodat2 NOFOLLOW on symlink: %s\n",
           ename(syscall(452, AT_FDCWD, lnk, 0600, AT_SYMLINK_NOFOLLOW) ? errno : 0));
    printf("fchmodat2 AT_EMPTY_PATH: %s", ename(syscall(452, ro, "", 0640, AT_EMPTY_PATH) ? errno : 0));
    stat(src, &s);
    printf(" mode=%o\n", s.st_mode & 07777);
    printf("fchmodat2 bad flags: %s\n", ename(syscall(452, AT_FDCWD, src, 0600, 0x4) ? errno : 0));

    struct statx sx;
    memset(&sx, 0xff, sizeof sx);
    r = statx(AT_FDCWD, src, 0, STATX_TYPE, &sx);
    printf("statx type-only: %s basic=%#x mnt_id=%d mount_root_known=%d is_mount_root=%d size=%llu\n", ename(r ? errno : 0),
           sx.stx_mask & STATX_BASIC_STATS, !!(sx.stx_mask & STATX_MNT_ID),
           !!(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT), !!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT),
           (unsigned long long)sx.stx_size);
    r = statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx);
    printf("statx /: %s is_mount_root=%d\n", ename(r ? errno : 0), !!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT));
    printf("statx both sync flags: %s\n",
           ename(statx(AT_FDCWD, "/", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, 0, &sx) ? errno : 0));
    printf("statx reserved mask: %s\n", ename(statx(AT_FDCWD, "/", 0, 0x80000000U, &sx) ? errno : 0));
    sync();
    printf("syncfs: %s\n", ename(syncfs(in) ? errno : 0));
    printf("syncfs bad fd: %s\n", ename(syncfs(999) ? errno : 0));
    struct file_handle *fh = malloc(sizeof *fh + 128);
    fh->handle_bytes = 128;
    int mnt;
    r = name_to_handle_at(AT_FDCWD, src, fh, &mnt, 0);
    (void)r;
    unlink(lnk);
    unlink(src);
    unlink(dst);
    unlink(dst2);
    return 0;
}
