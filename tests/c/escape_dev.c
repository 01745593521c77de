/* Device access.
 *
 *   escape_dev read PATH          open PATH, print the FNV-1a hash of its
 *                                 first 64 KiB ("hash HEX")
 *   escape_dev mknod MAJ MIN      make a block device node for MAJ:MIN, then read it
 *   escape_dev kmsg TEXT          write TEXT to /dev/kmsg
 *   escape_dev kvm                open /dev/kvm, KVM_CREATE_VM
 *
 * Then prints "ready" and holds what it opened until stdin ends, so that
 * the host can look at its descriptors.  Exits 0 when the attack worked, 1
 * when a call failed (printing its errno). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int status;

static void fail(const char *what) {
    printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    status = 1;
}

static void hash(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fail("open");
    static unsigned char buf[65536];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n < 0)
            return fail("read");
        if (n == 0)
            break;
        got += n;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < got; i++)
        h = (h ^ buf[i]) * 0x100000001b3ull;
    printf("hash %016llx\n", (unsigned long long)h);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && !strcmp(argv[1], "read")) {
        hash(argv[2]);
    } else if (argc == 4 && !strcmp(argv[1], "mknod")) {
        const char *node = "escape-blockdev";
        unlink(node);
        if (mknod(node, S_IFBLK | 0600, makedev(atoi(argv[2]), atoi(argv[3]))) < 0)
            fail("mknod");
        else
            hash(node);
    } else if (argc == 3 && !strcmp(argv[1], "kmsg")) {
        int fd = open("/dev/kmsg", O_WRONLY);
        if (fd < 0)
            fail("open");
        else if (write(fd, argv[2], strlen(argv[2])) < 0)
            fail("write");
    } else if (argc == 2 && !strcmp(argv[1], "kvm")) {
        int fd = open("/dev/kvm", O_RDWR);
        if (fd < 0)
            fail("open");
        else if (ioctl(fd, 0xAE01 /* KVM_CREATE_VM */, 0) < 0)
            fail("KVM_CREATE_VM");
    } else {
        return 2;
    }
    printf("ready\n");
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return status;
}
