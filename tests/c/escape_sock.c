/* Connects to a socket and sends "hello".
 *
 *   escape_sock abstract NAME   the abstract Unix socket @NAME
 *   escape_sock unix PATH       the Unix socket at PATH
 *   escape_sock tcp PORT        127.0.0.1:PORT
 *
 * Prints "sent" or the errno of the call that failed; exits 0 or 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what) {
    printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    return 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 3)
        return 2;
    int s;
    if (!strcmp(argv[1], "tcp")) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0)
            return fail("socket");
        if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
            return fail("connect");
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int abstract = !strcmp(argv[1], "abstract");
        size_t n = strlen(argv[2]);
        if (n + 2 > sizeof a.sun_path)
            return 2;
        memcpy(a.sun_path + abstract, argv[2], n);
        if ((s = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
            return fail("socket");
        socklen_t len = abstract ? offsetof(struct sockaddr_un, sun_path) + 1 + n : sizeof a;
        if (connect(s, (struct sockaddr *)&a, len) < 0)
            return fail("connect");
    }
    if (write(s, "hello", 5) != 5)
        return fail("write");
    printf("sent\n");
    return 0;
}
