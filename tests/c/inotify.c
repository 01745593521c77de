// inotify events for changes in a watched tmpfs directory (argv[1]):
// create, open, modify, close, attrib, move (paired cookies), delete,
// delete-self, one-shot, rm_watch, readiness. Prints relative names only.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    unsigned bit;
    const char *name;
} names[] = {
    {IN_ACCESS, "ACCESS"},           {IN_MODIFY, "MODIFY"},         {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"},   {IN_MOVED_TO, "MOVED_TO"},     {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"},           {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_UNMOUNT, "UNMOUNT"},         {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},
    {IN_ISDIR, "ISDIR"},
};

static unsigned last_cookie;

// Read and print every queued event.
static void drain(int in, const char *title) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    printf("-- %s\n", title);
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            if (errno != EAGAIN)
                printf("read: %s\n", strerrorname_np(errno));
            return;
        }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            printf("wd=%d", e->wd);
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
                if (e->mask & names[i].bit)
                    printf(" %s", names[i].name);
            if (e->cookie) {
                printf(" cookie=%s", e->cookie == last_cookie ? "same" : "new");
                last_cookie = e->cookie;
            }
            printf(" len=%u", e->len);
            if (e->len)
                printf(" name=%s", e->name);
            printf("\n");
            p += sizeof *e + e->len;
        }
    }
}

static void wr(int fd, const char *s) {
    if (write(fd, s, strlen(s)) < 0)
        printf("write: %s\n", strerrorname_np(errno));
}

static void result(const char *what, long r) {
    if (r < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, r);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: inotify DIR\n");
        return 2;
    }
    char dir[PATH_MAX / 2], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], d[PATH_MAX], e[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/inotify-test", argv[1]);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    snprintf(d, sizeof d, "%s/sub", dir);
    snprintf(e, sizeof e, "%s/e", dir);
    if (mkdir(dir, 0755) < 0) {
        perror("mkdir");
        return 1;
    }

    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    result("fcntl F_GETFD cloexec", fcntl(in, F_GETFD) & FD_CLOEXEC);
    result("fcntl F_GETFL nonblock", !!(fcntl(in, F_GETFL) & O_NONBLOCK));
    result("init1 bad flags", inotify_init1(1));
    int wd = inotify_add_watch(in, dir, IN_ALL_EVENTS);
    result("add_watch dir", wd);
    result("add_watch dir again", inotify_add_watch(in, dir, IN_ALL_EVENTS));
    result("add_watch empty mask", inotify_add_watch(in, dir, 0));
    result("add_watch missing", inotify_add_watch(in, "/nonexistent", IN_ALL_EVENTS));
    result("add_watch on non-inotify fd", inotify_add_watch(0, dir, IN_ALL_EVENTS));

    struct pollfd pfd = {.fd = in, .events = POLLIN};
    result("poll before events", poll(&pfd, 1, 0));

    int fd = open(a, O_CREAT | O_WRONLY, 0644);
    wr(fd, "hello");
    wr(fd, "again");
    result("poll after events", poll(&pfd, 1, 0));
    int avail = 0;
    ioctl(in, FIONREAD, &avail);
    result("FIONREAD", avail);
    char tiny[8];
    result("read into 8 bytes", read(in, tiny, sizeof tiny));
    close(fd);
    drain(in, "create, write twice, close");

    mkdir(d, 0755);
    rename(a, b);
    chmod(b, 0600);
    fd = open(b, O_RDONLY);
    close(fd);
    result("truncate", truncate(b, 2));
    drain(in, "mkdir, rename, chmod, open for reading, truncate");

    fd = open(c, O_CREAT | O_WRONLY, 0644);
    close(fd);
    int wdc = inotify_add_watch(in, c, IN_ALL_EVENTS);
    result("add_watch file", wdc);
    result("add_watch file ONLYDIR", inotify_add_watch(in, c, IN_ALL_EVENTS | IN_ONLYDIR));
    fd = open(c, O_WRONLY | O_APPEND);
    wr(fd, "x");
    close(fd);
    unlink(c);
    drain(in, "watched file written and removed");

    fd = open(e, O_CREAT | O_WRONLY, 0644);
    int wde = inotify_add_watch(in, e, IN_MODIFY | IN_ONESHOT);
    result("add_watch oneshot", wde);
    wr(fd, "1");
    wr(fd, "2");
    close(fd);
    unlink(e);
    rmdir(d);
    drain(in, "oneshot, unlink, rmdir");

    char s2[PATH_MAX], s3[PATH_MAX];
    snprintf(s2, sizeof s2, "%s/sub2", dir);
    snprintf(s3, sizeof s3, "%s/sub3", dir);
    mkdir(s2, 0755);
    result("add_watch subdir", inotify_add_watch(in, s2, IN_ALL_EVENTS));
    rename(s2, s3);
    rmdir(s3);
    drain(in, "watched directory moved and removed");

    int wdd = inotify_add_watch(in, argv[1], IN_CREATE);
    result("add_watch parent", wdd > 0);
    result("rm_watch parent", inotify_rm_watch(in, wdd));
    result("rm_watch parent again", inotify_rm_watch(in, wdd));
    unlink(b);
    rmdir(dir);
    drain(in, "rm_watch, remove the watched directory");
    close(in);
    return 0;
}
