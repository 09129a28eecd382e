/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the Dockerfile parser (runner/frontend/parse.c, directives.c, heredoc.c,
 * lexer.c): every case is named after the Dockerfile reference / BuildKit rule it checks.
 * A parsed file is summarised as one line per instruction so expectations stay short:
 *   KIND@LINE [--flag[=v]]... [json] [arg]... {key=value}... <<NAME(e|-)(c|-):body
 */
#include <string.h>

#include "../../runner/frontend/dockerfile.h"
#include "tap.h"

static void dump_instr(struct strbuf *sb, const struct df_instr *in)
{
	strbuf_addf(sb, "%s@%d", df_kind_name(in->kind), in->line);
	for (size_t i = 0; i < in->n_flags; i++)
		strbuf_addf(sb, in->flags[i].value ? " --%s=%s" : " --%s", in->flags[i].name,
			    in->flags[i].value);
	if (in->json)
		strbuf_adds(sb, " json");
	for (size_t i = 0; in->args && in->args[i]; i++)
		strbuf_addf(sb, " [%s]", in->args[i]);
	for (size_t i = 0; i < in->n_kvs; i++)
		strbuf_addf(sb, in->kvs[i].value ? " {%s=%s}" : " {%s}", in->kvs[i].key,
			    in->kvs[i].value);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		const struct df_heredoc *h = &in->heredocs[i];
		strbuf_addf(sb, " <<%s(%c%c):", h->name, h->expand ? 'e' : '-', h->chomp ? 'c' : '-');
		for (const char *c = h->content; *c; c++)
			strbuf_adds(sb, *c == '\n' ? "\\n" : (char[]){*c, 0});
	}
	if (in->kind == DF_HEALTHCHECK)
		strbuf_addf(sb, " none=%d i=%lld t=%lld sp=%lld si=%lld r=%d", in->health.none,
			    (long long)in->health.interval, (long long)in->health.timeout,
			    (long long)in->health.start_period, (long long)in->health.start_interval,
			    in->health.retries);
	if (in->trigger) {
		strbuf_adds(sb, " => ");
		dump_instr(sb, in->trigger);
	}
}

static char *dump(const char *text, struct molt_error **err)
{
	struct dockerfile *df = NULL;
	if (dockerfile_parse(text, strlen(text), NULL, &df, err) < 0)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < df->n_instrs; i++) {
		if (i)
			strbuf_adds(&sb, " | ");
		dump_instr(&sb, &df->instrs[i]);
	}
	if (df->escape != '\\')
		strbuf_addf(&sb, " escape=%c", df->escape);
	if (df->syntax)
		strbuf_addf(&sb, " syntax=%s", df->syntax);
	if (df->check)
		strbuf_addf(&sb, " check=%s", df->check);
	dockerfile_free(df);
	return strbuf_detach(&sb);
}

struct ok_case {
	const char *name, *text, *want;
};

