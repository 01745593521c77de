/* Makes the same unknown system call twice; the sandbox's debug log must
 * report it once. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    for (int i = 0; i < 2; i++) {
        long r = syscall(999, 1, 2, 3);
        printf("syscall(999) = %ld %s\n", r, r < 0 ? strerrorname_np(errno) : "");
    }
    return 0;
}
