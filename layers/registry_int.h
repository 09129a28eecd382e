/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/registry_int.h: private to layers/ — how the registry client (registry_*.c)
 * learns a registry's settings and credentials from the files podman and docker
 * already use. The public registry API (pull, push, login) is in layers.h.
 *
 * Two halves with one seam, so they can be written and tested apart:
 *   registry_conf.c  registries.conf ([[registry]] location / insecure / blocked /
 *                    mirror) and the certs.d directories for a host;
 *   registry_cred.c  credentials: $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/
 *                    auth.json, ~/.docker/config.json (auths, credHelpers, credsStore →
 *                    docker-credential-NAME get/store/erase), and writing the
 *                    containers auth file for `molt login` / `molt logout`.
 * Neither does network I/O; both read only the caller's own files and environment.
 * A secret never appears in a message these functions set.
 */
#ifndef MOLT_REGISTRY_INT_H
#define MOLT_REGISTRY_INT_H

#include "../lib/base.h"

/* ---------------------------------------------------------------- registry_conf.c */

/* One endpoint to try: a mirror or the registry itself. */
struct registry_endpoint {
	char *host;      /* "host[:port]" as it goes in the URL ("docker.io" stays docker.io:
			  * the client maps it to Docker Hub's API host) */
	char *prefix;    /* repository prefix on that host ("" when none), no slashes at ends */
	char *repo;      /* the repository path to use on that host: the reference's path
			  * with the matched registries.conf prefix replaced by this endpoint's
			  * location (prefix + the rest), so the client uses it as is */
	bool insecure;   /* plain http allowed and TLS not verified (registries.conf insecure) */
	bool is_mirror;  /* false for the registry itself (always the last endpoint) */
	bool digest_only; /* a mirror to use only for pulls by digest (mirror-by-digest-only,
			   * pull-from-mirror = "digest-only") */
	bool tag_only;   /* a mirror to use only for pulls by tag (pull-from-mirror) */
	char *certs_dir; /* certs.d directory for this endpoint's host (see below), or NULL */
};

/* Where one registry host's traffic goes and with which TLS files. */
struct registry_host_conf {
	/* Mirrors in file order, then the registry. The client skips a mirror whose
	 * digest_only / tag_only does not fit the reference, and tries the next endpoint
	 * when one fails, as containers/image does. */
	struct registry_endpoint *endpoints;
	size_t n_endpoints;
	bool blocked;                        /* registries.conf blocked = true: refuse */
	/* certs.d of the registry itself (the last endpoint's certs_dir, same string
	 * duplicated): the first existing directory of $MOLT_CERTS_DIR/HOST,
	 * ~/.config/containers/certs.d/HOST, /etc/containers/certs.d/HOST,
	 * /etc/docker/certs.d/HOST, with HOST "host:port" as written in the reference
	 * (docker.io's is "docker.io"). NULL when none exists.
	 * Holds *.crt (extra CAs) and client.cert/client.key pairs (*.cert + *.key). */
	char *certs_dir;
};

/*
 * Looks up HOST ("host[:port]", docker.io for Docker Hub) in the registries.conf files:
 * $CONTAINERS_REGISTRIES_CONF if set (that file only, and it must exist), else
 * ~/.config/containers/registries.conf plus ~/.config/containers/registries.conf.d/NAME.conf
 * if that file exists, else /etc/containers/registries.conf plus *.conf in
 * /etc/containers/registries.conf.d then ~/.config/containers/registries.conf.d (each
 * directory in name order; a later [[registry]] with the same prefix replaces an
 * earlier one; within a file the first wins). The longest matching `prefix` (default:
 * `location`; "*.example.com" matches subdomains, weaker than an exact host) wins, as
 * containers/image does, matching whole path components ("example.com" does not match
 * "example.com:5000", which containers/image warns not to rely on). A missing file is
 * not an error; a malformed one is (file and line named), and so are the combinations
 * containers/image refuses. The v1 format ([registries.insecure] / [registries.block]
 * registries = [...]) is read too.
 * `MOLT_CERTS_DIR`, when set, is a certs.d root searched before the three others (the
 * tests use it). repo_path ("library/busybox") may be NULL or "".
 */
