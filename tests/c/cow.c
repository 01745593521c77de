/* fork gives the child a copy of private memory (copy-on-write in bulwark):
 * writes on either side after the fork are not seen by the other, in the
 * data segment, the heap, mmap'd memory and the stack; read-only children,
 * copy-outs by system calls (read into a shared page), mprotect, nested
 * forks, MAP_SHARED memory (still shared), and threads writing the same
 * pages while the process forks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG (4 << 20)
#define PAGE 4096

static unsigned char data[BIG]; /* .bss */
static unsigned char *heap;     /* malloc (mmap'd: large) */
static unsigned char *small;    /* malloc (brk) */
static unsigned char *anon;     /* mmap MAP_PRIVATE */

static void fill(unsigned char *p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7 + (i >> 12));
}

static int check(const unsigned char *p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7 + (i >> 12)))
            return 0;
    return 1;
}

static int all(unsigned char seed) {
    return check(data, BIG, seed) && check(heap, BIG, seed + 1) && check(small, 1000, seed + 2) &&
           check(anon, BIG, seed + 3);
}

static void fill_all(unsigned char seed) {
    fill(data, BIG, seed);
    fill(heap, BIG, seed + 1);
    fill(small, 1000, seed + 2);
    fill(anon, BIG, seed + 3);
}

static int wait_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void child_writes(void) {
    unsigned char stack[64 * 1024];
    fill(stack, sizeof stack, 11);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = all(1);
        fill_all(50);
        fill(stack, sizeof stack, 12);
        ok = ok && all(50) && check(stack, sizeof stack, 12);
        _exit(ok ? 0 : 1);
    }
    int st = wait_child(pid);
    printf("child writes: child %d, parent unchanged %d, stack unchanged %d\n", st, all(1),
           check(stack, sizeof stack, 11));
}

static void parent_writes(void) {
    int go[2], done[2];
    if (pipe(go) || pipe(done))
        exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        _exit(all(1) ? 0 : 1);
    }
    fill_all(80);
    if (write(go[1], "g", 1) != 1)
        exit(2);
    int st = wait_child(pid);
    printf("parent writes: child sees old %d, parent sees new %d\n", st, all(80));
    fill_all(1);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
}

static void child_reads(void) {
    pid_t pid = fork();
    if (pid == 0) {
        unsigned long sum = 0;
        for (size_t i = 0; i < BIG; i += 64)
            sum += data[i] + heap[i] + anon[i];
        _exit(all(1) && sum ? 0 : 1);
    }
    int st = wait_child(pid);
    fill(data, PAGE, 99);
    int changed = check(data, PAGE, 99);
    fill(data, PAGE, 1);
    printf("child reads: child %d, parent writes after %d, unchanged %d\n", st, changed, all(1));
}

static void copy_out(void) {
    int p[2];
    if (pipe(p))
        exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        /* read(2) writes into pages shared with the parent. */
        size_t got = 0;
        while (got < 3 * PAGE) {
            ssize_t n = read(p[0], anon + PAGE / 2 + got, 3 * PAGE - got);
            if (n <= 0)
                _exit(3);
            got += n;
        }
        int ok = anon[PAGE / 2] == 'z' && anon[PAGE / 2 + 3 * PAGE - 1] == 'z' && check(data, BIG, 1);
        _exit(ok ? 0 : 1);
    }
    char *buf = malloc(3 * PAGE);
    memset(buf, 'z', 3 * PAGE);
    if (write(p[1], buf, 3 * PAGE) != 3 * PAGE)
        exit(2);
    free(buf);
    int st = wait_child(pid);
    printf("copy-out: child %d, parent unchanged %d\n", st, all(1));
    close(p[0]);
    close(p[1]);
}

static void protect(void) {
    pid_t pid = fork();
    if (pid == 0) {
        if (mprotect(anon, BIG, PROT_READ))
            _exit(3);
        int ok = check(anon, BIG, 4);
        if (mprotect(anon, BIG, PROT_READ | PROT_WRITE))
            _exit(3);
        fill(anon, BIG, 60);
        _exit(ok && check(anon, BIG, 60) ? 0 : 1);
    }
    int st = wait_child(pid);
    printf("mprotect: child %d, parent unchanged %d\n", st, all(1));
}

static void nested(void) {
    unsigned char *shared = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        exit(2);
    pid_t pid = fork();
    if (pid == 0) {
        fill(data, BIG / 2, 20); /* half written before the next fork */
        pid_t g = fork();
        if (g == 0) {
            /* The upper half still holds fill(data, BIG, 1), whose pattern
             * repeats every 2 MiB. */
            int ok = check(data, BIG / 2, 20) && check(data + BIG / 2, BIG / 2, 1);
            fill(data, BIG, 30);
            shared[1] = ok && check(data, BIG, 30) && check(heap, BIG, 2);
            _exit(0);
        }
        fill(data + BIG / 2, BIG / 2, 40);
        int st = wait_child(g);
        shared[0] = st == 0 && check(data, BIG / 2, 20) && check(data + BIG / 2, BIG / 2, 40);
        _exit(0);
    }
    int st = wait_child(pid);
    printf("nested: child %d ok %d, grandchild ok %d, parent unchanged %d\n", st, shared[0], shared[1], all(1));
    munmap(shared, PAGE);
}

#define THREADS 2
#define ROUNDS 200
static volatile int stop;

static void *writer(void *arg) {
    long id = (long)arg;
    /* Both threads store to every page (at different bytes) while the main
     * thread forks: they fault on the same copy-on-write pages. */
    for (int r = 1; r <= ROUNDS; r++)
        for (size_t i = 0; i < BIG; i += PAGE)
            anon[i + id] = (unsigned char)r;
    return 0;
}

static void threads(void) {
    memset(anon, 0, BIG);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], 0, writer, (void *)i);
    int bad = 0;
    for (int k = 0; k < 20; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* A snapshot: every byte is some round's value; then ours. */
            for (size_t i = 0; i < BIG; i += PAGE)
                if (anon[i] > ROUNDS || anon[i + 1] > ROUNDS)
                    _exit(1);
            memset(anon, 0xee, BIG);
            _exit(anon[BIG - 1] == 0xee ? 0 : 1);
        }
        bad += wait_child(pid) != 0;
    }
    for (long i = 0; i < THREADS; i++)
        pthread_join(th[i], 0);
    int ok = 1;
    for (size_t i = 0; i < BIG; i += PAGE)
        ok = ok && anon[i] == ROUNDS && anon[i + 1] == ROUNDS && anon[i + 2] == 0;
    printf("threads: bad children %d, parent final %d\n", bad, ok);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    heap = malloc(BIG);
    small = malloc(1000);
    anon = mmap(0, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!heap || !small || anon == MAP_FAILED)
        return 2;
    fill_all(1);
    child_writes();
    parent_writes();
    child_reads();
    copy_out();
    protect();
    nested();
    threads();
    fill_all(1);
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(all(1) ? 0 : 1);
        if (wait_child(pid))
            printf("repeat %d failed\n", i);
    }
    printf("done\n");
    return 0;
}
