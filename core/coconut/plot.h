/* coconut/plot.h — render figures by running gnuplot on a script file.
 *
 * Contract
 *   - coco_plot runs `gnuplot -c <script> ARG1 .. ARGn` (gnuplot >= 5: inside the
 *     script the arguments are the strings ARG1..ARG9, ARGC their count). No
 *     shell is involved (fork, chdir, execv of gnuplot found on PATH), so paths
 *     with spaces or quotes are safe in the script path, the args and workdir.
 *     gnuplot -c silently drops arguments after the ninth, so nargs > 9 is misuse.
 *   - Paths: `gp_script` and `workdir` are relative to the caller's current
 *     directory (a relative script path is made absolute before gnuplot changes
 *     into workdir). Paths inside the script and in the args are seen by gnuplot,
 *     i.e. relative to workdir when it is given (else the caller's directory).
 *   - gnuplot's stdin is /dev/null (a stray `pause -1` returns at once) and its
 *     stdout is discarded (a script that forgets `set output` would otherwise
 *     dump image bytes on the caller's stdout). stderr is captured.
 *   - Failure (-1 + coco_errmsg() = "<script>: gnuplot ...:\n<gnuplot's stderr,
 *     trimmed, last ~1.5 KB>"): gnuplot exits non-zero or dies from a signal, or
 *     it exits 0 but its stderr has an error line (`"file" line N: <message>`
 *     that is not `warning:`), or the warning `Cannot find or open file` — a
 *     missing CSV would otherwise silently produce a figure without that curve.
 *     gnuplot 5.4 itself exits 1 on any error in a script run with -c (checked for
 *     syntax errors, bad options, unknown terminals, `set output` into a missing
 *     directory, empty data / invalid ranges, errors inside if/do/eval/load);
 *     the stderr check is a second line of defence for other versions and modes.
 *     Other warnings (e.g. "Skipping data file with no valid points", fontconfig
 *     noise) are not failures. Not detected: failed writes of the image itself
 *     (gnuplot exits 0 and says nothing when the disk is full), so callers that
 *     need certainty check that the outputs exist and are non-empty.
 *   - gnuplot writes its outputs directly and may leave an empty or partial file
 *     when a script fails half way. For atomic figures pass temporary output
 *     names as args and rename them into place after coco_plot returns 0.
 *   - gnuplot not on PATH: -1 with a message saying so and how to install it.
 *   - gnuplot reads ~/.gnuplot (and the system gnuplotrc) before the script;
 *     figure scripts should set everything they rely on (terminal, size, font,
 *     `set datafile separator comma`, ...).
 *
 * Terminals — what figure scripts should use
 *   Checked on Debian 12 with only gnuplot-nox 5.4.4 (`gnuplot -e "set terminal"`):
 *   no interactive terminals (qt, wxt, x11), but the file terminals svg, png,
 *   gif, jpeg, sixelgd (libgd), pngcairo, pdfcairo, epscairo, cairolatex (cairo +
 *   pango: Debian's gnuplot-nox links libcairo2/libpangocairo), postscript,
 *   epslatex, canvas, tikz, dumb, ... So pngcairo *is* present on Debian, but
 *   gnuplot builds without cairo (source builds without libcairo-dev, some
 *   minimal distro packages) lack it, while `png` (libgd) and `svg` (built in,
 *   no library at all) are nearly universal. Recommended:
 *     - SVG: `set terminal svg size W,H dynamic font "sans,10"` (always present).
 *     - PNG: pngcairo when the build has it (antialiased, fontconfig fonts),
 *       otherwise png; choose inside the script with GPVAL_TERMINALS:
 *           if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
 *               set terminal pngcairo size 800,500 font "sans,10"
 *           } else {
 *               set terminal png size 800,500
 *           }
 *       (Do not name a TrueType font for `png`: libgd needs a font file path
 *       and falls back to a bitmap font with a warning.)
 *   A script rendering both: set the PNG terminal, `set output ARG1`, plot; then
 *   set the svg terminal, `set output ARG2`, `replot` (re-reads the CSVs); end
 *   with `unset output` so the last file is closed (the SVG's closing tags are
 *   written then). CSVs from coconut/csv.h: `set datafile separator comma`,
 *   columns by header name (`using "step":"loss"`), `set key autotitle
 *   columnhead`; empty fields are missing points.
 *   Fonts: pngcairo/svg name fonts through fontconfig; on Debian
 *   fonts-dejavu-core arrives with gnuplot-nox's dependencies (cairo ->
 *   fontconfig-config), so "sans" resolves to DejaVu Sans on a fresh machine.
 *
 * Threading: coco_plot may run from several threads at once (each call forks
 * its own gnuplot; between fork and exec the child only makes async-signal-safe
 * calls). coco_plot_version caches its result under a mutex.
 */
#ifndef COCONUT_PLOT_H
#define COCONUT_PLOT_H

#include "coconut/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum nargs: gnuplot -c passes ARG1..ARG9. */
#define COCO_PLOT_MAX_ARGS 9

/* Run gnuplot on the script file gp_script with args[0..nargs) as ARG1..ARGn,
 * in workdir (NULL: the caller's directory). 0, or -1 + errmsg (see contract).
 * Misuse (coco_fail): NULL gp_script, nargs < 0 or > 9, NULL args / arg. */
int coco_plot(const char *gp_script, int nargs, const char *const *args, const char *workdir);

/* "gnuplot 5.4 patchlevel 4" (the first line of `gnuplot --version`), cached
 * after the first success; NULL + errmsg when gnuplot cannot be run. */
const char *coco_plot_version(void);

#ifdef __cplusplus
}
#endif
#endif
