/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/compress_blocks.h: private to layers/ — parallel block compression under the
 * layer sink (compress_blocks.c says why the bytes never depend on the core count).
 */
#ifndef MOLT_COMPRESS_BLOCKS_H
#define MOLT_COMPRESS_BLOCKS_H

#include "layers.h"

/* gzip: deflate's window is 32 KiB, so 1 MiB blocks cost ~0.1% in size. zstd's window
 * is larger at its default level: bigger blocks keep its ratio. Changing either changes
 * every blob digest: they are part of the format. */
#define BLOCK_SIZE_GZIP ((size_t)1 << 20)
#define BLOCK_SIZE_ZSTD ((size_t)4 << 20)

/* Receives compressed bytes in stream order, from the thread that writes. */
typedef int block_emit_fn(const void *buf, size_t len, void *ud, struct molt_error **err);

struct block_pool;
/* MOLT_COMPRESS_THREADS, else the online CPUs; 1..16. */
unsigned block_pool_default_workers(void);
int block_pool_new(enum layer_compression c, int level, size_t block_size, unsigned workers,
		   block_emit_fn *emit, void *ud, struct block_pool **ret, struct molt_error **err);
int block_pool_write(struct block_pool *p, const void *buf, size_t len, struct molt_error **err);
/* Compresses what is left and emits everything; the pool is then only to be freed. */
int block_pool_finish(struct block_pool *p, struct molt_error **err);
void block_pool_free(struct block_pool *p);

#endif
