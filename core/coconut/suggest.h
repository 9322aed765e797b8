/* coconut/suggest.h — "did you mean ...?" for names the user typed.
 *
 * Contract
 *   - coco_edit_distance: optimal-string-alignment distance (insertions,
 *     deletions, substitutions and swaps of two adjacent characters, each 1),
 *     ASCII case-insensitive, so "Epoch" -> "epochs" is 1 and "lr" -> "rl" 1.
 *   - coco_closest: the candidate nearest to word when it is near enough to be
 *     a plausible typo (distance <= max(1, min(3, strlen(word) / 3))), ties to
 *     the earliest candidate; NULL when none is. The same rule serves option
 *     names, presets, methods and plugin names, in C and (coconut.suggest) Lua.
 *   - Pure functions: no allocation visible to the caller, no error channel.
 */
#ifndef COCONUT_SUGGEST_H
#define COCONUT_SUGGEST_H

#ifdef __cplusplus
extern "C" {
#endif

int coco_edit_distance(const char *a, const char *b);
const char *coco_closest(const char *word, const char *const *candidates, int n);

#ifdef __cplusplus
}
#endif
#endif
