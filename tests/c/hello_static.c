/* Prints what a program learns from the kernel at start-up: its arguments,
 * part of its environment, its pid and the machine. Built -static-pie. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    const char *names[] = {"PATH", "HOME", "BULWARK_TEST", "UNSET_VARIABLE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        printf("env %s=%s\n", names[i], v ? v : "(unset)");
    }
    printf("getpid>0: %s\n", getpid() > 0 ? "yes" : "no");
    struct utsname u;
    if (uname(&u) != 0) {
        perror("uname");
        return 2;
    }
    printf("sysname=%s machine=%s\n", u.sysname, u.machine);
    return 0;
}
