/* mpi.c — MPI collectives, or a single-rank stand-in (see coconut/mpi.h).
 *
 * Everything MPI-specific sits between #ifdef COCO_HAVE_MPI; without it every
 * function below behaves as rank 0 of 1 and the file needs no MPI header. */
#include "coconut/mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef COCO_HAVE_MPI
#include <mpi.h>
#endif

static int g_started = 0, g_finalized = 0, g_rank = 0, g_size = 1;
static char g_host[256];
static double g_comm_seconds = 0;
static int64_t g_comm_calls = 0;
/* the packing buffer of coco_mpi_allreduce_tensors, kept between steps */
static float *g_pack = NULL;
static int64_t g_pack_cap = 0;

#ifdef COCO_HAVE_MPI
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#endif

int coco_mpi_compiled(void) {
#ifdef COCO_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int coco_mpi_launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int coco_mpi_init(int *argc, char ***argv) {
    if (g_started || g_finalized) return g_size;
    if (!g_host[0] && gethostname(g_host, sizeof g_host - 1) != 0) strcpy(g_host, "?");
#ifdef COCO_HAVE_MPI
    if (!coco_mpi_launched()) return g_size;
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    int len = 0;
    char name[MPI_MAX_PROCESSOR_NAME];
    if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS && len > 0) snprintf(g_host, sizeof g_host, "%s", name);
    g_started = 1;
#else
    (void)argc, (void)argv;
#endif
    return g_size;
}

void coco_mpi_finalize(void) {
#ifdef COCO_HAVE_MPI
    if (g_started && !g_finalized) MPI_Finalize();
#endif
    if (g_started) g_finalized = 1;
    free(g_pack);
    g_pack = NULL, g_pack_cap = 0;
}

int coco_mpi_rank(void) { return g_rank; }
int coco_mpi_size(void) { return g_size; }
const char *coco_mpi_host(void) {
    if (!g_host[0] && gethostname(g_host, sizeof g_host - 1) != 0) strcpy(g_host, "?");
    return g_host;
}

#ifdef COCO_HAVE_MPI
/* Only while MPI runs with more than one rank do collectives talk. */
static int live(void) { return g_started && !g_finalized && g_size > 1; }
#endif

void coco_mpi_barrier(void) {
#ifdef COCO_HAVE_MPI
    if (!live()) return;
    double t = now();
    MPI_Barrier(MPI_COMM_WORLD);
    g_comm_seconds += now() - t, g_comm_calls++;
#endif
}

void coco_mpi_abort(int code) {
    fflush(stdout);
    fflush(stderr);
#ifdef COCO_HAVE_MPI
    if (g_started && !g_finalized) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
#endif
    _exit(code);
}

/* MPI counts are int: transfers go in pieces of at most this many elements. */
#define PIECE ((int64_t)1 << 30)

#ifdef COCO_HAVE_MPI
/* In-place sum of n elements of `type` (esize bytes each), in pieces. */
static void allreduce_sum(void *buf, int64_t n, size_t esize, MPI_Datatype type) {
    if (!live() || n <= 0) return;
    double t = now();
    for (int64_t o = 0; o < n; o += PIECE) {
        int c = (int)(n - o < PIECE ? n - o : PIECE);
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + o * (int64_t)esize, c, type, MPI_SUM, MPI_COMM_WORLD);
    }
    g_comm_seconds += now() - t, g_comm_calls++;
}
#endif

void coco_mpi_allreduce_sum_f32(float *buf, int64_t n) {
#ifdef COCO_HAVE_MPI
    allreduce_sum(buf, n, sizeof *buf, MPI_FLOAT);
#else
    (void)buf, (void)n;
#endif
}

void coco_mpi_allreduce_sum_f64(double *buf, int64_t n) {
#ifdef COCO_HAVE_MPI
    allreduce_sum(buf, n, sizeof *buf, MPI_DOUBLE);
#else
    (void)buf, (void)n;
#endif
}

