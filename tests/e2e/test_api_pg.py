"""The API on PostgreSQL (ANYCST_DB=pg; skipped on SQLite), issue 19: a
connection lost during COMMIT answers 503 "outcome unknown", never a guess,
and the next request connects again."""
import json

import pytest

Z = "lost.test."


def test_commit_lost_answers_503(primary):
    if not primary.is_pg:
        pytest.skip("PostgreSQL only (ANYCST_DB=pg)")
    primary.add_zone(Z)
    s0 = primary.serial(Z)
    # a deferred constraint trigger ends the server process at COMMIT
    primary.sql("CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS "
                "$$BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); "
                "RETURN NULL; END$$; CREATE CONSTRAINT TRIGGER die AFTER INSERT ON journal "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die()")
    rr = [{"name": "a." + Z, "type": "A", "ttl": 60, "changetype": "REPLACE",
           "records": [{"content": "192.0.2.7", "disabled": False}]}]
    st, _, body = primary.call("PATCH", "/zones/" + Z, {"rrsets": rr})
    assert st == 503, body
    assert "outcome unknown" in json.loads(body)["error"]
    primary.sql("DROP TRIGGER die ON journal")
    # the client re-reads: here the change did not commit; a retry is safe
    assert primary.serial(Z) == s0
    _, h, _ = primary.call("GET", "/zones/" + Z)
    primary.patch(Z, rr, headers={"If-Match": h["etag"]})
    assert primary.serial(Z) == s0 + 1
