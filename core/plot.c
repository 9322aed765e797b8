/* plot.c — run gnuplot on a script file without a shell and report its errors. */
#include "coconut/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Captured output beyond this is drained and dropped (gnuplot's stderr is
 * normally a few lines; a script printing in a loop must not grow us forever). */
#define CAPTURE_LIMIT (1u << 20)
/* How much of the tail of gnuplot's stderr goes into the error message
 * (coco_errmsg holds 2 KB; leave room for the script path). */
#define MSG_TAIL 1400

typedef struct capbuf {
    char *data;
    size_t len, cap;
} capbuf;

static void cap_append(capbuf *b, const char *s, size_t n) {
    if (b->len + n > CAPTURE_LIMIT) n = CAPTURE_LIMIT - b->len;
    if (!n) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        b->data = coco_realloc(b->data, cap, "gnuplot output");
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* Full path of an executable `name` on $PATH (malloc'ed), NULL if none. Done in
 * the parent so the child can call execv, which is async-signal-safe (execvp
 * is not guaranteed to be, and we may fork from a multithreaded process). */
static char *find_in_path(const char *name) {
    const char *path = getenv("PATH");
    char defpath[256];
    if (!path) {
        size_t n = confstr(_CS_PATH, defpath, sizeof defpath);
        path = n > 0 && n <= sizeof defpath ? defpath : "/usr/bin:/bin";
    }
    size_t nlen = strlen(name);
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        char *full = coco_malloc(dlen + nlen + 3, "path");
        if (dlen == 0)
            snprintf(full, dlen + nlen + 3, "./%s", name); /* empty PATH entry = current directory */
        else
            snprintf(full, dlen + nlen + 3, "%.*s/%s", (int)dlen, p, name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) return full;
        free(full);
        if (!end) return NULL;
        p = end + 1;
    }
}

static const char *k_missing = "gnuplot not found on PATH: install gnuplot 5 (Debian/Ubuntu: "
                               "`apt-get install gnuplot-nox`, or `make deps` in the coconut tree)";

/* What the child reports through the exec-status pipe when it fails before exec. */
typedef struct child_err {
    int stage; /* 1 chdir, 2 /dev/null, 3 exec */
    int err;
} child_err;

static void child_fail(int fd, int stage) {
    child_err ce = {stage, errno};
    ssize_t r = write(fd, &ce, sizeof ce);
    (void)r;
    _exit(127);
}

/* Run exe with argv in workdir; stdin from /dev/null; stdout and stderr
 * captured. Returns 0 with *wstatus set, or -1 + errmsg (prefixed by `who`)
 * when gnuplot could not be started. */
static int run_capture(const char *who, const char *exe, char *const argv[], const char *workdir, capbuf *out,
                       capbuf *err, int *wstatus) {
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, ps[2] = {-1, -1};
    /* O_CLOEXEC everywhere: fds of concurrent calls must not leak into other
     * children, and the status pipe closing at exec tells us exec succeeded. */
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0 || pipe2(ps, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0) close(po[i]);
            if (pe[i] >= 0) close(pe[i]);
            if (ps[i] >= 0) close(ps[i]);
        }
        return coco_seterr("%s: cannot create pipes for gnuplot: %s", who, strerror(e));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]), close(ps[0]), close(ps[1]);
        return coco_seterr("%s: cannot fork gnuplot: %s", who, strerror(e));
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        if (workdir && chdir(workdir) != 0) child_fail(ps[1], 1);
        int dn = open("/dev/null", O_RDONLY);
        if (dn < 0) child_fail(ps[1], 2);
        if (dup2(dn, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0) child_fail(ps[1], 2);
        /* A parent that ignores SIGPIPE would pass that on through exec. */
        signal(SIGPIPE, SIG_DFL);
        execv(exe, argv);
        child_fail(ps[1], 3);
    }
    close(po[1]);
    close(pe[1]);
    close(ps[1]);

    /* Blocks until exec succeeds (EOF) or the child reports a failure. */
    child_err ce = {0, 0};
    ssize_t r;
    do r = read(ps[0], &ce, sizeof ce);
    while (r < 0 && errno == EINTR);
    close(ps[0]);

    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    capbuf *bufs[2] = {out, err};
    int open_n = 2;
    char chunk[4096];
    while (open_n > 0) {
        int n = poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t k = read(fds[i].fd, chunk, sizeof chunk);
            if (k > 0) {
                cap_append(bufs[i], chunk, (size_t)k);
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_n--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);

    int st = 0;
    pid_t w;
    do w = waitpid(pid, &st, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0) return coco_seterr("%s: cannot wait for gnuplot: %s", who, strerror(errno));

    if (r == (ssize_t)sizeof ce) {
        if (ce.stage == 1)
            return coco_seterr("%s: cannot change into working directory %s: %s", who, workdir, strerror(ce.err));
        if (ce.stage == 2) return coco_seterr("%s: cannot set up gnuplot's stdin/stdout: %s", who, strerror(ce.err));
        return coco_seterr("%s: cannot run gnuplot (%s): %s", who, exe, strerror(ce.err));
    }
    *wstatus = st;
    return 0;
}

/* Does gnuplot's stderr report an error? See the contract in plot.h.
 * 0 no, 1 an error line, 2 a data file that could not be opened. */
