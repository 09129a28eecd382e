/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/frontend/platform.c: the host platform in Go/OCI names, for BUILDPLATFORM and
 * TARGETPLATFORM (molt builds for the host; --platform is accepted and recorded).
 */
#include <string.h>
#include <sys/utsname.h>

#include "plan.h"

static void set_field(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

int platform_from_machine(const char *machine, struct platform *ret)
{
	/* uname -m spellings -> GOARCH (and GOARM as the variant). */
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
		{"x86_64", "amd64", ""},   {"amd64", "amd64", ""},     {"aarch64", "arm64", ""},
		{"arm64", "arm64", ""},    {"armv8l", "arm", "v7"},    {"armv7l", "arm", "v7"},
		{"armv7", "arm", "v7"},    {"armv6l", "arm", "v6"},    {"armv5tel", "arm", "v5"},
		{"i386", "386", ""},       {"i486", "386", ""},        {"i586", "386", ""},
		{"i686", "386", ""},       {"ppc64le", "ppc64le", ""}, {"ppc64", "ppc64", ""},
		{"s390x", "s390x", ""},    {"riscv64", "riscv64", ""}, {"mips64", "mips64", ""},
		{"mips64el", "mips64le", ""}, {"loongarch64", "loong64", ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (!strcmp(map[i].machine, machine)) {
			struct platform p;
			set_field(p.os, sizeof(p.os), "linux");
			set_field(p.arch, sizeof(p.arch), map[i].arch);
			set_field(p.variant, sizeof(p.variant), map[i].variant);
			*ret = p;
			return 0;
		}
	}
	return -ENOTSUP;
}

int platform_host(struct platform *ret, struct molt_error **err)
{
	struct utsname u;
	if (uname(&u) < 0)
		return molt_error_set(err, errno, "uname");
	if (platform_from_machine(u.machine, ret) < 0)
		return molt_error_setx(err, ENOTSUP, "unknown machine type '%s'", u.machine);
	return 0;
}

char *platform_format(const struct platform *p)
{
	if (p->variant[0])
		return xasprintf("%s/%s/%s", p->os, p->arch, p->variant);
	return xasprintf("%s/%s", p->os, p->arch);
}

int platform_parse(const char *s, struct platform *ret)
{
	const char *a = strchr(s, '/');
	if (!a || a == s || !a[1])
		return -EINVAL;
	const char *v = strchr(a + 1, '/');
	size_t oslen = (size_t)(a - s);
	size_t archlen = v ? (size_t)(v - a - 1) : strlen(a + 1);
	const char *variant = v ? v + 1 : "";
	struct platform p;
	if (oslen >= sizeof(p.os) || !archlen || archlen >= sizeof(p.arch) ||
	    strlen(variant) >= sizeof(p.variant) || strchr(variant, '/') || (v && !*variant))
		return -EINVAL;
	memcpy(p.os, s, oslen);
	p.os[oslen] = '\0';
	memcpy(p.arch, a + 1, archlen);
	p.arch[archlen] = '\0';
	set_field(p.variant, sizeof(p.variant), variant);
	*ret = p;
	return 0;
}

/*
 * Whether want runs on this machine without emulation. amd64's v2..v4 and arm64's v8
 * name CPU feature levels, not another instruction set; 32-bit arm's variants differ.
 */
static bool platform_native(const struct platform *host, const struct platform *want)
{
	if (strcmp(host->os, want->os) || strcmp(host->arch, want->arch))
		return false;
	return strcmp(want->arch, "arm") || !want->variant[0] || !strcmp(host->variant, want->variant);
}

int platform_check_native(const struct build_plan *p, struct molt_error **err)
{
	struct platform host;
	if (platform_host(&host, err) < 0)
		return -ENOTSUP;
	_cleanup_free_ char *h = platform_format(&host);
	const char *what = "--platform";
	struct platform want = p->target_platform;
	bool bad = !platform_native(&host, &want);
	for (size_t i = 0; !bad && i < p->n_stages; i++) {
		const struct build_stage *st = &p->stages[i];
		if (st->platform && platform_parse(st->platform, &want) == 0 &&
		    !platform_native(&host, &want))
			bad = true, what = "FROM --platform";
	}
	if (!bad)
		return 0;
	_cleanup_free_ char *w = platform_format(&want);
	return molt_error_setx(err, ENOTSUP,
			       "%s=%s: molt runs steps natively; building for %s on %s needs "
			       "binfmt emulation, which molt does not do (build on a %s machine, "
			       "or drop the flag to build for %s)",
			       what, w, w, h, w, h);
}
