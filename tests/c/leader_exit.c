/* The thread-group leader calls pthread_exit while other threads run: the
 * process lives on, a worker can join the main thread (its tid is cleared
 * and woken through set_tid_address), the leader shows as a zombie in
 * /proc, and the last thread's exit status is the process's. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_t main_thread;
static pid_t pid;

static char leader_state(void) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

static void *worker(void *arg) {
    long id = (long)arg;
    if (id == 0) {
        pthread_join(main_thread, NULL);
        printf("worker joined the exited main thread\n");
        printf("getpid unchanged: %s\n", getpid() == pid ? "yes" : "no");
        printf("leader state: %c\n", leader_state());
        return NULL;
    }
    usleep(300 * 1000);
    printf("last worker exits the process with status 3\n");
    exit(3);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    main_thread = pthread_self();
    pid = getpid();
    pthread_t t;
    pthread_create(&t, NULL, worker, (void *)1L);
    pthread_create(&t, NULL, worker, (void *)0L);
    printf("main thread exits\n");
    pthread_exit(NULL);
}
