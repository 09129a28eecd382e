/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/archive_load.c: `molt load` — a docker save tar, an OCI archive (a tar of an
 * OCI layout) or an OCI layout directory, told apart by what they contain
 * (manifest.json → docker; index.json → OCI).
 *
 * Two phases so that bad input changes nothing: first everything is read and
 * checked (every blob against its digest and size, every layer against its diff ID
 * for docker tars, which carry no layer digests of their own), building a plan; only
 * then are blobs moved into the store and, last, the index updated. A tar is
 * unpacked once into our scratch directory as anonymous files (entry names are only
 * keys, never paths on disk), each hashed while it is written.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "archive_load.h"
static void archive_readp(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void source_done(struct source *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (src->m[i].path)
			unlink(src->m[i].path);
		free(src->m[i].name);
		free(src->m[i].path);
		free(src->m[i].alias);
	}
	free(src->m);
	free(src->what);
	closep(&src->dirfd);
}

static void plan_done(struct plan *p)
{
	for (size_t i = 0; i < p->nb; i++) {
		free(p->b[i].member);
		free(p->b[i].data);
	}
	for (size_t i = 0; i < p->ni; i++)
		strv_free(p->im[i].names);
	free(p->b);
	free(p->im);
}

/* ---------------------------------------------------------------- names inside archives */

/* Lexically normalises "a/./b/../c" → "a/c"; NULL when it climbs above the top. */
static char *normalize_path(const char *base_dir, const char *rel)
{
	_cleanup_free_ char *joined = rel[0] == '/' || !base_dir || !*base_dir
					      ? xstrdup(rel)
					      : xasprintf("%s/%s", base_dir, rel);
	_cleanup_strv_ char **parts = xcalloc(1, sizeof(char *));
	char *save = NULL;
	for (char *tok = strtok_r(joined, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			size_t n = strv_len(parts);
			if (n == 0)
				return NULL;
			free(parts[n - 1]);
			parts[n - 1] = NULL;
			continue;
		}
		strv_push(&parts, tok);
	}
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; parts[i]; i++) {
		if (i)
			strbuf_addc(&sb, '/');
		strbuf_adds(&sb, parts[i]);
	}
	return strbuf_detach(&sb);
}

static struct member *find_member(struct source *src, const char *name)
{
	for (int depth = 0; depth < 16; depth++) {
		struct member *hit = NULL;
		for (size_t i = 0; i < src->n && !hit; i++)
			if (!strcmp(src->m[i].name, name))
				hit = &src->m[i];
		if (!hit || !hit->alias)
			return hit;
		name = hit->alias;
	}
	return NULL;
}

/* ---------------------------------------------------------------- reading a tar */

static int archive_fail(struct archive *a, const char *input, struct molt_error **err)
{
	const char *msg = archive_error_string(a);
	return molt_error_setx(err, EINVAL, "'%s' is not a readable tar archive: %s", input,
			       msg ? msg : "unknown error");
}

