/* MAP_SHARED file mappings see write(), read() sees stores through the
 * mapping, a forked child's stores reach the parent, and munmap writes
 * back. argv[1]: a tmpfs directory to work in. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void check(long r, const char *what) {
    if (r < 0) {
        perror(what);
        _exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    char path[256];
    snprintf(path, sizeof path, "%s/mmap_shared.dat", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd, "open");
    check(ftruncate(fd, 8192), "ftruncate");
    char *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return 1;
    strcpy(m, "via-mapping");
    char b[32] = {0};
    check(pread(fd, b, 11, 0), "pread");
    printf("read sees: %s\n", b);
    check(pwrite(fd, "via-write", 9, 4096), "pwrite");
    printf("map sees: %.9s\n", m + 4096);
    if (fork() == 0) {
        strcpy(m + 100, "child-wrote");
        _exit(0);
    }
    wait(0);
    printf("parent sees: %s\n", m + 100);
    munmap(m, 8192);
    memset(b, 0, sizeof b);
    check(pread(fd, b, 11, 100), "pread");
    printf("after munmap: %s\n", b);
    unlink(path);
    return 0;
}
