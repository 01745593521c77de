/* System calls made without libc's wrappers, from code written at run time
 * and through the 32-bit entry points.
 *
 *   escape_jit rwx-getpid          getpid by `syscall` in an RWX mapping
 *   escape_jit wx-kill PID         kill(PID, SIGKILL) by `syscall` in a mapping
 *                                  written, then made executable
 *   escape_jit int80-getpid        getpid by `int $0x80` (i386 number 20)
 *   escape_jit int80-kill PID      kill by `int $0x80` (i386 number 37)
 *   escape_jit sysenter-kill PID   kill by `sysenter` (i386 number 37)
 *
 * Prints "result N" (the call's return value), or "SIGILL"/"SIGSEGV" if the
 * instruction faulted, then "ready", and waits for stdin to end. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void hold(void) {
    printf("ready\n");
    char c;
    while (read(0, &c, 1) > 0)
        ;
}

static void fault(int sig) {
    printf("%s\n", sig == SIGILL ? "SIGILL" : "SIGSEGV");
    hold();
    _exit(3);
}

static long jit(const unsigned char *code, size_t len, int prot_first, long a, long b) {
    unsigned char *m = mmap(NULL, 4096, prot_first, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    memcpy(m, code, len);
    if (!(prot_first & PROT_EXEC) && mprotect(m, 4096, PROT_READ | PROT_EXEC) < 0) {
        perror("mprotect");
        exit(1);
    }
    long (*f)(long, long) = (long (*)(long, long))m;
    return f(a, b);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGILL, fault);
    signal(SIGSEGV, fault);
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    long pid = argc > 2 ? atol(argv[2]) : 0, r;
    /* mov eax, N; syscall; ret */
    unsigned char code[] = {0xb8, 0, 0, 0, 0, 0x0f, 0x05, 0xc3};
    if (!strcmp(mode, "rwx-getpid")) {
        code[1] = 39;
        r = jit(code, sizeof code, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0);
    } else if (!strcmp(mode, "wx-kill")) {
        code[1] = 62;
        r = jit(code, sizeof code, PROT_READ | PROT_WRITE, pid, SIGKILL);
    } else if (!strcmp(mode, "int80-getpid")) {
        __asm__ volatile("int $0x80"
                         : "=a"(r)
                         : "a"(20L), "D"(0L), "S"(0L), "d"(0L)
                         : "memory", "r8", "r9", "r10", "r11");
    } else if (!strcmp(mode, "int80-kill")) {
        __asm__ volatile("int $0x80"
                         : "=a"(r)
                         : "a"(37L), "b"(pid), "c"(9L), "D"(0L), "S"(0L), "d"(0L)
                         : "memory", "r8", "r9", "r10", "r11");
    } else if (!strcmp(mode, "sysenter-kill")) {
        __asm__ volatile("push %%rbp\n\tmov %%rsp, %%rbp\n\tsysenter\n\tpop %%rbp"
                         : "=a"(r)
                         : "a"(37L), "b"(pid), "c"(9L), "D"(0L), "S"(0L), "d"(0L)
                         : "memory", "r8", "r9", "r10", "r11");
    } else {
        return 2;
    }
    printf("result %ld\n", r);
    hold();
    return 0;
}
