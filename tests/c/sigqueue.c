/* sigqueue to a SA_SIGINFO handler: si_code SI_QUEUE, si_value and si_pid
 * arrive; while blocked, real-time signals queue every instance in order
 * and standard ones coalesce; delivery is lowest signal number first. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX 16
static volatile int n;
static volatile int sig_seen[MAX], code_seen[MAX], value_seen[MAX], pid_ok[MAX];

static void handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (n < MAX) {
        sig_seen[n] = sig;
        code_seen[n] = si->si_code;
        value_seen[n] = si->si_value.sival_int;
        pid_ok[n] = si->si_pid == getpid();
        n++;
    }
}

static const char *sig_name(int s) {
    static char buf[16];
    if (s >= SIGRTMIN) {
        snprintf(buf, sizeof buf, "SIGRTMIN+%d", s - SIGRTMIN);
        return buf;
    }
    return sigabbrev_np(s);
}

static void dump(const char *label) {
    printf("%s: %d delivered\n", label, n);
    for (int i = 0; i < n; i++)
        printf("  %s code %s value %d pid ok %s\n", sig_name(sig_seen[i]),
               code_seen[i] == SI_QUEUE ? "SI_QUEUE" : code_seen[i] == SI_USER ? "SI_USER" : "other",
               value_seen[i], pid_ok[i] ? "yes" : "no");
    n = 0;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask); /* one handler at a time: delivery order is visible */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGRTMIN, &sa, NULL);
    sigaction(SIGRTMIN + 1, &sa, NULL);

    union sigval v = {.sival_int = 42};
    sigqueue(getpid(), SIGUSR1, v);
    dump("unblocked sigqueue");

    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGRTMIN);
    sigaddset(&block, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    for (int i = 1; i <= 3; i++) {
        v.sival_int = 100 + i;
        sigqueue(getpid(), SIGRTMIN + 1, v);
        v.sival_int = 200 + i;
        sigqueue(getpid(), SIGRTMIN, v);
        v.sival_int = 300 + i;
        sigqueue(getpid(), SIGUSR2, v);
    }
    kill(getpid(), SIGUSR1);
    sigpending(&pending);
    printf("pending: USR1 %d USR2 %d RTMIN %d RTMIN+1 %d\n", sigismember(&pending, SIGUSR1),
           sigismember(&pending, SIGUSR2), sigismember(&pending, SIGRTMIN), sigismember(&pending, SIGRTMIN + 1));
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    dump("after unblocking");
    sigpending(&pending);
    printf("pending afterwards: %d\n", sigismember(&pending, SIGRTMIN));
    return 0;
}
