#!/bin/sh
# Every query id of primary/db.h (enum db_qid, DBQ_COUNT aside) has its SQL
# for each backend: in the backend's own qsql table or in the shared one
# (primary/db_sql.c), never in both ([DBQ_X] = ... ): a missing one would be
# a NULL statement found only when it is first run, one in both a shared
# text silently overridden.  The build stops here instead.
# Usage: check-qids.sh primary/db.h SHARED.c BACKEND.c...
set -eu
hdr=$1
shared=$2
shift 2
ids=$(sed -n '/^enum db_qid {/,/^};/p' "$hdr" | grep -o '^[[:space:]]*DBQ_[A-Z0-9_]*' |
	tr -d '[:space:]\n' | sed 's/DBQ_/ DBQ_/g')
bad=0
for f in "$@"; do
	for id in $ids; do
		[ "$id" = DBQ_COUNT ] && continue
		n=0
		grep -q "^[[:space:]]*\[$id\][[:space:]]*=" "$f" && n=$((n + 1))
		grep -q "^[[:space:]]*\[$id\][[:space:]]*=" "$shared" && n=$((n + 1))
		if [ $n = 0 ]; then
			echo "$f: no SQL for $id (primary/db.h), nor in $shared" >&2
			bad=1
		elif [ $n = 2 ]; then
			echo "$f: SQL for $id given here and in $shared" >&2
			bad=1
		fi
	done
done
exit $bad
