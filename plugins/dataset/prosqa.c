/* prosqa.c — ProsQA: graph generator, text rendering, JSON writer and loader.
 *
 * ProsQA (Coconut paper, arXiv 2412.06769, Appendix A) asks whether an entity
 * "is a" one of two concepts, given the is-a facts of a random DAG. The
 * official files (facebookresearch/coconut data/prosqa_{train,valid,test}.json)
 * are JSON arrays of objects with the keys, in this order:
 *
 *   question       every edge as a sentence, in random order, joined by " ",
 *                  then " Is {root} a {A} or {B}?" (A/B = target/neg_target in
 *                  random order). Entities: "Tom is a terpus."; concepts:
 *                  "Every terpus is a brimpus." — always "a", never "an".
 *   answer         "{root} is a {target}."
 *   steps          one shortest root->target path, one fact sentence per edge
 *   idx_to_symbol  node names; node i is named idx_to_symbol[i]
 *   edges          [src, dst] pairs: the sentence "src is a dst"
 *   root, target, neg_target   node indices
 *
 * and Python's json.dump layout: separators ", " and ": ", ASCII only, no
 * trailing newline. prosqa_write_json reproduces that byte for byte (the test
 * loads the official valid.json and writes it back identically).
 *
 * What the official files show (checked on all 300 valid examples):
 *   - Node indices are creation order: every edge goes from a lower to a higher
 *     index, edges are listed grouped by dst in ascending order, and within one
 *     dst in the order the parents were drawn (not sorted). So a "parent" in the
 *     paper's Algorithm 1 is the *subject* of the sentence: edge parent->child
 *     reads "Every parent is a child", and labels flow from the seeds downward.
 *   - Nodes 0 and 1 are the seeds; both are parentless entities, and the root is
 *     always one of them. Every parentless node has an entity (person) name,
 *     every other node a concept name; names are unique within a graph.
 *   - target and neg_target are leaves (no outgoing edge). target lies only
 *     below the root, neg_target only below the other seed, at any depth; the
 *     target is always at the largest root distance among the root-only leaves,
 *     and the root's deepest exclusive leaf is never shallower than the other
 *     seed's (ties: either seed, about evenly).
 *   - len(steps) equals the root->target BFS distance (a shortest path).
 *
 * Generator (Algorithm 1 plus the calibration; see prosqa_params):
 *   1. Seeds 0 and 1 get labels 1 and 2 and depth 0.
 *   2. Each new node i = 2..N-1 draws k ~ Poisson(lambda) parents. k = 0 makes an
 *      entity (label 0, depth 0). Otherwise a candidate set is chosen: with
 *      probability p_only0 the nodes with label exactly 1 (below seed 0 only),
 *      with probability p_only1 those with label exactly 2, otherwise all
 *      earlier nodes; k is capped at the candidate count and the parents are
 *      drawn without replacement with weight depth*depth_scale + 1. The label is
 *      the OR of the parents' labels; depth = 1 + the smallest parent depth
 *      (the shortest distance from a parentless node).
 *   3. Nodes with no edge at all (entities nobody picked) are deleted, others
 *      keep their creation order.
 *   4. Leaves are nodes with parents and no children. The exclusive leaves of
 *      seed s are the leaves whose label is exactly 1<<s. If either set is
 *      empty the graph is rejected. The root is the seed whose farthest
 *      exclusive leaf (BFS distance) is farther (coin flip on ties); the graph
 *      is rejected unless that distance is within [min_hops, max_hops]. The
 *      target is a uniform pick among the root's exclusive leaves at that
 *      distance, neg_target a uniform pick among the other seed's exclusive
 *      leaves. More than 17 entities (there are only 17 names) rejects too.
 *   5. Names are drawn without replacement from the 17 entity names (parentless
 *      nodes) and the 38 concept names (the rest); steps follow a shortest path
 *      drawn uniformly among all shortest paths; the facts are shuffled.
 *
 * Calibration note (why p_only1 != p_only0). With the paper's symmetric
 * 0.35/0.35/0.30 this reproduces nodes, edges, hops and shortest-path counts,
 * but gives 2.80 entities per graph (released data: 2.55), 2.2 nodes below
 * both seeds (official valid: 1.3) and the root equal to seed 1 in 50% of the
 * graphs where the released data has 65%, with 11.8 nodes below seed 1 only
 * against 9.1 below seed 0 only. The released generator is therefore not
 * symmetric in the seeds and mixes the two sides less often. A maximum-
 * likelihood fit of the three candidate-set probabilities to the parent sets
 * of the 300 official graphs, followed by a grid over the summary statistics,
 * gives p_only0 = 0.35, p_only1 = 0.45 (all nodes 0.20); see the statistics
 * table in datasets/README.md. The same fit prefers depth = shortest distance
 * (log-likelihood -21383) over longest (-21691). Both knobs stay in
 * prosqa_params, so the paper's literal reading is one assignment away.
 *
 * Generator filters (prosqa_params.min_nodes / max_nodes, 0 = no bound): a
 * graph whose node count after step 3 lies outside the range is rejected
 * there, before the root is drawn. With both bounds 0 (the default) no draw
 * changes, so the generated data are byte-identical to the generator without
 * the filter. Together with min_hops / max_hops this gives e.g. the 14-16-node,
 * 3-4-hop graphs of ../shared/research/small-scale.md §6 (nodes = 16..18).
 *
 * Rendering (prosqa_render): the text an example is trained on, from its graph.
 *   format words (default): the file's question, steps and answer unchanged
 *     (with edge_order question; file / shuffle re-render the fact sentences
 *     in that order, the query last, exactly as the generator writes them).
 *   format symbolic, the token format of "Reasoning by Superposition" (arXiv
 *     2505.12514, repo dataset.py) with one token per node:
 *       question  "s t | s t | ... | s t Q a b R root"   (no '|' after the last edge)
 *       steps     one node per step: the path root -> target without the root,
 *                 so D steps for D hops, the last one the target
 *       answer    "A target"
 *     i.e. CoT = "... R root" + " n1 n2 ... target" + " A target", No-CoT =
 *     "... R root" + " A target". Nodes are written as decimal ids. a, b are
 *     the two candidates in the order of the file's query ("Is root a X or
 *     Y?"), the path is the file's steps (one shortest path). The markers are
 *     the published [Q], [R], [A] and '|', spelled by default Q, R, A, | so
 *     that the project's word-level tokenizer (which splits "[Q]" into
 *     '[' 'Q' ']') keeps each of them, and each node id, one token; the
 *     markers option sets other spellings (e.g. "[Q],[R],[A],|" for the literal
 *     published text). Tokens are separated by single spaces.
 *   node ids (symbolic only):
 *     creation  the file's indices: creation order, the published setup. Every
 *               edge goes from a lower to a higher id and the root is 0 or 1,
 *               so ids carry a depth cue (small-scale.md §0.4).
 *     shuffle   one random relabelling per graph, fixed: a function of
 *               (render seed, graph), the graph being prosqa_graph_key.
 *     permute   a fresh relabelling per graph and epoch: (render seed, graph,
 *               epoch). Datasets get no epoch through the plugin ABI, so the
 *               epoch is an option: a training loop that wants fresh labels
 *               creates one instance per epoch with epoch = e and loads train.
 *     With id_space = V > 0 the relabelling maps the n nodes to n distinct ids
 *     drawn from 0..V-1 (a random injection), else it is a permutation of 0..n-1.
 *   edge order (both formats):
 *     question  the order of the fact sentences in the file's question (a fixed
 *               random order per graph in the official and generated files);
 *     file      the order of the `edges` array (official files: grouped by
 *               target in creation order, another depth cue);
 *     shuffle   a fresh order per graph and epoch (render seed, graph, epoch),
 *               and the two candidates in a fresh order too, as the published
 *               code redraws both every epoch.
 *   Errors (-1 + errmsg): a question or step that is not a fact of the graph
 *   when the rendering needs to parse it, a graph larger than id_space.
 *
 * Frontiers (prosqa_frontiers), with D the root->target distance, k = 1..D:
 *   shortest-path frontier  nodes v with dist(root, v) = k and
 *                           dist(v, target) = D - k, i.e. on some shortest
 *                           path (the published data's neighbor_k; k = D is
 *                           {target});
 *   BFS frontier            every node with dist(root, v) = k.
 *
 * Splits: each split draws from its own stream, seeded from (seed, split);
 * test and valid are generated before train, so their content does not depend
 * on the train size. A graph (the set of fact sentences, i.e. the question up
 * to sentence order) that already occurred in any split is redrawn.
 *
 * Errors: malformed files return -1 with coco_seterr naming the file and the
 * line:column (JSON syntax) or the 0-based example index and the field;
 * invalid parameters are misuse (coco_fail). Nothing here prints or exits.
 *
 * Plugin: the end of this file makes it the dataset plugin "prosqa" (built to
 * build/plugins/dataset/prosqa.so; see "dataset plugin" below for options and
 * file resolution). tests/c/test_prosqa.c includes this file directly to test
 * the functions above; the plugin part compiles there too and is unused.
 */
#include <errno.h>
#include <math.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "coconut/base.h"
#include "coconut/plugin.h"
#include "coconut/rng.h"

/* ================================================================== API */

enum { PROSQA_TRAIN, PROSQA_VALID, PROSQA_TEST, PROSQA_NSPLITS };

#define PROSQA_DEFAULT_DIR "datasets/prosqa"
#define PROSQA_DEFAULT_SEED 20241209u
#define PROSQA_MAX_GEN_NODES 40 /* 2 seeds + at most 38 concept names */

/* One example, as in the official file; owns all its memory. */
typedef struct prosqa_example {
    char *question, *answer;
    char **steps;
    int n_steps;
    char **symbols; /* idx_to_symbol */
    int n_nodes;
    int (*edges)[2]; /* [src, dst]: "src is a dst" */
    int n_edges;
    int root, target, neg_target;
} prosqa_example;

typedef struct prosqa_set {
    prosqa_example *ex;
    int n, cap;
    long n_redrawn; /* generator only: graphs redrawn because they were duplicates */
} prosqa_set;

typedef struct prosqa_params {
    int n_nodes;        /* nodes grown before pruning (28) */
    double lambda;      /* Poisson mean of the parent count (1.5) */
    double p_only0;     /* P(candidates = nodes below seed 0 only, label 1) */
    double p_only1;     /* P(candidates = nodes below seed 1 only, label 2) */
    double depth_scale; /* parent weight = depth * depth_scale + 1 (1.5) */
    int depth_longest;  /* 0: depth = shortest distance from a parentless node; 1: longest */
    int min_hops, max_hops; /* accepted root->target distances (3..6) */
    int min_nodes, max_nodes; /* accepted node counts after pruning (0 = no bound; 0, 0) */
} prosqa_params;

enum { PROSQA_FORMAT_WORDS, PROSQA_FORMAT_SYMBOLIC };
enum { PROSQA_IDS_CREATION, PROSQA_IDS_SHUFFLE, PROSQA_IDS_PERMUTE };
enum { PROSQA_EDGES_QUESTION, PROSQA_EDGES_FILE, PROSQA_EDGES_SHUFFLE };

