/* suggest.h - "did you mean": the names of a table closest to a name a
 * client sent (an unknown field), by prefix and edit distance. */
#ifndef BGAPI_SUGGEST_H
#define BGAPI_SUGGEST_H

#include <stddef.h>

#define BGAPI_SUGGEST_MAX 3 /* names suggested at most */

/* Write into out (cap bytes, always terminated) the names closest to
 * `name`, best first, as "`a`, `b`", from a table of n entries whose
 * first entry's name pointer is *first and whose entries are `stride`
 * bytes apart (so a table of structs whose member is the name can be
 * passed as &table[0].name). A name is close when, ignoring case, one is
 * a prefix of the other (at least 3 characters shared) or the edit
 * distance is at most a third of the longer (at least 2). Returns how many
 * names were written (0: out is ""). */
size_t bgapi_suggest(const char *name, const char *const *first, size_t n,
                     size_t stride, char *out, size_t cap);

#endif