static const struct ok_case ok_cases[] = {
	/* instructions and their argument forms */
	{"FROM IMAGE (Dockerfile ref: FROM)", "FROM alpine:3.19\n", "FROM@1 [alpine:3.19]"},
	{"FROM IMAGE AS name keeps the three words (ref: FROM ... AS)", "FROM alpine AS build\n",
	 "FROM@1 [alpine] [AS] [build]"},
	{"FROM 'as' is case-insensitive (BuildKit)", "FROM alpine as Build\n",
	 "FROM@1 [alpine] [as] [Build]"},
	{"FROM --platform flag (ref: FROM --platform)", "FROM --platform=$BUILDPLATFORM golang\n",
	 "FROM@1 --platform=$BUILDPLATFORM [golang]"},
	{"instruction keywords are case-insensitive (ref: Format)", "from a\nrun echo\nCoPy a b\n",
	 "FROM@1 [a] | RUN@2 [echo] | COPY@3 [a] [b]"},
	{"RUN shell form is one string (ref: RUN)", "FROM a\nRUN echo  \"a b\"  c\n",
	 "FROM@1 [a] | RUN@2 [echo  \"a b\"  c]"},
	{"RUN exec form is a JSON array (ref: RUN exec form)", "FROM a\nRUN [\"echo\", \"a b\"]\n",
	 "FROM@1 [a] | RUN@2 json [echo] [a b]"},
	{"RUN invalid JSON falls back to shell form (ref: exec form must be JSON)",
	 "FROM a\nRUN ['echo', 'x']\n", "FROM@1 [a] | RUN@2 [['echo', 'x']]"},
	{"RUN JSON array with a number is shell form (BuildKit parseJSON)",
	 "FROM a\nRUN [\"echo\", 1]\n", "FROM@1 [a] | RUN@2 [[\"echo\", 1]]"},
	{"CMD exec form (ref: CMD)", "FROM a\nCMD [\"/app\", \"-v\"]\n",
	 "FROM@1 [a] | CMD@2 json [/app] [-v]"},
	{"CMD empty JSON array is valid (ref: CMD [])", "FROM a\nCMD []\n", "FROM@1 [a] | CMD@2 json"},
	{"ENTRYPOINT shell form (ref: ENTRYPOINT)", "FROM a\nENTRYPOINT exec top -b\n",
	 "FROM@1 [a] | ENTRYPOINT@2 [exec top -b]"},
	{"SHELL takes the JSON form (ref: SHELL)", "FROM a\nSHELL [\"/bin/bash\", \"-c\"]\n",
	 "FROM@1 [a] | SHELL@2 json [/bin/bash] [-c]"},
	{"ENV K=V pairs keep quotes for the expander (ref: ENV)",
	 "FROM a\nENV A=1 B=\"x y\" C=z\\ w\n",
	 "FROM@1 [a] | ENV@2 {A=1} {B=\"x y\"} {C=z\\ w}"},
	{"ENV legacy form 'K V' keeps spaces in V (ref: ENV alternative syntax)",
	 "FROM a\nENV MY_VAR my value  here\n", "FROM@1 [a] | ENV@2 {MY_VAR=my value  here}"},
	{"ENV with an empty value K= is allowed (ref: ENV)", "FROM a\nENV A=\n",
	 "FROM@1 [a] | ENV@2 {A=}"},
	{"LABEL with quoted key and several pairs (ref: LABEL)",
	 "FROM a\nLABEL \"com.x\"=\"v 1\" b=2\n", "FROM@1 [a] | LABEL@2 {\"com.x\"=\"v 1\"} {b=2}"},
	{"LABEL legacy form (BuildKit parseNameVal)", "FROM a\nLABEL version 1.0\n",
	 "FROM@1 [a] | LABEL@2 {version=1.0}"},
	{"ARG with and without a default, several in one line (ref: ARG)",
	 "ARG A\nARG B=1 C\nFROM a\n", "ARG@1 {A} | ARG@2 {B=1} {C} | FROM@3 [a]"},
	{"ARG with an empty default (ref: ARG)", "ARG A=\nFROM a\n", "ARG@1 {A=} | FROM@2 [a]"},
	{"EXPOSE words (ref: EXPOSE)", "FROM a\nEXPOSE 80/tcp 53/udp\n",
	 "FROM@1 [a] | EXPOSE@2 [80/tcp] [53/udp]"},
	{"VOLUME JSON form (ref: VOLUME)", "FROM a\nVOLUME [\"/data\", \"/x\"]\n",
	 "FROM@1 [a] | VOLUME@2 json [/data] [/x]"},
	{"VOLUME words form (ref: VOLUME)", "FROM a\nVOLUME /var/log /var/db\n",
	 "FROM@1 [a] | VOLUME@2 [/var/log] [/var/db]"},
	{"USER is one string (ref: USER)", "FROM a\nUSER app:app\n", "FROM@1 [a] | USER@2 [app:app]"},
	{"WORKDIR is one string, spaces included (ref: WORKDIR)", "FROM a\nWORKDIR /my dir\n",
	 "FROM@1 [a] | WORKDIR@2 [/my dir]"},
	{"COPY sources and destination are blank-split (BuildKit)", "FROM a\nCOPY a.txt b* /dst/\n",
	 "FROM@1 [a] | COPY@2 [a.txt] [b*] [/dst/]"},
	{"COPY JSON form allows spaces (ref: COPY [\"src\",\"dest\"])",
	 "FROM a\nCOPY [\"a b\", \"/c d/\"]\n", "FROM@1 [a] | COPY@2 json [a b] [/c d/]"},
	{"COPY flags --from --chown --chmod --link (ref: COPY)",
	 "FROM a\nCOPY --from=b --chown=1:2 --chmod=0755 --link x /y\n",
	 "FROM@1 [a] | COPY@2 --from=b --chown=1:2 --chmod=0755 --link [x] [/y]"},
	{"COPY --exclude is repeatable (ref: COPY --exclude)",
	 "FROM a\nCOPY --exclude=*.md --exclude=*.txt . /y/\n",
	 "FROM@1 [a] | COPY@2 --exclude=*.md --exclude=*.txt [.] [/y/]"},
	{"COPY --parents and --link=false (ref: COPY --parents)",
	 "FROM a\nCOPY --parents --link=false a/b /y/\n",
	 "FROM@1 [a] | COPY@2 --parents --link=false [a/b] [/y/]"},
	{"ADD --checksum and --keep-git-dir (ref: ADD)",
	 "FROM a\nADD --checksum=sha256:abc --keep-git-dir=true u /d\n",
	 "FROM@1 [a] | ADD@2 --checksum=sha256:abc --keep-git-dir=true [u] [/d]"},
	{"flag values lose their quotes (BuildKit extractBuilderFlags)",
	 "FROM a\nCOPY --chown=\"a b\" x /y\n", "FROM@1 [a] | COPY@2 --chown=a b [x] [/y]"},
	{"a lone -- ends the flags (BuildKit extractBuilderFlags)", "FROM a\nRUN -- --notaflag\n",
	 "FROM@1 [a] | RUN@2 [--notaflag]"},
	{"RUN --mount, --network, --security (ref: RUN --mount)",
	 "FROM a\nRUN --mount=type=cache,target=/c --network=none --security=sandbox make\n",
	 "FROM@1 [a] | RUN@2 --mount=type=cache,target=/c --network=none --security=sandbox [make]"},
	{"STOPSIGNAL is one string (ref: STOPSIGNAL)", "FROM a\nSTOPSIGNAL SIGKILL\n",
	 "FROM@1 [a] | STOPSIGNAL@2 [SIGKILL]"},
	{"MAINTAINER is one string (ref: MAINTAINER, deprecated)", "FROM a\nMAINTAINER Jo <j@x>\n",
	 "FROM@1 [a] | MAINTAINER@2 [Jo <j@x>]"},
	{"HEALTHCHECK NONE (ref: HEALTHCHECK NONE)", "FROM a\nHEALTHCHECK NONE\n",
	 "FROM@1 [a] | HEALTHCHECK@2 none=1 i=0 t=0 sp=0 si=0 r=0"},
	{"HEALTHCHECK CMD with all durations and retries (ref: HEALTHCHECK)",
	 "FROM a\nHEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms "
	 "--retries=4 CMD curl -f http://x/\n",
	 "FROM@1 [a] | HEALTHCHECK@2 --interval=5m --timeout=3s --start-period=1m30s "
	 "--start-interval=500ms --retries=4 [curl -f http://x/] none=0 i=300000000000 "
	 "t=3000000000 sp=90000000000 si=500000000 r=4"},
	{"HEALTHCHECK CMD exec form (ref: HEALTHCHECK CMD [...])",
	 "FROM a\nHEALTHCHECK CMD [\"/bin/check\"]\n",
	 "FROM@1 [a] | HEALTHCHECK@2 json [/bin/check] none=0 i=0 t=0 sp=0 si=0 r=0"},
	{"ONBUILD registers a parsed trigger (ref: ONBUILD)", "FROM a\nONBUILD COPY . /app\n",
	 "FROM@1 [a] | ONBUILD@2 [COPY . /app] => COPY@2 [.] [/app]"},
	{"ONBUILD trigger keeps its flags (ref: ONBUILD)", "FROM a\nONBUILD RUN --network=none x\n",
	 "FROM@1 [a] | ONBUILD@2 [RUN --network=none x] => RUN@2 --network=none [x]"},
	/* lines, comments, continuations */
	{"comments and blank lines are skipped (ref: Format)", "# c\n\nFROM a\n  # indented\n\nRUN x\n",
	 "FROM@3 [a] | RUN@6 [x]"},
	{"leading whitespace before an instruction is ignored (ref: Format)", "   FROM a\n\tRUN x\n",
	 "FROM@1 [a] | RUN@2 [x]"},
	{"a # inside an instruction is not a comment (ref: Format)", "FROM a\nRUN echo # hi\n",
	 "FROM@1 [a] | RUN@2 [echo # hi]"},
	{"line continuation joins lines without the escape (ref: escape)",
	 "FROM a\nRUN echo a \\\n  b\n", "FROM@1 [a] | RUN@2 [echo a   b]"},
	{"continuation with trailing blanks after the escape (BuildKit)",
	 "FROM a\nRUN echo a \\  \t\n b\n", "FROM@1 [a] | RUN@2 [echo a  b]"},
	{"comment lines inside a continuation are skipped (ref: Format)",
	 "FROM a\nRUN a \\\n# note\n  # more\n b\n", "FROM@1 [a] | RUN@2 [a  b]"},
	{"empty lines inside a continuation are skipped (BuildKit)",
	 "FROM a\nRUN a \\\n\n   \n b\n", "FROM@1 [a] | RUN@2 [a  b]"},
	{"the line of a continued instruction is its first line", "FROM a\nRUN a \\\n b\nRUN c\n",
	 "FROM@1 [a] | RUN@2 [a  b] | RUN@4 [c]"},
	{"a continuation at end of file ends the instruction", "FROM a\nRUN a \\\n",
	 "FROM@1 [a] | RUN@2 [a]"},
	{"continuation inside flags and JSON (BuildKit joins first)",
	 "FROM a\nCOPY --chown=1 \\\n  [\"a\", \\\n \"/b\"]\n",
	 "FROM@1 [a] | COPY@2 --chown=1 json [a] [/b]"},
	{"an escaped escape at end of line does not continue (BuildKit lineContinuationRegex)",
	 "FROM a\nRUN echo \\\\\nRUN x\n", "FROM@1 [a] | RUN@2 [echo \\\\] | RUN@3 [x]"},
	{"a line that is only the escape continues", "FROM a\nRUN a \\\n\\\n b\n",
	 "FROM@1 [a] | RUN@2 [a  b]"},
	{"CRLF line endings are accepted", "FROM a\r\nRUN x\r\n", "FROM@1 [a] | RUN@2 [x]"},
	{"a UTF-8 byte order mark is ignored", "\xef\xbb\xbf" "FROM a\n", "FROM@1 [a]"},
	{"no newline at end of file", "FROM a\nRUN x", "FROM@1 [a] | RUN@2 [x]"},
	/* directives */
	{"# syntax= directive is recorded (ref: syntax)", "# syntax=docker/dockerfile:1\nFROM a\n",
	 "FROM@2 [a] syntax=docker/dockerfile:1"},
	{"# escape=` makes backtick the continuation char (ref: escape)",
	 "# escape=`\nFROM a\nRUN dir c:\\ `\n  /w\n", "FROM@2 [a] | RUN@3 [dir c:\\   /w] escape=`"},
	{"with escape=` a trailing backslash is literal (ref: escape)",
	 "# escape=`\nFROM a\nRUN dir c:\\\nRUN x\n", "FROM@2 [a] | RUN@3 [dir c:\\] | RUN@4 [x] escape=`"},
	{"directive keys are case-insensitive and blanks allowed (ref: Parser directives)",
	 "#  ESCAPE =  `\nFROM a\n", "FROM@2 [a] escape=`"},
	{"# check= directive is recorded (ref: check)", "# check=skip=all\nFROM a\n",
	 "FROM@2 [a] check=skip=all"},
	{"several directives on consecutive top lines", "# syntax=x\n# escape=`\n# check=error=true\nFROM a\n",
	 "FROM@4 [a] escape=` syntax=x check=error=true"},
	{"a directive after a blank line is a comment (ref: Parser directives)",
	 "\n# escape=`\nFROM a\n", "FROM@3 [a]"},
	{"a directive after a comment is a comment (ref: Parser directives)",
	 "# hello\n# escape=`\nFROM a\n", "FROM@3 [a]"},
	{"a directive after an instruction is a comment (ref: Parser directives)",
	 "FROM a\n# escape=`\nRUN x \\\n y\n", "FROM@1 [a] | RUN@3 [x  y]"},
	{"an unknown directive is a comment and ends the directives (ref: Parser directives)",
	 "# unknowndirective=value\n# escape=`\nFROM a\n", "FROM@3 [a]"},
	{"a duplicate after an unknown directive is just a comment",
	 "# escape=`\n# foo=bar\n# escape=\\\nFROM a\n", "FROM@4 [a] escape=`"},
	/* heredocs */
	{"RUN <<EOF body is the script (ref: Here-Documents)", "FROM a\nRUN <<EOF\necho 1\necho 2\nEOF\nRUN x\n",
	 "FROM@1 [a] | RUN@2 [<<EOF] <<EOF(e-):echo 1\\necho 2\\n | RUN@6 [x]"},
	{"<<-EOF strips leading tabs of body and delimiter (ref: Here-Documents)",
	 "FROM a\nRUN <<-EOT\n\t\techo\n\tEOT\n", "FROM@1 [a] | RUN@2 [<<-EOT] <<EOT(ec):echo\\n"},
	{"<<\"EOF\" disables expansion (ref: Here-Documents)", "FROM a\nRUN <<\"EOF\"\n$x\nEOF\n",
	 "FROM@1 [a] | RUN@2 [<<\"EOF\"] <<EOF(--):$x\\n"},
	{"<<'EOF' disables expansion (ref: Here-Documents)", "FROM a\nRUN <<'EOF'\n$x\nEOF\n",
	 "FROM@1 [a] | RUN@2 [<<'EOF'] <<EOF(--):$x\\n"},
	{"several heredocs on one line are read in order (ref: Here-Documents)",
	 "FROM a\nRUN <<A <<B\na\nA\nb\nB\n", "FROM@1 [a] | RUN@2 [<<A <<B] <<A(e-):a\\n <<B(e-):b\\n"},
	{"COPY <<EOF /path (ref: Here-Documents with COPY)",
	 "FROM a\nCOPY <<EOF /etc/x\nline\nEOF\n", "FROM@1 [a] | COPY@2 [<<EOF] [/etc/x] <<EOF(e-):line\\n"},
	{"ADD takes heredocs too", "FROM a\nADD <<EOF /x\nl\nEOF\n",
	 "FROM@1 [a] | ADD@2 [<<EOF] [/x] <<EOF(e-):l\\n"},
	{"heredoc in a command: python3 <<EOF (ref: Here-Documents)",
	 "FROM a\nRUN python3 <<EOF > /out\nprint(1)\nEOF\n",
	 "FROM@1 [a] | RUN@2 [python3 <<EOF > /out] <<EOF(e-):print(1)\\n"},
	{"ONBUILD RUN <<EOF reads the heredoc body (BuildKit heredocCompoundDirectives)",
	 "FROM a\nONBUILD RUN <<EOF\necho\nEOF\nRUN x\n",
	 "FROM@1 [a] | ONBUILD@2 [RUN <<EOF] <<EOF(e-):echo\\n => RUN@2 [<<EOF] | RUN@5 [x]"},
	{"<<\\EOF still expands: only quotes turn expansion off (BuildKit)",
	 "FROM a\nRUN <<\\EOF\n$x\nEOF\n", "FROM@1 [a] | RUN@2 [<<\\EOF] <<EOF(e-):$x\\n"},
	{"an empty heredoc body", "FROM a\nRUN <<EOF\nEOF\n", "FROM@1 [a] | RUN@2 [<<EOF] <<EOF(e-):"},
	{"heredoc body keeps blank and comment-like lines", "FROM a\nRUN <<EOF\n\n# c\nEOF\n",
	 "FROM@1 [a] | RUN@2 [<<EOF] <<EOF(e-):\\n# c\\n"},
	{"heredocs are recognised on RUN, COPY and ADD only (ref: Here-Documents)",
	 "FROM a\nCMD cat <<EOF\n", "FROM@1 [a] | CMD@2 [cat <<EOF]"},
	{"a JSON-form RUN has no heredocs (BuildKit)", "FROM a\nRUN [\"cat\", \"<<EOF\"]\n",
	 "FROM@1 [a] | RUN@2 json [cat] [<<EOF]"},
	{"<< followed by nothing is not a heredoc", "FROM a\nRUN echo a << b\n",
	 "FROM@1 [a] | RUN@2 [echo a << b]"},
};