/* How an example is rendered (see "Rendering" above). */
typedef struct prosqa_render_opts {
    int format;      /* PROSQA_FORMAT_* */
    int node_ids;    /* PROSQA_IDS_* (symbolic only) */
    int edge_order;  /* PROSQA_EDGES_* */
    int id_space;    /* shuffle/permute: ids drawn from 0..id_space-1; 0 = the graph's node count */
    uint64_t seed;   /* render seed (shuffle, permute, edge shuffle) */
    int epoch;       /* permute and edge shuffle */
    const char *markers[4]; /* symbolic query, root, answer markers and edge separator; NULL = "Q", "R", "A", "|" */
    int frontiers;   /* words: add format, hops, frontiers and node tokens to meta_json (symbolic: always) */
} prosqa_render_opts;

/* One rendered example; owns its memory. */
typedef struct prosqa_rendered {
    char *question, *answer;
    char **steps;
    int n_steps;
    int *ids;        /* symbolic: the id written for each node; NULL for words */
    char *meta_json; /* the example's graph and frontiers (see the plugin) */
} prosqa_rendered;

/* Frontiers of an example: for k = 1..hops, sp[sp_off[k-1] .. sp_off[k]) and
 * bfs[bfs_off[k-1] .. bfs_off[k]), node indices ascending. hops = -1 (and
 * no sets) when the target is not reachable from the root. */
typedef struct prosqa_frontier {
    int hops;
    int *sp_off, *sp, *bfs_off, *bfs;
} prosqa_frontier;

/* Summary statistics over a set (graph metadata only, so they work on
 * generated and official data alike). */
typedef struct prosqa_stats {
    int n;
    double nodes_mean, nodes_sd;
    int nodes_min, nodes_max;
    double edges_mean, edges_sd;
    int edges_min, edges_max;
    int hops[8];            /* root->target BFS distance; [0] also counts unreachable, [7] >= 7 */
    double paths_mean, paths_sd; /* number of shortest root->target paths */
    double entities_mean, entities_sd; /* parentless nodes */
    double root1_share;     /* fraction with root == 1 */
    double label_mean[4];   /* nodes per graph by reachability: 0 none, 1 seed 0 only, 2 seed 1 only, 3 both */
} prosqa_stats;

const char *prosqa_split_name(int split); /* "train", "valid", "test" */
void prosqa_params_default(prosqa_params *p);
/* One example from the stream r (rejection sampling inside). -1 + errmsg only if
 * the parameters reject every graph (100000 draws in a row). */
int prosqa_generate_example(const prosqa_params *p, coco_rng *r, prosqa_example *out);
/* All three splits in memory (counts[PROSQA_TRAIN] etc.; default 17886/300/500). */
int prosqa_generate_splits(const prosqa_params *p, uint64_t seed, const int counts[PROSQA_NSPLITS],
                           prosqa_set out[PROSQA_NSPLITS]);
/* Writes dir/{train,valid,test}.json (dir created if missing; NULL = datasets/prosqa).
 * All three go to temp files first and are renamed into place only if all succeed. */
int prosqa_write_splits(const char *dir, const prosqa_set sets[PROSQA_NSPLITS]);
/* prosqa_generate_splits + prosqa_write_splits; p NULL = defaults, counts NULL = official sizes. */
int prosqa_generate_files(const char *dir, const prosqa_params *p, uint64_t seed, const int counts[PROSQA_NSPLITS]);
int prosqa_write_json(const char *path, const prosqa_set *s);
int prosqa_load_json(const char *path, prosqa_set *out);
/* Self-consistency of one example; 0 ok, -1 with a reason in why. */
int prosqa_check_example(const prosqa_example *e, char *why, size_t whylen);
void prosqa_stats_compute(const prosqa_set *s, prosqa_stats *st);
/* 64-bit key of the graph: hash of the sorted fact sentences. */
uint64_t prosqa_graph_key(const prosqa_example *e);
void prosqa_example_free(prosqa_example *e);
void prosqa_set_free(prosqa_set *s);
void prosqa_render_opts_default(prosqa_render_opts *o); /* words, creation, question order, seed 0, epoch 0 */
/* Renders e (0, or -1 + errmsg without the file/example prefix). */
int prosqa_render(const prosqa_example *e, const prosqa_render_opts *o, prosqa_rendered *out);
void prosqa_rendered_free(prosqa_rendered *r);
void prosqa_frontiers(const prosqa_example *e, prosqa_frontier *f);
void prosqa_frontier_free(prosqa_frontier *f);

/* ============================================================ name lists */

static const char *const prosqa_entity_names[] = {"Alex", "Bob",   "Carol", "Davis", "Eva",  "Fae",
                                                  "Gabriel", "Jack", "Max", "Oliver", "Polly", "Rex",
                                                  "Sally", "Sam",  "Stella", "Tom",  "Wren"};
static const char *const prosqa_concept_names[] = {
    "bompus",  "boompus", "brimpus", "chorpus", "dumpus",  "felpus",  "fompus",  "gerpus",
    "gorpus",  "grimpus", "gwompus", "hilpus",  "impus",   "jelpus",  "jompus",  "kerpus",
    "lempus",  "lorpus",  "numpus",  "quimpus", "rempus",  "rompus",  "rorpus",  "scrompus",
    "shumpus", "sterpus", "storpus", "terpus",  "timpus",  "tumpus",  "vumpus",  "worpus",
    "wumpus",  "yerpus",  "yimpus",  "yumpus",  "zhorpus", "zumpus"};
#define PQ_N_ENTITY ((int)(sizeof prosqa_entity_names / sizeof *prosqa_entity_names))
#define PQ_N_CONCEPT ((int)(sizeof prosqa_concept_names / sizeof *prosqa_concept_names))

/* ============================================================ small helpers */

/* Growable string. */
typedef struct pq_buf {
    char *s;
    size_t len, cap;
} pq_buf;

static void pq_buf_add(pq_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->s = coco_realloc(b->s, cap, "prosqa string");
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void pq_buf_str(pq_buf *b, const char *s) { pq_buf_add(b, s, strlen(s)); }

/* Fact sentence for an edge: "Every X is a Y." when X has parents, else "X is a Y." */
static void pq_fact(pq_buf *b, const char *src, const char *dst, int src_is_concept) {
    if (src_is_concept) pq_buf_str(b, "Every ");
    pq_buf_str(b, src);
    pq_buf_str(b, " is a ");
    pq_buf_str(b, dst);
    pq_buf_str(b, ".");
}

/* Adjacency of an example (CSR, children and parents in edge order); works for
 * any node count, unlike the fixed-size arrays of the generator. */
typedef struct pq_adj {
    int n;
    int *ch_off, *ch, *par_off, *par;
} pq_adj;

static void pq_adj_build(pq_adj *a, int n, int (*edges)[2], int m) {
    a->n = n;
    a->ch_off = coco_calloc((size_t)n + 1, sizeof(int), "prosqa adjacency");
    a->par_off = coco_calloc((size_t)n + 1, sizeof(int), "prosqa adjacency");
    a->ch = coco_malloc(sizeof(int) * (size_t)(m ? m : 1), "prosqa adjacency");
    a->par = coco_malloc(sizeof(int) * (size_t)(m ? m : 1), "prosqa adjacency");
    for (int e = 0; e < m; e++) a->ch_off[edges[e][0] + 1]++, a->par_off[edges[e][1] + 1]++;
    for (int i = 0; i < n; i++) a->ch_off[i + 1] += a->ch_off[i], a->par_off[i + 1] += a->par_off[i];
    int *cf = coco_calloc((size_t)n + 1, sizeof(int), "prosqa adjacency");
    int *pf = coco_calloc((size_t)n + 1, sizeof(int), "prosqa adjacency");
    for (int e = 0; e < m; e++) {
        int s = edges[e][0], d = edges[e][1];
        a->ch[a->ch_off[s] + cf[s]++] = d;
        a->par[a->par_off[d] + pf[d]++] = s;
    }
    free(cf);
    free(pf);
}

static void pq_adj_free(pq_adj *a) {
    free(a->ch_off), free(a->ch), free(a->par_off), free(a->par);
    memset(a, 0, sizeof *a);
}

static int pq_npar(const pq_adj *a, int v) { return a->par_off[v + 1] - a->par_off[v]; }
static int pq_nch(const pq_adj *a, int v) { return a->ch_off[v + 1] - a->ch_off[v]; }

/* BFS from s along edges: dist (-1 unreachable) and, if cnt, the number of
 * shortest paths (double: exact up to 2^53, far beyond these graphs). */
static void pq_bfs(const pq_adj *a, int s, int *dist, double *cnt, int *queue) {
    for (int i = 0; i < a->n; i++) dist[i] = -1;
    if (cnt)
        for (int i = 0; i < a->n; i++) cnt[i] = 0;
    int qh = 0, qt = 0;
    dist[s] = 0;
    if (cnt) cnt[s] = 1;
    queue[qt++] = s;
    while (qh < qt) {
        int u = queue[qh++];
        for (int k = a->ch_off[u]; k < a->ch_off[u + 1]; k++) {
            int v = a->ch[k];
            if (dist[v] < 0) dist[v] = dist[u] + 1, queue[qt++] = v;
            if (cnt && dist[v] == dist[u] + 1) cnt[v] += cnt[u];
        }
    }
}

/* ============================================================ example memory */

void prosqa_example_free(prosqa_example *e) {
    if (!e) return;
    free(e->question);
    free(e->answer);
    for (int i = 0; i < e->n_steps; i++) free(e->steps[i]);
    free(e->steps);
    for (int i = 0; i < e->n_nodes; i++) free(e->symbols[i]);
    free(e->symbols);
    free(e->edges);
    memset(e, 0, sizeof *e);
}

void prosqa_set_free(prosqa_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) prosqa_example_free(&s->ex[i]);
    free(s->ex);
    memset(s, 0, sizeof *s);
}

/* Appends (moves) e into s. */
static void pq_set_push(prosqa_set *s, prosqa_example *e) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->ex = coco_realloc(s->ex, sizeof *s->ex * (size_t)s->cap, "prosqa set");
    }
    s->ex[s->n++] = *e;
    memset(e, 0, sizeof *e);
}

const char *prosqa_split_name(int split) {
    static const char *const names[PROSQA_NSPLITS] = {"train", "valid", "test"};
    if (split < 0 || split >= PROSQA_NSPLITS) coco_fail("prosqa: split %d is not 0 (train), 1 (valid) or 2 (test)", split);
    return names[split];
}

/* ============================================================ generator */

void prosqa_params_default(prosqa_params *p) {
    p->n_nodes = 28;
    p->lambda = 1.5;
    p->p_only0 = 0.35;
    p->p_only1 = 0.45;
    p->depth_scale = 1.5;
    p->depth_longest = 0;
    p->min_hops = 3;
    p->max_hops = 6;
    p->min_nodes = 0;
    p->max_nodes = 0;
}

