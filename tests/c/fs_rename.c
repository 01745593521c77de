/* rename(2) over files and empty directories, its error cases (EXDEV,
 * EISDIR, ENOTEMPTY, ENOTDIR, EINVAL, ENOENT), renameat2 flags, and hard
 * link counts of files and directories. argv[1]: a directory on tmpfs to
 * work in; argv[2]: a directory on a different mount (for EXDEV). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EEXIST: return "EEXIST";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EXDEV: return "EXDEV";
    case EBUSY: return "EBUSY";
    case EPERM: return "EPERM";
    default: return strerror(e);
    }
}

static char dir[4096];

/* `dir`/`name` in a static buffer (one of four, so a call can take two). */
static const char *p(const char *name) {
    static char bufs[4][4200];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static void put(const char *name, const char *text) {
    int fd = open(p(name), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) printf("put %s failed\n", name);
    close(fd);
}

static void show(const char *name) {
    char buf[64] = {0};
    int fd = open(p(name), O_RDONLY);
    if (fd < 0) {
        printf("  %s: %s\n", name, ename(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("  %s: \"%.*s\"\n", name, (int)(n < 0 ? 0 : n), buf);
}

static long nlink(const char *name) {
    struct stat s;
    if (lstat(p(name), &s)) return -errno;
    return (long)s.st_nlink;
}

static void try_rename(const char *what, const char *from, const char *to) {
    printf("%s: %s\n", what, ename(rename(p(from), p(to)) ? errno : 0));
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    snprintf(dir, sizeof dir, "%s/rename-%d", argv[1], getpid());
    if (mkdir(dir, 0755)) return 3;
    umask(022);

    /* Over files. */
    put("a", "AAA");
    put("b", "BBB");
    int keep = open(p("b"), O_RDONLY);
    try_rename("rename file over file", "a", "b");
    show("a");
    show("b");
    char buf[8] = {0};
    printf("  old target still open reads \"%.*s\"\n", (int)read(keep, buf, sizeof buf), buf);
    close(keep);
    try_rename("rename file onto itself", "b", "b");
    show("b");
    link(p("b"), p("b2"));
    try_rename("rename onto a hard link of itself", "b", "b2");
    printf("  both names stay: b=%ld b2=%ld\n", nlink("b"), nlink("b2"));
    unlink(p("b2"));
    try_rename("rename missing source", "nothing", "b");

    /* Over directories. */
    mkdir(p("d1"), 0755);
    put("d1/inner", "in d1");
    mkdir(p("empty"), 0755);
    try_rename("rename dir over empty dir", "d1", "empty");
    show("empty/inner");
    printf("  d1 now: %s\n", ename(access(p("d1"), F_OK) ? errno : 0));
    mkdir(p("full"), 0755);
    put("full/x", "x");
    mkdir(p("src"), 0755);
    try_rename("rename dir over non-empty dir", "src", "full");
    try_rename("rename dir over file", "src", "b");
    try_rename("rename file over dir", "b", "src");
    try_rename("rename dir into its own subdir", "src", "src/sub");
    try_rename("rename through a file as directory", "b/x", "c");
    try_rename("rename to a path under a file", "src", "b/x");
    try_rename("rename '.' away", "src/.", "moved");
    try_rename("rename dir to new name", "src", "dst");

    /* renameat2 flags. */
    put("n1", "one");
    put("n2", "two");
    printf("RENAME_NOREPLACE onto existing: %s\n",
           ename(renameat2(AT_FDCWD, p("n1"), AT_FDCWD, p("n2"), RENAME_NOREPLACE) ? errno : 0));
    printf("RENAME_EXCHANGE: %s\n",
           ename(renameat2(AT_FDCWD, p("n1"), AT_FDCWD, p("n2"), RENAME_EXCHANGE) ? errno : 0));
    show("n1");
    show("n2");
    printf("RENAME_EXCHANGE with missing target: %s\n",
           ename(renameat2(AT_FDCWD, p("n1"), AT_FDCWD, p("n3"), RENAME_EXCHANGE) ? errno : 0));
    printf("RENAME_EXCHANGE|RENAME_NOREPLACE: %s\n",
           ename(renameat2(AT_FDCWD, p("n1"), AT_FDCWD, p("n2"), RENAME_EXCHANGE | RENAME_NOREPLACE) ? errno : 0));

    /* Across mounts. */
    char other[4200], otherdir[4200];
    snprintf(other, sizeof other, "%s/rename-xdev-%d", argv[2], getpid());
    snprintf(otherdir, sizeof otherdir, "%s/rename-xdev-dir-%d", argv[2], getpid());
    printf("rename file across mounts: %s\n", ename(rename(p("n1"), other) ? errno : 0));
    printf("link across mounts: %s\n", ename(link(p("n1"), other) ? errno : 0));
    printf("rename dir across mounts: %s\n", ename(rename(p("dst"), otherdir) ? errno : 0));
    show("n1");

    /* Removal errors. */
    printf("unlink a directory: %s\n", ename(unlink(p("dst")) ? errno : 0));
    printf("rmdir a file: %s\n", ename(rmdir(p("n1")) ? errno : 0));
    printf("rmdir non-empty: %s\n", ename(rmdir(p("full")) ? errno : 0));
    printf("rmdir '.': %s\n", ename(rmdir(p("dst/.")) ? errno : 0));
    printf("mkdir existing: %s\n", ename(mkdir(p("dst"), 0755) ? errno : 0));
    printf("open dir for writing: %s\n", ename(open(p("dst"), O_WRONLY) < 0 ? errno : 0));
    printf("open file with O_DIRECTORY: %s\n", ename(open(p("n1"), O_RDONLY | O_DIRECTORY) < 0 ? errno : 0));
    printf("create under a file: %s\n", ename(open(p("n1/x"), O_CREAT | O_WRONLY, 0644) < 0 ? errno : 0));
    printf("file with trailing slash: %s\n", ename(open(p("n1/"), O_RDONLY) < 0 ? errno : 0));

    /* Hard-link counts. */
    put("f", "f");
    printf("nlink new file: %ld\n", nlink("f"));
    link(p("f"), p("f2"));
    link(p("f"), p("f3"));
    printf("nlink after two links: %ld\n", nlink("f"));
    unlink(p("f2"));
    printf("nlink after one unlink: %ld\n", nlink("f"));
    rename(p("f3"), p("f4"));
    printf("nlink after renaming a link: %ld\n", nlink("f"));
    put("g", "g");
    rename(p("g"), p("f4"));
    printf("nlink after a link is renamed over: %ld\n", nlink("f"));
    printf("link to a directory: %s\n", ename(link(p("dst"), p("dlink")) ? errno : 0));
    printf("link onto existing: %s\n", ename(link(p("f"), p("f4")) ? errno : 0));
    mkdir(p("top"), 0755);
    printf("nlink empty dir: %ld\n", nlink("top"));
    mkdir(p("top/s1"), 0755);
    mkdir(p("top/s2"), 0755);
    put("top/file", "x");
    printf("nlink dir with two subdirs and a file: %ld\n", nlink("top"));
    rmdir(p("top/s1"));
    printf("nlink after rmdir of one: %ld\n", nlink("top"));
    rename(p("top/s2"), p("s2moved"));
    printf("nlink after moving the other out: %ld\n", nlink("top"));
    rename(p("s2moved"), p("top/s2"));
    printf("nlink after moving it back: %ld\n", nlink("top"));
    int dfd = open(p("top/s2"), O_RDONLY | O_DIRECTORY);
    rmdir(p("top/s2"));
    struct stat s;
    fstat(dfd, &s);
    printf("nlink of a removed dir still open: %ld\n", (long)s.st_nlink);
    printf("create in removed dir: %s\n", ename(openat(dfd, "x", O_CREAT | O_WRONLY, 0644) < 0 ? errno : 0));
    close(dfd);
    return 0;
}
