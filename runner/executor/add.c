/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ADD's extras over COPY: a local tar archive (plain, gzip, bzip2, xz, zstd) is
 * extracted into the destination through the secure unpacker, and an http(s) URL
 * is downloaded (verified with --checksum when given).
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "stage.h"

static bool is_url(const char *s)
{
	return str_startswith(s, "http://") || str_startswith(s, "https://");
}



/* With --chown (as BuildKit) the directories made for dest and every entry get its owner. */
static int extract(int dst_root, const char *dest, int fd, const char *src, const char *scratch,
		   const struct copy_opts *o, struct molt_error **err)
{
	_cleanup_close_ int dir = copy_mkdir_open(dst_root, dest, o->chown ? o->uid : 0,
						  o->chown ? o->gid : 0, err);
	if (dir < 0)
		return dir;
	struct unpack_opts uo = {.layer = src, .whiteouts = UNPACK_APPLY, .chown = o->chown,
				 .uid = o->uid, .gid = o->gid};
	_cleanup_close_ int plain = -1;
	int r = decompress_to_plain_tar(fd, scratch, src, &plain, err);
	if (r == 0)
		r = layer_unpack(dir, plain >= 0 ? plain : fd, &uo, NULL, err);
	if (r < 0)
		molt_error_wrap(err, "ADD: extract '%s'", src);
	return r;
}

struct download {
	int fd;
	struct digester *d;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct download *dl = ud;
	if (write_all(dl->fd, p, size * n) < 0)
		return 0;
	digester_update(dl->d, p, size * n);
	return size * n;
}

static int download(const char *url, const char *path, const char *checksum,
		    struct molt_error **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return molt_error_set(err, errno, "create '%s'", path);
	CURL *c = curl_easy_init();
	if (!c)
		return molt_error_setx(err, ELIBACC, "ADD: download '%s': %s", url,
				       lazy_curl_failure() ?: "cannot start curl");
	struct download dl = {.fd = fd, .d = digester_new()};
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &dl);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	CURLcode cr = curl_easy_perform(c);
	curl_off_t mtime = -1;
	if (cr == CURLE_OK && curl_easy_getinfo(c, CURLINFO_FILETIME_T, &mtime) != CURLE_OK)
		mtime = -1;
	curl_easy_cleanup(c);
	char got[DIGEST_STR_LEN];
	digester_final(dl.d, got);
	digester_free(dl.d);
	if (cr != CURLE_OK)
		return molt_error_setx(err, EIO, "ADD: download '%s': %s", url,
				       *errbuf ? errbuf : curl_easy_strerror(cr));
	if (checksum && strcmp(checksum, got))
		return molt_error_setx(err, EINVAL, "ADD: '%s' has checksum %s, not %s", url, got,
				       checksum);
	/*
	 * Docker: the file's mtime is the server's Last-Modified. It also makes an
	 * unchanged download the same layer, so the steps after an ADD of a URL without
	 * --checksum (which always downloads again) stay cached (runner/executor/cache.h).
	 */
	if (mtime >= 0 && futimens(fd, (struct timespec[]){{.tv_sec = (time_t)mtime},
							   {.tv_sec = (time_t)mtime}}) < 0)
		return molt_error_set(err, errno, "ADD: set the time of '%s'", path);
	return 0;
}

/* The file name a URL gives (its last path component), as docker build. */
static char *url_name(const char *url)
{
	const char *p = strstr(url, "://") + 3;
	const char *end = p + strcspn(p, "?#");
	const char *slash = end;
	while (slash > p && slash[-1] != '/')
		slash--;
	if (slash == end || slash <= strchr(p, '/'))
		return xstrdup("index.html");
	return xstrndup(slash, (size_t)(end - slash));
}

/* Where one URL of the running step is downloaded to (a directory per URL). */
static char *url_dir(const struct stage_run *sr, const char *url)
{
	char d[DIGEST_STR_LEN];
	digest_buffer(url, strlen(url), d);
	return xasprintf("%s/add-%u-%.16s", sr->scratch, sr->step, digest_hex(d));
}

int add_url_prefetch(struct stage_run *sr, const char *url, char **ret, struct molt_error **err)
{
	_cleanup_free_ char *dir = url_dir(sr, url);
	_cleanup_free_ char *name = url_name(url);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return molt_error_set(err, errno, "create '%s'", dir);
	(void)unlink(path);
	int r = download(url, path, NULL, err);
	_cleanup_close_ int fd = r == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	struct stat st;
	char digest[DIGEST_STR_LEN];
	if (r == 0 && (fd < 0 || fstat(fd, &st) < 0))
		r = molt_error_set(err, errno, "open '%s'", path);
	if (r == 0)
		r = digest_fd(fd, digest, NULL, err);
	if (r < 0) {
		rm_rf(dir, NULL);
		return r;
	}
	*ret = xasprintf("%s %lld", digest, (long long)st.st_mtim.tv_sec);
	return 0;
}

static int add_url(struct stage_run *sr, const char *url, const char *checksum, int dst_root,
		   const char *dest, const struct copy_opts *o, struct molt_error **err)
{
	_cleanup_free_ char *dir = url_dir(sr, url);
	_cleanup_free_ char *name = url_name(url);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return molt_error_set(err, errno, "create '%s'", dir);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	/* Without --checksum the build cache fetched it already to learn its content. */
	int r = !checksum && access(path, F_OK) == 0 ? 0 : download(url, path, checksum, err);
	_cleanup_close_ int src = r == 0 ? open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && src < 0)
		r = molt_error_set(err, errno, "open '%s'", dir);
	if (r == 0) {
		struct copy_opts uo = *o;
		uo.skip = NULL;
		r = copy_paths(src, (char *[]){name, NULL}, dst_root, dest, &uo, NULL, err);
	}
	rm_rf(dir, NULL);
	return r;
}

int add_sources(struct stage_run *sr, const struct build_instr *in, int src_root, int dst_root,
		const char *dest, const struct copy_opts *o, struct molt_error **err)
{
	for (size_t i = 0; in->sources && in->sources[i]; i++) {
		const char *s = in->sources[i];
		int r;
		if (is_url(s)) {
			r = add_url(sr, s, in->checksum, dst_root, dest, o, err);
		} else if (copy_has_wildcard(s)) {
			r = copy_paths(src_root, (char *[]){(char *)s, NULL}, dst_root, dest, o, NULL,
				       err);
		} else {
			/* O_NONBLOCK: a FIFO source must not block the open (COPY makes it anew). */
			_cleanup_close_ int fd =
				inroot_open(src_root, s, O_RDONLY | O_NOCTTY | O_NONBLOCK, INROOT_AUTO);
			struct stat st;
			if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && decompress_is_tar(fd) &&
			    lseek(fd, 0, SEEK_SET) == 0)
				r = extract(dst_root, dest, fd, s, sr->scratch, o, err);
			else
				r = copy_paths(src_root, (char *[]){(char *)s, NULL}, dst_root, dest,
					       o, NULL, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}