static void pq_check_params(const prosqa_params *p) {
    if (p->n_nodes < 4 || p->n_nodes > PROSQA_MAX_GEN_NODES)
        coco_fail("prosqa: n_nodes %d is outside 4..%d", p->n_nodes, PROSQA_MAX_GEN_NODES);
    if (!(p->lambda > 0 && p->lambda < 20)) coco_fail("prosqa: lambda %g is outside (0, 20)", p->lambda);
    if (!(p->p_only0 >= 0 && p->p_only1 >= 0 && p->p_only0 + p->p_only1 <= 1))
        coco_fail("prosqa: p_only0 %g and p_only1 %g must be >= 0 with a sum <= 1", p->p_only0, p->p_only1);
    if (!(p->depth_scale >= 0)) coco_fail("prosqa: depth_scale %g is negative", p->depth_scale);
    if (p->min_hops < 1 || p->max_hops < p->min_hops)
        coco_fail("prosqa: hop range [%d, %d] is empty or below 1", p->min_hops, p->max_hops);
    if (p->min_nodes < 0 || p->max_nodes < 0 || (p->max_nodes && p->max_nodes < p->min_nodes))
        coco_fail("prosqa: node count range [%d, %d] is negative or empty (0 = no bound)", p->min_nodes, p->max_nodes);
}

#define PQ_MAXN PROSQA_MAX_GEN_NODES

/* The grown graph. par[i] lists parents in draw order (that is the order of the
 * official edge list within one dst). */
typedef struct pq_graph {
    int n;
    int label[PQ_MAXN], depth[PQ_MAXN], npar[PQ_MAXN], nch[PQ_MAXN];
    int par[PQ_MAXN][PQ_MAXN];
} pq_graph;

static void pq_grow(const prosqa_params *p, coco_rng *r, pq_graph *g) {
    int N = p->n_nodes;
    g->n = N;
    memset(g->npar, 0, sizeof g->npar);
    memset(g->nch, 0, sizeof g->nch);
    g->label[0] = 1, g->label[1] = 2;
    g->depth[0] = g->depth[1] = 0;
    for (int i = 2; i < N; i++) {
        int k = coco_rng_poisson(r, p->lambda);
        g->label[i] = 0, g->depth[i] = 0;
        if (k == 0) continue; /* an entity; deleted later if nobody picks it */
        double u = coco_rng_uniform(r);
        int want = u < p->p_only0 ? 1 : u < p->p_only0 + p->p_only1 ? 2 : 0; /* 0: every node */
        int cand[PQ_MAXN], nc = 0;
        for (int j = 0; j < i; j++)
            if (!want || g->label[j] == want) cand[nc++] = j;
        if (k > nc) k = nc;
        int dmin = 1 << 30, dmax = 0, lab = 0;
        for (int t = 0; t < k; t++) {
            double tot = 0;
            for (int c = 0; c < nc; c++) tot += g->depth[cand[c]] * p->depth_scale + 1;
            double x = coco_rng_uniform(r) * tot;
            int c = 0;
            for (; c < nc - 1; c++) {
                x -= g->depth[cand[c]] * p->depth_scale + 1;
                if (x < 0) break;
            }
            int j = cand[c];
            memmove(cand + c, cand + c + 1, sizeof(int) * (size_t)(nc - c - 1));
            nc--;
            g->par[i][g->npar[i]++] = j;
            g->nch[j]++;
            lab |= g->label[j];
            if (g->depth[j] < dmin) dmin = g->depth[j];
            if (g->depth[j] > dmax) dmax = g->depth[j];
        }
        g->label[i] = lab;
        g->depth[i] = 1 + (p->depth_longest ? dmax : dmin);
    }
}

