/*
 * bulwark's vDSO: clock_gettime, gettimeofday, time, clock_getres and getcpu
 * answered in the application, without a trap, from the vvar page the
 * sentry keeps (see sentry/src/kernel/clock.rs, which owns the layout).
 *
 * Built by sentry/build.rs with the host gcc, -nostdlib: no libc, no
 * relocations, nothing writable. When the vvar page says the TSC path is off
 * (mode 0), or for a clock the page does not carry, each function makes the
 * real system call, which the sentry handles.
 */

typedef unsigned long u64;
typedef long s64;
typedef unsigned int u32;

struct k_timespec {
	s64 tv_sec;
	s64 tv_nsec;
};

struct k_timeval {
	s64 tv_sec;
	s64 tv_usec;
};

struct k_timezone {
	int tz_minuteswest;
	int tz_dsttime;
};

/* Must match `Vvar` in sentry/src/kernel/clock.rs. */
struct vvar {
	u64 seq;      /* odd while the sentry is writing */
	u64 mode;     /* 0: make the system call; 1: TSC */
	u64 mult;     /* ns = (tsc - tsc_base) * mult >> shift */
	u64 shift;
	u64 tsc_base;
	u64 mono_ns;  /* CLOCK_MONOTONIC at tsc_base */
	u64 real_ns;  /* CLOCK_REALTIME at tsc_base */
	u64 boot_ns;  /* CLOCK_BOOTTIME at tsc_base */
};

#define NSEC_PER_SEC 1000000000UL
#define COARSE_RES_NS 4000000L

#define SYS_gettimeofday 96
#define SYS_time 201
#define SYS_clock_gettime 228
#define SYS_clock_getres 229
#define SYS_getcpu 309

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7

#define barrier() __asm__ __volatile__("" ::: "memory")

/* The ELF header of this image; the vvar page is the page just below it. */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));

static inline const volatile struct vvar *vvar(void)
{
	return (const volatile struct vvar *)((u64)__ehdr_start - 4096);
}

static inline long sys2(long nr, long a, long b)
{
	long ret;
	__asm__ __volatile__("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return ret;
}

static inline long sys3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ __volatile__("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

/* rdtsc, not executed before earlier loads (lfence), as Linux's rdtsc_ordered. */
static inline u64 rdtsc_ordered(void)
{
	u32 lo, hi;
	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((u64)hi << 32) | lo;
}

/* Which base a clock counts from: 0 none (use the system call), else an
 * index into the page (5 mono, 6 real, 7 boot). */
static inline int clock_base(long clock)
{
	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE:
		return 6;
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_MONOTONIC_COARSE:
		return 5;
	case CLOCK_BOOTTIME:
		return 7;
	default:
		return 0;
	}
}

/* Nanoseconds of the clock whose base is `base`, or 0 when the TSC path is off. */
static u64 read_ns(int base)
{
	const volatile struct vvar *v = vvar();
	const volatile u64 *w = (const volatile u64 *)v;
	u64 seq, mult, shift, tsc_base, ns, tsc;

	for (;;) {
		seq = v->seq;
		if (seq & 1) {
			__asm__ __volatile__("pause");
			continue;
		}
		barrier();
		if (!v->mode)
			return 0;
		mult = v->mult;
		shift = v->shift;
		tsc_base = v->tsc_base;
		ns = w[base];
		tsc = rdtsc_ordered();
		barrier();
		if (v->seq == seq)
			break;
	}
	if (tsc <= tsc_base)
		return ns;
	return ns + (u64)(((unsigned __int128)(tsc - tsc_base) * mult) >> (shift & 127));
}

int __vdso_clock_gettime(long clock, struct k_timespec *ts)
{
	int base = clock_base(clock);
	u64 ns = base ? read_ns(base) : 0;

	if (!ns)
		return (int)sys2(SYS_clock_gettime, clock, (long)ts);
	ts->tv_sec = (s64)(ns / NSEC_PER_SEC);
	ts->tv_nsec = (s64)(ns % NSEC_PER_SEC);
	return 0;
}

int __vdso_gettimeofday(struct k_timeval *tv, struct k_timezone *tz)
{
	u64 ns = read_ns(6);

	if (!ns)
		return (int)sys2(SYS_gettimeofday, (long)tv, (long)tz);
	if (tv) {
		tv->tv_sec = (s64)(ns / NSEC_PER_SEC);
		tv->tv_usec = (s64)(ns % NSEC_PER_SEC / 1000);
	}
	if (tz) {
		tz->tz_minuteswest = 0;
		tz->tz_dsttime = 0;
	}
	return 0;
}

s64 __vdso_time(s64 *t)
{
	u64 ns = read_ns(6);
	s64 s;

	if (!ns)
		return sys2(SYS_time, (long)t, 0);
	s = (s64)(ns / NSEC_PER_SEC);
	if (t)
		*t = s;
	return s;
}

int __vdso_clock_getres(long clock, struct k_timespec *res)
{
	if (!clock_base(clock))
		return (int)sys2(SYS_clock_getres, clock, (long)res);
	if (res) {
		res->tv_sec = 0;
		res->tv_nsec = (clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE) ? COARSE_RES_NS : 1;
	}
	return 0;
}

/* The sentry reports every task on CPU 0, NUMA node 0. */
int __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
{
	(void)unused;
	if (cpu)
		*cpu = 0;
	if (node)
		*node = 0;
	return 0;
}

int clock_gettime(long, struct k_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct k_timeval *, struct k_timezone *) __attribute__((weak, alias("__vdso_gettimeofday")));
s64 time(s64 *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct k_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
