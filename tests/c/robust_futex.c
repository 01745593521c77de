/* Robust mutexes: a thread that dies holding one, and a forked process that
 * dies holding a process-shared one; the next locker sees EOWNERDEAD, makes
 * the mutex consistent, and it works again. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *name(int e) { return e == 0 ? "0" : strerrorname_np(e); }

static void init_robust(pthread_mutex_t *m, int pshared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setpshared(&a, pshared);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

static pthread_mutex_t mutex;

static void *die_holding(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mutex);
    pthread_exit(NULL);
}

static void after_owner_died(pthread_mutex_t *m) {
    int r = pthread_mutex_lock(m);
    printf("lock after owner died = %s\n", name(r));
    printf("consistent = %s\n", name(pthread_mutex_consistent(m)));
    printf("unlock = %s\n", name(pthread_mutex_unlock(m)));
    printf("lock again = %s\n", name(pthread_mutex_lock(m)));
    printf("unlock again = %s\n", name(pthread_mutex_unlock(m)));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    init_robust(&mutex, PTHREAD_PROCESS_PRIVATE);
    pthread_t t;
    pthread_create(&t, NULL, die_holding, NULL);
    pthread_join(t, NULL);
    printf("thread:\n");
    after_owner_died(&mutex);

    /* Not made consistent: the next locker after unlock gets ENOTRECOVERABLE. */
    pthread_create(&t, NULL, die_holding, NULL);
    pthread_join(t, NULL);
    printf("lock = %s\n", name(pthread_mutex_lock(&mutex)));
    printf("unlock without consistent = %s\n", name(pthread_mutex_unlock(&mutex)));
    printf("lock = %s\n", name(pthread_mutex_lock(&mutex)));

    pthread_mutex_t *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    init_robust(shared, PTHREAD_PROCESS_SHARED);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_mutex_lock(shared);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("process:\n");
    after_owner_died(shared);
    return 0;
}
