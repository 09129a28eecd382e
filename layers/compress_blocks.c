/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/compress_blocks.c: layer compression on every core, with bytes that do not
 * depend on how many there are.
 *
 * The tar stream is cut into fixed-size blocks and each block becomes a complete gzip
 * member (or zstd frame) of its own. RFC 1952 §2.2 and the zstd format both define a
 * file as a sequence of members/frames, and every reader of image layers (Go's
 * compress/gzip as used by containerd, docker and skopeo; zlib's gunzip; libarchive)
 * reads all of them. Each member is what one call of the encoder makes of that block
 * alone, so the output is a function of (bytes, block size, level, encoder version)
 * only: the same layer on a 2-core laptop and a 64-core CI runner has the same blob
 * digest. A layer smaller than one block is one member, byte-identical to a
 * single-stream writer's.
 *
 * gzip members are libdeflate's (libdeflate_gzip_compress, one call per block: no
 * streaming state, so no dependence on how the input arrived): a 537 MiB export at
 * level 6 took 12.7 s of CPU against zlib's 28.6 s, blob 193.85 MB against 193.2
 * (tests/bench/bench_real.results.md); zlib's made molt's export slower than
 * `tar | pigz`. Its header has no time and no name (MTIME 0, OS 255). zstd
 * frames are libzstd's, the bytes libarchive's zstd filter wrote before.
 *
 * Threads: the caller's thread fills blocks and writes finished ones in order; N
 * workers compress. 2N slots bound the memory (each slot one block in, one out).
 * Lifecycle: block_pool_new starts the workers, block_pool_finish drains and joins
 * them, block_pool_free (also after a failure) stops and joins whatever still runs.
 */
#include <libdeflate.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "compress_blocks.h"

/* gzip_one()'s level for a gzip member of stored (uncompressed) deflate blocks;
 * 0 already means "the format's default". */
#define GZIP_LEVEL_STORED (-1)

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_WORKING, SLOT_DONE };

struct slot {
	enum slot_state state;
	uint64_t seq;
	unsigned char *in;
	size_t in_len;
	struct strbuf out;
	int error;   /* negative errno of a failed compression */
	char why[160];
};

struct block_pool {
	enum layer_compression c;
	int level;
	size_t block_size;
	block_emit_fn *emit;
	void *ud;

	pthread_mutex_t lock;
	pthread_cond_t work;  /* a slot was queued, or stop */
	pthread_cond_t done;  /* a slot was compressed */
	struct slot *slots;
	unsigned n_slots;
	pthread_t *threads;
	unsigned n_threads;
	bool stop;

	unsigned cur;         /* the slot being filled */
	uint64_t next_seq;    /* seq of the next block queued */
};

unsigned block_pool_default_workers(void)
{
	const char *e = getenv("MOLT_COMPRESS_THREADS");
	long n = e && *e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > 16 ? 16 : (unsigned)n;
}

/* A worker's compressors: libdeflate's, one per level used, and one zstd stream (made
 * on first use: a level 6 compressor is ~0.5 MiB of match-finder tables). */
struct codecs {
	struct libdeflate_compressor *by_level[10];
	ZSTD_CStream *zs;
};

static void gz_codecs_free(struct codecs *g)
{
	for (size_t i = 0; i < sizeof(g->by_level) / sizeof(*g->by_level); i++)
		libdeflate_free_compressor(g->by_level[i]);
	ZSTD_freeCStream(g->zs);
}

