/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/termesc.c: making untrusted text safe to print on the caller's terminal.
 *
 * A step's output, a Dockerfile line or a tar entry name may hold terminal control
 * sequences: OSC 52 (`ESC ] 52 ; c ; BASE64 BEL`) writes the caller's clipboard, CSI
 * (`ESC [ 2 J`) clears the screen or moves the cursor over molt's own lines, and on
 * terminals that honour 8-bit controls a lone byte 0x9b is a CSI and 0x9d an OSC. All
 * of them are shown in a visible, inert form instead: C0 controls and DEL in caret
 * notation (`^[` for ESC), C1 controls as `\xNN`. Tab and newline stay; valid UTF-8
 * text stays, except the C1 code points U+0080..U+009F, which are escaped too.
 */
#include <string.h>

#include "base.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp, min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return len;
}

void term_escape_to(struct strbuf *sb, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
			strbuf_addc(sb, (char)c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			strbuf_addc(sb, '^');
			strbuf_addc(sb, c == 0x7f ? '?' : (char)(c + 0x40));
			i++;
		} else {
			uint32_t cp = 0;
			size_t len = utf8_len(s + i, n - i, &cp);
			if (len && cp >= 0xa0) {
				strbuf_add(sb, s + i, len);
				i += len;
			} else if (len) {
				/* A C1 control encoded in UTF-8: both bytes shown. */
				for (size_t k = 0; k < len; k++)
					strbuf_addf(sb, "\\x%02x", s[i + k]);
				i += len;
			} else {
				/* Not UTF-8: a C1 byte is escaped; other stray bytes are inert. */
				if (c <= 0x9f)
					strbuf_addf(sb, "\\x%02x", c);
				else
					strbuf_addc(sb, (char)c);
				i++;
			}
		}
	}
}

char *term_escape(const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	term_escape_to(&sb, text, strlen(text));
	return strbuf_detach(&sb);
}
