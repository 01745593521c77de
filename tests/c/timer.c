/* POSIX timers with SIGEV_SIGNAL: a periodic timer delivers SIGUSR1 with
 * si_code SI_TIMER and the sigev_value; timer_gettime shows it armed, then
 * disarmed; timer_delete; a blocked timer signal taken by sigwaitinfo. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks, bad;

static void on_tick(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    if (si->si_code != SI_TIMER || si->si_value.sival_int != 42)
        bad++;
    ticks++;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_tick;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);

    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 42;
    timer_t t;
    int r = timer_create(CLOCK_MONOTONIC, &sev, &t);
    printf("timer_create = %d\n", r);
    if (r != 0)
        return 1;

    struct itimerspec its, cur;
    timer_gettime(t, &cur);
    printf("new timer disarmed: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "yes" : "no");

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    memset(&its, 0, sizeof its);
    its.it_value.tv_nsec = 20 * 1000 * 1000;
    its.it_interval.tv_nsec = 20 * 1000 * 1000;
    printf("timer_settime = %d\n", timer_settime(t, 0, &its, NULL));
    timer_gettime(t, &cur);
    printf("armed: interval 20ms %s, value within it %s\n", cur.it_interval.tv_nsec == 20 * 1000 * 1000 ? "yes" : "no",
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20 * 1000 * 1000 ? "yes"
                                                                                                           : "no");
    while (ticks < 3)
        sigsuspend(&old);
    sigprocmask(SIG_BLOCK, &block, NULL);
    printf("at least 3 ticks: yes, all with SI_TIMER and value 42: %s\n", bad == 0 ? "yes" : "no");

    memset(&its, 0, sizeof its);
    timer_settime(t, 0, &its, NULL);
    timer_gettime(t, &cur);
    printf("disarmed: %s\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 ? "yes" : "no");

    /* One-shot, taken synchronously while blocked. */
    siginfo_t si;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&block, &si, &zero) > 0) /* a tick left from the periodic run */
        ;
    its.it_value.tv_nsec = 30 * 1000 * 1000;
    timer_settime(t, 0, &its, NULL);
    int s = sigwaitinfo(&block, &si);
    printf("one-shot: %s, code %s, value %d\n", sigabbrev_np(s), si.si_code == SI_TIMER ? "SI_TIMER" : "other",
           si.si_value.sival_int);

    printf("timer_delete = %d\n", timer_delete(t));
    printf("timer_gettime after delete: %s\n", timer_gettime(t, &cur) < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
