/* execve keeps descriptors without FD_CLOEXEC and closes those with it;
 * caught signals return to SIG_DFL, ignored ones stay ignored, the blocked
 * mask survives. The program re-executes itself with the argument "child". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

static const char *disposition(int sig) {
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler == SIG_DFL ? "SIG_DFL" : sa.sa_handler == SIG_IGN ? "SIG_IGN" : "handler";
}

static int child(void) {
    printf("after exec: fd 10 flags %d, fd 11 %s, fd 12 %s\n", fcntl(10, F_GETFD),
           fcntl(11, F_GETFD) < 0 ? strerrorname_np(errno) : "open",
           fcntl(12, F_GETFD) < 0 ? strerrorname_np(errno) : "open");
    char buf[16];
    ssize_t n = read(10, buf, sizeof buf);
    printf("read through the kept fd: %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
    n = read(10, buf, sizeof buf);
    printf("then (the write end closed on exec): %zd\n", n);
    printf("SIGUSR1 %s, SIGUSR2 %s\n", disposition(SIGUSR1), disposition(SIGUSR2));
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    printf("SIGHUP blocked: %s, SIGINT blocked: %s\n", sigismember(&mask, SIGHUP) ? "yes" : "no",
           sigismember(&mask, SIGINT) ? "yes" : "no");
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child();

    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    dup2(fds[0], 10);
    dup3(fds[1], 11, O_CLOEXEC);
    fcntl(10, F_SETFD, 0);
    int fd12 = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup2(fd12, 12);
    fcntl(12, F_SETFD, FD_CLOEXEC);
    close(fds[0]);
    close(fds[1]);
    close(fd12);
    (void)!write(11, "hello", 5);
    printf("before exec: fd 10 flags %d, fd 11 flags %d, fd 12 flags %d\n", fcntl(10, F_GETFD), fcntl(11, F_GETFD),
           fcntl(12, F_GETFD));
    fflush(stdout);

    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    char *args[] = {argv[0], "child", NULL};
    execv(argv[0], args);
    printf("execv: %s\n", strerrorname_np(errno));
    return 1;
}
