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

/* The platform a stage's steps run as: its FROM --platform, a base stage's, or the target. */
static struct platform stage_platform(const struct build_plan *p, const struct build_stage *st)
{
	struct platform pl = p->target_platform;
	for (unsigned hops = 0; st && hops <= p->n_stages; hops++) {
		if (st->platform && platform_parse(st->platform, &pl) == 0)
			return pl;
		if (st->base != BASE_STAGE)
			break;
		st = build_plan_stage(p, st->base_stage);
	}
	return p->target_platform;
}

static bool stage_runs(const struct build_stage *st)
{
	for (size_t i = 0; i < st->n_instrs; i++)
		if (st->instrs[i].kind == DF_RUN)
			return true;
	return false;
}

/*
 * A stage that only copies and sets metadata needs no CPU of its platform (BuildKit's
 * cross-compiling pattern: a final `FROM alpine` with COPY under --platform); a RUN
 * does. The final image is labelled with the target platform, so a final stage whose
 * FROM --platform differs from it would be mislabelled: refused too.
 */
int platform_check_native(const struct build_plan *p, struct molt_error **err)
{
	struct platform host;
	if (platform_host(&host, err) < 0)
		return -ENOTSUP;
	_cleanup_free_ char *h = platform_format(&host);
	_cleanup_free_ char *t = platform_format(&p->target_platform);
	for (size_t i = 0; i < p->n_stages; i++) {
		const struct build_stage *st = &p->stages[i];
		struct platform want = stage_platform(p, st);
		_cleanup_free_ char *w = platform_format(&want);
		const char *what = st->platform ? "FROM --platform" : "--platform";
		if (stage_runs(st) && !platform_native(&host, &want))
			return molt_error_setx(err, ENOTSUP,
					       "%s=%s: molt runs steps natively; building for %s on %s "
					       "needs binfmt emulation, which molt does not do (RUN on "
					       "line %d; build on a %s machine, or for %s)",
					       what, w, w, h, st->line, w, h);
		if (st->index == p->target_index && st->platform && strcmp(w, t))
			return molt_error_setx(err, ENOTSUP,
					       "FROM --platform=%s on line %d: the final stage's platform "
					       "differs from the target %s, and molt labels the image with "
					       "the target; build with --platform %s instead",
					       w, st->line, t, w);
	}
	return 0;
}
