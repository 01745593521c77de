/* The sandbox's task limit, as a pids cgroup enforces it: fork and
 * pthread_create past /sys/fs/cgroup/pids.max fail with EAGAIN; threads
 * count; zombies count until they are reaped; exited tasks make room.
 *
 * Each count printed is the tasks the program could make plus the tasks
 * the sandbox held when it started (its /proc/<pid>/task entries), so the
 * output is the limit whatever else (an init) runs in the sandbox. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TASKS 4096

static pid_t kids[MAX_TASKS];
static pthread_t threads[MAX_TASKS];
static int gate[2];

static const char *errno_name(int e) {
    return e == EAGAIN ? "EAGAIN" : e == ENOMEM ? "ENOMEM" : strerror(e);
}

/* Threads of every process in the sandbox, zombies (one each) included. */
static int tasks_now(void) {
    int n = 0;
    DIR *proc = opendir("/proc");
    struct dirent *p;
    while (proc && (p = readdir(proc))) {
        if (p->d_name[0] < '1' || p->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/task", p->d_name);
        DIR *task = opendir(path);
        struct dirent *t;
        int here = 0;
        while (task && (t = readdir(task)))
            here += t->d_name[0] != '.';
        if (task)
            closedir(task);
        n += here ? here : 1;
    }
    if (proc)
        closedir(proc);
    return n;
}

/* Fork children that wait on the gate until fork fails. */
static int fork_until_failure(int *err) {
    int n = 0;
    for (;;) {
        pid_t pid = fork();
        if (pid < 0) {
            *err = errno;
            return n;
        }
        if (pid == 0) {
            char c;
            close(gate[1]);
            (void)!read(gate[0], &c, 1);
            _exit(0);
        }
        if (n == MAX_TASKS) {
            *err = 0;
            return n;
        }
        kids[n++] = pid;
    }
}

/* Fork children until fork fails, report, then release and reap them. */
static void fork_round(const char *label, int base) {
    int err;
    if (pipe(gate))
        exit(2);
    int n = fork_until_failure(&err);
    printf("%s: %s with %d tasks\n", label, errno_name(err), base + n);
    close(gate[1]);
    for (int i = 0; i < n; i++)
        waitpid(kids[i], NULL, 0);
    close(gate[0]);
}

static void *wait_on_gate(void *arg) {
    char c;
    (void)arg;
    (void)!read(gate[0], &c, 1);
    return NULL;
}

static int threads_until_failure(int *err) {
    int n = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    while (n < MAX_TASKS) {
        int e = pthread_create(&threads[n], &attr, wait_on_gate, NULL);
        if (e) {
            *err = e;
            return n;
        }
        n++;
    }
    *err = 0;
    return n;
}

int main(void) {
    int err, base = tasks_now();
    char max[32] = "";
    FILE *f = fopen("/sys/fs/cgroup/pids.max", "r");
    if (!f || !fgets(max, sizeof max, f))
        return 2;
    fclose(f);
    printf("pids.max %s", max);

    /* Processes; then, reaped children having made room, the same number
     * fits again. */
    fork_round("fork", base);
    fork_round("fork again", base);

    /* Threads. */
    if (pipe(gate))
        return 2;
    int t = threads_until_failure(&err);
    printf("pthread_create: %s with %d tasks\n", errno_name(err), base + t);
    close(gate[1]);
    for (int i = 0; i < t; i++)
        pthread_join(threads[i], NULL);
    close(gate[0]);

    /* Zombies count until reaped. */
    int z = 0;
    for (; z < MAX_TASKS; z++) {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0)
            _exit(0);
        kids[z] = pid;
        siginfo_t si;
        waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
    }
    printf("zombies: fork %s with %d tasks\n", errno_name(errno), base + z);
    for (int i = 0; i < z; i++)
        waitpid(kids[i], NULL, 0);
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    printf("after reaping: fork %s\n", pid > 0 ? "succeeds" : errno_name(errno));
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return 0;
}
