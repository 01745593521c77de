/* sigaltstack + SA_ONSTACK: the handler runs on the alternate stack (a
 * local's address lies inside it, and sigaltstack reports SS_ONSTACK);
 * without SA_ONSTACK it runs on the normal stack. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *alt;
static size_t alt_size;
static volatile int on_alt, reported_onstack;

static void handler(int sig) {
    (void)sig;
    volatile char local;
    uintptr_t p = (uintptr_t)&local;
    on_alt = p >= (uintptr_t)alt && p < (uintptr_t)alt + alt_size;
    stack_t cur;
    sigaltstack(NULL, &cur);
    reported_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
}

static void deliver(const char *label, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
    on_alt = reported_onstack = -1;
    raise(SIGUSR1);
    printf("%s: handler on alternate stack: %s, sigaltstack says SS_ONSTACK: %s\n", label, on_alt ? "yes" : "no",
           reported_onstack ? "yes" : "no");
}

int main(void) {
    stack_t ss, old;
    alt_size = 64 * 1024;
    alt = malloc(alt_size);
    memset(&ss, 0, sizeof ss);

    sigaltstack(NULL, &old);
    printf("initial ss_flags: %s\n", old.ss_flags == SS_DISABLE ? "SS_DISABLE" : "other");
    ss.ss_sp = alt;
    ss.ss_size = 1024;
    printf("too small a stack: %s\n", sigaltstack(&ss, NULL) < 0 ? strerrorname_np(errno) : "accepted");
    ss.ss_size = alt_size;
    printf("sigaltstack = %d\n", sigaltstack(&ss, NULL));
    sigaltstack(NULL, &old);
    printf("installed: size matches %s, flags %d\n", old.ss_size == alt_size && old.ss_sp == alt ? "yes" : "no",
           old.ss_flags);

    deliver("SA_ONSTACK", SA_ONSTACK);
    deliver("no SA_ONSTACK", 0);

    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    deliver("SA_ONSTACK, stack disabled", SA_ONSTACK);
    return 0;
}
