/* Kernel surfaces a sandbox must not reach.
 *
 *   escape_kernel CALL [ARG]   CALL: io_uring, bpf, userfaultfd, perf_event,
 *                              add_key (ARG: the key's description),
 *                              kexec_load, init_module, finit_module
 *   escape_kernel invalidate_key SERIAL   remove a key add_key made
 *
 * Prints "CALL = RESULT" or "CALL: ERRNO", then "ready", and holds what it
 * made until stdin ends, so that the host can look at its descriptors. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    const char *call = argv[1];
    long r;
    if (!strcmp(call, "io_uring")) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        r = syscall(SYS_io_uring_setup, 8, &p);
    } else if (!strcmp(call, "bpf")) {
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.map_type = BPF_MAP_TYPE_ARRAY;
        a.key_size = 4;
        a.value_size = 8;
        a.max_entries = 4;
        r = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
    } else if (!strcmp(call, "userfaultfd")) {
        r = syscall(SYS_userfaultfd, O_CLOEXEC);
    } else if (!strcmp(call, "perf_event")) {
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        a.type = PERF_TYPE_SOFTWARE;
        a.config = PERF_COUNT_SW_CPU_CLOCK;
        r = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    } else if (!strcmp(call, "add_key") && argc == 3) {
        r = syscall(SYS_add_key, "user", argv[2], "payload", 7, -4 /* KEY_SPEC_USER_KEYRING */);
    } else if (!strcmp(call, "invalidate_key") && argc == 3) {
        return syscall(SYS_keyctl, 21 /* KEYCTL_INVALIDATE */, atol(argv[2])) < 0;
    } else if (!strcmp(call, "kexec_load")) {
        /* No segments and an architecture that is not this one: EINVAL
         * once past the permission check, without touching a loaded image. */
        r = syscall(SYS_kexec_load, 0, 0, NULL, 0x7fff0000UL);
    } else if (!strcmp(call, "init_module")) {
        static char image[64] = "not an ELF module";
        r = syscall(SYS_init_module, image, sizeof image, "");
    } else if (!strcmp(call, "finit_module")) {
        int fd = open("/proc/self/exe", O_RDONLY);
        r = syscall(SYS_finit_module, fd, "", 0);
    } else {
        return 2;
    }
    if (r < 0)
        printf("%s: %s\n", call, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    else
        printf("%s = %ld\n", call, r);
    printf("ready\n");
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
