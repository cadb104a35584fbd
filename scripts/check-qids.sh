#!/bin/sh
# Every query id of primary/db.h (enum db_qid, DBQ_COUNT aside) has its SQL
# in each backend given ([DBQ_X] = ... in its qsql table): a missing one
# would be a NULL statement found only when it is first run.  The build
# stops here instead.  Usage: check-qids.sh primary/db.h BACKEND.c...
set -eu
hdr=$1
shift
ids=$(sed -n '/^enum db_qid {/,/^};/p' "$hdr" | grep -o '^[[:space:]]*DBQ_[A-Z0-9_]*' |
	tr -d '[:space:]\n' | sed 's/DBQ_/ DBQ_/g')
bad=0
for f in "$@"; do
	for id in $ids; do
		[ "$id" = DBQ_COUNT ] && continue
		if ! grep -q "^[[:space:]]*\[$id\][[:space:]]*=" "$f"; then
			echo "$f: no SQL for $id (primary/db.h)" >&2
			bad=1
		fi
	done
done
exit $bad
