/* main.c — the `coconut` command. */
#include <stdio.h>
#include <string.h>

#include <lua.h>

#include "coconut/runtime.h"

static int cmd_version(void) {
    coco_runtime_info info;
    coco_runtime_info_get(&info);
    printf("coconut %s\n", info.version);
    printf("%s\n", LUA_RELEASE);
    printf("BLIS %s, configuration %s (%s kernels; BLIS detected %s: %s)\n", info.blis_version, info.blis_arch,
           info.blis_kernels, info.blis_detected, info.blis_reason);
    printf("CPU: AVX2+FMA %s, AVX-512 F/BW/DQ/VL %s\n", info.cpu_avx2_fma ? "yes" : "no", info.cpu_avx512 ? "yes" : "no");
    printf("threads %d (COCONUT_THREADS; BLIS and OpenMP share one pool)\n", info.threads);
    return 0;
}

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: coconut <command> [args]\n"
            "commands:\n"
            "  version      print coconut, Lua and BLIS versions, kernel selection, threads\n"
            "  help         this text\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) return cmd_version();
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "coconut: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
