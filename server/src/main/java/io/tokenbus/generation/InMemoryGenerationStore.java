package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The single-node store: one in-memory log per generation, shared by all verticles of the node.
 * Readers and the owner run on different event loops, so each log is guarded by its own monitor
 * (held only for an array copy, never across I/O).
 *
 * <p>What a finished generation keeps is bounded three ways: it is dropped after the retention
 * period; at most {@code maxRetained} finished generations and {@code maxRetainedBytes} of their
 * logs are kept, the oldest to finish evicted first; and its request is cut down to what its status
 * needs (the prompt is kept only while it runs, for recovery). An evicted or expired id is
 * remembered, within the same count, so that it can be told apart from one that never existed.
 */
public final class InMemoryGenerationStore implements GenerationStore {

  /** What a finished generation's log is counted as, besides its events: ids, info, the map. */
  private static final long BASE_BYTES = 512;

  /** How often finished logs past their retention are dropped: retention is kept to a second. */
  private static final long SWEEP_MS = 1000;

  private final Vertx vertx;
  private final long retentionMs;
  private final int maxRetained;
  private final long maxRetainedBytes;
  private final Map<String, Log> logs = new ConcurrentHashMap<>();

  /** Finished generations, oldest to finish first; guarded by itself. */
  private final ArrayDeque<Log> finished = new ArrayDeque<>();

  private long finishedBytes;

  /** Ids of generations that ended and are gone (id to tenant), oldest first; bounded. */
  private final LinkedHashMap<String, String> gone = new LinkedHashMap<>();

  public InMemoryGenerationStore(Vertx vertx, long retentionMs) {
    this(vertx, retentionMs, Integer.MAX_VALUE, Long.MAX_VALUE);
  }

  /**
   * @param maxRetained finished generations kept at most ({@code generation.max-retained})
   * @param maxRetainedBytes bytes of finished logs kept at most ({@code
   *     generation.max-retained-bytes})
   */
  public InMemoryGenerationStore(
      Vertx vertx, long retentionMs, int maxRetained, long maxRetainedBytes) {
    this.vertx = vertx;
    this.retentionMs = retentionMs;
    this.maxRetained = maxRetained;
    this.maxRetainedBytes = maxRetainedBytes;
    // One timer for every finished log, not one each: their number would grow with the rate of
    // finishing, whatever max-retained says.
    vertx.setPeriodic(Math.min(SWEEP_MS, retentionMs), t -> expire(System.currentTimeMillis()));
  }

