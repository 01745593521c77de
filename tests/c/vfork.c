/* vfork: the parent is suspended until the child exits or execs, and the
 * child shares its memory; posix_spawn (clone with CLONE_VM|CLONE_VFORK in
 * glibc) runs a program and reports its status. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile int touched;

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t pid = vfork();
    if (pid == 0) {
        touched = 1;
        (void)!write(1, "child runs first\n", 17);
        _exit(3);
    }
    printf("parent resumes; child's store visible: %s\n", touched ? "yes" : "no");
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WEXITSTATUS(status));

    pid = vfork();
    if (pid == 0) {
        execl("/bin/echo", "echo", "child execs echo", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    printf("exec'd child exited %d\n", WEXITSTATUS(status));

    char *args[] = {"sh", "-c", "echo spawned; exit 4", NULL};
    int r = posix_spawn(&pid, "/bin/sh", NULL, NULL, args, environ);
    waitpid(pid, &status, 0);
    printf("posix_spawn = %d, status %d\n", r, WEXITSTATUS(status));

    char *bad[] = {"nope", NULL};
    r = posix_spawn(&pid, "/nonexistent/program", NULL, NULL, bad, environ);
    printf("posix_spawn of a missing program = %s\n", r == 0 ? "0" : strerrorname_np(r));
    return 0;
}
