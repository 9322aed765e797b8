/* fuzz.h — shared helpers of the fuzz harnesses (tests/fuzz/fuzz_*.c).
 *
 * Every harness defines LLVMFuzzerTestOneInput (and optionally
 * LLVMFuzzerInitialize). It is built two ways:
 *   - with clang -fsanitize=fuzzer,address,undefined by `make fuzz` (libFuzzer
 *     drives it; a crash, a leak, a sanitizer report or a timeout is a finding);
 *   - with the ordinary compiler and tests/fuzz/replay.c as main by `make test`,
 *     which replays the seed corpus and every kept reproducer
 *     (tests/fuzz/regress/<harness>/) as regression tests.
 * The loaders under test read files, so an input is written to a file first
 * (fuzz_file). A loader must answer bad bytes with an expected failure (-1 /
 * NULL and coco_errmsg); misuse reports (coco_fail) abort, so they are
 * findings too. */
#ifndef COCONUT_FUZZ_H
#define COCONUT_FUZZ_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[256];

/* atexit: the scratch directory and whatever the harness wrote there */
static void fuzz_cleanup(void) {
    DIR *d = opendir(fuzz_dir);
    if (!d) return;
    struct dirent *e;
    char p[800];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') snprintf(p, sizeof p, "%s/%s", fuzz_dir, e->d_name), unlink(p);
    closedir(d);
    rmdir(fuzz_dir);
}

/* FUZZ_VERBOSE=1: harnesses print what the loader answered (for seeds). */
static inline int fuzz_verbose(void) {
    const char *v = getenv("FUZZ_VERBOSE");
    return v && *v && *v != '0';
}

/* Writes data to <tmp>/coconut_fuzz_<pid>/<name> (the directory made once,
 * removed at exit) and returns that path (a static buffer per slot 0..3). */
static inline const char *fuzz_file(int slot, const char *name, const uint8_t *data, size_t size) {
    static char paths[4][512];
    if (!fuzz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/coconut_fuzz_%ld", t && *t ? t : "/tmp", (long)getpid());
        mkdir(fuzz_dir, 0700);
        atexit(fuzz_cleanup);
    }
    const char *dir = fuzz_dir;
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", dir, name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return paths[slot];
}

#endif
