#!/bin/sh
# Turns a daemon's --help option list into roff (.TP entries), so its man
# pages list exactly the flags the binary has.
#   man-options.sh flags BINARY     "--name ARG" entries (section 8)
#   man-options.sh conf BINARY      "name ARG" entries (the config file, section 5)
set -eu
mode=$1
"$2" --help | awk -v mode="$mode" '
/^options:/ { on = 1; next }
on && /^  --/ {
	line = substr($0, 3)
	# the flag and its argument end at the first run of two spaces
	i = index(line, "  ")
	flag = substr(line, 1, i - 1)
	text = substr(line, i)
	sub(/^ +/, "", text)
	name = flag; arg = ""
	j = index(flag, " ")
	if (j > 0) { name = substr(flag, 1, j - 1); arg = substr(flag, j + 1) }
	if (mode == "conf") {
		if (name == "--config" || name == "--help" || name == "--version") next
		sub(/^--/, "", name)
	}
	gsub(/\\/, "\\e", text); gsub(/-/, "\\-", name); gsub(/-/, "\\-", text)
	if (text ~ /^[.\x27]/) text = "\\&" text
	printf ".TP\n.B %s%s\n%s\n", name, arg != "" ? " \\fI" arg "\\fR" : "", text
}'