/* Fisher-Yates prefix: the first k entries of idx become a uniform k-subset in random order. */
static void pq_shuffle(coco_rng *r, int *idx, int n, int k) {
    for (int i = 0; i < k && i < n; i++) {
        int j = i + (int)coco_rng_below(r, (uint64_t)(n - i));
        int t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
}

/* One attempt: 1 accepted (out filled), 0 rejected. */
static int pq_try(const prosqa_params *p, coco_rng *r, prosqa_example *out) {
    pq_graph g;
    pq_grow(p, r, &g);

    /* Prune nodes without any edge, keep creation order. */
    int map[PQ_MAXN], n = 0;
    for (int i = 0; i < g.n; i++) map[i] = (i < 2 || g.npar[i] || g.nch[i]) ? n++ : -1;
    int m = 0;
    for (int i = 0; i < g.n; i++) m += g.npar[i];
    int(*edges)[2] = coco_malloc(sizeof *edges * (size_t)(m ? m : 1), "prosqa edges");
    int label[PQ_MAXN];
    m = 0;
    for (int i = 0; i < g.n; i++) {
        if (map[i] < 0) continue;
        label[map[i]] = g.label[i];
        for (int t = 0; t < g.npar[i]; t++) edges[m][0] = map[g.par[i][t]], edges[m][1] = map[i], m++;
    }
    pq_adj a;
    pq_adj_build(&a, n, edges, m);

    int dist[2][PQ_MAXN], queue[PQ_MAXN];
    double cnt[PQ_MAXN];
    pq_bfs(&a, 0, dist[0], NULL, queue);
    pq_bfs(&a, 1, dist[1], NULL, queue);
    int far[2] = {-1, -1}, n_ent = 0;
    for (int v = 0; v < n; v++) {
        if (!pq_npar(&a, v)) n_ent++;
        if (!pq_npar(&a, v) || pq_nch(&a, v)) continue;
        for (int s = 0; s < 2; s++)
            if (label[v] == 1 << s && dist[s][v] > far[s]) far[s] = dist[s][v];
    }
    /* The size filter draws nothing: with both bounds 0 the stream is unchanged. */
    int ok = far[0] > 0 && far[1] > 0 && n_ent <= PQ_N_ENTITY && n - n_ent <= PQ_N_CONCEPT &&
             (!p->min_nodes || n >= p->min_nodes) && (!p->max_nodes || n <= p->max_nodes);
    int root = 0;
    if (ok) {
        root = far[0] > far[1] ? 0 : far[1] > far[0] ? 1 : (int)coco_rng_below(r, 2);
        ok = far[root] >= p->min_hops && far[root] <= p->max_hops;
    }
    if (!ok) {
        free(edges);
        pq_adj_free(&a);
        return 0;
    }
    int other = 1 - root, pick[PQ_MAXN], np = 0, target, neg;
    for (int v = 0; v < n; v++)
        if (pq_npar(&a, v) && !pq_nch(&a, v) && label[v] == 1 << root && dist[root][v] == far[root]) pick[np++] = v;
    target = pick[coco_rng_below(r, (uint64_t)np)];
    np = 0;
    for (int v = 0; v < n; v++)
        if (pq_npar(&a, v) && !pq_nch(&a, v) && label[v] == 1 << other) pick[np++] = v;
    neg = pick[coco_rng_below(r, (uint64_t)np)];

    /* Names: a random ordered subset of each list, handed out in index order. */
    int ent[PQ_N_ENTITY], con[PQ_N_CONCEPT], ne = 0, nk = 0;
    for (int i = 0; i < PQ_N_ENTITY; i++) ent[i] = i;
    for (int i = 0; i < PQ_N_CONCEPT; i++) con[i] = i;
    pq_shuffle(r, ent, PQ_N_ENTITY, n_ent);
    pq_shuffle(r, con, PQ_N_CONCEPT, n - n_ent);
    prosqa_example *e = out;
    memset(e, 0, sizeof *e);
    e->n_nodes = n;
    e->symbols = coco_malloc(sizeof(char *) * (size_t)n, "prosqa symbols");
    for (int v = 0; v < n; v++)
        e->symbols[v] = coco_strdup(pq_npar(&a, v) ? prosqa_concept_names[con[nk++]] : prosqa_entity_names[ent[ne++]]);
    e->edges = edges;
    e->n_edges = m;
    e->root = root, e->target = target, e->neg_target = neg;

    /* Steps: a uniform shortest path, walked back from the target choosing each
     * predecessor with probability (paths into it) / (paths into the current node). */
    pq_bfs(&a, root, dist[0], cnt, queue);
    int path[PQ_MAXN], len = dist[0][target];
    path[len] = target;
    for (int k = len; k > 0; k--) {
        int v = path[k], u = -1;
        double x = coco_rng_uniform(r) * cnt[v];
        for (int t = a.par_off[v]; t < a.par_off[v + 1]; t++) {
            int w = a.par[t];
            if (dist[0][w] != k - 1) continue;
            u = w;
            x -= cnt[w];
            if (x < 0) break;
        }
        path[k - 1] = u;
    }
    e->n_steps = len;
    e->steps = coco_malloc(sizeof(char *) * (size_t)len, "prosqa steps");
    for (int k = 0; k < len; k++) {
        pq_buf b = {0};
        pq_fact(&b, e->symbols[path[k]], e->symbols[path[k + 1]], pq_npar(&a, path[k]) > 0);
        e->steps[k] = b.s;
    }

    /* Question: the facts in random order, then the query with the two options shuffled. */
    int order[PQ_MAXN * PQ_MAXN];
    for (int i = 0; i < m; i++) order[i] = i;
    pq_shuffle(r, order, m, m);
    pq_buf q = {0};
    for (int i = 0; i < m; i++) {
        int s = edges[order[i]][0], d = edges[order[i]][1];
        if (i) pq_buf_str(&q, " ");
        pq_fact(&q, e->symbols[s], e->symbols[d], pq_npar(&a, s) > 0);
    }
    int swap = (int)coco_rng_below(r, 2);
    pq_buf_str(&q, " Is ");
    pq_buf_str(&q, e->symbols[root]);
    pq_buf_str(&q, " a ");
    pq_buf_str(&q, e->symbols[swap ? neg : target]);
    pq_buf_str(&q, " or ");
    pq_buf_str(&q, e->symbols[swap ? target : neg]);
    pq_buf_str(&q, "?");
    e->question = q.s;
    pq_buf ans = {0};
    pq_buf_str(&ans, e->symbols[root]);
    pq_buf_str(&ans, " is a ");
    pq_buf_str(&ans, e->symbols[target]);
    pq_buf_str(&ans, ".");
    e->answer = ans.s;
    pq_adj_free(&a);
    return 1;
}

int prosqa_generate_example(const prosqa_params *p, coco_rng *r, prosqa_example *out) {
    pq_check_params(p);
    /* With the defaults 93% of the draws are accepted; 100000 rejections in a
     * row only happen with parameters that cannot produce a valid graph. */
    for (int attempt = 0; attempt < 100000; attempt++)
        if (pq_try(p, r, out)) return 0;
    return coco_seterr("prosqa: no acceptable graph in 100000 draws (n_nodes %d, lambda %g, hops %d..%d, "
                       "node count %d..%d)",
                       p->n_nodes, p->lambda, p->min_hops, p->max_hops, p->min_nodes, p->max_nodes);
}

/* ------------------------------------------------------------ dedupe */

static int pq_strcmp_p(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

uint64_t prosqa_graph_key(const prosqa_example *e) {
    pq_adj a;
    pq_adj_build(&a, e->n_nodes, e->edges, e->n_edges);
    char **facts = coco_malloc(sizeof(char *) * (size_t)(e->n_edges ? e->n_edges : 1), "prosqa key");
    for (int i = 0; i < e->n_edges; i++) {
        pq_buf b = {0};
        int s = e->edges[i][0];
        pq_fact(&b, e->symbols[s], e->symbols[e->edges[i][1]], pq_npar(&a, s) > 0);
        facts[i] = b.s;
    }
    qsort(facts, (size_t)e->n_edges, sizeof *facts, pq_strcmp_p);
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the sorted facts, '\n'-separated */
    for (int i = 0; i < e->n_edges; i++) {
        for (const unsigned char *c = (const unsigned char *)facts[i]; *c; c++) h = (h ^ *c) * 0x100000001b3ULL;
        h = (h ^ '\n') * 0x100000001b3ULL;
        free(facts[i]);
    }
    free(facts);
    pq_adj_free(&a);
    return h ? h : 1; /* 0 marks an empty slot below */
}

/* Open-addressing set of 64-bit keys. A false match (two graphs with the same
 * 64-bit hash, ~1e-11 for 2e4 graphs) only causes a harmless redraw. */
typedef struct pq_keyset {
    uint64_t *slot;
    size_t cap, n;
} pq_keyset;

static int pq_keyset_insert(pq_keyset *k, uint64_t key) { /* 1 inserted, 0 present */
    if (2 * (k->n + 1) > k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 1024;
        uint64_t *slot = coco_calloc(cap, sizeof *slot, "prosqa key set");
        for (size_t i = 0; i < k->cap; i++)
            if (k->slot[i]) {
                size_t j = k->slot[i] & (cap - 1);
                while (slot[j]) j = (j + 1) & (cap - 1);
                slot[j] = k->slot[i];
            }
        free(k->slot);
        k->slot = slot, k->cap = cap;
    }
    size_t j = key & (k->cap - 1);
    while (k->slot[j]) {
        if (k->slot[j] == key) return 0;
        j = (j + 1) & (k->cap - 1);
    }
    k->slot[j] = key;
    k->n++;
    return 1;
}

/* The stream of one split: a pure function of (seed, split). */
static void pq_split_rng(coco_rng *r, uint64_t seed, int split) {
    coco_rng_seed(r, coco_mix64(seed ^ coco_mix64(0x50524f53514100ULL + (uint64_t)split)));
}

/* Appends n examples drawn from r whose graphs are not in keys yet (adding them). */
static int pq_generate_into(const prosqa_params *p, coco_rng *r, int n, pq_keyset *keys, prosqa_set *out) {
    for (int have = 0; have < n;) {
        prosqa_example e;
        if (prosqa_generate_example(p, r, &e) != 0) return -1;
        if (pq_keyset_insert(keys, prosqa_graph_key(&e))) {
            pq_set_push(out, &e);
            have++;
        } else {
            prosqa_example_free(&e);
            out->n_redrawn++;
        }
    }
    return 0;
}

int prosqa_generate_splits(const prosqa_params *p, uint64_t seed, const int counts[PROSQA_NSPLITS],
                           prosqa_set out[PROSQA_NSPLITS]) {
    pq_check_params(p);
    for (int s = 0; s < PROSQA_NSPLITS; s++)
        if (counts[s] < 0) coco_fail("prosqa: negative example count %d for split %s", counts[s], prosqa_split_name(s));
    memset(out, 0, sizeof *out * PROSQA_NSPLITS);
    pq_keyset keys = {0};
    /* test, valid, then train: the evaluation splits do not depend on the train size. */
    static const int order[PROSQA_NSPLITS] = {PROSQA_TEST, PROSQA_VALID, PROSQA_TRAIN};
    for (int o = 0; o < PROSQA_NSPLITS; o++) {
        int s = order[o];
        coco_rng r;
        pq_split_rng(&r, seed, s);
        if (pq_generate_into(p, &r, counts[s], &keys, &out[s]) != 0) goto fail;
    }
    free(keys.slot);
    return 0;
fail:
    free(keys.slot);
    for (int s = 0; s < PROSQA_NSPLITS; s++) prosqa_set_free(&out[s]);
    return -1;
}

/* ============================================================ JSON writer */

static json_t *pq_example_json(const prosqa_example *e) {
    json_t *o = json_object(), *steps = json_array(), *sym = json_array(), *edges = json_array();
    for (int i = 0; i < e->n_steps; i++) json_array_append_new(steps, json_string(e->steps[i]));
    for (int i = 0; i < e->n_nodes; i++) json_array_append_new(sym, json_string(e->symbols[i]));
    for (int i = 0; i < e->n_edges; i++)
        json_array_append_new(edges, json_pack("[ii]", e->edges[i][0], e->edges[i][1]));
    /* Key order of the official files (jansson keeps insertion order). */
    json_object_set_new(o, "question", json_string(e->question));
    json_object_set_new(o, "answer", json_string(e->answer));
    json_object_set_new(o, "steps", steps);
    json_object_set_new(o, "idx_to_symbol", sym);
    json_object_set_new(o, "edges", edges);
    json_object_set_new(o, "root", json_integer(e->root));
    json_object_set_new(o, "target", json_integer(e->target));
    json_object_set_new(o, "neg_target", json_integer(e->neg_target));
    return o;
}

/* Streams the array one example at a time: without JSON_COMPACT or an indent,
 * jansson separates with ", " and ": " exactly like Python's json.dump. */
static int pq_write_fp(FILE *fp, const prosqa_set *s) {
    if (fputc('[', fp) == EOF) return -1;
    for (int i = 0; i < s->n; i++) {
        if (i && fputs(", ", fp) == EOF) return -1;
        const prosqa_example *e = &s->ex[i];
        if (!e->question || !e->answer || (e->n_steps && !e->steps) || (e->n_nodes && !e->symbols))
            coco_fail("prosqa_write_json: example %d is incomplete", i);
        json_t *o = pq_example_json(e);
        int rc = json_dumpf(o, fp, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (rc != 0) return -1;
    }
    if (fputc(']', fp) == EOF) return -1;
    return 0;
}

int prosqa_write_json(const char *path, const prosqa_set *s) {
    coco_atomic_file af;
    FILE *fp = coco_atomic_open(&af, path);
    if (!fp) return -1;
    if (pq_write_fp(fp, s) != 0) {
        int err = errno;
        coco_atomic_abort(&af);
        return coco_seterr("%s: write failed: %s", path, strerror(err));
    }
    return coco_atomic_commit(&af);
}

/* mkdir -p */
static int pq_mkdirs(const char *dir) {
    char *p = coco_strdup(dir);
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c) continue;
        char keep = *c;
        *c = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            coco_seterr("%s: cannot create directory: %s", p, strerror(err));
            free(p);
            return -1;
        }
        *c = keep;
        if (!keep) break;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return coco_seterr("%s: not a directory", dir);
    return 0;
}

int prosqa_write_splits(const char *dir, const prosqa_set sets[PROSQA_NSPLITS]) {
    if (!dir) dir = PROSQA_DEFAULT_DIR;
    if (!*dir) coco_fail("prosqa_write_splits: empty directory name");
    if (pq_mkdirs(dir) != 0) return -1;
    coco_atomic_file af[PROSQA_NSPLITS];
    int opened = 0, rc = 0;
    for (; opened < PROSQA_NSPLITS; opened++) {
        size_t n = strlen(dir) + 32;
        char *path = coco_malloc(n, "prosqa path");
        snprintf(path, n, "%s/%s.json", dir, prosqa_split_name(opened));
        FILE *fp = coco_atomic_open(&af[opened], path);
        if (fp && pq_write_fp(fp, &sets[opened]) != 0) {
            coco_seterr("%s: write failed: %s", path, strerror(errno));
            coco_atomic_abort(&af[opened]);
            fp = NULL;
        }
        free(path);
        if (!fp) {
            rc = -1;
            break;
        }
    }
    if (rc) { /* nothing renamed yet: remove every temp file */
        for (int s = 0; s < opened; s++) coco_atomic_abort(&af[s]);
        return -1;
    }
    for (int s = 0; s < PROSQA_NSPLITS; s++)
        if (coco_atomic_commit(&af[s]) != 0) {
            for (int t = s + 1; t < PROSQA_NSPLITS; t++) coco_atomic_abort(&af[t]);
            return -1;
        }
    return 0;
}

int prosqa_generate_files(const char *dir, const prosqa_params *p, uint64_t seed, const int counts[PROSQA_NSPLITS]) {
    static const int official[PROSQA_NSPLITS] = {17886, 300, 500};
    prosqa_params def;
    if (!p) prosqa_params_default(&def), p = &def;
    prosqa_set sets[PROSQA_NSPLITS];
    if (prosqa_generate_splits(p, seed, counts ? counts : official, sets) != 0) return -1;
    int rc = prosqa_write_splits(dir, sets);
    for (int s = 0; s < PROSQA_NSPLITS; s++) prosqa_set_free(&sets[s]);
    return rc;
}

/* ============================================================ JSON loader */

/* Field accessors: -1 with "file: example i: field 'f' ..." on a wrong shape. */
static int pq_get_string(const char *file, int i, json_t *o, const char *f, char **out) {
    json_t *v = json_object_get(o, f);
    if (!v) return coco_seterr("%s: example %d: field '%s' is missing", file, i, f);
    if (!json_is_string(v)) return coco_seterr("%s: example %d: field '%s' is not a string", file, i, f);
    *out = coco_strdup(json_string_value(v));
    return 0;
}

static int pq_get_strings(const char *file, int i, json_t *o, const char *f, char ***out, int *n) {
    json_t *v = json_object_get(o, f);
    if (!v) return coco_seterr("%s: example %d: field '%s' is missing", file, i, f);
    int bad = !json_is_array(v);
    for (size_t k = 0; !bad && k < json_array_size(v); k++) bad = !json_is_string(json_array_get(v, k));
    if (bad) return coco_seterr("%s: example %d: field '%s' is not an array of strings", file, i, f);
    *n = (int)json_array_size(v);
    *out = coco_malloc(sizeof(char *) * (size_t)(*n ? *n : 1), "prosqa strings");
    for (int k = 0; k < *n; k++) (*out)[k] = coco_strdup(json_string_value(json_array_get(v, (size_t)k)));
    return 0;
}

static int pq_get_index(const char *file, int i, json_t *o, const char *f, int n_nodes, int *out) {
    json_t *v = json_object_get(o, f);
    if (!v) return coco_seterr("%s: example %d: field '%s' is missing", file, i, f);
    if (!json_is_integer(v)) return coco_seterr("%s: example %d: field '%s' is not an integer", file, i, f);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x >= n_nodes)
        return coco_seterr("%s: example %d: field '%s' = %lld is not a node index (idx_to_symbol has %d entries)", file,
                           i, f, (long long)x, n_nodes);
    *out = (int)x;
    return 0;
}

