/* System V IPC: shared memory across fork and attaches, IPC_RMID,
 * semaphores blocking between processes, SEM_UNDO, message queues.
 * Every object is IPC_PRIVATE (or keyed by pid) and removed at the end, so
 * native runs do not collide. With argv[1] == "ipcs": make a segment and
 * exec `ipcs -m` (sandboxed only: the segment is left behind). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static void check(long r, const char *what) {
    if (r < 0) {
        printf("%s failed: %s\n", what, strerror(errno));
        exit(1);
    }
}

static const char *err(long r) {
    return r < 0 ? strerrorname_np(errno) : "ok";
}

static void msleep(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static int reap(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static unsigned long nattch(int id) {
    struct shmid_ds ds;
    check(shmctl(id, IPC_STAT, &ds), "IPC_STAT");
    return ds.shm_nattch;
}

static void test_shm(void) {
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    check(id, "shmget");
    struct shmid_ds ds;
    check(shmctl(id, IPC_STAT, &ds), "IPC_STAT");
    printf("shm: size %zu mode %o nattch %lu cpid-is-me %d\n", (size_t)ds.shm_segsz, ds.shm_perm.mode & 0777,
           ds.shm_nattch, ds.shm_cpid == getpid());
    char *p = shmat(id, 0, 0);
    check(p == (void *)-1 ? -1 : 0, "shmat");
    printf("shm: fresh page zero %d, nattch %lu\n", p[0] == 0 && p[9999] == 0, nattch(id));
    strcpy(p, "parent");
    pid_t c = fork();
    if (c == 0) {
        printf("child: sees '%s', nattch %lu\n", p, nattch(id));
        /* A second attach in the child aliases the same pages. */
        char *q = shmat(id, 0, 0);
        check(q == (void *)-1 ? -1 : 0, "shmat child");
        strcpy(q + 5000, "child-wrote");
        printf("child: second attach differs %d, aliases %d, nattch %lu\n", q != p, strcmp(p + 5000, "child-wrote") == 0,
               nattch(id));
        _exit(0);
    }
    reap(c);
    printf("shm: parent sees '%s', nattch after child exit %lu\n", p + 5000, nattch(id));

    /* SHM_RDONLY: readable, never writable. */
    char *r = shmat(id, 0, SHM_RDONLY);
    check(r == (void *)-1 ? -1 : 0, "shmat rdonly");
    printf("shm: rdonly reads '%s', mprotect write %s\n", r, err(mprotect(r, 4096, PROT_READ | PROT_WRITE)));
    check(shmdt(r), "shmdt");
    printf("shm: shmdt inside %s, shmdt again %s\n", err(shmdt(p + 4096)), err(shmdt(r)));

    /* A fixed address and SHM_RND. */
    char *want = (char *)0x600000000000UL;
    char *f = shmat(id, want + 100, SHM_RND);
    printf("shm: SHM_RND at %d, unaligned %s, taken %s\n", f == want, err((long)shmat(id, want + 100, 0)),
           err((long)shmat(id, want, 0)));
    printf("shm: fixed sees '%s'\n", f + 5000);
    check(shmdt(f), "shmdt");

    /* IPC_RMID while attached: still there by id, gone at the last detach. */
    check(shmctl(id, IPC_RMID, 0), "IPC_RMID");
    check(shmctl(id, IPC_STAT, &ds), "IPC_STAT after rmid");
    printf("shm: removed but attached: dest %d nattch %lu data '%s'\n", !!(ds.shm_perm.mode & SHM_DEST), ds.shm_nattch,
           p);
    check(shmdt(p), "shmdt");
    printf("shm: after last detach IPC_STAT %s\n", err(shmctl(id, IPC_STAT, &ds)));

    /* Keys: IPC_EXCL, lookup, size checks, removal. */
    key_t key = 0x5b000000 | (getpid() & 0xffffff);
    int k1 = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640);
    check(k1, "shmget key");
    printf("shm key: excl again %s, lookup same %d, bigger %s, no-creat other %s\n",
           err(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600)), shmget(key, 0, 0) == k1, err(shmget(key, 8192, 0)),
           err(shmget(key + 1, 4096, 0)));
    check(shmctl(k1, IPC_RMID, 0), "IPC_RMID");
    printf("shm key: after rmid %s, size 0 %s\n", err(shmget(key, 0, 0)), err(shmget(IPC_PRIVATE, 0, 0600)));

    /* Detach at exit: a child attaches and exits without shmdt. */
    int id2 = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    check(id2, "shmget");
    c = fork();
    if (c == 0) {
        char *x = shmat(id2, 0, 0);
        strcpy(x, "left-by-child");
        _exit(0);
    }
    reap(c);
    char *y = shmat(id2, 0, 0);
    printf("shm: child exit detached: nattch %lu data '%s'\n", nattch(id2), y);
    shmdt(y);
    check(shmctl(id2, IPC_RMID, 0), "IPC_RMID");
}

