/* coconut/mpi.h — data-parallel runs across processes (issue 18): the few MPI
 * collectives the training loop and the evaluation need, behind one header.
 *
 * Contract
 *   - Owns the MPI session of the process. With MPI compiled in (the Makefile
 *     defines COCO_HAVE_MPI when OpenMPI's headers are found) MPI_Init runs in
 *     coco_mpi_init, and only when the process was started by a launcher
 *     (mpirun / srun: OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE or PMI_RANK in
 *     the environment). Otherwise — no MPI in the build, or a plain
 *     `coconut run` — the module is a single rank: rank 0 of 1, every
 *     collective is the identity (a sum over one rank), nothing is linked or
 *     started. Callers never need an #ifdef.
 *   - Communicator: MPI_COMM_WORLD. Every collective must be called by every
 *     rank in the same order (MPI's rule); the callers (scripts/coco/dist.lua)
 *     keep the ranks' control flow identical.
 *   - Errors: MPI's default handler (errors are fatal to the job) stays in
 *     place: a failed collective ends every rank. coco_mpi_abort ends the job
 *     from one rank (MPI_Abort: mpirun kills the others); it is the only way a
 *     failing rank may stop, since a rank that just exits leaves the others
 *     blocked in their next collective until the launcher notices.
 *   - Sizes: byte and element counts are int64; transfers above INT_MAX
 *     elements are split into pieces (MPI counts are int).
 *   - Threading: call from the main thread only (MPI_THREAD_FUNNELED); the
 *     core's thread pool never calls MPI.
 *   - Determinism: MPI_Allreduce's summation order is fixed for a given rank
 *     count and message size in OpenMPI's default (tuned) algorithms, so the
 *     same run gives the same sums, but a sum over N ranks rounds differently
 *     from the single-process sum (see docs in README: fp32 bound).
 */
#ifndef COCONUT_MPI_H
#define COCONUT_MPI_H

#include <stdint.h>

#include "coconut/tensor.h"

/* 1 when the build has MPI (COCO_HAVE_MPI), else 0. */
int coco_mpi_compiled(void);
/* Whether the environment says a launcher started this process. */
int coco_mpi_launched(void);
/* Starts MPI when compiled in and launched (idempotent); returns the number of
 * ranks (1 otherwise). */
int coco_mpi_init(int *argc, char ***argv);
/* MPI_Finalize when MPI was started (idempotent). */
void coco_mpi_finalize(void);
int coco_mpi_rank(void);
int coco_mpi_size(void);
/* The processor (host) name of this rank ("" when not under MPI: gethostname). */
const char *coco_mpi_host(void);

void coco_mpi_barrier(void);
/* Prints nothing: the caller prints its message first. Never returns. A single
 * rank (no MPI) exits with code. */
void coco_mpi_abort(int code) __attribute__((noreturn));

/* In-place sums over all ranks. */
void coco_mpi_allreduce_sum_f32(float *buf, int64_t n);
void coco_mpi_allreduce_sum_f64(double *buf, int64_t n);
/* The tensors (f32) packed into one contiguous buffer, summed over all ranks
 * with one MPI_Allreduce, multiplied by scale and copied back: after the call
 * every rank holds scale * sum_r ts[i] (rank r's values). A NULL entry is
 * skipped. The buffer is kept between calls (one gradient-sized allocation).
 * Returns the number of floats reduced. With one rank only the scale applies. */
int64_t coco_mpi_allreduce_tensors(int n, coco_tensor *const *ts, float scale);
/* Root's bytes to every rank (in place). */
void coco_mpi_bcast(void *buf, int64_t bytes, int root);
/* Root's tensors (any dtype, same shapes on every rank) to every rank, in
 * place, one message per call. Returns the bytes sent. */
int64_t coco_mpi_bcast_tensors(int n, coco_tensor *const *ts, int root);
/* Variable-length allgather: every rank gives `len` bytes; returns a malloc'ed
 * buffer holding all ranks' bytes in rank order and fills lens[size] (caller's
 * array of coco_mpi_size() entries). */
char *coco_mpi_allgatherv(const void *mine, int64_t len, int64_t *lens);

/* 64-bit FNV-1a of bytes, continuing from h (start with COCO_FNV_OFFSET). */
#define COCO_FNV_OFFSET 0xcbf29ce484222325ULL
uint64_t coco_fnv1a(uint64_t h, const void *p, size_t n);
/* FNV-1a of the running binary's file (/proc/self/exe) and the version string:
 * two ranks with different builds get different values. Computed once. */
uint64_t coco_mpi_code_hash(void);

/* Seconds spent inside collectives (allreduce, bcast, allgather, barrier)
 * since the start, and their count; for benchmarks (communication share). */
double coco_mpi_comm_seconds(void);
int64_t coco_mpi_comm_calls(void);

#endif
