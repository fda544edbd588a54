package io.tokenbus.history;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.tokenbus.metrics.Metrics;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writes waiting for the database, in the order they were offered, committed a batch at a time
 * (one transaction, one in flight), so that a node's writes land in order and a burst costs a few
 * round trips rather than one each.
 *
 * <p>When the database cannot be reached, the batch goes back to the head of the queue and is tried
 * again with backoff (100 ms doubling to 5 s) for as long as it takes: streaming goes on, and what
 * waits is written when the database answers. What waits is bounded by {@code
 * database.max-queued-writes}: what a client waits for (a new session, a post, a deletion) is
 * refused before anything changes once {@link #full()} (the caller checks, then changes, then
 * offers: concurrent callers may pass the bound by a few); past it a {@link Kind#DROPPABLE} write
 * (a finished generation's record, kept in memory for its retention anyway) is dropped and counted,
 * and a {@link Kind#KEPT} one (the end of a session's answer, bounded by the answers running) is
 * queued anyway. Checkpoints, participants and usage counts are coalesced under a key, so each
 * answer, session or tenant has at most one waiting.
 *
 * <p>A write the database refuses for itself (a constraint, bad data) is tried alone, and, refused
 * again, dropped and logged by its description, never its values, so one bad write cannot hold up
 * the rest. A failure of no known kind (a bug of ours, say) is tried {@link #UNKNOWN_ATTEMPTS}
 * times before it is treated so.
 */
public final class WriteQueue {

  private static final Logger LOG = LoggerFactory.getLogger(WriteQueue.class);

  /** Writes committed in one transaction at most. */
  static final int BATCH = 128;

  static final long MAX_BACKOFF_MS = 5000;

  /** Attempts at a batch that fails in no known way before its writes are tried alone. */
  static final int UNKNOWN_ATTEMPTS = 3;

  /** One unit of work: statements run on the batch's connection, inside its transaction. */
  public interface Write {
    Future<?> run(SqlConnection connection);

    /** What it is, for a log line: kind and ids, never values. */
    String describe();
  }

  /** What happens to a write offered while the queue is full. */
  public enum Kind {
    KEPT,
    DROPPABLE
  }

  /** The queue holds {@code database.max-queued-writes}: a record was dropped. */
  public static final class QueueFullException extends RuntimeException {
    QueueFullException(int max) {
      super(
          "the database is not keeping up: "
              + max
              + " writes wait for it (database.max-queued-writes)");
    }
  }

  private static final class Entry {
    Write write;
    final Promise<Void> done;
    final Object key;
    final long offeredAt = System.currentTimeMillis();
    boolean alone;

    Entry(Write write, Promise<Void> done, Object key) {
      this.write = write;
      this.done = done;
      this.key = key;
    }
  }

  private final Vertx vertx;
  private final Pool pool;
  private final int max;
  private final Context context;

  /** Guarded by this. */
  private final ArrayDeque<Entry> queue = new ArrayDeque<>();

  /** Waiting entries by coalescing key; guarded by this. */
  private final Map<Object, Entry> byKey = new HashMap<>();

  /** Only on {@link #context}. */
  private boolean writing;

  private long backoffMs;
  private int unknownFailures;
  private volatile long failingSinceMs;
  private volatile String lastFailure;

  private final Counter committed;
  private final Counter retried;
  private final Counter dropped;

  public WriteQueue(Vertx vertx, Pool pool, int max, Metrics metrics) {
    this.vertx = vertx;
    this.pool = pool;
    this.max = max;
    this.context = ((io.vertx.core.internal.VertxInternal) vertx).createEventLoopContext();
    var registry = metrics.registry();
    Gauge.builder("tokenbus_history_queue_writes", this, WriteQueue::size)
        .description("Writes waiting for the history's database on this node")
        .register(registry);
    Gauge.builder("tokenbus_history_queue_age_seconds", this, q -> q.oldestAgeMillis() / 1000.0)
        .description("How long the oldest write waiting for the database has waited")
        .register(registry);
    committed = counter(registry, "committed", "written");
    retried = counter(registry, "retried", "batches tried again: the database was unreachable");
    dropped = counter(registry, "dropped", "given up: refused by the database, or the queue full");
  }

  private static Counter counter(
      io.micrometer.core.instrument.MeterRegistry registry, String result, String help) {
    return Counter.builder("tokenbus_history_writes_total")
        .description("Writes of the history's database by result: " + help)
        .tag("result", result)
        .register(registry);
  }

  /** Writes waiting, the one in flight included. */
  public synchronized int size() {
    return queue.size();
  }

  /** How long the oldest waiting write has waited, in ms; 0 when none waits. */
  public synchronized long oldestAgeMillis() {
    Entry first = queue.peek();
    return first == null ? 0 : Math.max(0, System.currentTimeMillis() - first.offeredAt);
  }

  /** Whether a client's write (a new session, a post, a deletion) is to be refused now. */
  public synchronized boolean full() {
    return queue.size() >= max;
  }

  /** Since when the database has refused to be reached (ms), or 0 while it answers. */
  public long failingSinceMillis() {
    return failingSinceMs;
  }

  public String lastFailure() {
    return lastFailure;
  }

  /** Queues {@code write}; completes, on the caller's context, once it is committed. */
  public Future<Void> offer(Kind kind, Write write) {
    Promise<Void> done = promise();
    synchronized (this) {
      if (queue.size() >= max && kind == Kind.DROPPABLE) {
        dropped.increment();
        LOG.warn("history: {} dropped, {} writes wait for the database", write.describe(), max);
        return Future.failedFuture(new QueueFullException(max));
      }
      queue.add(new Entry(write, done, null));
    }
    context.runOnContext(v -> drain());
    return done.future();
  }

  /**
   * Queues {@code write} under {@code key}, or, if a write under that key still waits (not yet in
   * flight), replaces it with {@code merge} of it: what a checkpoint or a count needs, whose latest
   * (or sum) is all that matters. Always accepted: at most one waits per key.
   */
  public Future<Void> offerCoalesced(Object key, Write write, UnaryOperator<Write> merge) {
    Entry entry;
    synchronized (this) {
      Entry waiting = byKey.get(key);
      if (waiting != null) {
        waiting.write = merge.apply(waiting.write);
        return waiting.done.future();
      }
      entry = new Entry(write, promise(), key);
      byKey.put(key, entry);
      queue.add(entry);
    }
    context.runOnContext(v -> drain());
    return entry.done.future();
  }

  /** A promise whose listeners run on the caller's context (the queue's own off Vert.x threads). */
  private Promise<Void> promise() {
    Context caller = vertx.getOrCreateContext();
    return caller instanceof ContextInternal internal ? internal.promise() : Promise.promise();
  }

  /** Takes the next batch and writes it; on {@link #context} only. */
  private void drain() {
    if (writing) {
      return;
    }
    List<Entry> batch = new ArrayList<>();
    synchronized (this) {
      for (Entry entry : queue) {
        if (batch.size() == BATCH || (entry.alone && !batch.isEmpty())) {
          break;
        }
        batch.add(entry);
        if (entry.key != null) {
          byKey.remove(entry.key, entry); // from now on a new write under its key waits apart
        }
        if (entry.alone) {
          break;
        }
      }
    }
    if (batch.isEmpty()) {
      return;
    }
    writing = true;
    pool.withTransaction(connection -> run(connection, batch))
        .onComplete(ar -> context.runOnContext(v -> written(batch, ar.cause())));
  }

  /**
   * Sends every statement of the batch at once: the connection pipelines them, in order, so a batch
   * costs about one round trip and the commit, not one round trip a statement. Within the
   * transaction, a failure fails those after it too, and the batch with them.
   */
  private static Future<Void> run(SqlConnection connection, List<Entry> batch) {
    List<Future<?>> sent = new ArrayList<>(batch.size());
    for (Entry entry : batch) {
      sent.add(entry.write.run(connection));
    }
    return Future.all(sent).mapEmpty();
  }

  private void written(List<Entry> batch, Throwable failure) {
    writing = false;
    Failing kind = failure == null ? null : classify(failure);
    if (kind == Failing.UNKNOWN) {
      if (++unknownFailures < UNKNOWN_ATTEMPTS) {
        kind = Failing.TRANSIENT;
      } else {
        LOG.warn(
            "history: a batch failed {} times in no known way ({}): its writes are tried alone",
            UNKNOWN_ATTEMPTS,
            failure.toString());
      }
    }
    if (kind != Failing.TRANSIENT) {
      unknownFailures = 0;
    }
    if (failure == null) {
      synchronized (this) {
        for (int i = 0; i < batch.size(); i++) {
          queue.poll();
        }
      }
      committed.increment(batch.size());
      if (failingSinceMs != 0) {
        LOG.info(
            "history: the database answers again after {} s",
            (System.currentTimeMillis() - failingSinceMs) / 1000);
      }
      failingSinceMs = 0;
      backoffMs = 0;
      batch.forEach(e -> e.done.tryComplete());
      drain();
      return;
    }
    if (kind == Failing.TRANSIENT) {
      retried.increment();
      lastFailure = Database.rootMessage(failure);
      if (failingSinceMs == 0) {
        failingSinceMs = System.currentTimeMillis();
        LOG.warn(
            "history: the database cannot be reached ({}); {} writes wait and are tried again",
            lastFailure,
            size());
      }
      synchronized (this) {
        for (Entry entry : batch) {
          if (entry.key != null) {
            byKey.putIfAbsent(entry.key, entry); // waiting again: mergeable again
          }
        }
      }
      backoffMs = backoffMs == 0 ? 100 : Math.min(MAX_BACKOFF_MS, backoffMs * 2);
      vertx.setTimer(backoffMs, t -> context.runOnContext(v -> drain()));
      return;
    }
    if (batch.size() > 1 || !batch.get(0).alone) {
      // One of them is refused for itself: try each alone, so the rest still land.
      synchronized (this) {
        batch.forEach(e -> e.alone = true);
        for (Entry entry : batch) {
          if (entry.key != null) {
            byKey.putIfAbsent(entry.key, entry);
          }
        }
      }
      drain();
      return;
    }
    Entry refusedEntry = batch.get(0);
    synchronized (this) {
      queue.poll();
    }
    dropped.increment();
    LOG.error(
        "history: the database refused {} ({}); it is not written",
        refusedEntry.write.describe(),
        Database.rootMessage(failure));
    refusedEntry.done.tryFail(failure);
    drain();
  }

  enum Failing {
    /** May pass by trying again: the database is away, busy, or restarting. */
    TRANSIENT,
    /** The database refused the write itself: trying it again gives the same. */
    PERMANENT,
    /** Neither is known: tried a few times, then as {@link #PERMANENT}. */
    UNKNOWN
  }

  /**
   * What kind of failure {@code failure} is. Transient: the server's SQLSTATE classes 08
   * (connection), 53 (resources), 57P (shutting down, starting), 40 (serialization, deadlock) and
   * 55P03 (lock not available); no connection at all (an I/O error, a closed connection, a timeout,
   * the pool's waiters full). Permanent: any other SQLSTATE. Anything else is unknown.
   */
  static Failing classify(Throwable failure) {
    if (failure instanceof PgException pg) {
      String state = pg.getSqlState() == null ? "" : pg.getSqlState();
      return state.startsWith("08")
              || state.startsWith("53")
              || state.startsWith("57P")
              || state.startsWith("40")
              || state.equals("55P03")
          ? Failing.TRANSIENT
          : Failing.PERMANENT;
    }
    if (failure instanceof java.io.IOException
        || failure instanceof io.vertx.sqlclient.ClosedConnectionException
        || failure instanceof java.util.concurrent.TimeoutException
        || String.valueOf(failure.getMessage()).startsWith("Max waiter size")) {
      return Failing.TRANSIENT;
    }
    return Failing.UNKNOWN;
  }

  /**
   * Completes once nothing waits (or after {@code timeoutMs}, with what still waits): before the
   * node closes its pool, so that a graceful stop loses nothing it had accepted.
   */
  public Future<Void> flush(long timeoutMs) {
    long deadline = System.currentTimeMillis() + timeoutMs;
    Promise<Void> done = Promise.promise();
    awaitEmpty(deadline, done);
    return done.future();
  }

  private void awaitEmpty(long deadline, Promise<Void> done) {
    int waiting = size();
    if (waiting == 0) {
      done.complete();
    } else if (System.currentTimeMillis() >= deadline) {
      LOG.warn(
          "history: closing with {} writes not written (the database did not take them)", waiting);
      done.complete();
    } else {
      vertx.setTimer(20, t -> awaitEmpty(deadline, done));
    }
  }
}
