/* futex(2): WAIT on a changed value, WAIT and WAIT_BITSET timeouts
 * (relative and absolute), WAKE of a blocked waiter, CMP_REQUEUE between
 * two words, WAKE_OP. Prints only results and error names. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts, uint32_t *uaddr2, uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static void report(const char *what, long r) {
    if (r < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, r);
    fflush(stdout);
}

static uint32_t word1, word2;

static void *waiter(void *arg) {
    (void)arg;
    struct timespec ts = {10, 0};
    long r = futex(&word1, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    return (void *)(r == 0 ? 0L : (long)errno);
}

/* Wake `n` waiters on `w`, retrying until they have all blocked (for 5 s
 * at most). */
static long wake_all(uint32_t *w, int n) {
    long woken = 0;
    for (int tries = 0; woken < n && tries < 5000; tries++) {
        long r = futex(w, FUTEX_WAKE_PRIVATE, n - woken, NULL, NULL, 0);
        if (r < 0)
            return r;
        woken += r;
        if (woken < n)
            usleep(1000);
    }
    return woken;
}

int main(void) {
    uint32_t w = 1;
    struct timespec rel = {0, 50 * 1000 * 1000};

    report("wait on changed value", futex(&w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    report("wait with relative timeout", futex(&w, FUTEX_WAIT_PRIVATE, 1, &rel, NULL, 0));

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct timespec abs = t0;
    abs.tv_nsec += 50 * 1000 * 1000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    report("wait_bitset with absolute timeout",
           futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("absolute timeout waited at least 50ms: %s\n", ms >= 49 ? "yes" : "no");
    report("wait_bitset with zero bitset", futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 1, NULL, NULL, 0));
    report("wake with nobody waiting", futex(&w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));

    /* One waiter, woken before its 10 s timeout. */
    pthread_t t;
    if (pthread_create(&t, NULL, waiter, NULL) != 0) {
        printf("pthread_create failed\n");
        return 1;
    }
    report("wake one blocked waiter", wake_all(&word1, 1));
    void *res;
    pthread_join(t, &res);
    printf("woken waiter returned %s\n", res == 0 ? "0" : strerrorname_np((int)(long)res));

    /* Three waiters on word1, all requeued to word2, then woken there. */
    pthread_t ts[3];
    for (int i = 0; i < 3; i++)
        if (pthread_create(&ts[i], NULL, waiter, NULL) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    report("cmp_requeue with stale value", futex(&word1, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(long)INT_MAX, &word2, 1));
    long moved = 0;
    for (int tries = 0; moved < 3 && tries < 5000; tries++) {
        long r = futex(&word1, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(long)INT_MAX, &word2, 0);
        if (r < 0) {
            report("cmp_requeue", r);
            return 1;
        }
        moved += r;
        if (moved < 3)
            usleep(1000);
    }
    printf("requeued %ld waiters\n", moved);
    if (moved < 3)
        return 1;
    report("wake on the old word", futex(&word1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
    report("wake one on the new word", futex(&word2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    report("wake the rest on the new word", futex(&word2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
    for (int i = 0; i < 3; i++) {
        pthread_join(ts[i], &res);
        printf("requeued waiter %d returned %s\n", i, res == 0 ? "0" : strerrorname_np((int)(long)res));
    }

    /* WAKE_OP: word2 += 5 (old value 0), wake on word1; second wake if old == 0. */
    word2 = 0;
    report("wake_op", futex(&word1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &word2,
                            FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0)));
    printf("word2 after wake_op = %u\n", word2);
    return 0;
}
