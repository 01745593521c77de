/* Open files outliving their names, O_APPEND from two descriptors, and
 * getdents64 with small buffers while the entries are being unlinked.
 * argv[1]: a directory on tmpfs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ENTRIES 300

/* The kernel's record; glibc's struct dirent64 has a fixed-size name. */
struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static char dir[4096];

static const char *p(const char *name) {
    static char bufs[4][4200];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static void unlinked_but_open(void) {
    int fd = open(p("gone"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    int fd2 = open(p("gone"), O_RDONLY);
    if (write(fd, "before unlink;", 14) != 14) printf("write failed\n");
    printf("unlink open file: %s\n", unlink(p("gone")) ? strerror(errno) : "OK");
    printf("name gone: %s\n", access(p("gone"), F_OK) ? "yes" : "no");
    printf("write after unlink: %zd\n", write(fd, "after unlink", 12));
    struct stat s;
    fstat(fd, &s);
    printf("fstat: nlink=%ld size=%lld\n", (long)s.st_nlink, (long long)s.st_size);
    char buf[64] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    printf("pread own fd: %zd \"%s\"\n", n, buf);
    memset(buf, 0, sizeof buf);
    n = read(fd2, buf, sizeof buf - 1);
    printf("read second fd: %zd \"%s\"\n", n, buf);
    printf("ftruncate: %s\n", ftruncate(fd, 6) ? strerror(errno) : "OK");
    fstat(fd2, &s);
    printf("size seen through second fd: %lld\n", (long long)s.st_size);
    /* A new file under the same name is a different file. */
    int fd3 = open(p("gone"), O_CREAT | O_RDWR | O_EXCL, 0644);
    printf("recreate name: %s\n", fd3 >= 0 ? "OK" : strerror(errno));
    struct stat s3;
    fstat(fd3, &s3);
    printf("same inode as the unlinked one: %s\n", s3.st_ino == s.st_ino ? "yes" : "no");
    close(fd3);
    /* The same for a file both mapped into /proc/self/fd. */
    char link[64], target[4200];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t t = readlink(link, target, sizeof target - 1);
    target[t < 0 ? 0 : t] = 0;
    const char *tail = strrchr(target, '/');
    printf("fd link ends with: %s\n", tail ? tail : target);
    close(fd);
    close(fd2);
}

static void append_two_fds(void) {
    int a = open(p("log"), O_CREAT | O_WRONLY | O_APPEND, 0644);
    int b = open(p("log"), O_WRONLY | O_APPEND);
    int plain = open(p("log"), O_WRONLY);
    for (int i = 0; i < 3; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "a%d\n", i);
        if (write(a, line, n) != n) printf("write a failed\n");
        n = snprintf(line, sizeof line, "b%d\n", i);
        if (write(b, line, n) != n) printf("write b failed\n");
    }
    printf("offset of a after appends: %lld\n", (long long)lseek(a, 0, SEEK_CUR));
    /* A seek does not stop O_APPEND from writing at the end. */
    lseek(a, 0, SEEK_SET);
    if (write(a, "end\n", 4) != 4) printf("write end failed\n");
    /* A descriptor without O_APPEND writes where it is. */
    if (write(plain, "X", 1) != 1) printf("write plain failed\n");
    printf("pwrite on O_APPEND: %zd\n", pwrite(b, "P", 1, 0));
    char buf[128] = {0};
    int r = open(p("log"), O_RDONLY);
    ssize_t n = read(r, buf, sizeof buf - 1);
    printf("log (%zd bytes):\n%s", n, buf);
    int fl = fcntl(plain, F_GETFL);
    fcntl(plain, F_SETFL, fl | O_APPEND);
    printf("F_SETFL adds O_APPEND: %s\n", (fcntl(plain, F_GETFL) & O_APPEND) ? "yes" : "no");
    if (write(plain, "tail\n", 5) != 5) printf("write tail failed\n");
    struct stat s;
    fstat(r, &s);
    printf("size after F_SETFL append: %lld\n", (long long)s.st_size);
    close(a);
    close(b);
    close(plain);
    close(r);
}

static int cmp(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

static void getdents_while_deleting(void) {
    if (mkdir(p("many"), 0755)) {
        printf("mkdir many: %s\n", strerror(errno));
        return;
    }
    for (int i = 0; i < ENTRIES; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/entry-with-a-longish-name-%03d", i);
        close(open(p(name), O_CREAT | O_WRONLY, 0644));
    }
    int seen[ENTRIES] = {0};
    int dots = 0, others = 0, calls = 0;
    int fd = open(p("many"), O_RDONLY | O_DIRECTORY);
    _Alignas(8) char buf[256]; /* a handful of entries per call */
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n < 0) {
            printf("getdents64: %s\n", strerror(errno));
            break;
        }
        if (n == 0) break;
        calls++;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            off += d->d_reclen;
            int idx;
            if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) {
                dots++;
            } else if (sscanf(d->d_name, "entry-with-a-longish-name-%d", &idx) == 1 && idx >= 0 && idx < ENTRIES) {
                seen[idx]++;
                if (unlinkat(fd, d->d_name, 0)) printf("unlink %s: %s\n", d->d_name, strerror(errno));
            } else {
                others++;
            }
        }
    }
    int once = 0, twice = 0, never = 0;
    for (int i = 0; i < ENTRIES; i++) {
        if (seen[i] == 1) once++;
        else if (seen[i] == 0) never++;
        else twice++;
    }
    printf("getdents64 while unlinking: once=%d more=%d never=%d dots=%d others=%d several calls=%s\n", once, twice,
           never, dots, others, calls > 10 ? "yes" : "no");
    /* Rewinding shows an empty directory. */
    lseek(fd, 0, SEEK_SET);
    int left = 0;
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            off += d->d_reclen;
            if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) left++;
        }
    }
    printf("entries after rewind: %d\n", left);
    lseek(fd, 0, SEEK_SET);
    printf("getdents64 buffer too small: %s\n",
           syscall(SYS_getdents64, fd, buf, 8) < 0 && errno == EINVAL ? "EINVAL" : "other");
    close(fd);
    printf("rmdir emptied dir: %s\n", rmdir(p("many")) ? strerror(errno) : "OK");

    /* readdir (glibc's buffer) sees entries added before the first read,
     * and names come back sorted by the test, not by the file system. */
    mkdir(p("few"), 0755);
    const char *names[] = {"zeta", "alpha", "mid", "beta"};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "few/%s", names[i]);
        close(open(p(name), O_CREAT | O_WRONLY, 0644));
    }
    DIR *d = opendir(p("few"));
    char *got[8];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < 8) {
        if (e->d_name[0] != '.') got[k++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(got, k, sizeof got[0], cmp);
    printf("readdir:");
    for (int i = 0; i < k; i++) {
        printf(" %s", got[i]);
        free(got[i]);
    }
    printf("\n");
}

static const char *rc(int e) {
    switch (e) {
    case 0: return "OK";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ESPIPE: return "ESPIPE";
    default: return strerror(e);
    }
}

/* posix_fadvise returns the error number instead of setting errno. */
static void fadvise(void) {
    int fd = open(p("log"), O_RDONLY);
    printf("fadvise SEQUENTIAL: %s\n", rc(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)));
    printf("fadvise DONTNEED range: %s\n", rc(posix_fadvise(fd, 4096, 8192, POSIX_FADV_DONTNEED)));
    printf("fadvise bad advice: %s\n", rc(posix_fadvise(fd, 0, 0, 99)));
    printf("fadvise negative len: %s\n", rc(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL)));
    close(fd);
    printf("fadvise closed fd: %s\n", rc(posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL)));
    int pfd[2];
    if (pipe(pfd)) return;
    printf("fadvise pipe: %s\n", rc(posix_fadvise(pfd[0], 0, 0, POSIX_FADV_NORMAL)));
    close(pfd[0]);
    close(pfd[1]);
    fd = open(p("log"), O_PATH);
    printf("fadvise O_PATH: %s\n", rc(posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL)));
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    snprintf(dir, sizeof dir, "%s/open-%d", argv[1], getpid());
    if (mkdir(dir, 0755)) return 3;
    umask(022);
    setvbuf(stdout, NULL, _IONBF, 0);
    unlinked_but_open();
    append_two_fds();
    fadvise();
    getdents_while_deleting();
    return 0;
}