static int pq_load_example(const char *file, int i, json_t *o, prosqa_example *e) {
    memset(e, 0, sizeof *e);
    if (!json_is_object(o)) return coco_seterr("%s: example %d is not a JSON object", file, i);
    if (pq_get_string(file, i, o, "question", &e->question) || pq_get_string(file, i, o, "answer", &e->answer) ||
        pq_get_strings(file, i, o, "steps", &e->steps, &e->n_steps) ||
        pq_get_strings(file, i, o, "idx_to_symbol", &e->symbols, &e->n_nodes))
        return -1;
    json_t *v = json_object_get(o, "edges");
    if (!v) return coco_seterr("%s: example %d: field 'edges' is missing", file, i);
    if (!json_is_array(v)) return coco_seterr("%s: example %d: field 'edges' is not an array of [int, int] pairs", file, i);
    e->n_edges = (int)json_array_size(v);
    e->edges = coco_malloc(sizeof *e->edges * (size_t)(e->n_edges ? e->n_edges : 1), "prosqa edges");
    for (int k = 0; k < e->n_edges; k++) {
        json_t *pr = json_array_get(v, (size_t)k);
        if (!json_is_array(pr) || json_array_size(pr) != 2 || !json_is_integer(json_array_get(pr, 0)) ||
            !json_is_integer(json_array_get(pr, 1)))
            return coco_seterr("%s: example %d: field 'edges' entry %d is not an [int, int] pair", file, i, k);
        for (int c = 0; c < 2; c++) {
            json_int_t x = json_integer_value(json_array_get(pr, (size_t)c));
            if (x < 0 || x >= e->n_nodes)
                return coco_seterr("%s: example %d: field 'edges' entry %d refers to node %lld, but idx_to_symbol has %d "
                                   "entries",
                                   file, i, k, (long long)x, e->n_nodes);
            e->edges[k][c] = (int)x;
        }
    }
    if (pq_get_index(file, i, o, "root", e->n_nodes, &e->root) ||
        pq_get_index(file, i, o, "target", e->n_nodes, &e->target) ||
        pq_get_index(file, i, o, "neg_target", e->n_nodes, &e->neg_target))
        return -1;
    return 0;
}

int prosqa_load_json(const char *path, prosqa_set *out) {
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (err.line > 0) return coco_seterr("%s:%d:%d: %s", path, err.line, err.column, err.text);
        return coco_seterr("%s: %s", path, err.text);
    }
    if (!json_is_array(root)) {
        json_decref(root);
        return coco_seterr("%s: the top level is not a JSON array of examples", path);
    }
    size_t n = json_array_size(root);
    for (size_t i = 0; i < n; i++) {
        prosqa_example e;
        if (pq_load_example(path, (int)i, json_array_get(root, i), &e) != 0) {
            prosqa_example_free(&e);
            prosqa_set_free(out);
            json_decref(root);
            return -1;
        }
        pq_set_push(out, &e);
    }
    json_decref(root);
    return 0;
}

/* ============================================================ consistency */

static int pq_find_symbol(const prosqa_example *e, const char *s, size_t len) {
    for (int i = 0; i < e->n_nodes; i++)
        if (strlen(e->symbols[i]) == len && memcmp(e->symbols[i], s, len) == 0) return i;
    return -1;
}

static int pq_is_name(const char *const *list, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

/* Parses a fact "Every X is a Y." / "X is a Y." of length len (ending in '.').
 * Returns the edge index in e (first unused one if used != NULL), or -1. */
static int pq_parse_fact(const prosqa_example *e, const pq_adj *a, const char *s, size_t len, const char *used) {
    if (len < 2 || s[len - 1] != '.') return -1;
    int every = len > 6 && !memcmp(s, "Every ", 6);
    const char *x = s + (every ? 6 : 0), *end = s + len - 1;
    const char *mid = NULL;
    for (const char *c = x; c + 6 <= end; c++)
        if (!memcmp(c, " is a ", 6)) {
            mid = c;
            break;
        }
    if (!mid) return -1;
    int src = pq_find_symbol(e, x, (size_t)(mid - x)), dst = pq_find_symbol(e, mid + 6, (size_t)(end - mid - 6));
    if (src < 0 || dst < 0 || every != (pq_npar(a, src) > 0)) return -1;
    for (int k = 0; k < e->n_edges; k++)
        if (e->edges[k][0] == src && e->edges[k][1] == dst && (!used || !used[k])) return k;
    return -1;
}

#define PQ_WHY(...) (snprintf(why, whylen, __VA_ARGS__), rc = -1, (void)0)

int prosqa_check_example(const prosqa_example *e, char *why, size_t whylen) {
    int rc = 0, n = e->n_nodes;
    if (n < 2) {
        snprintf(why, whylen, "fewer than 2 nodes");
        return -1;
    }
    pq_adj a;
    pq_adj_build(&a, n, e->edges, e->n_edges);
    int *dist = coco_malloc(sizeof(int) * (size_t)n * 2, "prosqa check");
    int *queue = dist + n;
    double *cnt = coco_malloc(sizeof(double) * (size_t)n, "prosqa check");
    char *used = coco_calloc((size_t)(e->n_edges ? e->n_edges : 1), 1, "prosqa check");
    pq_buf b = {0};

    /* Names: unique; entity names exactly on parentless nodes. */
    for (int i = 0; i < n && !rc; i++) {
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(e->symbols[i], e->symbols[j])) PQ_WHY("name '%s' used by nodes %d and %d", e->symbols[i], j, i);
        int ent = pq_is_name(prosqa_entity_names, PQ_N_ENTITY, e->symbols[i]);
        int con = pq_is_name(prosqa_concept_names, PQ_N_CONCEPT, e->symbols[i]);
        if (rc) break;
        if (pq_npar(&a, i) == 0 && !ent) PQ_WHY("parentless node %d '%s' has no entity name", i, e->symbols[i]);
        else if (pq_npar(&a, i) > 0 && !con) PQ_WHY("node %d '%s' has parents but no concept name", i, e->symbols[i]);
    }
    for (int k = 0; k < e->n_edges && !rc; k++)
        if (e->edges[k][0] == e->edges[k][1]) PQ_WHY("edge %d is a self loop", k);

    /* Reachability. */
    if (!rc) {
        pq_bfs(&a, e->root, dist, cnt, queue);
        if (dist[e->target] < 1) PQ_WHY("target %d is not reachable from root %d", e->target, e->root);
        else if (dist[e->neg_target] >= 0) PQ_WHY("neg_target %d is reachable from root %d", e->neg_target, e->root);
    }
    /* Steps: facts of edges forming a shortest path root -> target. */
    if (!rc && e->n_steps != dist[e->target])
        PQ_WHY("%d steps, but the shortest root->target path has %d edges", e->n_steps, dist[e->target]);
    for (int k = 0, at = e->root; k < e->n_steps && !rc; k++) {
        int ed = pq_parse_fact(e, &a, e->steps[k], strlen(e->steps[k]), NULL);
        if (ed < 0) PQ_WHY("step %d '%s' is not the sentence of an edge", k, e->steps[k]);
        else if (e->edges[ed][0] != at) PQ_WHY("step %d '%s' does not continue from node %d", k, e->steps[k], at);
        else at = e->edges[ed][1];
        if (!rc && k == e->n_steps - 1 && at != e->target) PQ_WHY("the steps end at node %d, not the target", at);
    }
    /* Answer. */
    if (!rc) {
        pq_buf_str(&b, e->symbols[e->root]);
        pq_buf_str(&b, " is a ");
        pq_buf_str(&b, e->symbols[e->target]);
        pq_buf_str(&b, ".");
        if (strcmp(b.s, e->answer)) PQ_WHY("answer '%s' is not '%s'", e->answer, b.s);
    }
    /* Question: each edge exactly once as a fact, then the query. */
    if (!rc) {
        const char *q = e->question, *c = q;
        int facts = 0;
        while (!rc && strncmp(c, "Is ", 3) != 0) {
            const char *dot = strchr(c, '.');
            if (!dot) {
                PQ_WHY("question has no query after %d facts", facts);
                break;
            }
            int ed = pq_parse_fact(e, &a, c, (size_t)(dot - c + 1), used);
            if (ed < 0) PQ_WHY("question fact %d '%.*s' is not an unused edge", facts, (int)(dot - c + 1), c);
            else used[ed] = 1, facts++;
            c = dot + 1;
            if (*c == ' ') c++;
            else if (!rc) PQ_WHY("question fact %d is not followed by a space", facts);
        }
        if (!rc && facts != e->n_edges) PQ_WHY("question states %d facts for %d edges", facts, e->n_edges);
        if (!rc) {
            const char *r = e->symbols[e->root], *t = e->symbols[e->target], *g = e->symbols[e->neg_target];
            b.len = 0;
            pq_buf_str(&b, "Is "), pq_buf_str(&b, r), pq_buf_str(&b, " a "), pq_buf_str(&b, t);
            pq_buf_str(&b, " or "), pq_buf_str(&b, g), pq_buf_str(&b, "?");
            pq_buf b2 = {0};
            pq_buf_str(&b2, "Is "), pq_buf_str(&b2, r), pq_buf_str(&b2, " a "), pq_buf_str(&b2, g);
            pq_buf_str(&b2, " or "), pq_buf_str(&b2, t), pq_buf_str(&b2, "?");
            if (strcmp(c, b.s) && strcmp(c, b2.s)) PQ_WHY("query '%s' is not '%s' (or with the options swapped)", c, b.s);
            free(b2.s);
        }
    }
    free(b.s);
    free(used);
    free(cnt);
    free(dist);
    pq_adj_free(&a);
    return rc;
}
#undef PQ_WHY

/* ============================================================ statistics */

void prosqa_stats_compute(const prosqa_set *s, prosqa_stats *st) {
    memset(st, 0, sizeof *st);
    st->n = s->n;
    if (!s->n) return;
    st->nodes_min = st->edges_min = 1 << 30;
    double sq_nodes = 0, sq_edges = 0, sq_paths = 0, sq_ent = 0;
    for (int i = 0; i < s->n; i++) {
        const prosqa_example *e = &s->ex[i];
        int n = e->n_nodes;
        pq_adj a;
        pq_adj_build(&a, n, e->edges, e->n_edges);
        int *d = coco_malloc(sizeof(int) * (size_t)n * 4, "prosqa stats");
        int *d0 = d + n, *d1 = d + 2 * n, *queue = d + 3 * n;
        double *cnt = coco_malloc(sizeof(double) * (size_t)n, "prosqa stats");
        pq_bfs(&a, e->root, d, cnt, queue);
        int h = d[e->target];
        st->hops[h < 0 ? 0 : h > 7 ? 7 : h]++;
        double paths = h < 0 ? 0 : cnt[e->target];
        int ent = 0;
        pq_bfs(&a, 0, d0, NULL, queue);
        pq_bfs(&a, n > 1 ? 1 : 0, d1, NULL, queue);
        for (int v = 0; v < n; v++) {
            ent += pq_npar(&a, v) == 0;
            st->label_mean[(d0[v] >= 0) | (n > 1 && d1[v] >= 0) << 1] += 1;
        }
        st->nodes_mean += n, sq_nodes += (double)n * n;
        st->edges_mean += e->n_edges, sq_edges += (double)e->n_edges * e->n_edges;
        st->paths_mean += paths, sq_paths += paths * paths;
        st->entities_mean += ent, sq_ent += (double)ent * ent;
        st->root1_share += e->root == 1;
        if (n < st->nodes_min) st->nodes_min = n;
        if (n > st->nodes_max) st->nodes_max = n;
        if (e->n_edges < st->edges_min) st->edges_min = e->n_edges;
        if (e->n_edges > st->edges_max) st->edges_max = e->n_edges;
        free(cnt);
        free(d);
        pq_adj_free(&a);
    }
    double N = s->n;
#define PQ_MOMENTS(mean, sd, sq) \
    do { \
        mean /= N; \
        double var = N > 1 ? (sq - N * mean * mean) / (N - 1) : 0; \
        sd = var > 0 ? sqrt(var) : 0; \
    } while (0)
    PQ_MOMENTS(st->nodes_mean, st->nodes_sd, sq_nodes);
    PQ_MOMENTS(st->edges_mean, st->edges_sd, sq_edges);
    PQ_MOMENTS(st->paths_mean, st->paths_sd, sq_paths);
    PQ_MOMENTS(st->entities_mean, st->entities_sd, sq_ent);
#undef PQ_MOMENTS
    st->root1_share /= N;
    for (int k = 0; k < 4; k++) st->label_mean[k] /= N;
}

