// The time calls through the vDSO agree with each other and with the raw
// system calls. Prints only yes/no facts, so native and sandboxed runs
// print the same. `vdso strace` makes a few calls for the --strace test.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t ns_of(const struct timespec *ts) { return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec; }

static int64_t now(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ns_of(&ts);
}

static int64_t raw_now(clockid_t c) {
	struct timespec ts;
	syscall(SYS_clock_gettime, c, &ts);
	return ns_of(&ts);
}

static void say(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "no"); }

static _Atomic int64_t shared_last;
static _Atomic int threads_ok = 1;

static void *racer(void *arg) {
	(void)arg;
	for (int i = 0; i < 200000; i++) {
		int64_t seen = atomic_load(&shared_last);
		int64_t t = now(CLOCK_MONOTONIC);
		if (t < seen)
			atomic_store(&threads_ok, 0);
		int64_t cur = atomic_load(&shared_last);
		while (cur < t && !atomic_compare_exchange_weak(&shared_last, &cur, t)) {
		}
	}
	return NULL;
}

/* The start of the [name] line in /proc/self/maps, or 0. */
static uintptr_t maps_start(const char *name) {
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t at = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strstr(line, name))
			at = (uintptr_t)strtoull(line, NULL, 16);
	}
	if (f)
		fclose(f);
	return at;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "strace") == 0) {
		struct timespec d = {0, 200 * 1000 * 1000}, ts;
		struct timeval tv;
		nanosleep(&d, NULL);
		for (int i = 0; i < 5; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			clock_gettime(CLOCK_REALTIME, &ts);
			gettimeofday(&tv, NULL);
			(void)time(NULL);
		}
		write(1, "done\n", 5);
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "child") == 0) {
		say("exec'd child has a vdso", getauxval(AT_SYSINFO_EHDR) != 0);
		say("exec'd child monotonic after parent's", now(CLOCK_MONOTONIC) >= atoll(argv[2]));
		return 0;
	}

	say("vdso present", getauxval(AT_SYSINFO_EHDR) != 0);
	say("maps shows [vdso] and [vvar]", maps_start("[vdso]") != 0 && maps_start("[vvar]") != 0);
	say("vdso is where AT_SYSINFO_EHDR says", maps_start("[vdso]") == getauxval(AT_SYSINFO_EHDR));
	say("vdso starts with an ELF header", memcmp((void *)getauxval(AT_SYSINFO_EHDR), "\177ELF", 4) == 0);
	uintptr_t vvar = maps_start("[vvar]");
	errno = 0;
	say("vvar cannot be made writable", mprotect((void *)vvar, 4096, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);

	int ok = 1;
	int64_t last = now(CLOCK_MONOTONIC);
	for (int i = 0; i < 100000; i++) {
		int64_t t = now(CLOCK_MONOTONIC);
		ok &= t >= last;
		last = t;
	}
	say("monotonic non-decreasing over 100k calls", ok);

	ok = 1;
	last = now(CLOCK_MONOTONIC);
	for (int i = 0; i < 2000; i++) {
		int64_t a = raw_now(CLOCK_MONOTONIC), b = now(CLOCK_MONOTONIC), c = raw_now(CLOCK_MONOTONIC);
		ok &= last <= a && a <= b && b <= c;
		last = c;
	}
	say("monotonic non-decreasing across vdso and syscall", ok);

	ok = 1;
	for (int i = 0; i < 2000; i++) {
		int64_t a = raw_now(CLOCK_REALTIME), b = now(CLOCK_REALTIME), c = raw_now(CLOCK_REALTIME);
		ok &= a <= b && b <= c;
	}
	say("realtime ordered across vdso and syscall", ok);

	ok = 1;
	for (int i = 0; i < 2000; i++) {
		int64_t a = now(CLOCK_BOOTTIME), b = raw_now(CLOCK_BOOTTIME), m = now(CLOCK_MONOTONIC);
		ok &= a <= b && now(CLOCK_BOOTTIME) >= m;
	}
	say("boottime ordered and not behind monotonic", ok);

	ok = 1;
	for (int i = 0; i < 2000; i++) {
		int64_t c = now(CLOCK_MONOTONIC_COARSE), f = now(CLOCK_MONOTONIC);
		int64_t rc = now(CLOCK_REALTIME_COARSE), rf = now(CLOCK_REALTIME);
		ok &= c <= f && f - c < 50000000 && rc <= rf && rf - rc < 50000000;
	}
	say("coarse clocks close behind the fine ones", ok);

	ok = 1;
	for (int i = 0; i < 2000; i++) {
		int64_t a = now(CLOCK_REALTIME);
		struct timeval tv;
		gettimeofday(&tv, NULL);
		int64_t b = now(CLOCK_REALTIME);
		int64_t us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
		ok &= a / 1000 <= us && us <= b / 1000;
	}
	say("gettimeofday between realtime readings", ok);

	ok = 1;
	for (int i = 0; i < 2000; i++) {
		time_t t1;
		int64_t a = now(CLOCK_REALTIME);
		time_t t = time(&t1);
		int64_t b = now(CLOCK_REALTIME);
		ok &= t == t1 && t >= a / 1000000000 - 1 && t <= b / 1000000000;
	}
	say("time between realtime readings", ok);

	struct timeval tv;
	struct timezone tz;
	say("gettimeofday with a timezone succeeds", gettimeofday(&tv, &tz) == 0);

	struct timespec res;
	say("monotonic resolution is 1ns", clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec == 1);
	say("realtime resolution is 1ns", clock_getres(CLOCK_REALTIME, &res) == 0 && res.tv_sec == 0 && res.tv_nsec == 1);
	say("coarse resolution is at least 1ms",
	    clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 && res.tv_nsec >= 1000000);
	say("getres with a null result succeeds", clock_getres(CLOCK_BOOTTIME, NULL) == 0);

	struct timespec ts;
	say("process cputime readable", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0);
	errno = 0;
	say("bad clock id is EINVAL", clock_gettime(1234, &ts) == -1 && errno == EINVAL);
	errno = 0;
	say("bad clock id getres is EINVAL", clock_getres(1234, &res) == -1 && errno == EINVAL);
	unsigned cpu = 99, node = 99;
	say("getcpu succeeds", getcpu(&cpu, &node) == 0 && cpu < 4096 && node < 4096);
	say("sched_getcpu succeeds", sched_getcpu() >= 0);

	int64_t m0 = now(CLOCK_MONOTONIC), r0 = now(CLOCK_REALTIME);
	struct timespec d = {0, 20 * 1000 * 1000};
	nanosleep(&d, NULL);
	int64_t m1 = now(CLOCK_MONOTONIC), r1 = now(CLOCK_REALTIME);
	say("monotonic covers a 20ms sleep", m1 - m0 >= 20000000 && m1 - m0 < 2000000000);
	say("realtime covers a 20ms sleep", r1 - r0 >= 19000000 && r1 - r0 < 2000000000);

	pthread_t th[2];
	atomic_store(&shared_last, now(CLOCK_MONOTONIC));
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, racer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	say("monotonic never goes back across threads", atomic_load(&threads_ok));

	int64_t before = now(CLOCK_MONOTONIC);
	pid_t pid = fork();
	if (pid == 0)
		_exit(now(CLOCK_MONOTONIC) >= before && getauxval(AT_SYSINFO_EHDR) != 0 ? 0 : 1);
	int st;
	waitpid(pid, &st, 0);
	say("forked child keeps the vdso and monotonic time", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	fflush(stdout);
	char arg[32];
	snprintf(arg, sizeof arg, "%lld", (long long)now(CLOCK_MONOTONIC));
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "child", arg, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	say("exec'd child exited cleanly", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}
