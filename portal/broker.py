"""The embedded broker: a kombu transport over one SQLite file, for `make run` and a single machine.

kombu's own embedded choices are not safe for a portal's work: the filesystem transport writes a message
file before it is locked, so a worker can read it empty (the JSONDecodeError that stopped `make run` on a
beat tick), and like the SQLAlchemy transport it removes a message when it is handed out, so a task whose
worker is SIGKILLed before it acknowledges is lost — late acknowledgement only works at a clean shutdown.

Here a message stays in its table until it is acknowledged. Taking one marks it with its consumer's owner
token in the same IMMEDIATE transaction that finds it, so no two consumers get the same message. An
owner is a process holding an exclusive lock on a file named after its token; the kernel drops the lock
when the process dies however it dies, and the next consumer that polls hands that owner's messages back
to their queues (redelivered). A rejected message with requeue goes back the same way; a clean shutdown
releases what it held. Exchange bindings are rows too, so fanout (Celery's remote control) reaches every
process, and a queue's x-message-ttl (Celery's control and event queues) is honoured so that replies nobody
reads do not pile up.

Broker URL: ``embedded://``; transport option ``database`` (the file; default broker.sqlite3 here).
"""

import fcntl
import json
import os
import sqlite3
import threading
import time
import uuid
from collections import namedtuple
from pathlib import Path
from queue import Empty

from kombu.transport import virtual

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    delivery_tag TEXT NOT NULL,
    owner TEXT,
    redelivered INTEGER NOT NULL DEFAULT 0,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS message_ready ON message (queue, owner, id);
