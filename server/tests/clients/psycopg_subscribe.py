"""psycopg 3 following a materialized view with SUBSCRIBE while another connection writes:
`cur.stream("SUBSCRIBE TO v")` (text, then binary results), cancelling it with
`conn.cancel()`, and a cursor (`DECLARE c CURSOR FOR SUBSCRIBE ...` + `FETCH ALL`).

After every write the rows received so far, summed by their diffs, must equal what a
plain SELECT of the view returns; all rows of one commit share a timestamp and
timestamps increase from commit to commit.

Usage: python3 psycopg_subscribe.py PORT. Exits non-zero with a message on any mismatch.
"""
import os
import sys
import threading
from collections import Counter

import psycopg

port = int(sys.argv[1])


def connect():
    return psycopg.connect(host="127.0.0.1", port=port, user="sluice", dbname="sluice", autocommit=True)


def fail_after(seconds):
    def expire():
        print(f"timed out after {seconds} s waiting for subscription rows", file=sys.stderr)
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


class Follower:
    """Sums a subscription's rows and checks their timestamps."""

    def __init__(self):
        self.contents = Counter()
        self.timestamps = []

    def apply(self, row):
        timestamp, diff, *columns = row
        assert diff in (1, -1), row
        if not self.timestamps or self.timestamps[-1] != timestamp:
            assert not self.timestamps or self.timestamps[-1] < timestamp, (self.timestamps, row)
            self.timestamps.append(timestamp)
        self.contents[tuple(columns)] += diff
        if self.contents[tuple(columns)] == 0:
            del self.contents[tuple(columns)]

    def matches(self, expected):
        return self.contents == Counter(expected)


setup = connect()
setup.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, city TEXT, amount BIGINT)")
setup.execute(
    "CREATE MATERIALIZED VIEW totals AS "
    "SELECT city, count(*) AS orders, sum(amount) AS total FROM orders GROUP BY city"
)
setup.execute("INSERT INTO orders VALUES (1, 'oslo', 10)")

writer = connect()
writes = [
    "INSERT INTO orders VALUES (2, 'oslo', 5)",
    "UPDATE orders SET city = 'rome' WHERE id = 1",
    "INSERT INTO orders VALUES (3, 'rome', 1), (4, 'kyiv', 7)",
    "DELETE FROM orders WHERE id = 2",
]


def view_rows():
    return writer.execute("SELECT city, orders, total FROM totals").fetchall()


def write_once_subscribed(statement):
    """Run `statement` once a subscription is registered (SHOW SUBSCRIPTIONS lists it)."""
    connection = connect()
    while not connection.execute("SHOW SUBSCRIPTIONS").fetchall():
        threading.Event().wait(0.05)
    connection.execute(statement)
    connection.close()


def follow_stream(query, binary, snapshot):
    """Stream `query`, apply each write once the previous one is fully seen, then cancel."""
    subscriber = connect()
    follower = Follower()
    pending = list(writes)
    if not snapshot:
        # Without a snapshot the stream starts empty: count from the current contents, and
        # make the first change once the subscription is in place.
        for row in view_rows():
            follower.contents[tuple(row)] += 1
        threading.Thread(target=write_once_subscribed, args=(pending.pop(0),), daemon=True).start()
    timer = fail_after(60)
    canceled = False
    with subscriber.cursor() as cur:
        try:
            for row in cur.stream(query, binary=binary):
                follower.apply(row)
                # Mid-commit (a retraction read, its insertion not yet) this does not match.
                if not follower.matches(view_rows()):
                    continue
                if pending:
                    writer.execute(pending.pop(0))
                elif not canceled:
                    subscriber.cancel()
                    canceled = True
            raise AssertionError("the subscription ended by itself")
        except psycopg.errors.QueryCanceled:
            assert canceled, "canceled before all writes were seen"
    timer.cancel()
    assert follower.matches(view_rows()), (follower.contents, view_rows())
    # The snapshot, then one timestamp per write.
    assert len(follower.timestamps) == len(writes) + (1 if snapshot else 0), follower.timestamps
    # The connection is usable after the cancel.
    assert subscriber.execute("SELECT count(*) FROM orders").fetchone()[0] >= 1
    subscriber.close()


follow_stream("SUBSCRIBE TO totals", binary=False, snapshot=True)
# Undo the writes (through the same view) and follow again, with binary results and no snapshot.
writer.execute("DELETE FROM orders")
writer.execute("INSERT INTO orders VALUES (1, 'oslo', 10)")
follow_stream("SUBSCRIBE TO totals WITH (SNAPSHOT = false)", binary=True, snapshot=False)

# A cursor inside a transaction block, read with FETCH.
subscriber = connect()
follower = Follower()
timer = fail_after(60)
with subscriber.transaction():
    subscriber.execute("DECLARE c CURSOR FOR SUBSCRIBE TO totals")
    for statement in [None, "INSERT INTO orders VALUES (5, 'oslo', 2)", "UPDATE orders SET amount = 3 WHERE id = 5"]:
        if statement:
            writer.execute(statement)
        expected = view_rows()
        while not follower.matches(expected):
            for row in subscriber.execute("FETCH ALL c WITH (TIMEOUT = '5s')").fetchall():
                follower.apply(row)
    # Nothing more arrives: a FETCH with a timeout returns no rows.
    assert subscriber.execute("FETCH ALL c WITH (TIMEOUT = '200ms')").fetchall() == []
    subscriber.execute("CLOSE c")
timer.cancel()
assert len(follower.timestamps) == 3, follower.timestamps
try:
    subscriber.execute("FETCH ALL c")
    raise AssertionError("expected an error for a closed cursor")
except psycopg.errors.InvalidCursorName:
    pass

for connection in (subscriber, writer, setup):
    connection.close()
print("psycopg subscribe test passed")