/* ============================================================ frontiers */

void prosqa_frontiers(const prosqa_example *e, prosqa_frontier *f) {
    memset(f, 0, sizeof *f);
    int n = e->n_nodes;
    pq_adj a;
    pq_adj_build(&a, n, e->edges, e->n_edges);
    int *dr = coco_malloc(sizeof(int) * (size_t)n * 3, "prosqa frontiers");
    int *dt = dr + n, *queue = dr + 2 * n;
    pq_bfs(&a, e->root, dr, NULL, queue);
    /* Distances to the target: BFS from it along the parents. */
    for (int v = 0; v < n; v++) dt[v] = -1;
    int qh = 0, qt = 0;
    dt[e->target] = 0;
    queue[qt++] = e->target;
    while (qh < qt) {
        int u = queue[qh++];
        for (int k = a.par_off[u]; k < a.par_off[u + 1]; k++)
            if (dt[a.par[k]] < 0) dt[a.par[k]] = dt[u] + 1, queue[qt++] = a.par[k];
    }
    int D = dr[e->target];
    f->hops = D;
    if (D >= 1) {
        f->sp_off = coco_calloc((size_t)D + 1, sizeof(int), "prosqa frontiers");
        f->bfs_off = coco_calloc((size_t)D + 1, sizeof(int), "prosqa frontiers");
        f->sp = coco_malloc(sizeof(int) * (size_t)n, "prosqa frontiers");
        f->bfs = coco_malloc(sizeof(int) * (size_t)n, "prosqa frontiers");
        int ns = 0, nb = 0;
        for (int k = 1; k <= D; k++) { /* node indices ascending within each k */
            for (int v = 0; v < n; v++) {
                if (dr[v] != k) continue;
                f->bfs[nb++] = v;
                if (dt[v] == D - k) f->sp[ns++] = v;
            }
            f->sp_off[k] = ns, f->bfs_off[k] = nb;
        }
    }
    free(dr);
    pq_adj_free(&a);
}

void prosqa_frontier_free(prosqa_frontier *f) {
    if (!f) return;
    free(f->sp_off), free(f->sp), free(f->bfs_off), free(f->bfs);
    memset(f, 0, sizeof *f);
}

/* ============================================================ rendering */

static const char *const pq_default_markers[4] = {"Q", "R", "A", "|"};

void prosqa_render_opts_default(prosqa_render_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = PROSQA_FORMAT_WORDS;
    o->node_ids = PROSQA_IDS_CREATION;
    o->edge_order = PROSQA_EDGES_QUESTION;
}

void prosqa_rendered_free(prosqa_rendered *r) {
    if (!r) return;
    free(r->question), free(r->answer);
    for (int i = 0; i < r->n_steps; i++) free(r->steps[i]);
    free(r->steps), free(r->ids), free(r->meta_json);
    memset(r, 0, sizeof *r);
}

/* Stream of one (render seed, graph, purpose[, epoch]). */
static void pq_render_rng(coco_rng *r, uint64_t seed, uint64_t key, uint64_t tag, int with_epoch, int epoch) {
    uint64_t z = coco_mix64(key ^ coco_mix64(tag));
    if (with_epoch) z = coco_mix64(z ^ coco_mix64(0x45504f4348ULL + (uint64_t)(uint32_t)epoch));
    coco_rng_seed(r, coco_mix64(seed ^ z));
}

/* Candidate order of the file's query "... Is root a X or Y?": 0 when X is
 * the target, 1 when X is neg_target, -1 (errmsg) otherwise. */
static int pq_query_swap(const prosqa_example *e) {
    const char *r = e->symbols[e->root], *t = e->symbols[e->target], *g = e->symbols[e->neg_target];
    size_t ql = strlen(e->question);
    for (int swap = 0; swap < 2; swap++) {
        pq_buf b = {0};
        pq_buf_str(&b, "Is "), pq_buf_str(&b, r), pq_buf_str(&b, " a "), pq_buf_str(&b, swap ? g : t);
        pq_buf_str(&b, " or "), pq_buf_str(&b, swap ? t : g), pq_buf_str(&b, "?");
        int hit = ql >= b.len && !strcmp(e->question + ql - b.len, b.s) &&
                  (ql == b.len || e->question[ql - b.len - 1] == ' ');
        free(b.s);
        if (hit) return swap;
    }
    return coco_seterr("the question does not end with the query 'Is %s a %s or %s?' (or the two swapped)", r, t, g);
}

/* Edge indices in the order of the question's fact sentences; -1 + errmsg. */
static int pq_question_order(const prosqa_example *e, const pq_adj *a, int *order) {
    char *used = coco_calloc((size_t)(e->n_edges ? e->n_edges : 1), 1, "prosqa render");
    const char *c = e->question;
    int facts = 0, rc = 0;
    while (strncmp(c, "Is ", 3) != 0) {
        const char *dot = strchr(c, '.');
        int ed = dot && facts < e->n_edges ? pq_parse_fact(e, a, c, (size_t)(dot - c + 1), used) : -1;
        if (ed < 0) {
            rc = coco_seterr("question fact %d '%.*s' is not an unused edge of the graph (edge_order=file does not need "
                             "the question)",
                             facts, dot ? (int)(dot - c + 1) : (int)strlen(c), c);
            break;
        }
        used[ed] = 1;
        order[facts++] = ed;
        c = dot + 1;
        while (*c == ' ') c++;
    }
    if (!rc && facts != e->n_edges)
        rc = coco_seterr("the question states %d facts for %d edges (edge_order=file does not need the question)", facts,
                         e->n_edges);
    free(used);
    return rc;
}

/* Node path root -> target from the steps (path[0] = root, D+1 nodes); -1 + errmsg. */
static int pq_steps_path(const prosqa_example *e, const pq_adj *a, int *path) {
    path[0] = e->root;
    for (int k = 0; k < e->n_steps; k++) {
        int ed = pq_parse_fact(e, a, e->steps[k], strlen(e->steps[k]), NULL);
        if (ed < 0) return coco_seterr("step %d '%s' is not the sentence of an edge", k, e->steps[k]);
        if (e->edges[ed][0] != path[k])
            return coco_seterr("step %d '%s' does not continue the path from node %d", k, e->steps[k], path[k]);
        path[k + 1] = e->edges[ed][1];
    }
    if (path[e->n_steps] != e->target)
        return coco_seterr("the steps end at node %d, not at the target %d", path[e->n_steps], e->target);
    return 0;
}

static void pq_buf_int(pq_buf *b, int x) {
    char t[16];
    snprintf(t, sizeof t, "%d", x);
    pq_buf_str(b, t);
}

static json_t *pq_sets_json(const int *off, const int *v, int hops) {
    json_t *arr = json_array();
    for (int k = 1; k <= hops; k++) {
        json_t *set = json_array();
        for (int i = off[k - 1]; i < off[k]; i++) json_array_append_new(set, json_integer(v[i]));
        json_array_append_new(arr, set);
    }
    return arr;
}

/* The graph of an example as compact JSON (malloc'ed): the file's fields, then
 * (when full) the format, hops, the two frontiers (lists for k = 1..hops, node
 * indices) and the token each node is written as (symbolic: its id; words: its
 * name). */
static char *pq_meta_json(const prosqa_example *e, const int *ids, int format, int full) {
    json_t *o = json_object(), *sym = json_array(), *edges = json_array(), *toks = json_array();
    for (int i = 0; i < e->n_nodes; i++) json_array_append_new(sym, json_string(e->symbols[i]));
    for (int i = 0; i < e->n_edges; i++) json_array_append_new(edges, json_pack("[ii]", e->edges[i][0], e->edges[i][1]));
    for (int i = 0; i < e->n_nodes; i++) {
        char t[16];
        snprintf(t, sizeof t, "%d", ids ? ids[i] : 0);
        json_array_append_new(toks, json_string(ids ? t : e->symbols[i]));
    }
    prosqa_frontier f = {0};
    if (full) prosqa_frontiers(e, &f);
    json_object_set_new(o, "idx_to_symbol", sym);
    json_object_set_new(o, "edges", edges);
    json_object_set_new(o, "root", json_integer(e->root));
    json_object_set_new(o, "target", json_integer(e->target));
    json_object_set_new(o, "neg_target", json_integer(e->neg_target));
    if (full) {
        json_object_set_new(o, "format", json_string(format == PROSQA_FORMAT_SYMBOLIC ? "symbolic" : "words"));
        json_object_set_new(o, "hops", json_integer(f.hops));
        json_object_set_new(o, "frontier", pq_sets_json(f.sp_off, f.sp, f.hops));
        json_object_set_new(o, "bfs_frontier", pq_sets_json(f.bfs_off, f.bfs, f.hops));
        json_object_set_new(o, "node_tokens", toks);
    } else {
        json_decref(toks);
    }
    prosqa_frontier_free(&f);
    char *txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!txt) coco_fail("prosqa: out of memory serialising an example's graph");
    char *copy = coco_strdup(txt); /* jansson's allocator may differ from ours */
    free(txt);
    return copy;
}

