/* Sessions and process groups: setsid makes a session and group leader,
 * setsid by a group leader fails, setpgid moves processes between groups of
 * one session only, and kill(-pgid) reaches every member of the group but
 * nobody else. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *res(int r) { return r == 0 ? "0" : strerrorname_np(errno); }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int status;

    /* A child becomes a session leader. */
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t leader = fork();
    if (leader == 0) {
        pid_t sid = setsid();
        printf("child setsid: new session is its pid: %s\n", sid == getpid() ? "yes" : "no");
        printf("getsid(0) == getpid: %s, getpgrp == getpid: %s\n", getsid(0) == getpid() ? "yes" : "no",
               getpgrp() == getpid() ? "yes" : "no");
        printf("setsid again (already a group leader): %s\n", setsid() < 0 ? strerrorname_np(errno) : "ok");
        close(fds[0]);
        (void)!write(fds[1], "x", 1);
        pause();
        _exit(0);
    }
    char c;
    close(fds[1]);
    (void)!read(fds[0], &c, 1);
    close(fds[0]);
    printf("parent: child's session differs from ours: %s\n", getsid(leader) != getsid(0) ? "yes" : "no");
    printf("setpgid of the child in another session: %s\n", res(setpgid(leader, getpgrp())));
    printf("setpgid(self) into the child's group: %s\n", res(setpgid(0, leader)));
    kill(leader, SIGKILL);
    waitpid(leader, &status, 0);

    /* Three children in a new group; kill(-pgid) gets them all. */
    pid_t kids[3];
    pid_t pgid = 0;
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            setpgid(0, pgid);
            for (;;)
                pause();
        }
        if (i == 0)
            pgid = kids[0];
        setpgid(kids[i], pgid); /* both sides, so no race */
    }
    printf("group of the children is the first child: %s\n",
           getpgid(kids[0]) == pgid && getpgid(kids[1]) == pgid && getpgid(kids[2]) == pgid ? "yes" : "no");
    printf("our group unchanged: %s\n", getpgrp() != pgid ? "yes" : "no");
    printf("kill(-pgid, SIGUSR1) = %s\n", res(kill(-pgid, SIGUSR1)));
    for (int i = 0; i < 3; i++) {
        waitpid(kids[i], &status, 0);
        printf("child %d: %s\n", i, WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "exited");
    }
    printf("kill(-pgid) of the now empty group: %s\n", res(kill(-pgid, SIGUSR1)));
    printf("getpgid of a reaped pid: %s\n", getpgid(kids[0]) < 0 ? strerrorname_np(errno) : "found");
    printf("we survived\n");
    return 0;
}
