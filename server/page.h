/* page.h - server/page.html, the page at GET /, embedded at build time.
 *
 * The Makefile generates $(BUILD)/gen/page_data.c from page.html, with the
 * Content-Security-Policy server/page_csp.pl computes from it (the hashes
 * of its inline script and style), so the binary serves exactly the page
 * it was built with under a policy that admits nothing else. */
#ifndef BGS_PAGE_H
#define BGS_PAGE_H

#include <stddef.h>

/* The bytes of page.html (not NUL-terminated) and their number. */
extern const unsigned char bgs_page_html[];
extern const size_t bgs_page_html_len;

/* The Content-Security-Policy header value of the page. */
extern const char bgs_page_csp[];

#endif
