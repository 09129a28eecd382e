/* SPDX-License-Identifier: Apache-2.0 */
/* Image name normalisation, checked against docker's rules (distribution/reference). */
#include "../../layers/layers.h"
#include "tap.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct good {
	const char *in, *want, *familiar, *rule;
};

static const struct good goods[] = {
	{"busybox", "docker.io/library/busybox:latest", "busybox:latest",
	 "a bare name gets docker.io/library/ and :latest"},
	{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "a tag is kept"},
	{"foo/bar", "docker.io/foo/bar:latest", "foo/bar:latest",
	 "two components: docker.io without library/"},
	{"foo/bar/baz:v1", "docker.io/foo/bar/baz:v1", "foo/bar/baz:v1", "three path components"},
	{"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest",
	 "docker.io/NAME also gets library/"},
	{"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest",
	 "index.docker.io is docker.io"},
	{"docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest",
	 "an already normalised name is unchanged"},
	{"localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1",
	 "host:port is a registry"},
	{"localhost/x", "localhost/x:latest", "localhost/x:latest",
	 "localhost is a registry even without a port"},
	{"quay.io/a/b", "quay.io/a/b:latest", "quay.io/a/b:latest", "a dotted first component is a registry"},
	{"Example.COM/a", "Example.COM/a:latest", "Example.COM/a:latest",
	 "upper case is allowed in a registry host"},
	{"Foo/bar", "Foo/bar:latest", "Foo/bar:latest",
	 "an upper-case first component is taken as a host (docker's quirk)"},
	{"a/b@" D64, "docker.io/a/b@" D64, "a/b@" D64, "a digest without a tag gets no :latest"},
	{"a:t@" D64, "docker.io/library/a:t@" D64, "a:t@" D64, "tag and digest are both kept"},
	{"my-app_x.y__z", "docker.io/library/my-app_x.y__z:latest", "my-app_x.y__z:latest",
	 "separators . _ __ - inside a component"},
	{"a---b", "docker.io/library/a---b:latest", "a---b:latest", "several dashes are one separator"},
	{"x:_tag.Name-1", "docker.io/library/x:_tag.Name-1", "x:_tag.Name-1",
	 "a tag may start with _ and hold upper case . -"},
	{"[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest", "an IPv6 registry with a port"},
	{"10.0.0.1:5000/a/b:c", "10.0.0.1:5000/a/b:c", "10.0.0.1:5000/a/b:c", "an IPv4 registry"},
};

struct bad {
	const char *in, *why, *rule;
};

static const struct bad bads[] = {
	{"", "empty", "an empty name is refused"},
	{"Busybox", "lowercase", "upper case in the repository is refused"},
	{"docker.io/Library/x", "lowercase", "upper case after the registry is refused"},
	{"foo:", "bad tag", "an empty tag is refused"},
	{":tag", "not a valid name component", "an empty name before the tag is refused"},
	{"foo bar", "space", "a space is refused"},
	{"a//b", "not a valid name component", "an empty path component is refused"},
	{"-foo", "not a valid name component", "a leading separator is refused"},
	{"foo/", "not a valid name component", "a trailing slash is refused"},
	{"foo..bar", "not a valid name component", "two dots in a row are refused"},
	{"foo___bar", "not a valid name component", "three underscores are refused"},
	{"x:.tag", "bad tag", "a tag starting with . is refused"},
	{"x:-tag", "bad tag", "a tag starting with - is refused"},
	{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "image ID",
	 "a 64-digit hex string is an ID, not a name (docker refuses it too)"},
	{"a@sha256:abc", "not a sha256 digest", "a short digest is refused"},
	{"a@md5:0123", "not a sha256 digest", "an unknown digest algorithm is refused"},
	{"host:port/x", "bad registry host", "a non-numeric port is refused"},
	{"-host.io/x", "bad registry host", "a host component starting with - is refused"},
};

static void long_names(void)
{
	char tag[200], name[300];
	memset(tag, 'a', 129);
	tag[129] = '\0';
	_cleanup_free_ char *t = xasprintf("x:%s", tag);
	struct molt_error *e = NULL;
	char *out = NULL;
	tap_ok(image_ref_normalize(t, &out, &e) < 0, "a 129-character tag is refused (max 128)");
	molt_error_free(e);
	e = NULL;
	tag[128] = '\0';
	free(t);
	t = xasprintf("x:%s", tag);
	tap_ok(image_ref_normalize(t, &out, &e) == 0, "a 128-character tag is accepted");
	free(out);
	memset(name, 'a', 250);
	name[250] = '\0';
	tap_ok(image_ref_normalize(name, &out, &e) < 0 && e && strstr(e->msg, "longer than 255"),
	       "a name longer than 255 characters with docker.io/library/ is refused");
	molt_error_free(e);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(goods); i++) {
		struct image_ref r;
		struct molt_error *e = NULL;
		if (image_ref_parse(goods[i].in, &r, &e) < 0) {
			tap_ok(0, "%s ('%s'): %s", goods[i].rule, goods[i].in, e->msg);
			molt_error_free(e);
			continue;
		}
		_cleanup_free_ char *s = image_ref_string(&r);
		_cleanup_free_ char *f = image_ref_familiar(&r);
		_cleanup_free_ char *name = xasprintf("%s ('%s')", goods[i].rule, goods[i].in);
		tap_str_eq(s, goods[i].want, name);
		_cleanup_free_ char *fname = xasprintf("familiar form of '%s'", goods[i].in);
		tap_str_eq(f, goods[i].familiar, fname);
		image_ref_done(&r);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bads); i++) {
		char *out = NULL;
		struct molt_error *e = NULL;
		int r = image_ref_normalize(bads[i].in, &out, &e);
		bool ok = r < 0 && e && e->exit_code == MOLT_EXIT_USAGE && strstr(e->msg, bads[i].why);
		if (!tap_ok(ok, "%s ('%s')", bads[i].rule, bads[i].in))
			tap_diag("got: %s", e ? e->msg : out);
		free(out);
		molt_error_free(e);
	}
	long_names();
	return tap_done();
}
