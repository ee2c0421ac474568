/* pbtxt.h - a bounds-checked parser for protobuf text format (config.pbtxt).
 *
 * Parses into a generic tree without a schema; model_config.c maps the tree
 * onto Triton's ModelConfig fields. Repeated fields are repeated children;
 * list syntax `dims: [1, 2]` becomes repeated scalar children.
 *
 *     pb_node *root;
 *     t5_err err = {0};
 *     if (pb_parse(text, len, &root, &err) < 0) puts(err.msg); // "line 3: ..."
 *     const pb_node *db = pb_child(root, "dynamic_batching", 0);
 *     pb_free(root);
 */
#ifndef T5_SERVER_PBTXT_H
#define T5_SERVER_PBTXT_H

#include <stddef.h>
#include <stdint.h>

#include "t5_common.h"

enum { PB_SCALAR = 0, PB_MESSAGE = 1 };

typedef struct pb_node {
    char *name;
    int kind;      /* PB_SCALAR or PB_MESSAGE */
    int is_string; /* scalar written as a quoted string */
    char *value;   /* scalar text (strings unescaped, NUL-terminated) */
    size_t value_len;
    int line;
    struct pb_node *kids; /* message fields */
    int n_kids, cap_kids;
} pb_node;

/* Limits that keep a hostile file from costing much. */
#define PB_MAX_DEPTH 32
#define PB_MAX_NODES 100000
#define PB_MAX_STRING (1 << 20)

int pb_parse(const char *text, size_t len, pb_node **root, t5_err *err);
void pb_free(pb_node *root);

/* The idx-th child named name (NULL if none) and how many there are. */
const pb_node *pb_child(const pb_node *n, const char *name, int idx);
int pb_count(const pb_node *n, const char *name);

/* Scalar conversions; each returns T5_EFORMAT with the field and line named. */
int pb_int(const pb_node *n, int64_t lo, int64_t hi, int64_t *out, t5_err *err);
int pb_bool(const pb_node *n, int *out, t5_err *err);
int pb_double(const pb_node *n, double *out, t5_err *err);

#endif