static int semval(int id, int n) {
    return semctl(id, n, GETVAL);
}

static void sem_op(int id, int n, int op, int flg) {
    struct sembuf b = {(unsigned short)n, (short)op, (short)flg};
    check(semop(id, &b, 1), "semop");
}

static void test_sem(void) {
    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    check(id, "semget");
    struct semid_ds ds;
    union semun u = {.buf = &ds};
    check(semctl(id, 0, IPC_STAT, u), "IPC_STAT");
    printf("sem: nsems %lu mode %o vals %d %d\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777, semval(id, 0),
           semval(id, 1));

    /* Blocking between two processes, in a fixed order: the child waits on
     * sem 0; the parent sees it waiting (GETNCNT), posts, then waits for the
     * child's post on sem 1. */
    pid_t c = fork();
    if (c == 0) {
        sem_op(id, 0, -1, 0);
        printf("child: got sem 0\n");
        sem_op(id, 1, 1, 0);
        _exit(0);
    }
    while (semctl(id, 0, GETNCNT) != 1)
        msleep(1);
    printf("parent: ncnt %d, posting\n", semctl(id, 0, GETNCNT));
    sem_op(id, 0, 1, 0);
    sem_op(id, 1, -1, 0);
    printf("parent: got sem 1, last op on sem 0 by child %d, on sem 1 by me %d\n", semctl(id, 0, GETPID) == c,
           semctl(id, 1, GETPID) == getpid());
    reap(c);

    /* Waiting for zero. */
    u.val = 1;
    check(semctl(id, 0, SETVAL, u), "SETVAL");
    c = fork();
    if (c == 0) {
        sem_op(id, 0, 0, 0);
        printf("child: sem 0 is zero\n");
        _exit(0);
    }
    while (semctl(id, 0, GETZCNT) != 1)
        msleep(1);
    printf("parent: zcnt %d, taking\n", semctl(id, 0, GETZCNT));
    sem_op(id, 0, -1, 0);
    reap(c);

    /* IPC_NOWAIT, a timeout, ranges, atomicity. */
    struct sembuf two[2] = {{0, 1, 0}, {1, -1, IPC_NOWAIT}};
    struct timespec ts = {0, 20000000};
    struct sembuf take = {0, -1, 0};
    printf("sem: nowait %s, timed %s, all-or-nothing val %d, efbig %s\n", err(semop(id, two, 2)),
           err(semtimedop(id, &take, 1, &ts)), semval(id, 0), err(semop(id, &(struct sembuf){5, 1, 0}, 1)));
    u.val = 40000;
    printf("sem: SETVAL 40000 %s, semnum 9 %s\n", err(semctl(id, 0, SETVAL, u)), err(semctl(id, 9, GETVAL)));
    unsigned short all[2] = {5, 7};
    u.array = all;
    check(semctl(id, 0, SETALL, u), "SETALL");
    unsigned short got[2] = {0, 0};
    u.array = got;
    check(semctl(id, 0, GETALL, u), "GETALL");
    printf("sem: GETALL %d %d\n", got[0], got[1]);

    /* SEM_UNDO: a child's adjustments are undone when it exits. */
    c = fork();
    if (c == 0) {
        sem_op(id, 0, 3, SEM_UNDO);
        sem_op(id, 1, -2, SEM_UNDO);
        sem_op(id, 1, -1, 0);
        printf("child: vals %d %d before exit\n", semval(id, 0), semval(id, 1));
        _exit(0);
    }
    reap(c);
    printf("sem: after undo %d %d\n", semval(id, 0), semval(id, 1));

    /* Removed while waiting: EIDRM. */
    u.val = 0;
    check(semctl(id, 0, SETVAL, u), "SETVAL");
    c = fork();
    if (c == 0) {
        struct sembuf b = {0, -1, 0};
        long r = semop(id, &b, 1);
        printf("child: semop on removed set %s\n", err(r));
        _exit(0);
    }
    while (semctl(id, 0, GETNCNT) != 1)
        msleep(1);
    check(semctl(id, 0, IPC_RMID), "IPC_RMID");
    reap(c);
    printf("sem: after rmid GETVAL %s\n", err(semctl(id, 0, GETVAL)));
}

struct msg {
    long mtype;
    char text[128];
};

