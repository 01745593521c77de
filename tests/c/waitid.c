/* waitid: WNOHANG on a running child, WNOWAIT leaving it waitable,
 * WSTOPPED / WCONTINUED / killed reports, ECHILD when nothing is left. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;

static const char *code_name(int c) {
    switch (c) {
    case CLD_EXITED: return "CLD_EXITED";
    case CLD_KILLED: return "CLD_KILLED";
    case CLD_DUMPED: return "CLD_DUMPED";
    case CLD_STOPPED: return "CLD_STOPPED";
    case CLD_CONTINUED: return "CLD_CONTINUED";
    default: return "none";
    }
}

static void show(const char *label, idtype_t type, id_t id, int options) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(type, id, &si, options);
    if (r < 0) {
        printf("%s: -1 %s\n", label, strerrorname_np(errno));
        return;
    }
    int status = si.si_status;
    const char *st = si.si_code == CLD_EXITED ? NULL : sigabbrev_np(status);
    printf("%s: 0, si_pid %s, %s %d%s%s\n", label, si.si_pid == 0 ? "0" : si.si_pid == child ? "child" : "other",
           code_name(si.si_code), status, st ? " " : "", st ? st : "");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    show("no children, WNOHANG", P_ALL, 0, WEXITED | WNOHANG);

    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    child = fork();
    if (child == 0) {
        char c;
        close(fds[1]);
        (void)!read(fds[0], &c, 1);
        _exit(7);
    }
    close(fds[0]);
    show("running child, WNOHANG", P_PID, child, WEXITED | WNOHANG);
    close(fds[1]);
    show("exited child, WNOWAIT", P_PID, child, WEXITED | WNOWAIT);
    show("exited child, again WNOHANG", P_PID, child, WEXITED | WNOHANG);
    show("reaped child, WNOHANG", P_PID, child, WEXITED | WNOHANG);
    show("no such options", P_PID, child, 0);

    child = fork();
    if (child == 0) {
        raise(SIGSTOP);
        for (;;)
            pause();
    }
    show("stopping child, WSTOPPED", P_PID, child, WSTOPPED);
    show("stopped child, WSTOPPED again WNOHANG", P_PID, child, WSTOPPED | WNOHANG);
    kill(child, SIGCONT);
    show("continued child, WCONTINUED", P_PID, child, WCONTINUED);
    show("running child, WEXITED WNOHANG", P_PGID, 0, WEXITED | WNOHANG);
    kill(child, SIGKILL);
    show("killed child, WEXITED", P_ALL, 0, WEXITED);
    show("nothing left", P_ALL, 0, WEXITED);
    return 0;
}
