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
	char *host;      /* "host[:port]" as it goes in the URL */
	char *prefix;    /* repository prefix on that host ("" when none), no slashes at ends */
	bool insecure;   /* plain http allowed and TLS not verified (registries.conf insecure) */
	bool is_mirror;  /* false for the registry itself (always the last endpoint) */
};

/* Where one registry host's traffic goes and with which TLS files. */
struct registry_host_conf {
	struct registry_endpoint *endpoints; /* mirrors in file order, then the registry */
	size_t n_endpoints;
	bool blocked;                        /* registries.conf blocked = true: refuse */
	/* certs.d: the first existing of ~/.config/containers/certs.d/HOST,
	 * /etc/containers/certs.d/HOST, /etc/docker/certs.d/HOST, with HOST "host:port" as
	 * written in the reference (docker.io's is "docker.io"). NULL when none exists.
	 * Holds *.crt (extra CAs) and client.cert/client.key pairs (*.cert + *.key). */
	char *certs_dir;
};

/*
 * Looks up HOST ("host[:port]", docker.io for Docker Hub) in the registries.conf files:
 * $CONTAINERS_REGISTRIES_CONF if set, else ~/.config/containers/registries.conf if it
 * exists, else /etc/containers/registries.conf (plus *.conf in the matching
 * registries.conf.d directories, in name order, later files overriding). The longest
 * matching `location`/`prefix` wins, as containers/image does. A missing file is not an
 * error; a malformed one is (file and line named). `MOLT_CERTS_DIR`, when set, is
 * searched before the three certs.d roots (the tests use it; podman has --cert-dir).
 * For a repository path, endpoints[i].prefix replaces the matched location's prefix.
 */
int registry_conf_lookup(const char *host, const char *repo_path, struct registry_host_conf *ret,
			 struct molt_error **err);
void registry_host_conf_done(struct registry_host_conf *c);

/* ---------------------------------------------------------------- registry_cred.c */

struct registry_cred {
	char *username;  /* NULL when anonymous */
	char *secret;    /* password or identity token; NULL when anonymous */
	bool identity_token; /* secret is an OAuth2 refresh token (docker's "identitytoken") */
};

/*
 * Credentials for HOST, looked up as podman does: $REGISTRY_AUTH_FILE (if set, only
 * it), else ${XDG_RUNTIME_DIR}/containers/auth.json, then
 * ~/.config/containers/auth.json, then ~/.docker/config.json (its credHelpers[HOST],
 * then credsStore, then auths; a helper runs as `docker-credential-NAME get` with HOST
 * on stdin, bounded in time and output). Keys match "HOST", "https://HOST",
 * "https://HOST/v1/" (docker.io: also "https://index.docker.io/v1/"). Returns 0 with an
 * all-NULL cred when nothing is found; an unreadable or malformed file is an error
 * naming the file and never its content.
 */
int registry_cred_lookup(const char *host, struct registry_cred *ret, struct molt_error **err);
/* `molt login`: writes HOST's auth into the containers auth file (the file lookup
 * would read first, created 0600 with its directory 0700, temp+fsync+rename), or into
 * the credential helper docker's config names for HOST when there is one. */
int registry_cred_store(const char *host, const char *username, const char *secret,
			struct molt_error **err);
/* `molt logout`: removes HOST from the file (or helper) it was found in; -ENOENT with a
 * clear message when HOST had no credentials. */
int registry_cred_erase(const char *host, struct molt_error **err);
void registry_cred_done(struct registry_cred *c);

#endif
