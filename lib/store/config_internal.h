/* Parts of config.json parsed outside config.c (internal to lib/store). */
#ifndef IK_CONFIG_INTERNAL_H
#define IK_CONFIG_INTERNAL_H

#include <jansson.h>

#include "ipfskit/config.h"

/* config_http.c: the "http" section's defaults, and its parser (EINVAL naming the key). */
void ik__config_http_init(struct ik_http_conf *h);
int ik__config_http_load(json_t *root, struct ik_http_conf *h, struct ik_error *err);

#endif
