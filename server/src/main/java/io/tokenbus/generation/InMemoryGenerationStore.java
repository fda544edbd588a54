package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The single-node store: one in-memory log per generation, shared by all verticles of the node.
 * Readers and the owner run on different event loops, so each log is guarded by its own monitor
 * (held only for an array copy, never across I/O). A finished generation is dropped after the
 * retention period.
 */
public final class InMemoryGenerationStore implements GenerationStore {

  private final Vertx vertx;
  private final long retentionMs;
  private final Map<String, Log> logs = new ConcurrentHashMap<>();

  public InMemoryGenerationStore(Vertx vertx, long retentionMs) {
    this.vertx = vertx;
    this.retentionMs = retentionMs;
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
    }
    if (finished) {
      vertx.setTimer(retentionMs, t -> logs.remove(id));
    }
    return Future.succeededFuture();
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

  /** A single node has nobody to hand a generation to. */
  @Override
  public Future<Boolean> release(String id, long epoch) {
    return Future.succeededFuture(false);
  }

  private static final class Log {
    final GenerationInfo info;
    final ArrayList<GenerationEvent> events = new ArrayList<>();
    boolean terminal;

    Log(GenerationInfo info) {
      this.info = info;
    }
  }
}
