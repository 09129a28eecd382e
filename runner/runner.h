/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner/runner.h: the public face of the runner module — the command line, the
 * Dockerfile frontend and the build executor. main() only calls runner_main().
 */
#ifndef MOLT_RUNNER_H
#define MOLT_RUNNER_H

/* Runs molt with the given argv; returns the process exit code (SPEC.md §2). */
int runner_main(int argc, char **argv);

#endif
