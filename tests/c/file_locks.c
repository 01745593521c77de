/* flock, POSIX record locks (F_GETLK/F_SETLK/F_SETLKW, split and merge,
 * EDEADLK) and OFD locks, between two processes. argv[1]: a directory on
 * tmpfs. Output must not depend on pids or timing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[4096];

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EAGAIN: return "EAGAIN";
    case EDEADLK: return "EDEADLK";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EINTR: return "EINTR";
    default: return strerror(e);
    }
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl) == 0 ? 0 : errno;
}

static void getlk(const char *what, int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &fl) != 0) {
        printf("%s: getlk %s\n", what, ename(errno));
        return;
    }
    if (fl.l_type == F_UNLCK)
        printf("%s: unlocked\n", what);
    else
        printf("%s: %s start=%lld len=%lld%s\n", what, fl.l_type == F_WRLCK ? "F_WRLCK" : "F_RDLCK",
               (long long)fl.l_start, (long long)fl.l_len, cmd == F_OFD_GETLK ? (fl.l_pid == -1 ? " pid=-1" : " pid=?") : "");
}

/* The child tells the parent it is about to block with SIGUSR1; the
 * parent polls for the handler's mark (no pipes needed). */
static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig) {
    (void)sig;
    got_usr1 = 1;
}

static void sync_read(int unused) {
    (void)unused;
    while (!got_usr1)
        usleep(10000);
    got_usr1 = 0;
}

static void sync_write(int unused) {
    (void)unused;
    if (kill(getppid(), SIGUSR1) != 0) exit(91);
}

static void test_flock(void) {
    int fd = open(path, O_RDWR);
    printf("flock ex: %s\n", ename(flock(fd, LOCK_EX) ? errno : 0));
    int p[2] = {0, 0};
    pid_t c = fork();
    if (c == 0) {
        printf("child inherited description: %s\n", ename(flock(fd, LOCK_EX | LOCK_NB) ? errno : 0));
        int fd2 = open(path, O_RDWR);
        printf("child nb on own description: %s\n", ename(flock(fd2, LOCK_SH | LOCK_NB) ? errno : 0));
        sync_write(p[1]);
        int r = flock(fd2, LOCK_SH) ? errno : 0;
        printf("child blocking flock: %s\n", ename(r));
        _exit(0);
    }
    /* The child's inherited descriptor is the same description: the lock
     * survives its flock calls; the child's own waits for us. */
    sync_read(p[0]);
    usleep(300000);
    printf("parent unlocks flock\n");
    flock(fd, LOCK_UN);
    waitpid(c, NULL, 0);
    close(fd);
}

static void test_posix(void) {
    int fd = open(path, O_RDWR);
    printf("lock [0,100) write: %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, 0, 100)));
    printf("unlock [40,60): %s\n", ename(setlk(fd, F_SETLK, F_UNLCK, 40, 20)));
    printf("lock [200,EOF) read: %s\n", ename(setlk(fd, F_SETLK, F_RDLCK, 200, 0)));
    int p[2] = {0, 0};
    pid_t c = fork();
    if (c == 0) {
        getlk("child getlk [40,60)", fd, F_GETLK, F_WRLCK, 40, 20);
        getlk("child getlk [30,70)", fd, F_GETLK, F_WRLCK, 30, 40);
        getlk("child getlk read [300,400)", fd, F_GETLK, F_RDLCK, 300, 100);
        getlk("child getlk write [300,400)", fd, F_GETLK, F_WRLCK, 300, 100);
        printf("child setlk [50,51): %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, 50, 1)));
        printf("child setlk [0,1): %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, 0, 1)));
        sync_write(p[1]);
        int r = setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
        printf("child setlkw [0,1): %s\n", ename(r));
        _exit(0);
    }
    sync_read(p[0]);
    usleep(300000);
    printf("parent unlocks [0,40)\n");
    setlk(fd, F_SETLK, F_UNLCK, 0, 40);
    waitpid(c, NULL, 0);
    /* Closing any descriptor of the file drops the process's locks. */
    int other = open(path, O_RDONLY);
    close(other);
    c = fork();
    if (c == 0) {
        getlk("child after close", fd, F_GETLK, F_WRLCK, 0, 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    close(fd);
}

static void test_deadlock(void) {
    int fd = open(path, O_RDWR);
    setlk(fd, F_SETLK, F_WRLCK, 0, 1);
    int p[2] = {0, 0};
    pid_t c = fork();
    if (c == 0) {
        setlk(fd, F_SETLK, F_WRLCK, 1, 1);
        sync_write(p[1]);
        int r = setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
        printf("child setlkw byte 0: %s\n", ename(r));
        setlk(fd, F_SETLK, F_UNLCK, 0, 0);
        _exit(0);
    }
    sync_read(p[0]);
    usleep(500000);
    printf("parent setlkw byte 1: %s\n", ename(setlk(fd, F_SETLKW, F_WRLCK, 1, 1)));
    setlk(fd, F_SETLK, F_UNLCK, 0, 1);
    waitpid(c, NULL, 0);
    close(fd);
}

static void test_ofd(void) {
    int a = open(path, O_RDWR);
    int b = open(path, O_RDWR);
    printf("ofd lock a [0,10): %s\n", ename(setlk(a, F_OFD_SETLK, F_WRLCK, 0, 10)));
    printf("ofd lock b [5,6): %s\n", ename(setlk(b, F_OFD_SETLK, F_WRLCK, 5, 1)));
    getlk("ofd getlk b", b, F_OFD_GETLK, F_RDLCK, 0, 0);
    printf("posix lock b [5,6): %s\n", ename(setlk(b, F_SETLK, F_RDLCK, 5, 1)));
    struct flock bad = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
    printf("ofd with l_pid: %s\n", ename(fcntl(b, F_OFD_SETLK, &bad) ? errno : 0));
    int dupa = dup(a);
    close(a);
    printf("after closing one of two fds: %s\n", ename(setlk(b, F_OFD_SETLK, F_WRLCK, 5, 1)));
    close(dupa);
    printf("after closing the last fd: %s\n", ename(setlk(b, F_OFD_SETLK, F_WRLCK, 5, 1)));
    int r = open(path, O_RDONLY);
    printf("write lock on read-only fd: %s\n", ename(setlk(r, F_OFD_SETLK, F_WRLCK, 100, 1)));
    close(r);
    close(b);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGUSR1, on_usr1);
    if (argc < 2) return 2;
    snprintf(path, sizeof path, "%s/locks-%d", argv[1], getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "0123456789", 10) != 10) return 3;
    close(fd);
    test_flock();
    test_posix();
    test_deadlock();
    test_ofd();
    unlink(path);
    return 0;
}
