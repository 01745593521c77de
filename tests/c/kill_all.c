/* kill(-1) from the init of a pid namespace reaches every other process in
 * it but not the sender. Only ever run as pid 1 (natively under
 * `unshare --pid --fork`, and as the sandbox's first program): anywhere else
 * kill(-1) would signal the whole host, so the program refuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (getpid() != 1) {
        printf("not pid 1: refusing to kill(-1)\n");
        return 2;
    }
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            if (i == 2)
                setsid(); /* another session and group: still reached */
            close(fds[0]);
            (void)!write(fds[1], "x", 1);
            for (;;)
                pause();
        }
    }
    close(fds[1]);
    char c;
    for (int i = 0; i < 3; i++)
        (void)!read(fds[0], &c, 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    printf("kill(-1, SIGTERM) = %d\n", kill(-1, SIGTERM));
    for (int i = 0; i < 3; i++) {
        int status;
        waitpid(kids[i], &status, 0);
        printf("child %d: %s\n", i, WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "exited");
    }
    int r = kill(-1, SIGTERM);
    printf("kill(-1) with nobody else left = %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
    printf("init survived\n");
    return 0;
}
