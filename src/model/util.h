/* util.h - small file helpers shared by the model loader and writer (private). */
#ifndef T5_MODEL_UTIL_H
#define T5_MODEL_UTIL_H

#include <stddef.h>

#include "t5_common.h"

/* dir + "/" + name, malloc'd; NULL when out of memory. */
char *t5__path_join(const char *dir, const char *name);

/* Whether path names an existing regular file. */
int t5__file_exists(const char *path);

/* Reads a whole file (at most max bytes, else T5_ELIMIT) into a malloc'd,
 * NUL-terminated buffer. */
int t5__read_file(const char *path, size_t max, char **out, size_t *len, t5_err *err);

#endif
