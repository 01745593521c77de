/* Lists this process's descriptors ("N -> TARGET", one a line, the
 * listing's own left out), then execs itself to list them again after
 * exec. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void list(const char *when) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        perror("opendir");
        exit(1);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        char path[300], target[4096];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = 0;
        printf("%s: %s -> %s\n", when, e->d_name, target);
    }
    closedir(d);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        list("after exec");
        return 0;
    }
    list("before exec");
    execl("/proc/self/exe", argv[0], "again", (char *)NULL);
    perror("exec");
    return 1;
}
