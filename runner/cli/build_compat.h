/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/cli/build_compat.h: docker build's flags that molt ignores (their work does not
 * exist here) or refuses with the reason and what to do instead (build_compat.c). The
 * entries go into molt build's option table, so --help, the man page, the completion and
 * the parser all know them.
 */
#ifndef MOLT_RUNNER_BUILD_COMPAT_H
#define MOLT_RUNNER_BUILD_COMPAT_H

#include "cli.h"

#define BUILD_COMPAT_OPTIONS \
	{0, "allow", "ENTITLEMENT", false, \
	 "network.host is accepted (RUN may use the host network);\n" \
	 "security.insecure and others are refused"}, \
	{0, "attest", "SPEC", false, \
	 "only type=TYPE,disabled=true: molt makes no attestations"}, \
	{0, "builder", "NAME", false, "ignored: molt is its own, only, builder"}, \
	{0, "call", "build", false, "only build (check, outline, targets: see --print-plan)"}, \
	{0, "check", NULL, false, "refused: molt has no Dockerfile linter (--call=check)"}, \
	{0, "compress", NULL, false, "ignored: the context is read in place, never sent"}, \
	{0, "cpu-period", "N", false, "refused: molt sets no CPU limits (use systemd-run)"}, \
	{0, "cpu-quota", "N", false, "refused: molt sets no CPU limits (use systemd-run)"}, \
	{'c', "cpu-shares", "N", false, "refused: molt sets no CPU limits (use systemd-run)"}, \
	{0, "cpuset-cpus", "CPUS", false, "refused: molt pins no CPUs (use taskset)"}, \
	{0, "cpuset-mems", "MEMS", false, "refused: molt pins no memory nodes (use numactl)"}, \
	{0, "detach", NULL, false, "refused: molt has no build server to detach from"}, \
	{0, "disable-content-trust", "BOOL", true, \
	 "ignored: molt verifies digests, it has no Notary trust"}, \
	{0, "force-rm", NULL, false, "ignored: molt leaves no intermediate containers"}, \
	{0, "rm", "BOOL", true, "ignored: molt leaves no intermediate containers"}, \
	{0, "memory-swap", "SIZE", false, "refused: molt limits memory with -m only"}, \
	{0, "security-opt", "OPT", false, \
	 "refused: RUN's seccomp and capabilities are molt's own\n" \
	 "(SECURITY.md)"}, \
	{0, "squash", NULL, false, \
	 "refused: molt keeps one layer per step (COPY --from a\n" \
	 "stage into FROM scratch gives one layer)"}

/* Handles one of them: 0 when accepted, a usage error saying why when refused. */
int build_compat_option(const char *name, const char *value, struct molt_error **err);

#endif
