/* suggest.c - the "did you mean" of an unknown field: ranks a table's names
 * by how close they are to what the client sent (a shared prefix first,
 * then case-insensitive Levenshtein distance) and lists the best few. */
#include "api/suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 64 /* longer names get no suggestion */

static int lower(char c)
{
    return tolower((unsigned char)c);
}

/* Levenshtein distance of a and b (both at most NAME_MAX_LEN), no case. */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[NAME_MAX_LEN + 1];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (lower(a[i - 1]) != lower(b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static int prefix_of(const char *a, size_t na, const char *b)
{
    for (size_t i = 0; i < na; i++)
        if (b[i] == '\0' || lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

/* How far `cand` is from `name`: 0 for a prefix either way, else 1 + the
 * edit distance; SIZE_MAX when not close at all. */
static size_t score(const char *name, size_t nn, const char *cand)
{
    size_t nc = strlen(cand);
    if (nc > NAME_MAX_LEN)
        return SIZE_MAX;
    size_t shorter = nn < nc ? nn : nc, longer = nn < nc ? nc : nn;
    if (shorter >= 3 &&
        (nn <= nc ? prefix_of(name, nn, cand) : prefix_of(cand, nc, name)))
        return 0;
    size_t d = distance(name, nn, cand, nc);
    size_t allowed = longer / 3 < 2 ? 2 : longer / 3;
    return d <= allowed && d < longer ? 1 + d : SIZE_MAX;
}

size_t bgapi_suggest(const char *name, const char *const *first, size_t n,
                     size_t stride, char *out, size_t cap)
{
    const char *best[BGAPI_SUGGEST_MAX];
    size_t best_score[BGAPI_SUGGEST_MAX], found = 0;
    size_t nn = strlen(name);
    out[0] = '\0';
    if (nn == 0 || nn > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *cand =
            *(const char *const *)(const void *)((const char *)first +
                                                 i * stride);
        size_t s = score(name, nn, cand);
        if (s == SIZE_MAX)
            continue;
        size_t at = found < BGAPI_SUGGEST_MAX ? found++ : BGAPI_SUGGEST_MAX;
        while (at > 0 && best_score[at - 1] > s) {
            if (at < BGAPI_SUGGEST_MAX)
                best[at] = best[at - 1], best_score[at] = best_score[at - 1];
            at--;
        }
        if (at < BGAPI_SUGGEST_MAX)
            best[at] = cand, best_score[at] = s;
    }
    size_t o = 0;
    for (size_t i = 0; i < found; i++) {
        int k = snprintf(out + o, cap - o, "%s`%s`", i ? ", " : "", best[i]);
        if (k < 0 || (size_t)k >= cap - o) {
            out[o] = '\0';
            return i;
        }
        o += (size_t)k;
    }
    return found;
}
