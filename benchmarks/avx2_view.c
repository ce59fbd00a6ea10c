/* Run a process as on a CPU without AVX-512: loaded with LD_PRELOAD by as_avx2.py.
 *
 * The constructor turns CPUID faulting on (arch_prctl ARCH_SET_CPUID, 0), so
 * every CPUID instruction in the process raises SIGSEGV. The handler runs the
 * instruction itself with CPUID briefly allowed again, clears the AVX-512,
 * AVX-VNNI, BF16 and AMX bits of the answer, writes it into the registers and
 * steps over the two bytes. Threads inherit the setting; execve resets it,
 * and the preload, kept in the environment, sets it again in the new program.
 * The dynamic loader has read CPUID before this runs: only glibc's own string
 * functions still see the real CPU.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BIT(n) (1u << (n))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;
/* What the program asked SIGSEGV to do: run for faults that are not CPUID. */
static struct sigaction chained = {.sa_handler = SIG_DFL};
static int ours_installed;

static long set_cpuid(int allowed) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, allowed); }

static void hide_avx512(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    if (leaf == 7 && subleaf == 0) {
        /* EBX: AVX512F, DQ, IFMA, PF, ER, CD, BW, VL */
        r[1] &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
        /* ECX: AVX512_VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
        r[2] &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
        /* EDX: 4VNNIW, 4FMAPS, VP2INTERSECT, FP16, AMX_BF16 (22), AMX_TILE (24), AMX_INT8 (25) */
        r[3] &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
    } else if (leaf == 7 && subleaf == 1) {
        /* EAX: AVX-VNNI, AVX512_BF16, AMX_FP16 (21); EDX: AVX10 (19) */
        r[0] &= ~(BIT(4) | BIT(5) | BIT(21));
        r[3] &= ~BIT(19);
    } else if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
        /* AMX tile and AVX10 leaves: nothing to report */
        r[0] = r[1] = r[2] = r[3] = 0;
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = (ucontext_t *)context;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (ip[0] != 0x0f || ip[1] != 0xa2) { /* a real fault: the program's handler, or death */
        if (chained.sa_flags & SA_SIGINFO) {
            chained.sa_sigaction(sig, info, context);
        } else if (chained.sa_handler != SIG_DFL && chained.sa_handler != SIG_IGN) {
            chained.sa_handler(sig);
        } else {
            struct sigaction fallback = {.sa_handler = SIG_DFL};
            real_sigaction(sig, &fallback, NULL); /* the instruction faults again, fatally */
        }
        return;
    }
    uint32_t leaf = (uint32_t)g[REG_RAX], subleaf = (uint32_t)g[REG_RCX], r[4];
    set_cpuid(1);
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
    set_cpuid(0);
    hide_avx512(leaf, subleaf, r);
    g[REG_RAX] = r[0];
    g[REG_RBX] = r[1];
    g[REG_RCX] = r[2];
    g[REG_RDX] = r[3];
    g[REG_RIP] += 2;
}

/* Programs that set their own SIGSEGV handler (Python's faulthandler, for one)
 * keep ours in front: theirs is called for every fault that is not CPUID. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!real_sigaction) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGSEGV || !ours_installed) return real_sigaction(sig, act, old);
    if (old) *old = chained;
    if (act) chained = *act;
    return 0;
}

__attribute__((constructor)) static void start(void) {
    real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (real_sigaction(SIGSEGV, &action, NULL) != 0 || set_cpuid(0) != 0) {
        perror("avx2_view: cannot turn CPUID faulting on");
        _exit(97);
    }
    ours_installed = 1;
}
