/* SPDX-License-Identifier: Apache-2.0 */
/* `molt login` / `molt logout`: the credentials must open the registry's /v2/ (through
 * the token flow when it has one) before anything is stored. */
#include <string.h>

#include "layers_int.h"
#include "registry_http.h"

static int login_check(const char *host, const char *username, const char *secret,
		       const struct registry_opts *o, struct molt_error **err)
{
	struct registry_host_conf hc = {0};
	int r = registry_conf_lookup(host, NULL, &hc, err);
	if (r < 0)
		return r;
	if (hc.n_endpoints == 0 || hc.blocked) {
		registry_host_conf_done(&hc);
		return molt_error_setx(err, EACCES,
				       "login '%s': the registry is blocked in "
				       "registries.conf",
				       host);
	}
	/* The registry itself (the last endpoint), never a mirror: that is where the
	 * credentials will be used. */
	const struct registry_endpoint *ep = &hc.endpoints[hc.n_endpoints - 1];
	struct registry_cred cred = {.username = (char *)username, .secret = (char *)secret};
	_cleanup_(reg_session_freep) struct reg_session *s = NULL;
	r = reg_session_open_with(ep, host, ep->certs_dir, &cred, o, &s, err);
	if (r == 0)
		r = reg_session_authenticate(s, err);
	struct reg_resp resp = {0};
	if (r == 0)
		r = reg_do(s, NULL,
			   &(struct reg_req){.method = "GET", .path = "/v2/", .body_fd = -1}, &resp,
			   err);
	if (r == 0 && resp.status == 401)
		r = molt_error_setx(err, EACCES,
				    "registry '%s': the user name or password was "
				    "refused",
				    host);
	else if (r == 0 && resp.status != 200)
		r = reg_status_error(s, &resp, "GET /v2/", err);
	reg_resp_done(&resp);
	registry_host_conf_done(&hc);
	return r < 0 ? molt_error_wrap(err, "login '%s'", host) : 0;
}

int registry_login(const char *host, const char *username, const char *secret,
		   const struct registry_opts *o, struct molt_error **err)
{
	int r = login_check(host, username, secret, o, err);
	return r < 0 ? r : registry_cred_store(host, username, secret, err);
}

int registry_logout(const char *host, struct molt_error **err)
{
	return registry_cred_erase(host, err);
}
