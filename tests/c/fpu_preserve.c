/* xmm0-15, MXCSR and the x87 control word survive a signal whose handler
 * clobbers them all. The registers are loaded, the signal sent (tgkill as a
 * raw syscall, so no libc code runs in between) and the registers stored,
 * all in one asm block. The handler also reports the MXCSR it starts with
 * (Linux gives handlers the default 0x1f80). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile uint32_t handler_mxcsr;
static volatile int handled;

#define ALL_XMM                                                                                                 \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", \
        "xmm13", "xmm14", "xmm15"

static void clobber(int sig) {
    (void)sig;
    uint32_t m;
    uint32_t bad_mxcsr = 0x1f80 | (3u << 13); /* round toward zero */
    uint16_t bad_cw = 0x0c7f;                  /* x87 round toward zero, single precision */
    asm volatile("stmxcsr %0" : "=m"(m));
    handler_mxcsr = m;
    asm volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
                 "movdqa %%xmm0, %%xmm1\n\tmovdqa %%xmm0, %%xmm2\n\tmovdqa %%xmm0, %%xmm3\n\t"
                 "movdqa %%xmm0, %%xmm4\n\tmovdqa %%xmm0, %%xmm5\n\tmovdqa %%xmm0, %%xmm6\n\t"
                 "movdqa %%xmm0, %%xmm7\n\tmovdqa %%xmm0, %%xmm8\n\tmovdqa %%xmm0, %%xmm9\n\t"
                 "movdqa %%xmm0, %%xmm10\n\tmovdqa %%xmm0, %%xmm11\n\tmovdqa %%xmm0, %%xmm12\n\t"
                 "movdqa %%xmm0, %%xmm13\n\tmovdqa %%xmm0, %%xmm14\n\tmovdqa %%xmm0, %%xmm15\n\t"
                 "ldmxcsr %0\n\t"
                 "fldcw %1\n\t"
                 :
                 : "m"(bad_mxcsr), "m"(bad_cw)
                 : ALL_XMM, "memory");
    handled++;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = clobber;
    sigaction(SIGUSR1, &sa, NULL);

    uint8_t in[16][16], out[16][16];
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 16; b++)
            in[r][b] = (uint8_t)(r * 16 + b + 1);
    memset(out, 0, sizeof out);

    uint32_t mxcsr_in = 0x1f80 | (1u << 13) | (1u << 15); /* round down, flush to zero */
    uint16_t cw_in = 0x037f & ~0x0300u;                    /* x87 single precision */
    uint32_t mxcsr_out = 0;
    uint16_t cw_out = 0;
    long ret = SYS_tgkill;
    long tgid = getpid(), tid = gettid(), sig = SIGUSR1;

    asm volatile("ldmxcsr %[mi]\n\t"
                 "fldcw %[ci]\n\t"
                 "movdqu 0(%[in]), %%xmm0\n\tmovdqu 16(%[in]), %%xmm1\n\tmovdqu 32(%[in]), %%xmm2\n\t"
                 "movdqu 48(%[in]), %%xmm3\n\tmovdqu 64(%[in]), %%xmm4\n\tmovdqu 80(%[in]), %%xmm5\n\t"
                 "movdqu 96(%[in]), %%xmm6\n\tmovdqu 112(%[in]), %%xmm7\n\tmovdqu 128(%[in]), %%xmm8\n\t"
                 "movdqu 144(%[in]), %%xmm9\n\tmovdqu 160(%[in]), %%xmm10\n\tmovdqu 176(%[in]), %%xmm11\n\t"
                 "movdqu 192(%[in]), %%xmm12\n\tmovdqu 208(%[in]), %%xmm13\n\tmovdqu 224(%[in]), %%xmm14\n\t"
                 "movdqu 240(%[in]), %%xmm15\n\t"
                 "syscall\n\t"
                 "movdqu %%xmm0, 0(%[out])\n\tmovdqu %%xmm1, 16(%[out])\n\tmovdqu %%xmm2, 32(%[out])\n\t"
                 "movdqu %%xmm3, 48(%[out])\n\tmovdqu %%xmm4, 64(%[out])\n\tmovdqu %%xmm5, 80(%[out])\n\t"
                 "movdqu %%xmm6, 96(%[out])\n\tmovdqu %%xmm7, 112(%[out])\n\tmovdqu %%xmm8, 128(%[out])\n\t"
                 "movdqu %%xmm9, 144(%[out])\n\tmovdqu %%xmm10, 160(%[out])\n\tmovdqu %%xmm11, 176(%[out])\n\t"
                 "movdqu %%xmm12, 192(%[out])\n\tmovdqu %%xmm13, 208(%[out])\n\tmovdqu %%xmm14, 224(%[out])\n\t"
                 "movdqu %%xmm15, 240(%[out])\n\t"
                 "stmxcsr %[mo]\n\t"
                 "fnstcw %[co]\n\t"
                 : "+a"(ret), [mo] "=m"(mxcsr_out), [co] "=m"(cw_out)
                 : [in] "r"(in), [out] "r"(out), "D"(tgid), "S"(tid), "d"(sig), [mi] "m"(mxcsr_in), [ci] "m"(cw_in)
                 : "rcx", "r11", "memory", ALL_XMM);

    /* Back to defaults before printf touches floating point. */
    uint32_t mxcsr_default = 0x1f80;
    uint16_t cw_default = 0x037f;
    asm volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr_default), "m"(cw_default));

    printf("tgkill = %ld, handler ran %d time(s)\n", ret, handled);
    printf("handler started with MXCSR %#x\n", handler_mxcsr);
    int bad = 0;
    for (int r = 0; r < 16; r++)
        if (memcmp(in[r], out[r], 16) != 0) {
            printf("xmm%d changed\n", r);
            bad = 1;
        }
    printf("xmm0-15 preserved: %s\n", bad ? "no" : "yes");
    printf("MXCSR preserved: %s\n", (mxcsr_out & ~0x3fu) == (mxcsr_in & ~0x3fu) ? "yes" : "no");
    printf("x87 control word preserved: %s\n", cw_out == cw_in ? "yes" : "no");
    return 0;
}
