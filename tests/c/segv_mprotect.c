/* A SIGSEGV handler (SA_SIGINFO) sees the faulting address and si_code
 * (SEGV_ACCERR on a read-only page, SEGV_MAPERR on an unmapped one), fixes
 * the mapping and returns; the faulting store then completes. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *volatile page;
static long page_size;
static volatile int faults;
static volatile int code;
static volatile int addr_ok;

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (++faults > 3)
        _exit(99); /* the fix did not take: do not loop forever */
    code = si->si_code;
    addr_ok = si->si_signo == sig && (char *)si->si_addr == page + 8;
    if (si->si_code == SEGV_ACCERR)
        mprotect(page, page_size, PROT_READ | PROT_WRITE);
    else
        mmap(page, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

static const char *code_name(int c) {
    return c == SEGV_ACCERR ? "SEGV_ACCERR" : c == SEGV_MAPERR ? "SEGV_MAPERR" : "other";
}

int main(void) {
    page_size = sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    page = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile char *p = page + 8;
    *p = 'a';
    printf("read-only page: faults %d, si_code %s, si_addr right: %s, value now '%c'\n", faults, code_name(code),
           addr_ok ? "yes" : "no", *p);

    munmap(page, page_size);
    faults = 0;
    *p = 'b';
    printf("unmapped page: faults %d, si_code %s, si_addr right: %s, value now '%c'\n", faults, code_name(code),
           addr_ok ? "yes" : "no", *p);
    return 0;
}