static int has_error(const char *s) {
    if (!s) return 0;
    if (strstr(s, "Cannot find or open file")) return 2;
    /* Error lines look like `"script.gp" line 3: message` (or `line 0: ...`
     * for the script itself); warnings like `... line 3: warning: ...`. */
    for (const char *p = s; (p = strstr(p, "line ")) != NULL; p++) {
        if (p != s && p[-1] != ' ' && p[-1] != '\n') continue;
        const char *q = p + 5;
        if (*q < '0' || *q > '9') continue;
        while (*q >= '0' && *q <= '9') q++;
        if (q[0] != ':' || q[1] != ' ') continue;
        if (strncmp(q + 2, "warning:", 8) != 0) return 1;
    }
    return 0;
}

/* Trimmed tail of gnuplot's stderr, starting at a line boundary when cut. */
static const char *stderr_tail(capbuf *b, int *cut) {
    *cut = 0;
    if (!b->data) return "";
    char *s = b->data, *e = b->data + b->len;
    while (s < e && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t')) e--;
    *e = 0;
    if ((size_t)(e - s) > MSG_TAIL) {
        char *t = e - MSG_TAIL;
        char *nl = strchr(t, '\n');
        s = nl && nl + 1 < e ? nl + 1 : t;
        *cut = 1;
    }
    return s;
}

int coco_plot(const char *gp_script, int nargs, const char *const *args, const char *workdir) {
    if (!gp_script) coco_fail("coco_plot: gp_script is NULL");
    if (nargs < 0 || nargs > COCO_PLOT_MAX_ARGS)
        coco_fail("coco_plot: nargs must be in [0, %d] (gnuplot -c passes ARG1..ARG9), got %d", COCO_PLOT_MAX_ARGS,
                  nargs);
    if (nargs > 0 && !args) coco_fail("coco_plot: args is NULL");
    for (int i = 0; i < nargs; i++)
        if (!args[i]) coco_fail("coco_plot: args[%d] is NULL", i);

    struct stat sb;
    if (stat(gp_script, &sb) != 0) return coco_seterr("%s: cannot read gnuplot script: %s", gp_script, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return coco_seterr("%s: gnuplot script is not a regular file", gp_script);
    if (workdir) {
        if (stat(workdir, &sb) != 0)
            return coco_seterr("%s: working directory %s: %s", gp_script, workdir, strerror(errno));
        if (!S_ISDIR(sb.st_mode))
            return coco_seterr("%s: working directory %s is not a directory", gp_script, workdir);
    }

    char *exe = find_in_path("gnuplot");
    if (!exe) return coco_seterr("%s: %s", gp_script, k_missing);

    /* The child changes directory before gnuplot opens the script. */
    char *script_abs = NULL;
    if (workdir && gp_script[0] != '/') {
        script_abs = realpath(gp_script, NULL);
        if (!script_abs) {
            int e = errno;
            free(exe);
            return coco_seterr("%s: cannot resolve gnuplot script path: %s", gp_script, strerror(e));
        }
    }

    char **argv = coco_malloc((size_t)(nargs + 4) * sizeof *argv, "gnuplot argv");
    argv[0] = (char *)"gnuplot";
    argv[1] = (char *)"-c";
    argv[2] = script_abs ? script_abs : (char *)gp_script;
    for (int i = 0; i < nargs; i++) argv[3 + i] = (char *)args[i];
    argv[3 + nargs] = NULL;

    capbuf out = {0}, err = {0};
    int st = 0;
    int rc = run_capture(gp_script, exe, argv, workdir, &out, &err, &st);
    if (rc == 0) {
        int cut, kind;
        const char *text = stderr_tail(&err, &cut);
        const char *dots = cut ? "...\n" : "";
        if (WIFSIGNALED(st))
            rc = coco_seterr("%s: gnuplot was killed by signal %d%s%s%s", gp_script, WTERMSIG(st), *text ? ":\n" : "",
                             dots, text);
        else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
            rc = coco_seterr("%s: gnuplot failed (exit status %d)%s%s%s", gp_script, WEXITSTATUS(st),
                             *text ? ":\n" : "", dots, text);
        else if ((kind = has_error(text)) != 0)
            rc = coco_seterr("%s: gnuplot %s:\n%s%s", gp_script,
                             kind == 2 ? "could not open a data file" : "reported an error", dots, text);
    }
    free(out.data);
    free(err.data);
    free(argv);
    free(script_abs);
    free(exe);
    return rc;
}

static pthread_mutex_t g_version_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_version[128];

const char *coco_plot_version(void) {
    pthread_mutex_lock(&g_version_mu);
    if (g_version[0]) {
        pthread_mutex_unlock(&g_version_mu);
        return g_version;
    }
    const char *res = NULL;
    char *exe = find_in_path("gnuplot");
    if (!exe) {
        coco_seterr("%s", k_missing);
    } else {
        char *argv[] = {(char *)"gnuplot", (char *)"--version", NULL};
        capbuf out = {0}, err = {0};
        int st = 0;
        if (run_capture("gnuplot --version", exe, argv, NULL, &out, &err, &st) == 0) {
            const char *s = out.data ? out.data : "";
            size_t n = strcspn(s, "\r\n");
            while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && n > 0) {
                if (n >= sizeof g_version) n = sizeof g_version - 1;
                memcpy(g_version, s, n);
                g_version[n] = 0;
                res = g_version;
            } else {
                coco_seterr("gnuplot --version (%s) failed: %s", exe, err.data ? err.data : "no output");
            }
        }
        free(out.data);
        free(err.data);
        free(exe);
    }
    pthread_mutex_unlock(&g_version_mu);
    return res;
}
