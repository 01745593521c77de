/* Permission checks for an unprivileged user (uid/gid 1000). Started as
 * root, it first makes root-owned fixtures (a private directory, a sticky
 * world-writable directory holding root's file), then drops to 1000:1000
 * with setresuid; started as 1000 already (`--user 1000:1000`, `setpriv`),
 * it skips the fixtures. argv[1]: a world-writable tmpfs directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    default: return strerror(e);
    }
}

static char dir[4096];

static const char *p(const char *name) {
    static char bufs[4][4200];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

#define CHECK(what, call) printf("%s: %s\n", what, ename((call) < 0 ? errno : 0))

static int open_close(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

static void make_root_fixtures(void) {
    mkdir(p("rootdir"), 0755);
    close(open(p("rootdir/f"), O_CREAT | O_WRONLY, 0644));
    mkdir(p("sticky"), 0777);
    chmod(p("sticky"), 01777);
    close(open(p("sticky/roots"), O_CREAT | O_WRONLY, 0666));
    chmod(p("sticky/roots"), 0666);
    mkdir(p("work"), 0755);
    if (chown(p("work"), 1000, 1000)) printf("chown work: %s\n", strerror(errno));
}

static void root_fixture_checks(void) {
    CHECK("open root's 0644 file for writing", open_close(p("rootdir/f"), O_WRONLY));
    CHECK("open root's 0644 file for reading", open_close(p("rootdir/f"), O_RDONLY));
    CHECK("create in root's 0755 dir", open_close(p("rootdir/new"), O_CREAT | O_WRONLY));
    CHECK("unlink in root's 0755 dir", unlink(p("rootdir/f")));
    CHECK("chmod root's file", chmod(p("rootdir/f"), 0777));
    CHECK("chown root's file to self", chown(p("rootdir/f"), 1000, 1000));
    CHECK("utimes now on root's 0644 file", utimes(p("rootdir/f"), NULL));
    struct timeval tv[2] = {{1, 0}, {1, 0}};
    CHECK("utimes explicit on root's file", utimes(p("rootdir/f"), tv));
    CHECK("utimes now on root's 0666 file", utimes(p("sticky/roots"), NULL));
    CHECK("write root's 0666 file in sticky dir", open_close(p("sticky/roots"), O_WRONLY));
    CHECK("unlink root's file in sticky dir", unlink(p("sticky/roots")));
    CHECK("rename root's file in sticky dir", rename(p("sticky/roots"), p("sticky/stolen")));
    CHECK("create own file in sticky dir", open_close(p("sticky/mine"), O_CREAT | O_WRONLY));
    CHECK("rename own file over root's in sticky dir", rename(p("sticky/mine"), p("sticky/roots")));
    CHECK("unlink own file in sticky dir", unlink(p("sticky/mine")));
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    umask(022);
    snprintf(dir, sizeof dir, "%s/perms-%d", argv[1], getpid());
    int as_root = geteuid() == 0;
    if (mkdir(dir, 0755)) return 3;
    if (as_root) {
        make_root_fixtures();
        if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) {
            printf("dropping privileges failed: %s\n", strerror(errno));
            return 4;
        }
    } else {
        mkdir(p("work"), 0755);
    }
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("uids %d %d %d gid %d groups %d\n", r, e, s, getegid(), getgroups(0, NULL));

    CHECK("setuid(0)", setuid(0));
    CHECK("create own file", open_close(p("work/f"), O_CREAT | O_WRONLY));
    CHECK("chmod own file 0", chmod(p("work/f"), 0));
    CHECK("open 0000 file for reading", open_close(p("work/f"), O_RDONLY));
    CHECK("open 0000 file for writing", open_close(p("work/f"), O_WRONLY));
    CHECK("access R_OK on 0000 file", access(p("work/f"), R_OK));
    CHECK("chmod own file 0444", chmod(p("work/f"), 0444));
    CHECK("open 0444 file for writing", open_close(p("work/f"), O_WRONLY));
    CHECK("truncate 0444 file", truncate(p("work/f"), 0));
    CHECK("access W_OK on 0444 file", access(p("work/f"), W_OK));
    CHECK("unlink 0444 file in own dir", unlink(p("work/f")));

    CHECK("mkdir 0555 dir", mkdir(p("work/ro"), 0555));
    CHECK("create in 0555 dir", open_close(p("work/ro/x"), O_CREAT | O_WRONLY));
    CHECK("mkdir in 0555 dir", mkdir(p("work/ro/sub"), 0755));
    CHECK("chown own dir to root", chown(p("work/ro"), 0, 0));
    CHECK("chown own dir to own group", chown(p("work/ro"), -1, 1000));
    CHECK("chown own dir to group 0", chown(p("work/ro"), -1, 0));
    CHECK("chmod 0755 own dir", chmod(p("work/ro"), 0755));
    CHECK("create once writable", open_close(p("work/ro/x"), O_CREAT | O_WRONLY));
    CHECK("chmod 0555 again", chmod(p("work/ro"), 0555));
    CHECK("unlink in 0555 dir", unlink(p("work/ro/x")));
    CHECK("rename within 0555 dir", rename(p("work/ro/x"), p("work/ro/y")));
    CHECK("rename out of 0555 dir", rename(p("work/ro/x"), p("work/moved")));

    CHECK("mkdir 0700 dir", mkdir(p("work/nox"), 0700));
    CHECK("create in it while searchable", open_close(p("work/nox/f"), O_CREAT | O_WRONLY));
    CHECK("chmod it 0600", chmod(p("work/nox"), 0600));
    struct stat st;
    CHECK("stat entry of unsearchable dir", stat(p("work/nox/f"), &st));
    CHECK("open unsearchable dir for listing", open_close(p("work/nox"), O_RDONLY | O_DIRECTORY));
    CHECK("chdir into unsearchable dir", chdir(p("work/nox")));
    CHECK("chmod it 0300 (search, no read)", chmod(p("work/nox"), 0300));
    CHECK("open it for listing", open_close(p("work/nox"), O_RDONLY | O_DIRECTORY));
    CHECK("stat known entry", stat(p("work/nox/f"), &st));

    CHECK("create 0644 script", open_close(p("work/script"), O_CREAT | O_WRONLY));
    char *args[] = {"script", NULL};
    CHECK("execve a file without x", execve(p("work/script"), args, args + 1));

    CHECK("read /etc/shadow", open_close("/etc/shadow", O_RDONLY));
    CHECK("write /etc/passwd", open_close("/etc/passwd", O_WRONLY));
    CHECK("read /etc/passwd", open_close("/etc/passwd", O_RDONLY));
    CHECK("mkdir in /etc", mkdir("/etc/bulwark-perm-test", 0755));
    CHECK("unlink in /etc", unlink("/etc/passwd"));

    if (as_root) root_fixture_checks();
    return 0;
}