struct err_case {
	const char *name, *text;
	int line;
	const char *want; /* substring of the message after "Dockerfile:LINE: " */
};

static const struct err_case err_cases[] = {
	{"unknown instruction suggests the near one", "FROM a\nRUNN echo\n", 2,
	 "unknown instruction \"RUNN\" (did you mean \"RUN\"?)"},
	{"unknown instruction far from every keyword has no suggestion", "FROM a\nFOOBARBAZ x\n", 2,
	 "unknown instruction \"FOOBARBAZ\""},
	{"unknown instruction lower case suggests upper keyword", "FROM a\ncopyy a b\n", 2,
	 "did you mean \"COPY\"?"},
	{"unknown flag names the instruction's flags", "FROM a\nCOPY --form=x a b\n", 2,
	 "COPY: unknown flag '--form' (COPY takes --from, --chown, --chmod, --link, --exclude, --parents)"},
	{"a flag the instruction does not take (ADD --from)", "FROM a\nADD --from=x a b\n", 2,
	 "ADD: unknown flag '--from'"},
	{"RUN does not take --chown", "FROM a\nRUN --chown=1 x\n", 2, "RUN: unknown flag '--chown'"},
	{"WORKDIR takes no flags", "FROM a\nWORKDIR --x=1 /a\n", 2,
	 "WORKDIR: unknown flag '--x' (WORKDIR takes no flags)"},
	{"a string flag needs a value", "FROM a\nCOPY --from a b\n", 2,
	 "COPY: flag '--from' needs a value (--from=VALUE)"},
	{"an empty flag value is an error", "FROM a\nCOPY --chown= a b\n", 2,
	 "flag '--chown' needs a value"},
	{"a bool flag takes true or false only", "FROM a\nCOPY --link=yes a b\n", 2,
	 "COPY: flag '--link' expects true or false, not 'yes'"},
	{"a flag given twice", "FROM a\nCOPY --from=a --from=b x y\n", 2,
	 "COPY: flag '--from' is given twice"},
	{"a malformed HEALTHCHECK duration", "FROM a\nHEALTHCHECK --interval=5x CMD true\n", 2,
	 "HEALTHCHECK: malformed duration '5x' for --interval"},
	{"a HEALTHCHECK duration without unit", "FROM a\nHEALTHCHECK --timeout=30 CMD true\n", 2,
	 "malformed duration '30' for --timeout"},
	{"a HEALTHCHECK duration below 1ms", "FROM a\nHEALTHCHECK --interval=10us CMD true\n", 2,
	 "HEALTHCHECK: --interval cannot be less than 1ms"},
	{"a negative HEALTHCHECK duration", "FROM a\nHEALTHCHECK --start-period=-1s CMD true\n", 2,
	 "malformed duration '-1s'"},
	{"HEALTHCHECK --retries must be a number", "FROM a\nHEALTHCHECK --retries=x CMD true\n", 2,
	 "--retries must be a whole number"},
	{"HEALTHCHECK with an unknown type", "FROM a\nHEALTHCHECK curl x\n", 2,
	 "HEALTHCHECK: unknown type 'curl' (use CMD or NONE)"},
	{"HEALTHCHECK NONE takes no arguments", "FROM a\nHEALTHCHECK NONE x\n", 2,
	 "HEALTHCHECK NONE takes no arguments"},
	{"HEALTHCHECK CMD needs a command", "FROM a\nHEALTHCHECK CMD\n", 2,
	 "HEALTHCHECK CMD requires a command"},
	{"unterminated heredoc reports the instruction line", "FROM a\nRUN <<EOF\necho\n", 2,
	 "unterminated heredoc 'EOF'"},
	{"the second of two heredocs unterminated", "FROM a\nRUN <<A <<B\nA\nb\n", 2,
	 "unterminated heredoc 'B'"},
	{"a bad escape directive value", "# escape=x\nFROM a\n", 1,
	 "invalid escape character 'x': it must be '\\' or '`'"},
	{"a duplicate directive", "# escape=`\n# escape=`\nFROM a\n", 2,
	 "only one 'escape' parser directive can be used"},
	{"a duplicate syntax directive, any case", "# syntax=a\n# SYNTAX=b\nFROM a\n", 2,
	 "only one 'syntax' parser directive"},
	{"ONBUILD FROM is not allowed (ref: ONBUILD)", "FROM a\nONBUILD FROM b\n", 2,
	 "ONBUILD: FROM is not allowed as a trigger"},
	{"ONBUILD ONBUILD is not allowed (ref: ONBUILD)", "FROM a\nONBUILD ONBUILD RUN x\n", 2,
	 "ONBUILD: ONBUILD is not allowed as a trigger"},
	{"ONBUILD MAINTAINER is not allowed (ref: ONBUILD)", "FROM a\nONBUILD MAINTAINER me\n", 2,
	 "ONBUILD: MAINTAINER is not allowed as a trigger"},
	{"ONBUILD of an unknown instruction", "FROM a\nONBUILD RUNN x\n", 2,
	 "unknown instruction \"RUNN\""},
	{"ONBUILD with nothing", "FROM a\nONBUILD\n", 2, "ONBUILD requires an instruction"},
	{"ARG name must be an identifier", "ARG 1abc=2\nFROM a\n", 1, "ARG: invalid name '1abc'"},
	{"ARG name with a dash is invalid", "FROM a\nARG my-arg\n", 2, "ARG: invalid name 'my-arg'"},
	{"ARG with nothing", "FROM a\nARG\n", 2, "ARG requires at least one argument"},
	{"WORKDIR with nothing", "FROM a\nWORKDIR\n", 2, "WORKDIR requires at least one argument"},
	{"WORKDIR with only blanks", "FROM a\nWORKDIR   \n", 2, "WORKDIR requires at least one argument"},
	{"RUN with nothing", "FROM a\nRUN\n", 2, "RUN requires at least one argument"},
	{"USER with nothing", "FROM a\nUSER\n", 2, "USER requires at least one argument"},
	{"EXPOSE with nothing", "FROM a\nEXPOSE\n", 2, "EXPOSE requires at least one argument"},
	{"ENV without a value (legacy form)", "FROM a\nENV A\n", 2, "ENV: 'A' has no value"},
	{"ENV with nothing", "FROM a\nENV\n", 2, "ENV requires at least one argument"},
	{"ENV with an empty name", "FROM a\nENV =x\n", 2, "ENV: a name cannot be empty"},
	{"ENV mixing K=V and a bare word", "FROM a\nENV A=1 B\n", 2, "ENV: 'B' has no '='"},
	{"LABEL without a value", "FROM a\nLABEL x\n", 2, "LABEL: 'x' has no value"},
	{"SHELL requires JSON form (ref: SHELL)", "FROM a\nSHELL /bin/bash -c\n", 2,
	 "SHELL requires the arguments in JSON form"},
	{"SHELL with an empty JSON array", "FROM a\nSHELL []\n", 2, "SHELL requires at least one argument"},
	{"COPY with one argument", "FROM a\nCOPY a\n", 2, "COPY requires at least two arguments"},
	{"ADD with one argument", "FROM a\nADD a\n", 2, "ADD requires at least two arguments"},
	{"FROM with two words", "FROM a b\n", 1, "FROM requires one or three arguments"},
	{"FROM without AS", "FROM a XX b\n", 1, "FROM: expected 'AS' before the stage name, got 'XX'"},
	{"FROM with an invalid stage name", "FROM a AS 1st\n", 1, "FROM: invalid stage name '1st'"},
	{"FROM with a stage name containing $", "FROM a AS $x\n", 1, "invalid stage name '$x'"},
	{"a NUL byte in the file", "FROM a\nRUN a\0b\n", 2, "NUL byte"},
	{"the error of a continued line names its first line", "FROM a\nRUNX a \\\n b\n", 2,
	 "unknown instruction \"RUNX\""},
};