  @Override
  public Future<Void> create(GenerationInfo info) {
    if (logs.putIfAbsent(info.id(), new Log(info)) != null) {
      return Future.failedFuture(
          new IllegalStateException("generation " + info.id() + " already exists"));
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<GenerationInfo> info(String id) {
    Log log = logs.get(id);
    return Future.succeededFuture(log == null ? null : log.info);
  }

  @Override
  public Future<Void> append(String id, long epoch, List<GenerationEvent> events) {
    Log log = logs.get(id);
    if (log == null) {
      return Future.failedFuture(
          new IllegalStateException("generation " + id + " is unknown or expired"));
    }
    boolean finished;
    synchronized (log) {
      if (epoch != log.info.epoch()) {
        return Future.failedFuture(new StaleEpochException(id, epoch, log.info.epoch()));
      }
      int from = (int) events.get(0).seq() - 1;
      if (from + events.size() <= log.events.size()
          && log.events.subList(from, from + events.size()).equals(events)) {
        return Future.succeededFuture(); // a retry of an append that already landed
      }
      if (log.terminal) {
        return Future.failedFuture(
            new IllegalStateException("generation " + id + " has already ended"));
      }
      long expected = log.events.size() + 1;
      if (events.get(0).seq() != expected) {
        return Future.failedFuture(
            new IllegalStateException(
                "generation " + id + " expects seq " + expected + ", got " + events.get(0).seq()));
      }
      log.events.addAll(events);
      finished = log.terminal = events.get(events.size() - 1).terminal();
      if (finished) {
        log.info = withoutPrompt(log.info);
        log.bytes = BASE_BYTES + log.events.stream().mapToLong(GenerationEvent::bytes).sum();
      }
    }
    if (finished) {
      retain(log);
    }
    return Future.succeededFuture();
  }

  /**
   * The tenant of a generation that ended and is no longer kept (evicted or past its retention), or
   * null: it is unknown, or still here.
   */
  @Override
  public Future<String> gone(String id) {
    synchronized (finished) {
      return Future.succeededFuture(gone.get(id));
    }
  }

  /**
   * Keeps a finished log, evicting the oldest finished ones past either bound; never the one that
   * just finished, which its viewers are still reading (a single log is bounded by {@code
   * generation.max-events} on its own).
   */
  private void retain(Log log) {
    synchronized (finished) {
      log.expiresAt = System.currentTimeMillis() + retentionMs;
      finished.addLast(log);
      finishedBytes += log.bytes;
      while (finished.size() > 1
          && (finished.size() > maxRetained || finishedBytes > maxRetainedBytes)) {
        forget(finished.peekFirst());
      }
    }
  }

  /**
   * Drops the logs whose retention is over at {@code now}: they sit at the head of the queue (logs
   * are queued as they finish, and all keep the same time), so this takes constant time per log,
   * never a search.
   */
  private void expire(long now) {
    synchronized (finished) {
      while (!finished.isEmpty() && finished.peekFirst().expiresAt <= now) {
        forget(finished.peekFirst());
      }
    }
  }

  /** Under the lock: the log is gone, its id remembered. */
  private void forget(Log log) {
    finished.remove(log); // the head, in both callers: constant time
    finishedBytes -= log.bytes;
    logs.remove(log.info.id(), log);
    gone.put(log.info.id(), log.info.request().creator().tenant());
    if (gone.size() > Math.min(maxRetained, 100_000)) {
      gone.remove(gone.keySet().iterator().next());
    }
  }

  /**
   * The request as a finished generation needs it: its model, limits, links and metadata, but not
   * the prompt (a client could otherwise keep a megabyte per request for the whole retention
   * period).
   */
  private static GenerationInfo withoutPrompt(GenerationInfo info) {
    GenerationRequest request = info.request();
    GenerationRequest kept = request.withBody(new JsonObject().put("model", request.model()));
    return new GenerationInfo(
        info.id(), info.model(), info.created(), kept, info.owner(), info.epoch());
  }

  @Override
  public Future<List<GenerationEvent>> readAfter(String id, long afterSeq) {
    Log log = logs.get(id);
    if (log == null) {
      return Future.succeededFuture(null);
    }
    synchronized (log) {
      int from = (int) Math.min(Math.max(afterSeq, 0), log.events.size());
      return Future.succeededFuture(List.copyOf(log.events.subList(from, log.events.size())));
    }
  }

  @Override
  public Future<GenerationSnapshot> snapshot(String id) {
    Log log = logs.get(id);
    if (log == null) {
      return Future.succeededFuture(null);
    }
    List<GenerationEvent> events;
    synchronized (log) {
      events = List.copyOf(log.events); // copy references under the lock, fold outside it
    }
    return Future.succeededFuture(LogFold.of(events).snapshot(log.info));
  }

  /**
   * Looks at every kept generation on the caller's thread (running ones plus at most {@code
   * maxRetained} finished): each log's monitor is taken only to read its status, and no more than a
   * page and one are kept while scanning.
   */
  @Override
  public Future<List<GenerationSummary>> list(GenerationQuery query) {
    return Future.succeededFuture(
        query.page(
            () ->
                logs.values().stream()
                    .map(log -> GenerationSummary.of(log.info, status(log)))
                    .filter(query::matches)
                    .iterator()));
  }

  private static GenerationStatus status(Log log) {
    synchronized (log) {
      return GenerationStatus.of(log.terminal ? log.events.get(log.events.size() - 1) : null);
    }
  }

  /** A single node has nobody to hand a generation to. */
  @Override
  public Future<Boolean> release(String id, long epoch) {
    return Future.succeededFuture(false);
  }

  private static final class Log {
    /** Set again, without the prompt, when it finishes (under the log's monitor). */
    volatile GenerationInfo info;

    final ArrayList<GenerationEvent> events = new ArrayList<>();
    boolean terminal;

    /** Counted once it finishes. */
    long bytes;

    /** When its retention is over (ms since the epoch), once it has finished. */
    long expiresAt;

    Log(GenerationInfo info) {
      this.info = info;
    }
  }
}
