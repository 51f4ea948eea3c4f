/* The dashboard's embedded assets (generated at build time by cmake/embed_web.py). */
#ifndef CP_APISERVER_DASHBOARD_H
#define CP_APISERVER_DASHBOARD_H

#include <stddef.h>

typedef struct cp_dash_asset_s {
  const char *path; /* "/" for index.html, "/assets/<name>.<hash>.<ext>" for the rest */
  const char *type; /* Content-Type */
  const char *etag; /* quoted strong validator of the identity bytes */
  const char *data;
  size_t len;
  const char *gz; /* gzip -n -9 of data; gz_len 0 when it would not be smaller */
  size_t gz_len;
} cp_dash_asset_t;

/* Terminated by an entry whose path is NULL. */
extern const cp_dash_asset_t cp__dash_assets[];

#endif
