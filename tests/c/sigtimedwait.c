/* rt_sigtimedwait: times out with EAGAIN, takes a queued signal with its
 * siginfo, takes a signal sent later by another thread, and a zero timeout
 * polls. The signals stay blocked; no handler runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *sender(void *arg) {
    (void)arg;
    usleep(100 * 1000);
    union sigval v = {.sival_int = 7};
    sigqueue(getpid(), SIGUSR2, v);
    return NULL;
}

static void show(const char *label, int r, const siginfo_t *si) {
    if (r < 0)
        printf("%s: -1 %s\n", label, strerrorname_np(errno));
    else
        printf("%s: %s, code %s, value %d\n", label, sigabbrev_np(r),
               si->si_code == SI_QUEUE ? "SI_QUEUE" : si->si_code == SI_USER ? "SI_USER" : "other",
               si->si_code == SI_QUEUE ? si->si_value.sival_int : 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    siginfo_t si;

    struct timespec ts = {0, 50 * 1000 * 1000};
    show("nothing pending, 50ms", sigtimedwait(&set, &si, &ts), &si);
    struct timespec zero = {0, 0};
    show("nothing pending, zero timeout", sigtimedwait(&set, &si, &zero), &si);

    union sigval v = {.sival_int = 99};
    sigqueue(getpid(), SIGUSR1, v);
    show("queued SIGUSR1", sigtimedwait(&set, &si, &ts), &si);

    kill(getpid(), SIGUSR2);
    show("kill SIGUSR2", sigwaitinfo(&set, &si), &si);

    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);
    struct timespec long_ts = {10, 0};
    show("from another thread", sigtimedwait(&set, &si, &long_ts), &si);
    pthread_join(t, NULL);

    struct timespec bad = {0, 2000000000L};
    show("invalid timeout", sigtimedwait(&set, &si, &bad), &si);
    return 0;
}
