/* bg_error.c - the message table of bg_status and the one helper that fills
 * a bg_error. Owns nothing else: no state, no allocation; the X-macro in
 * bg_error.h is the single list of codes. */
#include "core/bg_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const bg_messages[BG_STATUS_COUNT] = {
#define BG_STATUS_MSG(name, msg) msg,
    BG_STATUS_MAP(BG_STATUS_MSG)
#undef BG_STATUS_MSG
};

const char *bg_strerror(bg_status code)
{
    if ((int)code < 0 || code >= BG_STATUS_COUNT)
        return "unknown status";
    return bg_messages[code];
}

bg_status bg_error_set(bg_error *err, bg_status code, const char *field,
                       const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    if (fmt == NULL) {
        snprintf(err->detail, sizeof err->detail, "%s", bg_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return code;
}