static void run_ok_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(ok_cases); i++) {
		struct molt_error *err = NULL;
		_cleanup_free_ char *got = dump(ok_cases[i].text, &err);
		if (!got)
			tap_diag("error: %s", err ? err->msg : "?");
		tap_str_eq(got, ok_cases[i].want, ok_cases[i].name);
		molt_error_free(err);
	}
}

static void run_err_case(const char *text, size_t len, const struct err_case *c)
{
	struct molt_error *err = NULL;
	struct dockerfile *df = NULL;
	int r = dockerfile_parse(text, len, NULL, &df, &err);
	_cleanup_free_ char *prefix = xasprintf("Dockerfile:%d: ", c->line);
	bool good = r < 0 && err && err->exit_code == MOLT_EXIT_USAGE &&
		    str_startswith(err->msg, prefix) && strstr(err->msg, c->want);
	if (!tap_ok(good, "error: %s", c->name))
		tap_diag("got: %s (r=%d)\n# want: %s%s", err ? err->msg : "(no error)", r, prefix,
			 c->want);
	molt_error_free(err);
	dockerfile_free(df);
}

static void run_err_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(err_cases); i++) {
		const struct err_case *c = &err_cases[i];
		/* the NUL case needs its real length */
		size_t len = strlen(c->text);
		if (strstr(c->name, "NUL"))
			len = sizeof("FROM a\nRUN a\0b\n") - 1;
		run_err_case(c->text, len, c);
	}
}