/* One block → one complete gzip member, appended to OUT. */
static int gzip_one(struct codecs *g, int level, const void *in, size_t n,
		    struct strbuf *out, char *why, size_t whylen)
{
	level = level == GZIP_LEVEL_STORED ? 0 : level > 0 ? level : 6;
	if (level > 9)
		level = 9;
	if (!g->by_level[level] && !(g->by_level[level] = libdeflate_alloc_compressor(level))) {
		snprintf(why, whylen, "libdeflate: out of memory (level %d)", level);
		return -ENOMEM;
	}
	size_t bound = libdeflate_gzip_compress_bound(g->by_level[level], n);
	strbuf_grow(out, bound);
	size_t got = libdeflate_gzip_compress(g->by_level[level], in, n, out->buf + out->len, bound);
	if (got == 0) { /* cannot happen with the bound's room */
		snprintf(why, whylen, "libdeflate: output larger than its bound");
		return -EIO;
	}
	out->len += got;
	out->buf[out->len] = '\0';
	return 0;
}

/* One block → one complete zstd frame, the bytes libarchive's zstd filter writes for
 * it (ZSTD_initCStream at the level, the block in one ZSTD_compressStream, then
 * ZSTD_endStream: no content size, no checksum), on the worker's reused stream — a new
 * libarchive writer per block allocated and set up a compression context every time. */
static int zstd_one(struct codecs *g, int level, const void *in, size_t n, struct strbuf *out,
		    char *why, size_t whylen)
{
	if (!g->zs && !(g->zs = ZSTD_createCStream())) {
		snprintf(why, whylen, "zstd: out of memory");
		return -ENOMEM;
	}
	size_t bound = ZSTD_compressBound(n) + 64;
	strbuf_grow(out, bound);
	ZSTD_inBuffer ib = {in, n, 0};
	ZSTD_outBuffer ob = {out->buf + out->len, bound, 0};
	size_t z = ZSTD_initCStream(g->zs, level > 0 ? level : 3);
	while (!ZSTD_isError(z) && ib.pos < ib.size && ob.pos < ob.size)
		z = ZSTD_compressStream(g->zs, &ob, &ib);
	while (!ZSTD_isError(z) && (z = ZSTD_endStream(g->zs, &ob)) != 0 && ob.pos < ob.size)
		;
	if (ZSTD_isError(z) || z != 0 || ib.pos != ib.size) {
		snprintf(why, whylen, "zstd: %s",
			 ZSTD_isError(z) ? ZSTD_getErrorName(z) : "output larger than its bound");
		return -EIO;
	}
	out->len += ob.pos;
	out->buf[out->len] = '\0';
	return 0;
}

/*
 * Already-compressed bytes (a tarball, a JPEG, /dev/urandom) do not shrink: deflate
 * at level 6 spends ~25 ns a byte on them for nothing, and a 1 GiB random file took
 * a minute to commit. A 64 KiB probe at level 1 decides per block: under 2% saved,
 * the block goes into a stored (level 0) member — still gzip, ~20x faster. The
 * choice depends only on the block's bytes, so digests stay the same everywhere.
 * zstd needs no probe: it stores incompressible blocks raw by itself, fast.
 */
#define PROBE_BYTES ((size_t)64 << 10)
static int block_level(struct block_pool *p, struct codecs *g, struct slot *s,
		       struct strbuf *scratch)
{
	if (p->c != LAYER_GZIP || s->in_len < PROBE_BYTES)
		return p->level;
	char why[160];
	int r = gzip_one(g, 1, s->in, PROBE_BYTES, scratch, why, sizeof(why));
	bool stored = r == 0 && scratch->len * 50 >= PROBE_BYTES * 49;
	strbuf_reset(scratch); /* a failure is the real compression's to report */
	return stored ? GZIP_LEVEL_STORED : p->level;
}

