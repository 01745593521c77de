/* clone3 as a raw system call, used like fork (no CLONE_VM): the child gets
 * 0 and a copy of memory, the parent the child's pid; CLONE_PIDFD and
 * CLONE_PARENT_SETTID fill their fields; bad arguments give EINVAL. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long clone3(struct clone_args *args, size_t size) { return syscall(SYS_clone3, args, size); }

static int value = 1;

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    long pid = clone3(&args, sizeof args);
    if (pid == 0) {
        value = 2;
        printf("child: clone3 returned 0, sees value %d\n", value);
        _exit(9);
    }
    int status;
    long r = waitpid(pid, &status, 0);
    printf("parent: waitpid found the child: %s, status %d, value still %d\n", r == pid ? "yes" : "no",
           WEXITSTATUS(status), value);

    int pidfd = -1;
    pid_t ptid = 0;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
    args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    args.parent_tid = (uint64_t)(uintptr_t)&ptid;
    args.exit_signal = SIGCHLD;
    pid = clone3(&args, sizeof args);
    if (pid == 0)
        _exit(6);
    printf("CLONE_PIDFD gave a descriptor: %s, CLONE_PARENT_SETTID the pid: %s\n", pidfd >= 0 ? "yes" : "no",
           ptid == pid ? "yes" : "no");
    struct pollfd p = {pidfd, POLLIN, 0};
    int n = poll(&p, 1, 5000);
    printf("poll(pidfd) = %d, POLLIN %s\n", n, p.revents & POLLIN ? "yes" : "no");
    siginfo_t si;
    memset(&si, 0, sizeof si);
    r = waitid(P_PIDFD, pidfd, &si, WEXITED);
    printf("waitid(P_PIDFD) = %ld, status %d\n", r, si.si_status);

    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    r = clone3(&args, 8);
    printf("size too small: %s\n", r < 0 ? strerrorname_np(errno) : "accepted");
    args.flags = CLONE_THREAD;
    r = clone3(&args, sizeof args);
    printf("CLONE_THREAD without CLONE_SIGHAND: %s\n", r < 0 ? strerrorname_np(errno) : "accepted");
    args.flags = CLONE_SIGHAND;
    r = clone3(&args, sizeof args);
    printf("CLONE_SIGHAND without CLONE_VM: %s\n", r < 0 ? strerrorname_np(errno) : "accepted");
    if (r == 0)
        _exit(0);
    return 0;
}
