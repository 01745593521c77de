/* pidfd_open: the descriptor polls readable exactly when the process exits;
 * pidfd_send_signal kills through it; waitid(P_PIDFD) reaps; ESRCH/EINVAL
 * for bad arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int pidfd_open(pid_t pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }

static int poll_in(int fd, int timeout) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout);
    return r == 1 && (p.revents & POLLIN);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(fds[1]);
        (void)!read(fds[0], &c, 1);
        _exit(5);
    }
    close(fds[0]);
    int pidfd = pidfd_open(pid, 0);
    printf("pidfd_open: %s\n", pidfd >= 0 ? "ok" : strerrorname_np(errno));
    printf("readable while the child runs: %s\n", poll_in(pidfd, 100) ? "yes" : "no");
    close(fds[1]);
    printf("readable after it exits: %s\n", poll_in(pidfd, 5000) ? "yes" : "no");
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PIDFD, pidfd, &si, WEXITED);
    printf("waitid(P_PIDFD) = %d, code %s, status %d\n", r, si.si_code == CLD_EXITED ? "CLD_EXITED" : "other",
           si.si_status);
    close(pidfd);

    pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    pidfd = pidfd_open(pid, 0);
    r = (int)syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
    printf("pidfd_send_signal = %d\n", r);
    printf("readable after the signal: %s\n", poll_in(pidfd, 5000) ? "yes" : "no");
    int status;
    waitpid(pid, &status, 0);
    printf("child: %s\n", WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "exited");
    r = (int)syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
    printf("pidfd_send_signal to a reaped process: %s\n", r < 0 ? strerrorname_np(errno) : "ok");
    close(pidfd);

    printf("pidfd_open(0): %s\n", pidfd_open(0, 0) < 0 ? strerrorname_np(errno) : "ok");
    printf("pidfd_open(self, bad flags): %s\n", pidfd_open(getpid(), 1) < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