int registry_conf_lookup(const char *host, const char *repo_path, struct registry_host_conf *ret,
			 struct molt_error **err);
void registry_host_conf_done(struct registry_host_conf *c);

/* The certs.d directory for HOST as described above (*ret NULL when none); 0 or an
 * error when a directory exists but cannot be read. */
int registry_certs_dir(const char *host, char **ret, struct molt_error **err);

/* The parsed configuration, exposed for the unit tests: load the given files in order
 * (a missing one skipped), then resolve a host as registry_conf_lookup does. */
struct registry_conf;
int registry_conf_load(char *const *paths, struct registry_conf **ret, struct molt_error **err);
int registry_conf_resolve(const struct registry_conf *conf, const char *host,
			  const char *repo_path, struct registry_host_conf *ret,
			  struct molt_error **err);
void registry_conf_free(struct registry_conf *conf);
/* registry_conf_load of PATHS, then registry_conf_resolve of host/repo: the lookup
 * once the files are known. */
int registry_conf_load_resolve(char *const *paths, const char *host, const char *repo_path,
			       struct registry_host_conf *ret, struct molt_error **err);

/* $HOME/REL (HOME from the environment, else the password database); NULL when the
 * user has no home. */
char *registry_home_path(const char *rel);

/* ---------------------------------------------------------------- registry_cred.c */

struct registry_cred {
	char *username;  /* NULL when anonymous */
	char *secret;    /* password or identity token; NULL when anonymous */
	bool identity_token; /* secret is an OAuth2 refresh token (docker's "identitytoken") */
};

/*
 * Credentials for HOST, looked up as podman does: $REGISTRY_AUTH_FILE (if set, only
 * it), else ${XDG_RUNTIME_DIR}/containers/auth.json, then
 * ~/.config/containers/auth.json, then $DOCKER_CONFIG/config.json (default
 * ~/.docker/config.json); the first file that has HOST wins. In each file: the helper
 * its credHelpers[HOST] or credsStore names (`docker-credential-NAME get`, HOST on
 * stdin; Docker Hub asked as "https://index.docker.io/v1/" then "docker.io"), then
 * auths[HOST]. Keys match "HOST", then "https://HOST", "https://HOST/v1/" (docker.io:
 * also index.docker.io, registry-1.docker.io). Returns 0 with an all-NULL cred when
 * nothing is found; an unreadable or malformed file is an error naming the file and
 * never its content. With identity_token, username is what the source had (docker
 * writes "<token>") and is not to be sent.
 */
int registry_cred_lookup(const char *host, struct registry_cred *ret, struct molt_error **err);
/* `molt login`: writes HOST's auth into $REGISTRY_AUTH_FILE when set; else into the
 * credential helper docker's config names for HOST (credHelpers, credsStore) when there
 * is one; else into ${XDG_RUNTIME_DIR}/containers/auth.json (XDG_RUNTIME_DIR unset or
 * missing: ~/.config/containers/auth.json), created 0600 with its directory 0700,
 * temp+fsync+rename, other hosts' entries and unknown keys kept. */
int registry_cred_store(const char *host, const char *username, const char *secret,
			struct molt_error **err);
/* `molt logout`: removes HOST from every file (and helper) lookup reads, or only from
 * $REGISTRY_AUTH_FILE when set; -ENOENT with a clear message when HOST had none. */
int registry_cred_erase(const char *host, struct molt_error **err);
/* Frees and zeroes the secret. */
void registry_cred_done(struct registry_cred *c);

/* ---------------------------------------------------------------- registry_credhelper.c */

/*
 * Runs `docker-credential-NAME ACTION` (found in PATH, absolute entries only) with INPUT
 * on its stdin, only fds 0-2 open, stderr /dev/null, in its own process group; returns
 * its stdout and exit status. Bounded: 30 s (the whole group is killed after) and
 * 64 KiB of output, each an error. NAME must be letters, digits, '-', '_', '.'.
 */
int registry_credhelper_run(const char *name, const char *action, const char *input,
			    char **ret_out, int *ret_status, struct molt_error **err);
bool registry_credhelper_name_ok(const char *name);
/* For the tests: other bounds than 30 s and 64 KiB. */
void registry_credhelper_set_limits(unsigned timeout_ms, size_t max_output);

#endif