static void *worker(void *arg)
{
	struct block_pool *p = arg;
	struct codecs g = {0};
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct slot *s = NULL;
		for (unsigned i = 0; i < p->n_slots; i++) {
			struct slot *t = &p->slots[i];
			if (t->state == SLOT_QUEUED && (!s || t->seq < s->seq))
				s = t;
		}
		if (!s) {
			if (p->stop)
				break;
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		s->state = SLOT_WORKING;
		pthread_mutex_unlock(&p->lock);
		strbuf_reset(&s->out);
		int level = block_level(p, &g, s, &s->out);
		int r = p->c == LAYER_ZSTD ? zstd_one(&g, level, s->in, s->in_len, &s->out, s->why,
						      sizeof(s->why))
					   : gzip_one(&g, level, s->in, s->in_len, &s->out, s->why,
						      sizeof(s->why));
		pthread_mutex_lock(&p->lock);
		s->error = r;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	gz_codecs_free(&g);
	return NULL;
}

static void pool_stop(struct block_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->n_threads = 0;
}

void block_pool_free(struct block_pool *p)
{
	if (!p)
		return;
	pool_stop(p);
	for (unsigned i = 0; i < p->n_slots; i++) {
		free(p->slots[i].in);
		strbuf_done(&p->slots[i].out);
	}
	free(p->slots);
	free(p->threads);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}

int block_pool_new(enum layer_compression c, int level, size_t block_size, unsigned workers,
		   block_emit_fn *emit, void *ud, struct block_pool **ret, struct molt_error **err)
{
	struct block_pool *p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->level = level;
	p->block_size = block_size;
	p->emit = emit;
	p->ud = ud;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (workers < 1)
		workers = 1;
	p->n_slots = 2 * workers;
	p->slots = xcalloc(p->n_slots, sizeof(*p->slots));
	for (unsigned i = 0; i < p->n_slots; i++)
		p->slots[i].in = xmalloc(block_size);
	p->threads = xcalloc(workers, sizeof(*p->threads));
	for (unsigned i = 0; i < workers; i++) {
		int r = pthread_create(&p->threads[i], NULL, worker, p);
		if (r != 0) {
			block_pool_free(p);
			return molt_error_set(err, r, "start a compression thread");
		}
		p->n_threads++;
	}
	*ret = p;
	return 0;
}

/* Waits for slot S (the oldest block in flight), hands its bytes on, frees it. */
static int emit_slot(struct block_pool *p, struct slot *s, struct molt_error **err)
{
	pthread_mutex_lock(&p->lock);
	while (s->state == SLOT_QUEUED || s->state == SLOT_WORKING)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	if (s->state != SLOT_DONE)
		return 0;
	int r = s->error;
	if (r < 0)
		r = molt_error_setx(err, -r, "compress layer: %s", s->why);
	else
		r = p->emit(s->out.buf, s->out.len, p->ud, err);
	s->state = SLOT_FREE;
	s->in_len = 0;
	return r;
}

static void queue_slot(struct block_pool *p, struct slot *s)
{
	pthread_mutex_lock(&p->lock);
	s->seq = p->next_seq++;
	s->state = SLOT_QUEUED;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

int block_pool_write(struct block_pool *p, const void *buf, size_t len, struct molt_error **err)
{
	const unsigned char *b = buf;
	while (len > 0) {
		struct slot *s = &p->slots[p->cur];
		size_t n = p->block_size - s->in_len;
		if (n > len)
			n = len;
		memcpy(s->in + s->in_len, b, n);
		s->in_len += n;
		b += n;
		len -= n;
		if (s->in_len < p->block_size)
			break;
		queue_slot(p, s);
		p->cur = (p->cur + 1) % p->n_slots;
		/* slots are used in turn: the next one is the oldest still in flight */
		int r = emit_slot(p, &p->slots[p->cur], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int block_pool_finish(struct block_pool *p, struct molt_error **err)
{
	struct slot *s = &p->slots[p->cur];
	/* the last partial block; an empty stream is still one (empty) member */
	if (s->in_len > 0 || p->next_seq == 0)
		queue_slot(p, s);
	for (unsigned i = 1; i <= p->n_slots; i++) {
		int r = emit_slot(p, &p->slots[(p->cur + i) % p->n_slots], err);
		if (r < 0)
			return r;
	}
	pool_stop(p);
	return 0;
}
