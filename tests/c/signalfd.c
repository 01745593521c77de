/* signalfd4: blocked signals become readable signalfd_siginfo records;
 * nonblocking reads give EAGAIN when none is pending; poll reports POLLIN;
 * sigqueue values and the sender's pid come through. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void read_all(int fd, pid_t child) {
    struct signalfd_siginfo info[4];
    ssize_t r = read(fd, info, sizeof info);
    if (r < 0) {
        printf("read: -1 %s\n", strerrorname_np(errno));
        return;
    }
    printf("read %zd record(s)\n", r / (ssize_t)sizeof info[0]);
    for (ssize_t i = 0; i < r / (ssize_t)sizeof info[0]; i++)
        printf("  %s code %s int %d from %s\n", sigabbrev_np((int)info[i].ssi_signo),
               info[i].ssi_code == SI_QUEUE  ? "SI_QUEUE"
               : info[i].ssi_code == SI_USER ? "SI_USER"
                                             : "other",
               info[i].ssi_code == SI_QUEUE ? info[i].ssi_int : 0,
               info[i].ssi_pid == (unsigned)getpid()  ? "self"
               : info[i].ssi_pid == (unsigned)child ? "child"
                                                    : "other");
}

static int readable(int fd, int timeout) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout);
    return r == 1 && (p.revents & POLLIN);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("signalfd: %s, cloexec %s, nonblock %s\n", fd >= 0 ? "ok" : strerrorname_np(errno),
           fd >= 0 && fcntl(fd, F_GETFD) & FD_CLOEXEC ? "yes" : "no",
           fd >= 0 && fcntl(fd, F_GETFL) & O_NONBLOCK ? "yes" : "no");
    if (fd < 0)
        return 1;

    printf("readable with nothing pending: %s\n", readable(fd, 0) ? "yes" : "no");
    read_all(fd, 0);

    kill(getpid(), SIGUSR2);
    union sigval v = {.sival_int = 5};
    sigqueue(getpid(), SIGUSR1, v);
    printf("readable with two pending: %s\n", readable(fd, 0) ? "yes" : "no");
    read_all(fd, 0);
    read_all(fd, 0);

    pid_t child = fork();
    if (child == 0) {
        usleep(50 * 1000);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    printf("readable after the child signals: %s\n", readable(fd, 5000) ? "yes" : "no");
    read_all(fd, child);
    waitpid(child, NULL, 0);

    sigdelset(&set, SIGUSR2);
    printf("signalfd with a new mask on the same fd: %s\n", signalfd(fd, &set, 0) == fd ? "same fd" : "other");
    kill(getpid(), SIGUSR2);
    printf("SIGUSR2 no longer readable: %s\n", readable(fd, 0) ? "readable" : "yes");
    printf("still pending: %s\n", sigpending(&set) == 0 && sigismember(&set, SIGUSR2) ? "yes" : "no");
    return 0;
}