static void send(int q, long type, const char *s) {
    struct msg m = {type, {0}};
    strcpy(m.text, s);
    check(msgsnd(q, &m, strlen(s) + 1, 0), "msgsnd");
}

static const char *recv(int q, long type, struct msg *m) {
    memset(m, 0, sizeof *m);
    long n = msgrcv(q, m, sizeof m->text, type, IPC_NOWAIT);
    return n < 0 ? strerrorname_np(errno) : m->text;
}

static void test_msg(void) {
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    check(q, "msgget");
    send(q, 3, "three");
    send(q, 1, "one-a");
    send(q, 2, "two");
    send(q, 1, "one-b");
    struct msqid_ds ds;
    check(msgctl(q, IPC_STAT, &ds), "IPC_STAT");
    printf("msg: qnum %lu cbytes %lu qbytes %lu\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
           (unsigned long)ds.msg_qbytes);
    struct msg m;
    printf("msg: type 0 '%s'", recv(q, 0, &m));
    printf(", type 1 '%s'", recv(q, 1, &m));
    printf(", type -2 '%s'", recv(q, -2, &m));
    printf(", type 5 '%s'", recv(q, 5, &m));
    printf(", type 0 '%s'", recv(q, 0, &m));
    printf(" (%ld)", m.mtype);
    printf(", empty '%s'\n", recv(q, 0, &m));
    printf("msg: bad type %s, too long %s\n", err(msgsnd(q, &(struct msg){0, "x"}, 1, 0)),
           err(msgsnd(q, &m, 100000, 0)));

    /* E2BIG and MSG_NOERROR. */
    send(q, 4, "a-long-message");
    struct msg s;
    printf("msg: small buffer %s", err(msgrcv(q, &s, 4, 0, IPC_NOWAIT)));
    memset(&s, 0, sizeof s);
    long n = msgrcv(q, &s, 4, 0, IPC_NOWAIT | MSG_NOERROR);
    printf(", MSG_NOERROR %ld '%.4s'\n", n, s.text);

    /* A blocked receiver wakes on a send of its type. */
    pid_t c = fork();
    if (c == 0) {
        struct msg r;
        long k = msgrcv(q, &r, sizeof r.text, 7, 0);
        printf("child: received %ld '%s'\n", k, r.text);
        _exit(0);
    }
    msleep(50);
    send(q, 6, "not-for-child");
    send(q, 7, "for-child");
    reap(c);
    printf("msg: left '%s'\n", recv(q, 0, &m));

    /* A blocked sender waits for room. */
    memset(&ds, 0, sizeof ds);
    check(msgctl(q, IPC_STAT, &ds), "IPC_STAT");
    ds.msg_qbytes = 16;
    check(msgctl(q, IPC_SET, &ds), "IPC_SET");
    send(q, 1, "0123456789abcde");
    printf("msg: full, nowait send %s\n", err(msgsnd(q, &(struct msg){1, "x"}, 2, IPC_NOWAIT)));
    c = fork();
    if (c == 0) {
        /* The child's send completes only once the parent's receive makes
           room, so the child reports through its exit status: a print here
           would race the parent's. */
        send(q, 2, "later");
        _exit(0);
    }
    msleep(50);
    printf("parent: receiving '%s'\n", recv(q, 1, &m));
    printf("child: send done %d\n", reap(c) == 0);
    printf("msg: then '%s'\n", recv(q, 0, &m));

    /* Removed while a receiver waits. */
    int pfd[2];
    check(pipe(pfd), "pipe");
    c = fork();
    if (c == 0) {
        struct msg r;
        write(pfd[1], "x", 1);
        long k = msgrcv(q, &r, sizeof r.text, 0, 0);
        printf("child: msgrcv on removed queue %s\n", err(k));
        _exit(0);
    }
    char b;
    read(pfd[0], &b, 1);
    msleep(100);
    check(msgctl(q, IPC_RMID, 0), "IPC_RMID");
    reap(c);
    printf("msg: after rmid %s\n", err(msgctl(q, IPC_STAT, &ds)));
}

int main(int argc, char **argv) {
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "ipcs") == 0) {
        check(shmget(IPC_PRIVATE, 12345, IPC_CREAT | 0640), "shmget");
        check(semget(IPC_PRIVATE, 3, IPC_CREAT | 0600), "semget");
        check(msgget(IPC_PRIVATE, IPC_CREAT | 0600), "msgget");
        execlp("ipcs", "ipcs", (char *)0);
        return 127;
    }
    test_shm();
    test_sem();
    test_msg();
    printf("done\n");
    return 0;
}
