/* Integer division by zero and INT_MIN / -1 raise SIGFPE with si_code
 * FPE_INTDIV; the handler leaves with siglongjmp. Without a handler the
 * process dies by SIGFPE (checked in a child). */
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int got_signo, got_code;

static void on_fpe(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    got_signo = si->si_signo;
    got_code = si->si_code;
    siglongjmp(env, 1);
}

static const char *code_name(int c) {
    return c == FPE_INTDIV ? "FPE_INTDIV" : c == FPE_INTOVF ? "FPE_INTOVF" : "other";
}

static void divide(const char *label, volatile int a, volatile int b) {
    got_signo = got_code = 0;
    if (sigsetjmp(env, 1) == 0) {
        volatile int q = a / b;
        printf("%s: no signal, quotient %d\n", label, q);
    } else {
        printf("%s: signal %s, si_code %s\n", label, sigabbrev_np(got_signo), code_name(got_code));
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGFPE, &sa, NULL);

    divide("7 / 0", 7, 0);
    divide("INT_MIN / -1", INT_MIN, -1);
    divide("7 / 2", 7, 2);
    divide("1 / 0 again (mask restored by siglongjmp)", 1, 0);

    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGFPE, SIG_DFL);
        divide("child", 1, 0);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child without handler: %s\n",
           WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "exited");
    return 0;
}
