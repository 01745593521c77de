/* A child that exits is a zombie (state Z in /proc) until its parent reaps
 * it, the parent gets SIGCHLD, and afterwards its /proc entry is gone. An
 * orphaned grandchild is reparented to its subreaper. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t sigchld;

static void on_chld(int sig) {
    (void)sig;
    sigchld++;
}

static char state_of(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '-';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);

    pid_t pid = fork();
    if (pid == 0)
        _exit(4);
    siginfo_t si;
    waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
    printf("SIGCHLD received: %d\n", (int)sigchld);
    printf("state before reaping: %c\n", state_of(pid));
    int status;
    pid_t r = waitpid(pid, &status, 0);
    printf("waitpid returned the child: %s, exit status %d\n", r == pid ? "yes" : "no", WEXITSTATUS(status));
    printf("state after reaping: %c (- = no /proc entry)\n", state_of(pid));

    /* Subreaper: the grandchild outlives its parent and is reparented to us. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t me = getpid();
    pid = fork();
    if (pid == 0) {
        if (fork() == 0) {
            char c;
            close(fds[1]);
            (void)!read(fds[0], &c, 1); /* until the middle process has gone */
            printf("grandchild reparented to the subreaper: %s\n", getppid() == me ? "yes" : "no");
            _exit(5);
        }
        _exit(0);
    }
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    r = wait(&status);
    printf("subreaper reaped the grandchild: %s, exit status %d\n", r > 0 && r != pid ? "yes" : "no",
           WEXITSTATUS(status));
    printf("then wait: %s\n", wait(&status) < 0 ? strerrorname_np(errno) : "a child");
    return 0;
}
