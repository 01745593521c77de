// Extended attributes on a file in a tmpfs directory (argv[1]) and on a
// host file (argv[2]): values, flags, limits and errors. Prints only
// relative names, so the output is the same wherever the directory is.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static void result(const char *what, long r) {
    if (r < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, r);
}

static void show_list(const char *what, const char *path, int follow) {
    char buf[4096];
    ssize_t n = follow ? listxattr(path, buf, sizeof buf) : llistxattr(path, buf, sizeof buf);
    result(what, n);
    for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1)
        printf("  %s\n", buf + i);
}

static void show_get(const char *what, const char *path, const char *name) {
    char buf[8192];
    ssize_t n = getxattr(path, name, buf, sizeof buf);
    result(what, n);
    if (n > 0 && n < 64)
        printf("  value \"%.*s\"\n", (int)n, buf);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: xattr DIR HOSTFILE\n");
        return 2;
    }
    char f[4096], d[4096], l[4096];
    snprintf(f, sizeof f, "%s/xattr-file", argv[1]);
    snprintf(d, sizeof d, "%s/xattr-dir", argv[1]);
    snprintf(l, sizeof l, "%s/xattr-link", argv[1]);
    int fd = open(f, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) {
        perror("open");
        return 1;
    }

    result("list size 0 (fresh)", listxattr(f, NULL, 0));
    show_get("get user.a (unset)", f, "user.a");
    result("set user.a REPLACE (unset)", setxattr(f, "user.a", "hello", 5, XATTR_REPLACE));
    result("set user.a CREATE", setxattr(f, "user.a", "hello", 5, XATTR_CREATE));
    result("set user.a CREATE again", setxattr(f, "user.a", "x", 1, XATTR_CREATE));
    result("get user.a size 0", getxattr(f, "user.a", NULL, 0));
    char small[2];
    result("get user.a size 2", getxattr(f, "user.a", small, sizeof small));
    show_get("get user.a", f, "user.a");
    result("set user.a REPLACE", setxattr(f, "user.a", "world!", 6, XATTR_REPLACE));
    show_get("get user.a replaced", f, "user.a");
    result("set user.empty", setxattr(f, "user.empty", "", 0, 0));
    show_get("get user.empty", f, "user.empty");
    result("set bad flags", setxattr(f, "user.a", "x", 1, 4));

    char *big = malloc(65537);
    memset(big, 'b', 65537);
    result("set 65537 bytes", setxattr(f, "user.big", big, 65537, 0));
    result("set 4000 bytes", setxattr(f, "user.big", big, 4000, 0));
    show_get("get 4000 bytes", f, "user.big");

    char longname[300];
    memset(longname, 'n', sizeof longname);
    memcpy(longname, "user.", 5);
    longname[256] = 0;
    result("set 256-byte name", setxattr(f, longname, "x", 1, 0));
    longname[255] = 0;
    result("set 255-byte name", setxattr(f, longname, "x", 1, 0));
    result("remove 255-byte name", removexattr(f, longname));
    result("set empty name", setxattr(f, "", "x", 1, 0));
    result("set unknown namespace", setxattr(f, "bogus.a", "x", 1, 0));
    result("get unknown namespace", getxattr(f, "bogus.a", NULL, 0));
    result("set trusted.t", setxattr(f, "trusted.t", "tv", 2, 0));

    show_list("list", f, 1);
    char tiny[4];
    result("list size 4", listxattr(f, tiny, sizeof tiny));

    result("fset user.f", fsetxattr(fd, "user.f", "fv", 2, 0));
    char fb[16];
    result("fget user.f", fgetxattr(fd, "user.f", fb, sizeof fb));
    result("flist size 0", flistxattr(fd, NULL, 0));
    result("fremove user.f", fremovexattr(fd, "user.f"));
    result("fremove user.f again", fremovexattr(fd, "user.f"));
    result("remove user.a", removexattr(f, "user.a"));
    result("remove user.a again", removexattr(f, "user.a"));
    show_list("list after removes", f, 1);

    mkdir(d, 0755);
    result("set user.d on dir", setxattr(d, "user.d", "dv", 2, 0));
    show_get("get user.d on dir", d, "user.d");

    symlink("xattr-file", l);
    result("lset user.l on symlink", lsetxattr(l, "user.l", "x", 1, 0));
    result("lget user.l on symlink", lgetxattr(l, "user.l", NULL, 0));
    show_get("get through symlink", l, "user.big");
    show_list("llist symlink", l, 0);

    int pfd = open(f, O_PATH);
    result("fget on O_PATH", fgetxattr(pfd, "user.big", NULL, 0));
    close(pfd);
    result("get missing file", getxattr("/nonexistent/x", "user.a", NULL, 0));

    // A host file, through the gofer.
    show_list("host list", argv[2], 1);
    show_get("host get user.x", argv[2], "user.x");
    char sel[256];
    result("host lget security.selinux", lgetxattr(argv[2], "security.selinux", sel, sizeof sel));
    result("host get system.posix_acl_access", getxattr(argv[2], "system.posix_acl_access", NULL, 0));
    result("host get bogus.a", getxattr(argv[2], "bogus.a", NULL, 0));

    close(fd);
    unlink(l);
    unlink(f);
    rmdir(d);
    return 0;
}
