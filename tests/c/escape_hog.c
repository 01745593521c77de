/* Resource hogs.
 *
 *   escape_hog fork N      fork up to N children that wait; "forked K" (and
 *                          the errno that stopped it), "ready", hold until
 *                          stdin ends, then kill and reap them
 *   escape_hog bomb SECS   every process forks for ever; after SECS the first
 *                          prints "eagain K" (its failed forks) and exits
 *   escape_hog mem MB      allocate and touch MB MiB; "allocated K" (and errno)
 *   escape_hog fds N       open /dev/null up to N times; "opened K" (and
 *                          errno), "ready", hold until stdin ends */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t first;
static volatile long eagain;

static void stopped(const char *what, long count, int err) {
    printf("%s %ld", what, count);
    if (err)
        printf(" %s", strerrorname_np(err) ? strerrorname_np(err) : "?");
    printf("\n");
}

static void hold(void) {
    printf("ready\n");
    char c;
    while (read(0, &c, 1) > 0)
        ;
}

static void bomb_over(int sig) {
    (void)sig;
    if (getpid() == first) {
        char line[64];
        int n = snprintf(line, sizeof line, "eagain %ld\n", eagain);
        if (write(1, line, n) < 0)
            _exit(2);
        _exit(0);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 3)
        return 2;
    long n = atol(argv[2]), k = 0;
    int err = 0;
    if (!strcmp(argv[1], "fork")) {
        pid_t *kids = calloc(n, sizeof *kids);
        for (; k < n; k++) {
            pid_t p = fork();
            if (p < 0) {
                err = errno;
                break;
            }
            if (p == 0) {
                for (;;)
                    pause();
            }
            kids[k] = p;
        }
        stopped("forked", k, err);
        hold();
        for (long i = 0; i < k; i++)
            kill(kids[i], SIGKILL);
        while (wait(NULL) > 0)
            ;
    } else if (!strcmp(argv[1], "bomb")) {
        first = getpid();
        signal(SIGALRM, bomb_over);
        alarm(n);
        for (;;)
            if (fork() < 0 && getpid() == first)
                eagain++;
    } else if (!strcmp(argv[1], "mem")) {
        for (; k < n; k++) {
            char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) {
                err = errno;
                break;
            }
            memset(m, 0x5a, 1 << 20);
        }
        stopped("allocated", k, err);
    } else if (!strcmp(argv[1], "fds")) {
        for (; k < n; k++)
            if (open("/dev/null", O_RDONLY) < 0) {
                err = errno;
                break;
            }
        stopped("opened", k, err);
        hold();
    } else {
        return 2;
    }
    return 0;
}
