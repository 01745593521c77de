/* splice, tee and vmsplice through pipes. argv[1]: a directory to work in. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    char src[256], dst[256];
    snprintf(src, sizeof src, "%s/splice-src", argv[1]);
    snprintf(dst, sizeof dst, "%s/splice-dst", argv[1]);
    int in = open(src, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int out = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0)
        return 1;
    const char *text = "hello from splice, through a pipe\n";
    if (write(in, text, strlen(text)) < 0)
        return 1;
    int p[2], q[2];
    if (pipe(p) < 0 || pipe(q) < 0)
        return 1;

    loff_t off = 6;
    show("splice file->pipe at offset 6", splice(in, &off, p[1], NULL, 100, 0));
    printf("offset now %lld\n", (long long)off);
    show("tee pipe->pipe", tee(p[0], q[1], 100, 0));
    show("splice pipe->file", splice(p[0], NULL, out, NULL, 100, 0));
    char buf[128] = {0};
    show("read tee copy", read(q[0], buf, sizeof buf - 1));
    printf("tee copy: %s", buf);
    memset(buf, 0, sizeof buf);
    show("pread dst", pread(out, buf, sizeof buf - 1, 0));
    printf("dst: %s", buf);

    show("splice with no pipe", splice(in, NULL, out, NULL, 10, 0));
    show("splice offset on a pipe", splice(p[0], &off, out, NULL, 10, 0));
    show("splice empty pipe nonblock", splice(p[0], NULL, out, NULL, 10, SPLICE_F_NONBLOCK));
    show("tee same pipe", tee(p[0], p[1], 10, 0));

    struct iovec iov[2] = {{"vm", 2}, {"splice\n", 7}};
    show("vmsplice into pipe", vmsplice(p[1], iov, 2, 0));
    memset(buf, 0, sizeof buf);
    show("read", read(p[0], buf, sizeof buf - 1));
    printf("got: %s", buf);
    close(p[1]);
    show("splice at eof", splice(p[0], NULL, out, NULL, 10, 0));
    unlink(src);
    unlink(dst);
    return 0;
}
