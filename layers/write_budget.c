/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/write_budget.c: how much unpacking may write (layers.h). A gzip or zstd
 * bomb expands a few MiB into tens of GiB, a sparse tar entry claims any size for a
 * few bytes: without a bound either fills the disk under the store (and the user's
 * home with it) before any other limit is reached.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>

#include "layers_int.h"

#define RESERVE_MIN (1ULL << 30)  /* keep at least 1 GiB free ... */
#define RESERVE_PERCENT 5         /* ... and 5% of the filesystem */
#define CHECK_EVERY (64ULL << 20) /* fstatvfs once per 64 MiB written */

int unpack_size_parse(const char *text, uint64_t *ret_bytes)
{
	if (!text || !isdigit((unsigned char)*text))
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || v < 0)
		return -EINVAL;
	static const char units[] = "bkmgt";
	double mult = 1;
	if (*end) {
		const char *u = strchr(units, tolower((unsigned char)*end));
		if (!u)
			return -EINVAL;
		mult = (double)(1ULL << (10 * (u - units)));
		end++;
		if (u != units && (!strcasecmp(end, "ib") || !strcasecmp(end, "b")))
			end += strlen(end);
	}
	if (*end || v * mult >= 1.8e19)
		return -EINVAL;
	*ret_bytes = (uint64_t)(v * mult);
	return 0;
}

uint64_t unpack_max_bytes(void)
{
	uint64_t v = 0;
	const char *s = getenv(UNPACK_MAX_ENV);
	return s && *s && unpack_size_parse(s, &v) == 0 ? v : 0;
}

void write_budget_init(struct write_budget *b, const char *what)
{
	*b = (struct write_budget){.what = what, .max = unpack_max_bytes()};
}

int write_budget_claim(struct write_budget *b, uint64_t n, struct molt_error **err)
{
	b->claimed += n;
	if (b->max && b->claimed > b->max)
		return molt_error_setx(err, EFBIG,
				       "%s: unpacks to more than the limit of %llu bytes "
				       "(--max-unpack, " UNPACK_MAX_ENV ")",
				       b->what, (unsigned long long)b->max);
	return 0;
}

static uint64_t reserve_of(const struct statvfs *vfs)
{
	uint64_t fixed;
	const char *s = getenv(UNPACK_RESERVE_ENV);
	if (s && *s && unpack_size_parse(s, &fixed) == 0)
		return fixed;
	uint64_t total = (uint64_t)vfs->f_blocks * vfs->f_frsize;
	uint64_t pct = total / 100 * RESERVE_PERCENT;
	return pct > RESERVE_MIN ? pct : RESERVE_MIN;
}

int write_budget_write(struct write_budget *b, int fd, uint64_t n, struct molt_error **err)
{
	b->unchecked += n;
	if (b->checked_once && b->unchecked < CHECK_EVERY)
		return 0;
	struct statvfs vfs;
	if (fstatvfs(fd, &vfs) < 0)
		return molt_error_set(err, errno, "%s: check the free space", b->what);
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize, reserve = reserve_of(&vfs);
	/* What is written until the next check must fit above the reserve too. */
	if (avail < reserve + CHECK_EVERY)
		return molt_error_setx(err, ENOSPC,
				       "%s: stopped before the store's filesystem runs out of space "
				       "(%llu MiB free, %llu MiB kept in reserve)",
				       b->what, (unsigned long long)(avail >> 20),
				       (unsigned long long)(reserve >> 20));
	b->checked_once = true;
	b->unchecked = 0;
	return 0;
}
