/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers/layers.h: the one public header of the layers module — filesystems as data.
 *
 * Two halves, kept in their own sections so they can grow side by side:
 *   A. the store and image formats (store.c, digest.c, image.c, refname.c, archive
 *      import/export);
 *   B. trees and layer tars (unpack.c, differ_*.c, tarwriter.c).
 */
#ifndef MOLT_LAYERS_H
#define MOLT_LAYERS_H

#include "../lib/base.h"

/* ================================================================================
 * A. Store and image formats
 * ================================================================================ */

/* (section A declarations go here) */

/* end of section A */


/* ================================================================================
 * B. Trees and layer tars: secure unpack, snapshot differ, deterministic layer writer
 * ================================================================================ */

/* (section B declarations go here) */

/* end of section B */

#endif
