/* A blocking pipe read interrupted by SIGALRM: restarted with SA_RESTART,
 * EINTR without; poll is never restarted. The handler writes one byte into
 * the pipe so that a restarted read returns. alarm() and setitimer() both. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int fds[2];
static volatile sig_atomic_t handled;

static void on_alarm(int sig) {
    (void)sig;
    handled++;
    char c = 'x';
    (void)!write(fds[1], &c, 1);
}

static void arm(int use_alarm) {
    if (use_alarm) {
        alarm(1);
    } else {
        struct itimerval it = {{0, 0}, {0, 100 * 1000}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
}

static void drain(void) {
    char buf[16];
    struct pollfd p = {fds[0], POLLIN, 0};
    while (poll(&p, 1, 0) == 1)
        (void)!read(fds[0], buf, sizeof buf);
}

static void try_read(const char *label, int flags, int use_alarm) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = flags;
    sigaction(SIGALRM, &sa, NULL);
    handled = 0;
    arm(use_alarm);
    char buf[16];
    ssize_t r = read(fds[0], buf, sizeof buf);
    if (r < 0)
        printf("%s: read = -1 %s, handler ran %d time(s)\n", label, strerrorname_np(errno), (int)handled);
    else
        printf("%s: read = %zd '%.*s', handler ran %d time(s)\n", label, r, (int)r, buf, (int)handled);
    drain();
}

static void try_poll(const char *label, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = flags;
    sigaction(SIGALRM, &sa, NULL);
    handled = 0;
    arm(0);
    struct pollfd p = {fds[0], POLLIN, 0};
    int r = poll(&p, 1, -1);
    printf("%s: poll = %d %s, handler ran %d time(s)\n", label, r, r < 0 ? strerrorname_np(errno) : "",
           (int)handled);
    drain();
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (pipe(fds) != 0)
        return 1;
    try_read("alarm, SA_RESTART", SA_RESTART, 1);
    try_read("alarm, no SA_RESTART", 0, 1);
    try_read("setitimer, SA_RESTART", SA_RESTART, 0);
    try_read("setitimer, no SA_RESTART", 0, 0);
    try_poll("setitimer, SA_RESTART", SA_RESTART);
    struct itimerval it;
    getitimer(ITIMER_REAL, &it);
    printf("itimer disarmed after firing: %s\n", it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0 ? "yes" : "no");
    return 0;
}
