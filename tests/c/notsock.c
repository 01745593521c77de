/* Socket calls on descriptors that are not sockets fail with ENOTSOCK, and
 * on closed ones with EBADF. bash decides whether it was started by a
 * remote shell daemon (and then reads ~/.bashrc) from getpeername(0). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void report(const char *what, int r) {
    printf("%s = %d %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
    int null = open("/dev/null", O_RDONLY);
    int file = open("/etc/passwd", O_RDONLY);
    int dir = open("/etc", O_RDONLY | O_DIRECTORY);
    int list[] = {null, file, dir, 99};
    const char *names[] = {"/dev/null", "regular file", "directory", "closed fd"};
    for (int i = 0; i < 4; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int type;
        socklen_t tlen = sizeof type;
        char what[64];
        snprintf(what, sizeof what, "getpeername(%s)", names[i]);
        report(what, getpeername(list[i], (struct sockaddr *)&ss, &len));
        snprintf(what, sizeof what, "getsockname(%s)", names[i]);
        report(what, getsockname(list[i], (struct sockaddr *)&ss, &len));
        snprintf(what, sizeof what, "getsockopt(%s, SO_TYPE)", names[i]);
        report(what, getsockopt(list[i], SOL_SOCKET, SO_TYPE, &type, &tlen));
        snprintf(what, sizeof what, "shutdown(%s)", names[i]);
        report(what, shutdown(list[i], SHUT_RDWR));
    }
    return 0;
}
