/* Attacks on a host process, and the victim they aim at.
 *
 *   escape_proc victim               print "PID ADDR" (ADDR holds "untouched")
 *                                    and sleep until killed
 *   escape_proc kill PID             kill(PID, SIGKILL)
 *   escape_proc ptrace PID ADDR      PTRACE_ATTACH, poke "PWNED!!" at ADDR, detach
 *   escape_proc vmwrite PID ADDR     process_vm_writev "PWNED!!" to ADDR
 *   escape_proc procmem PID ADDR     pwrite "PWNED!!" to /proc/PID/mem at ADDR
 *
 * Each attack prints "ok" or the errno of the call that failed, exits 0 or 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile char secret[8] = "untouch";
static const char pwned[8] = "PWNED!!";

static int fail(const char *what) {
    printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    return 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && !strcmp(argv[1], "victim")) {
        printf("%d %p\n", getpid(), (void *)secret);
        for (;;)
            pause();
    }
    if (argc < 3)
        return 2;
    pid_t pid = atoi(argv[2]);
    unsigned long addr = argc > 3 ? strtoul(argv[3], NULL, 16) : 0;
    if (!strcmp(argv[1], "kill")) {
        if (kill(pid, SIGKILL) < 0)
            return fail("kill");
    } else if (!strcmp(argv[1], "ptrace")) {
        long word;
        memcpy(&word, pwned, sizeof word);
        if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
            return fail("PTRACE_ATTACH");
        if (waitpid(pid, NULL, __WALL) < 0)
            return fail("waitpid");
        if (ptrace(PTRACE_POKEDATA, pid, addr, word) < 0)
            return fail("PTRACE_POKEDATA");
        if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
            return fail("PTRACE_DETACH");
    } else if (!strcmp(argv[1], "vmwrite")) {
        struct iovec local = {(void *)pwned, sizeof pwned}, remote = {(void *)addr, sizeof pwned};
        if (process_vm_writev(pid, &local, 1, &remote, 1, 0) < 0)
            return fail("process_vm_writev");
    } else if (!strcmp(argv[1], "procmem")) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", pid);
        int fd = open(path, O_RDWR);
        if (fd < 0)
            return fail("open");
        if (pwrite(fd, pwned, sizeof pwned, addr) < 0)
            return fail("pwrite");
    } else {
        return 2;
    }
    printf("ok\n");
    return 0;
}
