/* Sparse files on tmpfs: SEEK_DATA/SEEK_HOLE at page granularity,
 * fallocate (extend, KEEP_SIZE, PUNCH_HOLE), st_blocks. argv[1]: a
 * directory on tmpfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd;

static void seek(const char *what, off_t off, int whence) {
    off_t r = lseek(fd, off, whence);
    if (r < 0)
        printf("%s %lld: %s\n", what, (long long)off, errno == ENXIO ? "ENXIO" : strerror(errno));
    else
        printf("%s %lld: %lld\n", what, (long long)off, (long long)r);
}

static void both(off_t off) {
    seek("SEEK_DATA", off, SEEK_DATA);
    seek("SEEK_HOLE", off, SEEK_HOLE);
}

static void st(const char *what) {
    struct stat s;
    fstat(fd, &s);
    printf("%s: size=%lld blocks=%lld\n", what, (long long)s.st_size, (long long)s.st_blocks);
}

static void falloc(const char *what, int mode, off_t off, off_t len) {
    int r = fallocate(fd, mode, off, len);
    printf("%s: %s\n", what, r == 0 ? "OK" : errno == EOPNOTSUPP ? "EOPNOTSUPP" : strerror(errno));
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/sparse-%d", argv[1], getpid());
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 3;
    const off_t MB = 1 << 20;
    if (pwrite(fd, "a", 1, 0) != 1 || pwrite(fd, "b", 1, MB) != 1) return 4;
    st("after two writes");
    both(0);
    both(1);
    both(4095);
    both(4096);
    both(MB - 1);
    both(MB);
    both(MB + 1);
    if (ftruncate(fd, 2 * MB)) return 5;
    st("after truncate to 2M");
    both(MB + 100);
    both(MB + 8192);
    falloc("punch first page", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
    st("after punch");
    both(0);
    char c = 'x';
    if (pread(fd, &c, 1, 0) != 1) return 6;
    printf("byte 0 after punch: %d\n", c);
    falloc("punch part of a page", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MB, 10);
    both(MB);
    falloc("punch without keep size", FALLOC_FL_PUNCH_HOLE, 0, 10);
    falloc("extend to 3M", 0, 2 * MB, MB);
    falloc("keep size past end", FALLOC_FL_KEEP_SIZE, 3 * MB, MB);
    struct stat s;
    fstat(fd, &s);
    printf("size after fallocate: %lld\n", (long long)s.st_size);
    falloc("zero range", FALLOC_FL_ZERO_RANGE, 0, 10);
    printf("fallocate len 0: %s\n", fallocate(fd, 0, 0, 0) ? (errno == EINVAL ? "EINVAL" : strerror(errno)) : "OK");
    close(fd);
    unlink(path);
    return 0;
}
