/* replay.c — main() of the fuzz harnesses outside libFuzzer (`make test`): runs
 * LLVMFuzzerTestOneInput once on every file named on the command line (a
 * directory: every file in it, sorted) and prints TAP, one test per file.
 * Without arguments (as tests/run_tests.sh runs test binaries, from the
 * project root) it replays tests/fuzz/corpus/<name>/ (the seeds) and
 * tests/fuzz/regress/<name>/ (every reproducer a fuzzing run found, kept as a
 * regression test), <name> being the binary's name. A crash ends the process
 * (the missing tests then count as failed in tests/run_tests.sh); returning
 * normally is a pass. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static char **files;
static int nfiles, capfiles;

static void add(const char *p) {
    if (nfiles == capfiles) {
        capfiles = capfiles ? 2 * capfiles : 64;
        files = realloc(files, sizeof *files * (size_t)capfiles);
    }
    files[nfiles++] = strdup(p);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void collect(const char *p) {
    struct stat st;
    if (stat(p, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        add(p);
        return;
    }
    DIR *d = opendir(p);
    if (!d) return;
    struct dirent *e;
    int first = nfiles;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char q[4096];
        snprintf(q, sizeof q, "%s/%s", p, e->d_name);
        struct stat s2;
        if (stat(q, &s2) == 0 && S_ISREG(s2.st_mode)) add(q);
    }
    closedir(d);
    if (nfiles - first > 1) qsort(files + first, (size_t)(nfiles - first), sizeof *files, cmp);
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) collect(argv[i]);
    if (argc < 2) {
        const char *name = strrchr(argv[0], '/');
        name = name ? name + 1 : argv[0];
        char d[1024];
        snprintf(d, sizeof d, "tests/fuzz/corpus/%s", name);
        collect(d);
        snprintf(d, sizeof d, "tests/fuzz/regress/%s", name);
        collect(d);
    }
    printf("1..%d\n", nfiles);
    fflush(stdout);
    for (int i = 0; i < nfiles; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f) {
            printf("not ok %d - %s (cannot open)\n", i + 1, files[i]);
            continue;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
        fclose(f);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        printf("ok %d - %s\n", i + 1, files[i]);
        fflush(stdout);
        free(files[i]);
    }
    free(files);
    return 0;
}