int64_t coco_mpi_allreduce_tensors(int n, coco_tensor *const *ts, float scale) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        coco_check_dtype(ts[i], COCO_F32, "mpi.allreduce", "tensor");
        total += ts[i]->numel;
    }
    if (total == 0) return 0;
    if (g_size == 1) { /* one rank: the sum is the tensor itself */
        if (scale != 1.0f)
            for (int i = 0; i < n; i++)
                if (ts[i])
                    for (int64_t e = 0; e < ts[i]->numel; e++) coco_f32(ts[i])[e] *= scale;
        return total;
    }
    if (total > g_pack_cap) {
        free(g_pack);
        g_pack = coco_malloc(sizeof *g_pack * (size_t)total, "mpi: gradient buffer");
        g_pack_cap = total;
    }
    /* pack [t0 | t1 | ...] in list order, reduce once, unpack scaled */
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        memcpy(g_pack + off, ts[i]->data, sizeof(float) * (size_t)ts[i]->numel);
        off += ts[i]->numel;
    }
    coco_mpi_allreduce_sum_f32(g_pack, total);
    off = 0;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        float *d = coco_f32(ts[i]);
        const float *s = g_pack + off;
        if (scale == 1.0f) memcpy(d, s, sizeof(float) * (size_t)ts[i]->numel);
        else
            for (int64_t e = 0; e < ts[i]->numel; e++) d[e] = s[e] * scale;
        off += ts[i]->numel;
    }
    return total;
}

void coco_mpi_bcast(void *buf, int64_t bytes, int root) {
#ifdef COCO_HAVE_MPI
    if (!live() || bytes <= 0) return;
    double t = now();
    for (int64_t o = 0; o < bytes; o += PIECE) {
        int c = (int)(bytes - o < PIECE ? bytes - o : PIECE);
        MPI_Bcast((char *)buf + o, c, MPI_BYTE, root, MPI_COMM_WORLD);
    }
    g_comm_seconds += now() - t, g_comm_calls++;
#else
    (void)buf, (void)bytes, (void)root;
#endif
}

int64_t coco_mpi_bcast_tensors(int n, coco_tensor *const *ts, int root) {
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        if (ts[i]) total += ts[i]->numel * 4; /* f32 and i32 are both 4 bytes */
    if (g_size == 1 || total == 0) return total;
    char *buf = coco_malloc((size_t)total, "mpi: broadcast buffer");
    int64_t off = 0;
    if (g_rank == root)
        for (int i = 0; i < n; i++)
            if (ts[i]) memcpy(buf + off, ts[i]->data, (size_t)ts[i]->numel * 4), off += ts[i]->numel * 4;
    coco_mpi_bcast(buf, total, root);
    off = 0;
    for (int i = 0; i < n; i++)
        if (ts[i]) memcpy(ts[i]->data, buf + off, (size_t)ts[i]->numel * 4), off += ts[i]->numel * 4;
    free(buf);
    return total;
}

char *coco_mpi_allgatherv(const void *mine, int64_t len, int64_t *lens) {
    if (g_size == 1) {
        lens[0] = len;
        char *out = coco_malloc((size_t)(len ? len : 1), "mpi: allgather");
        if (len) memcpy(out, mine, (size_t)len);
        return out;
    }
#ifdef COCO_HAVE_MPI
    double t = now();
    MPI_Allgather(&len, 1, MPI_INT64_T, lens, 1, MPI_INT64_T, MPI_COMM_WORLD);
    int64_t total = 0;
    for (int r = 0; r < g_size; r++) total += lens[r];
    if (total > INT_MAX) coco_fail("mpi.allgather: %lld bytes in all, more than one message holds", (long long)total);
    int *counts = coco_malloc(sizeof *counts * (size_t)g_size, "mpi: allgather");
    int *displs = coco_malloc(sizeof *displs * (size_t)g_size, "mpi: allgather");
    int64_t off = 0;
    for (int r = 0; r < g_size; r++) counts[r] = (int)lens[r], displs[r] = (int)off, off += lens[r];
    char *out = coco_malloc((size_t)(total ? total : 1), "mpi: allgather");
    MPI_Allgatherv(mine, (int)len, MPI_BYTE, out, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    free(counts);
    free(displs);
    g_comm_seconds += now() - t, g_comm_calls++;
    return out;
#else
    return NULL; /* unreachable: g_size is 1 without MPI */
#endif
}

uint64_t coco_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t coco_mpi_code_hash(void) {
    static uint64_t h = 0;
    if (h) return h;
    uint64_t x = coco_fnv1a(COCO_FNV_OFFSET, COCONUT_VERSION_STRING, strlen(COCONUT_VERSION_STRING));
    FILE *f = fopen("/proc/self/exe", "rb");
    if (f) {
        char buf[1 << 16];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, f)) > 0) x = coco_fnv1a(x, buf, k);
        fclose(f);
    }
    h = x ? x : 1;
    return h;
}

double coco_mpi_comm_seconds(void) { return g_comm_seconds; }
int64_t coco_mpi_comm_calls(void) { return g_comm_calls; }