static void run_detail_cases(void)
{
	struct molt_error *err = NULL;
	struct dockerfile *df = NULL;
	const char *t = "FROM a\n  RUNN echo\n";
	dockerfile_parse(t, strlen(t), "Dockerfile.prod", &df, &err);
	tap_ok(err && !strncmp(err->msg, "Dockerfile.prod:2: ", 19),
	       "errors use the -f file's name in place of Dockerfile");
	tap_str_eq(err ? err->detail : NULL, "  RUNN echo\n  ^",
		   "error detail echoes the line and puts a caret under the keyword");
	molt_error_free(err);
	err = NULL;
	t = "FROM a\nCOPY --link --bogus a b\n";
	dockerfile_parse(t, strlen(t), NULL, &df, &err);
	tap_str_eq(err ? err->detail : NULL, "COPY --link --bogus a b\n            ^",
		   "a bad flag's caret points at the flag");
	molt_error_free(err);
	err = NULL;
	t = "FROM a\nENV A\n";
	dockerfile_parse(t, strlen(t), NULL, &df, &err);
	tap_str_eq(err ? err->detail : NULL, "ENV A", "without a column only the line is echoed");
	molt_error_free(err);
}

static void run_misc_cases(void)
{
	tap_ok(df_kind_from_name("healthCheck") == DF_HEALTHCHECK && df_kind_from_name("RUNN") < 0,
	       "df_kind_from_name is case-insensitive and rejects unknown words");
	struct dockerfile *df = NULL;
	struct molt_error *err = NULL;
	const char *t = "FROM a\nRUN <<EOF\nx\nEOF\nRUN y\n";
	dockerfile_parse(t, strlen(t), NULL, &df, &err);
	tap_ok(df && df->n_instrs == 3 && df->instrs[1].end_line == 4 && df->instrs[2].line == 5,
	       "a heredoc's body lines belong to its instruction (end_line)");
	tap_str_eq(df ? df->instrs[1].original : NULL, "RUN <<EOF",
		   "original is the instruction line without the heredoc body");
	dockerfile_free(df);
	df = NULL;
	t = "FROM a\nCOPY --from=b x y\n";
	dockerfile_parse(t, strlen(t), NULL, &df, &err);
	tap_ok(df && df_instr_flag(&df->instrs[1], "from") &&
		       !strcmp(df_instr_flag(&df->instrs[1], "from"), "b") &&
		       !df_instr_flag(&df->instrs[1], "chown"),
	       "df_instr_flag finds a flag's value and NULL when absent");
	dockerfile_free(df);
	df = NULL;
	tap_ok(dockerfile_parse("", 0, NULL, &df, &err) == 0 && df && df->n_instrs == 0,
	       "an empty file parses to no instructions (the planner reports the missing FROM)");
	dockerfile_free(df);
	molt_error_free(err);
}

int main(void)
{
	run_ok_cases();
	run_err_cases();
	run_detail_cases();
	run_misc_cases();
	return tap_done();
}
