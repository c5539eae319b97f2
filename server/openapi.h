/* openapi.h - the repository's openapi.yaml, embedded at build time.
 *
 * The Makefile generates $(BUILD)/gen/openapi_data.c from openapi.yaml, so
 * the binary serves exactly the contract it was built with. */
#ifndef BGS_OPENAPI_H
#define BGS_OPENAPI_H

#include <stddef.h>

/* The bytes of openapi.yaml (not NUL-terminated) and their number. */
extern const unsigned char bgs_openapi_yaml[];
extern const size_t bgs_openapi_yaml_len;

#endif