int prosqa_render(const prosqa_example *e, const prosqa_render_opts *o, prosqa_rendered *out) {
    memset(out, 0, sizeof *out);
    if (o->format != PROSQA_FORMAT_WORDS && o->format != PROSQA_FORMAT_SYMBOLIC)
        coco_fail("prosqa_render: format %d is not words or symbolic", o->format);
    if (o->format == PROSQA_FORMAT_WORDS && o->node_ids != PROSQA_IDS_CREATION)
        coco_fail("prosqa_render: node_ids other than creation need format symbolic");
    int n = e->n_nodes, m = e->n_edges, rc = 0;
    int symbolic = o->format == PROSQA_FORMAT_SYMBOLIC;
    int verbatim = !symbolic && o->edge_order == PROSQA_EDGES_QUESTION;
    pq_adj a;
    pq_adj_build(&a, n, e->edges, m);
    int *order = coco_malloc(sizeof(int) * (size_t)(m ? m : 1), "prosqa render");
    int *path = coco_malloc(sizeof(int) * ((size_t)e->n_steps + 1), "prosqa render");
    int *pool = NULL, swap = 0;
    int needs_key = o->edge_order == PROSQA_EDGES_SHUFFLE || (symbolic && o->node_ids != PROSQA_IDS_CREATION);
    uint64_t key = needs_key ? prosqa_graph_key(e) : 0;
    coco_rng r;

    /* Edge and candidate order. */
    if (!verbatim) {
        if (o->edge_order == PROSQA_EDGES_SHUFFLE) {
            for (int i = 0; i < m; i++) order[i] = i;
            pq_render_rng(&r, o->seed, key, 0x45444745ULL, 1, o->epoch);
            pq_shuffle(&r, order, m, m);
            swap = (int)coco_rng_below(&r, 2);
        } else {
            if (o->edge_order == PROSQA_EDGES_QUESTION) rc = pq_question_order(e, &a, order);
            else
                for (int i = 0; i < m; i++) order[i] = i;
            if (!rc) swap = pq_query_swap(e);
            if (swap < 0) rc = -1;
        }
    }
    /* Node ids. */
    if (!rc && symbolic) {
        out->ids = coco_malloc(sizeof(int) * (size_t)(n ? n : 1), "prosqa render");
        if (o->node_ids == PROSQA_IDS_CREATION) {
            for (int v = 0; v < n; v++) out->ids[v] = v;
        } else {
            int space = o->id_space > 0 ? o->id_space : n;
            if (n > space) {
                rc = coco_seterr("the graph has %d nodes, more than id_space = %d ids", n, space);
            } else {
                pool = coco_malloc(sizeof(int) * (size_t)(space ? space : 1), "prosqa render");
                for (int i = 0; i < space; i++) pool[i] = i;
                pq_render_rng(&r, o->seed, key, 0x4e4f444549445300ULL, o->node_ids == PROSQA_IDS_PERMUTE, o->epoch);
                pq_shuffle(&r, pool, space, n);
                for (int v = 0; v < n; v++) out->ids[v] = pool[v];
            }
        }
    }
    if (!rc && symbolic) rc = pq_steps_path(e, &a, path);

    if (!rc && symbolic) {
        const char *const *mk = o->markers[0] ? o->markers : pq_default_markers;
        const int *id = out->ids;
        pq_buf q = {0};
        for (int i = 0; i < m; i++) {
            if (i) pq_buf_str(&q, " "), pq_buf_str(&q, mk[3]), pq_buf_str(&q, " ");
            pq_buf_int(&q, id[e->edges[order[i]][0]]);
            pq_buf_str(&q, " ");
            pq_buf_int(&q, id[e->edges[order[i]][1]]);
        }
        if (m) pq_buf_str(&q, " ");
        pq_buf_str(&q, mk[0]), pq_buf_str(&q, " ");
        pq_buf_int(&q, id[swap ? e->neg_target : e->target]);
        pq_buf_str(&q, " ");
        pq_buf_int(&q, id[swap ? e->target : e->neg_target]);
        pq_buf_str(&q, " "), pq_buf_str(&q, mk[1]), pq_buf_str(&q, " ");
        pq_buf_int(&q, id[e->root]);
        out->question = q.s;
        out->n_steps = e->n_steps;
        out->steps = coco_malloc(sizeof(char *) * (size_t)(e->n_steps ? e->n_steps : 1), "prosqa render");
        for (int k = 0; k < e->n_steps; k++) {
            pq_buf s = {0};
            pq_buf_int(&s, id[path[k + 1]]);
            out->steps[k] = s.s;
        }
        pq_buf ans = {0};
        pq_buf_str(&ans, mk[2]), pq_buf_str(&ans, " ");
        pq_buf_int(&ans, id[e->target]);
        out->answer = ans.s;
    } else if (!rc) {
        if (verbatim) {
            out->question = coco_strdup(e->question);
        } else {
            pq_buf q = {0};
            for (int i = 0; i < m; i++) {
                int s = e->edges[order[i]][0], d = e->edges[order[i]][1];
                if (i) pq_buf_str(&q, " ");
                pq_fact(&q, e->symbols[s], e->symbols[d], pq_npar(&a, s) > 0);
            }
            pq_buf_str(&q, m ? " Is " : "Is ");
            pq_buf_str(&q, e->symbols[e->root]);
            pq_buf_str(&q, " a ");
            pq_buf_str(&q, e->symbols[swap ? e->neg_target : e->target]);
            pq_buf_str(&q, " or ");
            pq_buf_str(&q, e->symbols[swap ? e->target : e->neg_target]);
            pq_buf_str(&q, "?");
            out->question = q.s;
        }
        out->n_steps = e->n_steps;
        out->steps = coco_malloc(sizeof(char *) * (size_t)(e->n_steps ? e->n_steps : 1), "prosqa render");
        for (int k = 0; k < e->n_steps; k++) out->steps[k] = coco_strdup(e->steps[k]);
        out->answer = coco_strdup(e->answer);
    }
    if (!rc) out->meta_json = pq_meta_json(e, out->ids, o->format, symbolic || o->frontiers);
    free(pool);
    free(path);
    free(order);
    pq_adj_free(&a);
    if (rc) prosqa_rendered_free(out);
    return rc ? -1 : 0;
}

/* ============================================================ dataset plugin */

/* Options (all optional):
 *   dir          directory of the split files ("datasets/prosqa")
 *   train_file, valid_file, test_file
 *                explicit file of a split, as given (relative to the working
 *                directory); "" = <dir>/<split>.json, or the official name
 *                <dir>/prosqa_<split>.json when only that exists
 *   generate     when a split has no file (and no explicit *_file), generate
 *                all three splits into <dir> with seed and n_* (true)
 *   seed         generator seed (20241209)
 *   n_train, n_valid, n_test   generator sizes (17886 / 300 / 500, the
 *                official sizes)
 *   nodes, min_hops, max_hops  generator: nodes drawn, accepted hop range
 *   min_nodes, max_nodes       generator filter: accepted node count after
 *                pruning (0 = no bound). Existing files are used as they are
 *                (a cached directory generated with other options is not
 *                regenerated: use another dir), unless filter_files is set.
 *   filter_files apply min_hops..max_hops and min_nodes..max_nodes to the
 *                examples read from any file, dropping the others (false).
 *                E.g. min_hops=3 max_hops=4 on the official files gives the
 *                3-4-hop subset of Reasoning by Superposition (257 of the 300
 *                valid examples).
 *   format       words | symbolic (words)
 *   node_ids     creation | shuffle | permute (creation; symbolic only)
 *   id_space     shuffle/permute: ids from 0..id_space-1, 0 = the graph's size
 *   edge_order   question | file | shuffle (question)
 *   render_seed  seed of shuffle, permute and edge_order=shuffle (0)
 *   epoch        the epoch permute and edge_order=shuffle render for (0): one
 *                instance per epoch gives per-epoch renderings
 *   markers      symbolic query, root, answer markers and edge separator,
 *                comma-separated ("Q,R,A,|")
 *   frontiers    words: also put the frontiers in meta_json (false; the
 *                symbolic format always does)
 * See "Rendering" at the top for the formats. load(split) emits every example
 * of the split in file order (minus filtered ones) with meta_json =
 * {"idx_to_symbol":[...],"edges":[[s,d],...],"root":r,"target":t,
 * "neg_target":n} (compact JSON), the graph the probes use, in the file's node
 * indices; for format=symbolic (or frontiers=true) followed by
 * "format":"words"|"symbolic","hops":D,
 * "frontier":[[k=1 nodes],...,[k=D nodes]],"bfs_frontier":[...],
 * "node_tokens":[token of node 0, ...]: the shortest-path and BFS frontiers
 * as node indices, and how each node is written in the rendered text
 * (symbolic: its id under node_ids; words: its name). prepare() (re)generates
 * <dir>/{train,valid,test}.json unconditionally. */

static const coco_host *pq_host;

typedef struct pq_plugin {
    char *dir, *file[PROSQA_NSPLITS];
    int generate;
    uint64_t seed;
    int counts[PROSQA_NSPLITS];
    prosqa_params params;
    int filter_files;
    prosqa_render_opts render;
    char *markers[4];
} pq_plugin;

static const coco_option_spec pq_options[] = {
    {"dir", COCO_OPT_STR, PROSQA_DEFAULT_DIR, "directory of {train,valid,test}.json (or prosqa_{split}.json)"},
    {"train_file", COCO_OPT_STR, "", "explicit train file (\"\" = from dir)"},
    {"valid_file", COCO_OPT_STR, "", "explicit valid file (\"\" = from dir)"},
    {"test_file", COCO_OPT_STR, "", "explicit test file (\"\" = from dir)"},
    {"generate", COCO_OPT_BOOL, "true", "generate the three splits into dir when a split file is missing"},
    {"seed", COCO_OPT_INT, "20241209", "generator seed"},
    {"n_train", COCO_OPT_INT, "17886", "generated train examples"},
    {"n_valid", COCO_OPT_INT, "300", "generated valid examples"},
    {"n_test", COCO_OPT_INT, "500", "generated test examples"},
    {"nodes", COCO_OPT_INT, "28", "generator: nodes drawn per graph (the official distribution: 28)"},
    {"min_hops", COCO_OPT_INT, "3", "generator: shortest root-to-target distance, lower bound (official: 3)"},
    {"max_hops", COCO_OPT_INT, "6", "generator: shortest root-to-target distance, upper bound (official: 6)"},
    {"min_nodes", COCO_OPT_INT, "0", "generator filter: fewest nodes per graph after pruning (0 = no bound)"},
    {"max_nodes", COCO_OPT_INT, "0", "generator filter: most nodes per graph after pruning (0 = no bound)"},
    {"filter_files", COCO_OPT_BOOL, "false", "apply the hop and node-count ranges to examples read from files too"},
    {"format", COCO_OPT_STR, "words", "words (the file's sentences) | symbolic (one token per node: 's t | ... Q a b R root')"},
    {"node_ids", COCO_OPT_STR, "creation", "symbolic node ids: creation (file order) | shuffle (per graph) | permute (per graph and epoch)"},
    {"id_space", COCO_OPT_INT, "0", "shuffle/permute: draw ids from 0..id_space-1 (0 = the graph's node count)"},
    {"edge_order", COCO_OPT_STR, "question", "edge order: question (the file's fact order) | file (edges array) | shuffle (per epoch)"},
    {"render_seed", COCO_OPT_INT, "0", "seed of shuffle, permute and edge_order=shuffle"},
    {"epoch", COCO_OPT_INT, "0", "epoch rendered by permute and edge_order=shuffle (one instance per epoch)"},
    {"markers", COCO_OPT_STR, "Q,R,A,|", "symbolic markers: query, root, answer, edge separator (published: [Q],[R],[A],|)"},
    {"frontiers", COCO_OPT_BOOL, "false", "words format: add hops, frontiers and node tokens to meta_json (symbolic: always)"},
    {NULL, 0, NULL, NULL},
};

static void pq_plugin_destroy(void *self) {
    pq_plugin *q = self;
    if (!q) return;
    free(q->dir);
    for (int s = 0; s < PROSQA_NSPLITS; s++) free(q->file[s]);
    for (int k = 0; k < 4; k++) free(q->markers[k]);
    free(q);
}