static int pwrite_all(int fd, const void *p, size_t n, int64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p = (const char *)p + w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Feeds n zero bytes (a hole of a sparse member) to the digest. */
static void digest_zeros(struct digester *d, uint64_t n)
{
	static const char zeros[65536];
	while (n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		digester_update(d, zeros, k);
		n -= k;
	}
}

/*
 * A member's bytes into a temporary file, hashed on the way. Holes of a sparse member
 * stay holes (a member claiming 20 GiB of sparse data writes nothing for them); its
 * claimed size counts against --max-unpack from its header on, and what is really
 * written against the free-space reserve.
 */
static int extract_data(struct archive *a, struct archive_entry *e, const char *dir,
			size_t idx, struct member *m, struct source *src, struct molt_error **err)
{
	int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	int r = write_budget_claim(&src->budget, declared > 0 ? (uint64_t)declared : 0, err);
	if (r < 0)
		return molt_error_wrap(err, "member '%s'", m->name);
	m->path = xasprintf("%s/%zu", dir, idx);
	_cleanup_close_ int fd = open(m->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return molt_error_set(err, errno, "create '%s'", m->path);
	struct digester *d = digester_new();
	uint64_t pos = 0;
	for (;;) {
		const void *buf;
		size_t n;
		la_int64_t off;
		int ar = archive_read_data_block(a, &buf, &n, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK || off < (la_int64_t)pos || off + (int64_t)n > declared) {
			r = ar != ARCHIVE_OK ? archive_fail(a, src->input, err)
					     : molt_error_setx(err, EIO, "'%s': member '%s' is corrupt",
							       src->input, m->name);
			break;
		}
		digest_zeros(d, (uint64_t)off - pos);
		digester_update(d, buf, n);
		pos = (uint64_t)off + n;
		if (mem_is_zero(buf, n))
			continue; /* a hole, like the member's own (ftruncate gives the size) */
		if ((r = write_budget_write(&src->budget, fd, n, err)) < 0)
			break;
		if ((r = pwrite_all(fd, buf, n, off)) < 0) {
			r = molt_error_set(err, -r, "write '%s'", m->path);
			break;
		}
	}
	if (r == 0 && (uint64_t)declared > pos) {
		digest_zeros(d, (uint64_t)declared - pos);
		pos = (uint64_t)declared;
	}
	if (r == 0 && ftruncate(fd, (off_t)pos) < 0)
		r = molt_error_set(err, errno, "write '%s'", m->path);
	m->size = (int64_t)digester_size(d);
	digester_final(d, m->digest);
	digester_free(d);
	return r;
}

static int add_entry(struct archive *a, struct archive_entry *e, struct source *src,
		     const char *dir, struct molt_error **err)
{
	_cleanup_free_ char *name = normalize_path(NULL, archive_entry_pathname(e));
	if (!name)
		return molt_error_setx(err, EINVAL, "'%s': entry '%s' climbs out of the archive",
				       src->input, archive_entry_pathname(e));
	const char *hard = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (!hard && type != AE_IFREG && type != AE_IFLNK)
		return 0; /* directories and the like carry nothing molt reads */
	if (src->n >= MAX_ENTRIES)
		return molt_error_setx(err, E2BIG, "'%s': more than %d entries", src->input,
				       MAX_ENTRIES);
	src->m = xrealloc(src->m, (src->n + 1) * sizeof(*src->m));
	struct member *m = &src->m[src->n];
	*m = (struct member){.name = TAKE_PTR(name)};
	src->n++;
	if (hard || type == AE_IFLNK) {
		/* docker save links identical layers; resolve inside the archive only. */
		_cleanup_free_ char *base = xstrdup(m->name);
		char *slash = strrchr(base, '/');
		*(slash ? slash : base) = '\0';
		m->alias = hard ? normalize_path(NULL, hard)
				: normalize_path(base, archive_entry_symlink(e));
		if (!m->alias)
			return molt_error_setx(err, EINVAL, "'%s': link '%s' points out of the archive",
					       src->input, m->name);
		return 0;
	}
	return extract_data(a, e, dir, src->n - 1, m, src, err);
}

static int read_tar(struct layer_store *s, const char *path, struct source *src,
		    struct molt_error **err)
{
	const char *tmp;
	int r = layer_store_tmpdir(s, &tmp, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", path);
	src->what = xasprintf("'%s'", path);
	write_budget_init(&src->budget, src->what);
	_cleanup_(archive_readp) struct archive *a = archive_read_new();
	if (decompress_refuse_foreign(fd, path, err) < 0 || decompress_enable(a, err) < 0)
		return molt_error_pass(err);
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
		return archive_fail(a, path, err);
	for (;;) {
		struct archive_entry *e;
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return archive_fail(a, path, err);
		r = add_entry(a, e, src, tmp, err);
		if (r < 0)
			return r;
	}
}

/* ---------------------------------------------------------------- one access API for both */

/*
 * A blob name of an OCI layout's index or a docker-save manifest is untrusted: it is
 * resolved inside the layout directory, as every image path is (lib/inroot.c).
 */
static int open_in_layout(int dirfd, const char *name, int *ret_fd, struct molt_error **err)
{
	int fd = inroot_open(dirfd, name, O_RDONLY | O_NOCTTY, INROOT_AUTO);
	if (fd < 0)
		return molt_error_set(err, -fd, "open '%s'", name);
	*ret_fd = fd;
	return 0;
}

int src_open(struct source *src, const char *name, int *ret_fd, struct molt_error **err)
{
	if (src->dirfd >= 0) {
		int r = open_in_layout(src->dirfd, name, ret_fd, err);
		return r < 0 ? molt_error_wrap(err, "'%s'", src->input) : 0;
	}
	struct member *m = find_member(src, name);
	if (!m || !m->path)
		return molt_error_setx(err, ENOENT, "'%s' has no file '%s'", src->input, name);
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return molt_error_set(err, errno, "open '%s'", m->path);
	*ret_fd = fd;
	return 0;
}

static bool src_has(struct source *src, const char *name)
{
	if (src->dirfd < 0)
		return find_member(src, name) != NULL;
	struct stat st;
	return fstatat(src->dirfd, name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

int src_read(struct source *src, const char *name, char **ret, size_t *ret_len,
	     struct molt_error **err)
{
	_cleanup_close_ int fd = -1;
	int r = src_open(src, name, &fd, err);
	if (r < 0)
		return r;
	r = read_fd_bounded(fd, JSON_MAX, ret, ret_len);
	if (r == -EFBIG)
		return molt_error_setx(err, EFBIG, "'%s': '%s' is too large", src->input, name);
	if (r < 0)
		return molt_error_set(err, -r, "'%s': read '%s'", src->input, name);
	return 0;
}

/* Digest and size of a file in the source (known for tars, computed for directories). */
int src_digest(struct source *src, const char *name, char ret[DIGEST_STR_LEN],
	       int64_t *ret_size, struct molt_error **err)
{
	if (src->dirfd < 0) {
		struct member *m = find_member(src, name);
		if (!m)
			return molt_error_setx(err, ENOENT, "'%s' has no file '%s'", src->input, name);
		memcpy(ret, m->digest, DIGEST_STR_LEN);
		*ret_size = m->size;
		return 0;
	}
	_cleanup_close_ int fd = -1;
	uint64_t size = 0;
	int r = src_open(src, name, &fd, err);
	if (r == 0)
		r = digest_fd(fd, ret, &size, err);
	*ret_size = (int64_t)size;
	return r;
}

static char *blob_name(const char *digest)
{
	return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

/* Checks that the source's blob for desc exists with that digest and size. */
static int src_check_blob(struct source *src, const struct image_descriptor *d,
			  struct molt_error **err)
{
	_cleanup_free_ char *name = blob_name(d->digest);
	if (!src_has(src, name))
		return molt_error_setx(err, ENOENT, "'%s': blob %s is missing", src->input, d->digest);
	char got[DIGEST_STR_LEN];
	int64_t size = 0;
	int r = src_digest(src, name, got, &size, err);
	if (r < 0)
		return r;
	if (strcmp(got, d->digest) != 0)
		return molt_error_setx(err, EBADMSG,
				       "'%s': blob %s does not match its digest (content is %s)",
				       src->input, d->digest, got);
	if (d->size >= 0 && size != d->size)
		return molt_error_setx(err, EBADMSG, "'%s': blob %s is %lld bytes, expected %lld",
				       src->input, d->digest, (long long)size, (long long)d->size);
	return 0;
}

/* Reads a JSON blob named by desc, checked. */
static int src_read_blob(struct source *src, const struct image_descriptor *d, char **ret,
			 size_t *ret_len, struct molt_error **err)
{
	int r = src_check_blob(src, d, err);
	_cleanup_free_ char *name = blob_name(d->digest);
	if (r == 0)
		r = src_read(src, name, ret, ret_len, err);
	if (r == 0) {
		/* Checked again in memory: the file could have changed since. */
		char got[DIGEST_STR_LEN];
		digest_buffer(*ret, *ret_len, got);
		if (strcmp(got, d->digest) != 0) {
			free(*ret);
			return molt_error_setx(err, EBADMSG, "'%s': blob %s changed while read",
					       src->input, d->digest);
		}
	}
	return r;
}

void plan_add_member(struct plan *p, const char *member, const char *digest)
{
	p->b = xrealloc(p->b, (p->nb + 1) * sizeof(*p->b));
	p->b[p->nb] = (struct plan_blob){.member = xstrdup(member)};
	memcpy(p->b[p->nb].digest, digest, DIGEST_STR_LEN);
	p->nb++;
}

void plan_add_data(struct plan *p, char *data, size_t len, char ret[DIGEST_STR_LEN])
{
	p->b = xrealloc(p->b, (p->nb + 1) * sizeof(*p->b));
	p->b[p->nb] = (struct plan_blob){.data = data, .len = len};
	digest_buffer(data, len, p->b[p->nb].digest);
	memcpy(ret, p->b[p->nb].digest, DIGEST_STR_LEN);
	p->nb++;
}

void plan_add_image(struct plan *p, const char *manifest, const char *id, char **names)
{
	p->im = xrealloc(p->im, (p->ni + 1) * sizeof(*p->im));
	p->im[p->ni] = (struct plan_image){.names = names};
	memcpy(p->im[p->ni].manifest, manifest, DIGEST_STR_LEN);
	memcpy(p->im[p->ni].id, id, DIGEST_STR_LEN);
	p->ni++;
}

/* ---------------------------------------------------------------- OCI layouts and archives */

static bool is_index_type(const char *media, const char *json)
{
	if (media)
		return !strcmp(media, MEDIA_OCI_INDEX) || !strcmp(media, MEDIA_DOCKER_LIST);
	return strstr(json, "\"manifests\"") != NULL;
}

/* Picks this machine's manifest from a multi-platform index. */
static int pick_platform(const struct image_index *idx, const char *input, size_t *ret,
			 struct molt_error **err)
{
	size_t usable = 0, last = 0;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct image_descriptor *d = &idx->manifests[i];
		if (d->platform_os && !strcmp(d->platform_os, "unknown"))
			continue; /* BuildKit's attestation manifests */
		usable++;
		last = i;
		if ((!d->platform_os || !strcmp(d->platform_os, "linux")) && d->platform_arch &&
		    !strcmp(d->platform_arch, image_host_arch())) {
			*ret = i;
			return 0;
		}
	}
	if (usable == 1) {
		*ret = last;
		return 0;
	}
	return molt_error_setx(err, ENOENT, "'%s': no image for linux/%s among %zu", input,
			       image_host_arch(), idx->n_manifests);
}

static int oci_image(struct source *src, const struct image_descriptor *d, char **names,
		     struct plan *p, int depth, struct molt_error **err);

static int oci_nested_index(struct source *src, const char *json, size_t len, char **names,
			    struct plan *p, int depth, struct molt_error **err)
{
	struct image_index idx;
	size_t pick = 0;
	if (depth > 2)
		return molt_error_setx(err, ELOOP, "'%s': indexes nested too deep", src->input);
	int r = image_index_parse(json, len, &idx, err);
	if (r < 0)
		return molt_error_wrap(err, "'%s'", src->input);
	r = pick_platform(&idx, src->input, &pick, err);
	if (r == 0)
		r = oci_image(src, &idx.manifests[pick], names, p, depth + 1, err);
	image_index_done(&idx);
	return r;
}

static int oci_manifest(struct source *src, const struct image_descriptor *d, const char *json,
			size_t len, char **names, struct plan *p, struct molt_error **err)
{
	struct image_manifest m;
	struct image_config cfg = {0};
	_cleanup_free_ char *cfg_data = NULL;
	size_t cfg_len = 0;
	int r = image_manifest_parse(json, len, &m, err);
	if (r < 0)
		return molt_error_wrap(err, "'%s': manifest %s", src->input, d->digest);
	r = src_read_blob(src, &m.config, &cfg_data, &cfg_len, err);
	if (r == 0)
		r = image_config_parse(cfg_data, cfg_len, &cfg, err);
	if (r == 0 && strv_len(cfg.diff_ids) != m.n_layers)
		r = molt_error_setx(err, EINVAL, "'%s': manifest %s has %zu layers, its config %zu diff IDs",
				    src->input, d->digest, m.n_layers, strv_len(cfg.diff_ids));
	for (size_t i = 0; r == 0 && i < m.n_layers; i++)
		r = src_check_blob(src, &m.layers[i], err);
	if (r == 0) {
		_cleanup_free_ char *mname = blob_name(d->digest);
		_cleanup_free_ char *cname = blob_name(m.config.digest);
		plan_add_member(p, mname, d->digest);
		plan_add_member(p, cname, m.config.digest);
		for (size_t i = 0; i < m.n_layers; i++) {
			_cleanup_free_ char *lname = blob_name(m.layers[i].digest);
			plan_add_member(p, lname, m.layers[i].digest);
		}
		plan_add_image(p, d->digest, m.config.digest, strv_copy(names));
	}
	image_config_done(&cfg);
	image_manifest_done(&m);
	return r;
}

static int oci_image(struct source *src, const struct image_descriptor *d, char **names,
		     struct plan *p, int depth, struct molt_error **err)
{
	_cleanup_free_ char *json = NULL;
	size_t len = 0;
	int r = src_read_blob(src, d, &json, &len, err);
	if (r < 0)
		return r;
	if (is_index_type(d->media_type, json))
		return oci_nested_index(src, json, len, names, p, depth, err);
	return oci_manifest(src, d, json, len, names, p, err);
}

/*
 * The name of an index entry: io.containerd.image.name, else ref.name when it is a
 * full reference (has a '/' or ':'; a bare "latest" is only a tag, as BuildKit and
 * skopeo write it). No name: the image is loaded untagged.
 */
static int oci_names(const struct image_descriptor *d, const char *input, char ***ret,
		     struct molt_error **err)
{
	const char *name = image_descriptor_annotation(d, ANNOTATION_CONTAINERD_NAME);
	const char *ref = image_descriptor_annotation(d, ANNOTATION_REF_NAME);
	if (!name && ref && strpbrk(ref, "/:"))
		name = ref;
	char **names = xcalloc(1, sizeof(char *));
	if (name) {
		char *n = NULL;
		int r = image_ref_normalize(name, &n, err);
		if (r < 0) {
			strv_free(names);
			return molt_error_wrap(err, "'%s': index.json", input);
		}
		strv_push_take(&names, n);
	}
	*ret = names;
	return 0;
}

static int load_oci(struct source *src, struct plan *p, struct molt_error **err)
{
	if (!src_has(src, "oci-layout"))
		return molt_error_setx(err, EINVAL, "'%s' has index.json but no oci-layout file",
				       src->input);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct image_index idx;
	int r = src_read(src, "index.json", &data, &len, err);
	if (r == 0)
		r = image_index_parse(data, len, &idx, err);
	if (r < 0)
		return molt_error_wrap(err, "'%s'", src->input);
	if (idx.n_manifests == 0)
		r = molt_error_setx(err, EINVAL, "'%s': index.json lists no images", src->input);
	for (size_t i = 0; r == 0 && i < idx.n_manifests; i++) {
		char **names = NULL;
		r = oci_names(&idx.manifests[i], src->input, &names, err);
		if (r == 0)
			r = oci_image(src, &idx.manifests[i], names, p, 0, err);
		strv_free(names);
	}
	image_index_done(&idx);
	return r;
}

/* ---------------------------------------------------------------- commit */

static int commit_blob(struct layer_store *s, struct source *src, const struct plan_blob *b,
		       struct molt_error **err)
{
	if (layer_store_blob_exists(s, b->digest))
		return 0;
	if (b->data)
		return layer_store_blob_put_mem(s, b->data, b->len, b->digest, NULL, err);
	if (src->dirfd < 0) {
		struct member *m = find_member(src, b->member);
		if (!m || !m->path)
			return molt_error_setx(err, ENOENT, "'%s': '%s' vanished", src->input, b->member);
		/* Hashed while it was unpacked; moving it in needs no second read. */
		int r = layer_store_blob_adopt(s, m->path, m->digest, err);
		free(m->path);
		m->path = NULL;
		return r;
	}
	_cleanup_close_ int fd = -1;
	int r = src_open(src, b->member, &fd, err);
	if (r == 0)
		r = layer_store_blob_put_fd(s, fd, b->digest, NULL, NULL, err);
	return r < 0 ? molt_error_wrap(err, "'%s'", src->input) : 0;
}

static int commit(struct layer_store *s, struct source *src, struct plan *p, char ***ret_names,
		  struct molt_error **err)
{
	for (size_t i = 0; i < p->nb; i++) {
		int r = commit_blob(s, src, &p->b[i], err);
		if (r < 0)
			return r;
	}
	_cleanup_strv_ char **loaded = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < p->ni; i++) {
		int r = layer_store_index_add(s, p->im[i].manifest, p->im[i].names, err);
		if (r < 0)
			return r;
		if (p->im[i].names[0])
			for (size_t j = 0; p->im[i].names[j]; j++)
				strv_push(&loaded, p->im[i].names[j]);
		else
			strv_push(&loaded, p->im[i].id);
	}
	if (ret_names)
		*ret_names = TAKE_PTR(loaded);
	return 0;
}

int layer_store_load(struct layer_store *s, const char *path, char ***ret_names,
		     struct molt_error **err)
{
	struct source src = {.input = path, .dirfd = -1};
	struct plan p = {0};
	struct stat st;
	int r = 0;
	if (stat(path, &st) < 0)
		return molt_error_set(err, errno, "load '%s'", path);
	if (S_ISDIR(st.st_mode)) {
		src.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src.dirfd < 0)
			r = molt_error_set(err, errno, "open '%s'", path);
	} else {
		r = read_tar(s, path, &src, err);
	}
	if (r == 0) {
		if (src_has(&src, "manifest.json"))
			r = load_docker(&src, &p, err);
		else if (src_has(&src, "index.json"))
			r = load_oci(&src, &p, err);
		else
			r = molt_error_setx(err, EINVAL,
					    "'%s' is neither a docker save tar nor an OCI layout "
					    "(it has no manifest.json and no index.json)",
					    path);
	}
	if (r == 0)
		r = commit(s, &src, &p, ret_names, err);
	plan_done(&p);
	source_done(&src);
	return r < 0 ? molt_error_wrap(err, "load") : 0;
}