CREATE INDEX IF NOT EXISTS message_tag ON message (delivery_tag);
CREATE INDEX IF NOT EXISTS message_owner ON message (owner);
CREATE TABLE IF NOT EXISTS binding (
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    pattern TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (exchange, routing_key, pattern, queue)
);
CREATE TABLE IF NOT EXISTS queue (
    name TEXT PRIMARY KEY,
    message_ttl REAL
);
"""

# Seconds between looks for messages held by consumers that died.
RECOVER_SECONDS = 1.0

Binding = namedtuple("Binding", ("routing_key", "pattern", "queue"))


class Owner:
    """This process as a consumer: a token and the lock that says it is alive (one per process)."""

    _lock = threading.Lock()
    _current = None  # (pid, Owner)

    def __init__(self, folder):
        self.token = uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{self.token}.lock"
        self._file = self.path.open("w")
        # A POSIX record lock, not flock: a forked child (a prefork pool process) does not inherit it, so an
        # orphaned child cannot keep a dead worker's messages held.
        fcntl.lockf(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)

    @staticmethod
    def sweep(folder, keep):
        """Remove the files of owners that are gone (a worker that stopped holding nothing leaves one)."""
        for path in folder.glob("*.lock"):
            if path.stem != keep:
                owner_is_alive(folder, path.stem)

    @classmethod
    def of_this_process(cls, folder):
        # A forked child (prefork pool) holds no lock of the parent's: it gets a token of its own if it consumes.
        with cls._lock:
            if cls._current is None or cls._current[0] != os.getpid():
                cls._current = (os.getpid(), cls(folder))
                cls.sweep(folder, keep=cls._current[1].token)
            return cls._current[1]


def owner_is_alive(folder, token):
    """False when no process holds the owner's lock any more (it died, or stopped). Never ask about this
    process's own token: POSIX locks do not conflict within a process, and closing the file would drop it."""
    path = folder / f"{token}.lock"
    try:
        file = path.open("r+")
    except FileNotFoundError:
        return False
    with file:
        try:
            fcntl.lockf(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            return True
        # Dead: its file goes; its token is never used again.
        path.unlink(missing_ok=True)
        return False


class QoS(virtual.QoS):
    """Acknowledge, reject and restore by the message's row instead of putting a copy back."""

    def ack(self, delivery_tag):
        self.channel._forget(delivery_tag)
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if requeue:
            self.channel._release([delivery_tag])
        else:
            self.channel._forget(delivery_tag)
        self._quick_ack(delivery_tag)

    def restore_unacked(self):
        self._flush()
        tags = list(self._delivered)
        self._delivered.clear()
        if tags:
            self.channel._release(tags)
        return []


class Channel(virtual.Channel):
    QoS = QoS
    supports_fanout = True
    from_transport_options = virtual.Channel.from_transport_options + ("database",)
    database = None

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self.path = Path(self.database or "broker.sqlite3").resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.owners_folder = self.path.with_name(self.path.name + ".owners")
        # Acks come from pool threads, publishing and polling from the consumer's: one connection, serialised.
        self._db_lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a message whose publish returned survives a power cut too, not only a crashed process.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._ttl = {}
        self._no_ack_queues = set()
        self._recovered_at = 0.0

    # Consumers that acknowledge nothing (Celery's remote control) take their messages away for good.

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_cancel(self, consumer_tag):
        self._no_ack_queues.discard(self._tag_to_queue.get(consumer_tag))
        return super().basic_cancel(consumer_tag)

    def basic_get(self, queue, no_ack=False, **kwargs):
        if not no_ack:
            return super().basic_get(queue, no_ack, **kwargs)
        self._no_ack_queues.add(queue)
        try:
            return super().basic_get(queue, no_ack, **kwargs)
        finally:
            self._no_ack_queues.discard(queue)

    def _write(self, statements):
        """Run statements(db) in one IMMEDIATE transaction (the file's write lock, taken before reading)."""
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = statements(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    # Queues and bindings

    def _new_queue(self, queue, arguments=None, **kwargs):
        ttl = (arguments or {}).get("x-message-ttl")  # milliseconds, as in RabbitMQ
        ttl = ttl / 1000 if ttl else None
        self._ttl[queue] = ttl
        self._write(lambda db: db.execute(
            "INSERT INTO queue (name, message_ttl) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET message_ttl = excluded.message_ttl",
            (queue, ttl)))

    def _has_queue(self, queue, **kwargs):
        with self._db_lock:
            return self._db.execute("SELECT 1 FROM queue WHERE name = ?", (queue,)).fetchone() is not None

    def _message_ttl(self, queue):
        if queue not in self._ttl:
            with self._db_lock:
                row = self._db.execute("SELECT message_ttl FROM queue WHERE name = ?", (queue,)).fetchone()
            self._ttl[queue] = row[0] if row else None
        return self._ttl[queue]

    def get_table(self, exchange):
        with self._db_lock:
            rows = self._db.execute("SELECT routing_key, pattern, queue FROM binding WHERE exchange = ?", (exchange,)).fetchall()
        return [Binding(*row) for row in rows]

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        self._write(lambda db: db.execute(
            "INSERT OR IGNORE INTO binding (exchange, routing_key, pattern, queue) VALUES (?, ?, ?, ?)",
            (exchange, routing_key or "", pattern or "", queue or "")))

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        def delete(db):
            db.execute("DELETE FROM binding WHERE exchange = ? AND routing_key = ? AND pattern = ? AND queue = ?",
                       (exchange, routing_key or "", pattern or "", queue or ""))
            if not db.execute("SELECT 1 FROM binding WHERE queue = ?", (queue,)).fetchone():
                db.execute("DELETE FROM message WHERE queue = ? AND owner IS NULL", (queue,))
                db.execute("DELETE FROM queue WHERE name = ?", (queue,))
        self._write(delete)
        self._ttl.pop(queue, None)

    # Messages

    def _put(self, queue, message, **kwargs):
        ttl = self._message_ttl(queue)
        expires_at = time.time() + ttl if ttl else None
        # A tag per row: a fanout puts one message in several queues, and an ack must remove only its own copy.
        tag = uuid.uuid4().hex
        message = {**message, "properties": {**message["properties"], "delivery_tag": tag}}
        self._write(lambda db: db.execute(
            "INSERT INTO message (queue, payload, delivery_tag, expires_at) VALUES (?, ?, ?, ?)",
            (queue, json.dumps(message), tag, expires_at)))

    def _put_fanout(self, exchange, message, routing_key, **kwargs):
        for binding in self.get_table(exchange):
            self._put(binding.queue, message)

    def _get(self, queue):
        self._recover_dead_owners()
        with self._db_lock:
            # A reader does not wait for the write lock: look first, take the lock only when there is work.
            if not self._db.execute("SELECT 1 FROM message WHERE queue = ? AND owner IS NULL LIMIT 1", (queue,)).fetchone():
                raise Empty()
        owner = Owner.of_this_process(self.owners_folder).token
        now = time.time()

        def take(db):
            db.execute("DELETE FROM message WHERE queue = ? AND owner IS NULL AND expires_at < ?", (queue, now))
            row = db.execute("SELECT id, payload, redelivered FROM message WHERE queue = ? AND owner IS NULL ORDER BY id LIMIT 1",
                             (queue,)).fetchone()
            if row is None:
                return None
            if queue in self._no_ack_queues:
                db.execute("DELETE FROM message WHERE id = ?", (row[0],))
            else:
                db.execute("UPDATE message SET owner = ? WHERE id = ?", (owner, row[0]))
            return row

        row = self._write(take)
        if row is None:
            raise Empty()
        payload = json.loads(row[1])
        if row[2]:
            payload["redelivered"] = True
            payload["properties"].setdefault("delivery_info", {})["redelivered"] = True
        return payload

    def _size(self, queue):
        with self._db_lock:
            return self._db.execute("SELECT count(*) FROM message WHERE queue = ? AND owner IS NULL", (queue,)).fetchone()[0]

    def _purge(self, queue):
        return self._write(lambda db: db.execute("DELETE FROM message WHERE queue = ? AND owner IS NULL", (queue,)).rowcount)

    def _forget(self, delivery_tag):
        self._write(lambda db: db.execute("DELETE FROM message WHERE delivery_tag = ?", (delivery_tag,)))

    def _release(self, delivery_tags):
        self._write(lambda db: db.executemany(
            "UPDATE message SET owner = NULL, redelivered = 1 WHERE delivery_tag = ?", [(tag,) for tag in delivery_tags]))

    def _recover_dead_owners(self):
        now = time.monotonic()
        if now - self._recovered_at < RECOVER_SECONDS:
            return
        self._recovered_at = now
        # Expired messages of queues nobody reads any more (a stopped worker's control queue) go too.
        with self._db_lock:
            expired = self._db.execute("SELECT 1 FROM message WHERE owner IS NULL AND expires_at < ? LIMIT 1", (time.time(),)).fetchone()
        if expired:
            self._write(lambda db: db.execute("DELETE FROM message WHERE owner IS NULL AND expires_at < ?", (time.time(),)))
        with self._db_lock:
            owners = [row[0] for row in self._db.execute("SELECT DISTINCT owner FROM message WHERE owner IS NOT NULL")]
        mine = Owner._current[1].token if Owner._current and Owner._current[0] == os.getpid() else None
        for token in owners:
            if token != mine and not owner_is_alive(self.owners_folder, token):
                self._write(lambda db: db.execute(
                    "UPDATE message SET owner = NULL, redelivered = 1 WHERE owner = ?", (token,)))

    def close(self):
        super().close()  # releases what this channel holds (QoS.restore_unacked)
        with self._db_lock:
            self._db.close()


class Transport(virtual.Transport):
    Channel = Channel
    # Fanout and topic exchanges deliver through the binding rows, so every process sees every binding.
    implements = virtual.Transport.implements.extend(asynchronous=False, exchange_type=frozenset(["direct", "topic", "fanout"]))
    global_state = virtual.BrokerState()
    default_port = 0
    driver_type = "sqlite"
    driver_name = "sqlite3"

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        self.state = self.global_state

    def driver_version(self):
        return sqlite3.sqlite_version