/* Index of s in the NULL-terminated list, or -1 with an error naming the option. */
static int pq_choice(const char *opt, const char *s, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(s, list[i])) return i;
    pq_buf b = {0};
    for (int i = 0; list[i]; i++) pq_buf_str(&b, i ? ", " : ""), pq_buf_str(&b, list[i]);
    pq_host->seterr("dataset 'prosqa': option '%s' = '%s' is not one of %s", opt, s, b.s);
    free(b.s);
    return -1;
}

/* Splits "q,r,a,sep" into q->markers; -1 + error. A marker is a non-empty
 * run of printable non-space characters, not all digits (node ids are). */
static int pq_parse_markers(pq_plugin *q, const char *s) {
    const char *c = s;
    for (int k = 0; k < 4; k++) {
        const char *end = strchr(c, ',');
        if (k < 3 && !end) break;
        if (k == 3 && end) return pq_host->seterr("dataset 'prosqa': option 'markers' = '%s' has more than 4 entries", s);
        size_t n = end ? (size_t)(end - c) : strlen(c);
        int digits = 1, ok = n > 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)c[i];
            ok &= ch > ' ' && ch != 0x7f;
            digits &= ch >= '0' && ch <= '9';
        }
        if (!ok || digits)
            return pq_host->seterr("dataset 'prosqa': option 'markers' = '%s': entry %d '%.*s' must be non-empty, "
                                   "without spaces and not a number",
                                   s, k + 1, (int)n, c);
        q->markers[k] = coco_malloc(n + 1, "prosqa markers");
        memcpy(q->markers[k], c, n);
        q->markers[k][n] = 0;
        for (int j = 0; j < k; j++)
            if (!strcmp(q->markers[j], q->markers[k]))
                return pq_host->seterr("dataset 'prosqa': option 'markers' = '%s' repeats '%s'", s, q->markers[k]);
        c = end ? end + 1 : c + n;
    }
    if (!q->markers[3])
        return pq_host->seterr("dataset 'prosqa': option 'markers' = '%s' must list 4 entries: query, root, answer, "
                               "edge separator",
                               s);
    for (int k = 0; k < 4; k++) q->render.markers[k] = q->markers[k];
    return 0;
}

static int pq_plugin_create(const coco_options *o, void **self) {
    static const char *const file_opt[PROSQA_NSPLITS] = {"train_file", "valid_file", "test_file"};
    static const char *const count_opt[PROSQA_NSPLITS] = {"n_train", "n_valid", "n_test"};
    static const char *const formats[] = {"words", "symbolic", NULL};
    static const char *const id_modes[] = {"creation", "shuffle", "permute", NULL};
    static const char *const edge_orders[] = {"question", "file", "shuffle", NULL};
    int64_t counts[PROSQA_NSPLITS];
    for (int s = 0; s < PROSQA_NSPLITS; s++) {
        counts[s] = pq_host->opt_int(o, count_opt[s]);
        if (counts[s] < 0 || counts[s] > 100000000)
            return pq_host->seterr("dataset 'prosqa': option '%s' = %lld is outside 0..100000000", count_opt[s],
                                   (long long)counts[s]);
    }
    const char *dir = pq_host->opt_str(o, "dir");
    if (!*dir) return pq_host->seterr("dataset 'prosqa': option 'dir' is empty");
    pq_plugin *q = coco_calloc(1, sizeof *q, "prosqa plugin");
    q->dir = coco_strdup(dir);
    for (int s = 0; s < PROSQA_NSPLITS; s++) {
        q->file[s] = coco_strdup(pq_host->opt_str(o, file_opt[s]));
        q->counts[s] = (int)counts[s];
    }
    q->generate = pq_host->opt_bool(o, "generate");
    q->seed = (uint64_t)pq_host->opt_int(o, "seed");
    prosqa_params_default(&q->params);
    int64_t nodes = pq_host->opt_int(o, "nodes"), lo = pq_host->opt_int(o, "min_hops"), hi = pq_host->opt_int(o, "max_hops");
    if (nodes < 6 || nodes > PROSQA_MAX_GEN_NODES || lo < 1 || hi < lo || hi > nodes) {
        pq_plugin_destroy(q);
        return pq_host->seterr("dataset 'prosqa': nodes = %lld must be in 6..%d and 1 <= min_hops = %lld <= max_hops = %lld <= nodes",
                               (long long)nodes, PROSQA_MAX_GEN_NODES, (long long)lo, (long long)hi);
    }
    q->params.n_nodes = (int)nodes;
    q->params.min_hops = (int)lo;
    q->params.max_hops = (int)hi;
    int64_t nlo = pq_host->opt_int(o, "min_nodes"), nhi = pq_host->opt_int(o, "max_nodes");
    if (nlo < 0 || nhi < 0 || nlo > nodes || nhi > nodes || (nhi && nhi < nlo)) {
        pq_plugin_destroy(q);
        return pq_host->seterr("dataset 'prosqa': min_nodes = %lld and max_nodes = %lld must be in 0..nodes = %lld "
                               "(0 = no bound) with min_nodes <= max_nodes",
                               (long long)nlo, (long long)nhi, (long long)nodes);
    }
    q->params.min_nodes = (int)nlo;
    q->params.max_nodes = (int)nhi;
    q->filter_files = pq_host->opt_bool(o, "filter_files");

    prosqa_render_opts_default(&q->render);
    int fmt = pq_choice("format", pq_host->opt_str(o, "format"), formats);
    int ids = fmt < 0 ? -1 : pq_choice("node_ids", pq_host->opt_str(o, "node_ids"), id_modes);
    int eo = ids < 0 ? -1 : pq_choice("edge_order", pq_host->opt_str(o, "edge_order"), edge_orders);
    if (eo < 0) {
        pq_plugin_destroy(q);
        return -1;
    }
    if (fmt == PROSQA_FORMAT_WORDS && ids != PROSQA_IDS_CREATION) {
        pq_plugin_destroy(q);
        return pq_host->seterr("dataset 'prosqa': option 'node_ids' = '%s' needs format=symbolic (words keep the "
                               "file's names)",
                               id_modes[ids]);
    }
    int64_t space = pq_host->opt_int(o, "id_space"), epoch = pq_host->opt_int(o, "epoch");
    if (space < 0 || space > 1000000 || epoch < 0 || epoch > INT32_MAX) {
        pq_plugin_destroy(q);
        return pq_host->seterr("dataset 'prosqa': id_space = %lld must be in 0..1000000 and epoch = %lld >= 0",
                               (long long)space, (long long)epoch);
    }
    q->render.format = fmt;
    q->render.node_ids = ids;
    q->render.edge_order = eo;
    q->render.id_space = (int)space;
    q->render.epoch = (int)epoch;
    q->render.seed = (uint64_t)pq_host->opt_int(o, "render_seed");
    q->render.frontiers = pq_host->opt_bool(o, "frontiers");
    if (pq_parse_markers(q, pq_host->opt_str(o, "markers")) != 0) {
        pq_plugin_destroy(q);
        return -1;
    }
    *self = q;
    return 0;
}

static int pq_plugin_prepare(void *self) {
    pq_plugin *q = self;
    pq_host->log("generating ProsQA into %s (seed %llu; %d train, %d valid, %d test)", q->dir,
                 (unsigned long long)q->seed, q->counts[PROSQA_TRAIN], q->counts[PROSQA_VALID], q->counts[PROSQA_TEST]);
    return prosqa_generate_files(q->dir, &q->params, q->seed, q->counts);
}

static int pq_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The file of split s (malloc'ed), generating the splits when allowed; NULL + errmsg. */
static char *pq_plugin_path(pq_plugin *q, int s) {
    const char *name = prosqa_split_name(s);
    if (q->file[s][0]) {
        if (pq_exists(q->file[s])) return coco_strdup(q->file[s]);
        coco_seterr("dataset 'prosqa': %s_file '%s' does not exist", name, q->file[s]);
        return NULL;
    }
    size_t n = strlen(q->dir) + 32;
    char *ours = coco_malloc(n, "prosqa path"), *official = coco_malloc(n, "prosqa path");
    snprintf(ours, n, "%s/%s.json", q->dir, name);
    snprintf(official, n, "%s/prosqa_%s.json", q->dir, name);
    char *found = NULL;
    if (pq_exists(ours)) found = ours, ours = NULL;
    else if (pq_exists(official)) found = official, official = NULL;
    else if (!q->generate)
        coco_seterr("dataset 'prosqa': no %s split: neither %s nor %s exists (set generate=true, or %s_file)", name, ours,
                    official, name);
    else if (pq_plugin_prepare(q) == 0)
        found = ours, ours = NULL;
    free(ours);
    free(official);
    return found;
}

/* Whether e's hop count (root->target distance) and node count are in the
 * ranges of p (node bounds 0 = none). */
static int pq_in_ranges(const prosqa_params *p, const prosqa_example *e) {
    if ((p->min_nodes && e->n_nodes < p->min_nodes) || (p->max_nodes && e->n_nodes > p->max_nodes)) return 0;
    pq_adj a;
    pq_adj_build(&a, e->n_nodes, e->edges, e->n_edges);
    int *d = coco_malloc(sizeof(int) * (size_t)e->n_nodes * 2, "prosqa filter");
    pq_bfs(&a, e->root, d, NULL, d + e->n_nodes);
    int h = d[e->target];
    free(d);
    pq_adj_free(&a);
    return h >= p->min_hops && h <= p->max_hops;
}

static int pq_plugin_load(void *self, const char *split, const coco_example_sink *sink) {
    pq_plugin *q = self;
    int s = -1;
    for (int k = 0; k < PROSQA_NSPLITS; k++)
        if (split && !strcmp(split, prosqa_split_name(k))) s = k;
    if (s < 0) return coco_seterr("dataset 'prosqa': unknown split '%s' (expected train, valid or test)", split);
    char *path = pq_plugin_path(q, s);
    if (!path) return -1;
    prosqa_set set;
    int rc = prosqa_load_json(path, &set);
    for (int i = 0; rc == 0 && i < set.n; i++) {
        const prosqa_example *e = &set.ex[i];
        if (q->filter_files && !pq_in_ranges(&q->params, e)) continue;
        prosqa_rendered r;
        if (prosqa_render(e, &q->render, &r) != 0) {
            char *why = coco_strdup(coco_errmsg());
            rc = coco_seterr("%s: example %d: %s", path, i, why);
            free(why);
            break;
        }
        coco_example ex = {r.question, (const char *const *)r.steps, r.n_steps, r.answer, r.meta_json};
        rc = sink->add(sink->ud, &ex);
        prosqa_rendered_free(&r);
    }
    free(path);
    prosqa_set_free(&set);
    return rc ? -1 : 0;
}

static const coco_dataset_vt pq_vt = {
    .struct_size = sizeof(coco_dataset_vt),
    .create = pq_plugin_create,
    .destroy = pq_plugin_destroy,
    .load = pq_plugin_load,
    .prepare = pq_plugin_prepare,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *host) {
    pq_host = host;
    p->kind = COCO_KIND_DATASET;
    p->name = "prosqa";
    p->doc = "ProsQA (Coconut paper): loads {train,valid,test}.json, generating them when missing";
    p->options = pq_options;
    p->vtable = &pq_vt;
    return 0;
}
