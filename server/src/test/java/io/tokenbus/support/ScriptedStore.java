package io.tokenbus.support;

import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.GenerationSummary;
import io.tokenbus.generation.InMemoryGenerationStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.List;

/**
 * The in-memory store with faults a replicated store can have: answers that arrive later (as from
 * another node), and appends that fail from a given seq on.
 */
public final class ScriptedStore implements GenerationStore {

  private final Vertx vertx;
  private final InMemoryGenerationStore store;
  private volatile long delayMs;
  private volatile long failAppendsFromSeq = Long.MAX_VALUE;
  private volatile int appendFailures;
  private volatile boolean applyFailedAppends;
  private final Recorder<String> infoAnswered = new Recorder<>();
  private final Recorder<Long> readsTaken = new Recorder<>();
  private volatile Promise<Void> heldRead;
  private volatile boolean finishedForgotten;

  public ScriptedStore(Vertx vertx) {
    this.vertx = vertx;
    this.store = new InMemoryGenerationStore(vertx, 600_000);
  }

  /** Every answer arrives this much later, on a timer. */
  public ScriptedStore delay(long ms) {
    this.delayMs = ms;
    return this;
  }

  /** Appends that reach {@code seq} fail, {@code times} times (then succeed again). */
  public ScriptedStore failAppends(long seq, int times) {
    this.failAppendsFromSeq = seq;
    this.appendFailures = times;
    return this;
  }

  /**
   * Appends that reach {@code seq} are applied but answered as failed, {@code times} times (a lost
   * answer).
   */
  public ScriptedStore loseAppendAnswers(long seq, int times) {
    failAppends(seq, times);
    this.applyFailedAppends = true;
    return this;
  }

  /**
   * The next log read is taken at once but answered only when the returned promise completes, as a
   * slow replica's would be; {@link #readsTaken()} says when it has been taken.
   */
  public Promise<Void> holdNextRead() {
    Promise<Void> release = Promise.promise();
    heldRead = release;
    return release;
  }

  /**
   * A finished generation's snapshot answers null, as one evicted the moment it finished (another
   * tenant's huge generations past {@code generation.max-retained-bytes}) would.
   */
  public ScriptedStore forgetFinished() {
    finishedForgotten = true;
    return this;
  }

  /** Log reads taken so far. */
  public Recorder<Long> readsTaken() {
    return readsTaken;
  }

  /** Ids whose {@code info} has been answered. */
  public Recorder<String> infoAnswered() {
    return infoAnswered;
  }

  private <T> Future<T> later(Future<T> answer) {
    if (delayMs == 0) {
      return answer;
    }
    Promise<T> promise = Promise.promise();
    vertx.setTimer(delayMs, t -> answer.onComplete(promise));
    return promise.future();
  }

  @Override
  public Future<Void> create(GenerationInfo info) {
    return later(store.create(info));
  }

  @Override
  public Future<GenerationInfo> info(String id) {
    return later(store.info(id)).onComplete(ar -> infoAnswered.add(id));
  }

  @Override
  public Future<Void> append(String id, long epoch, List<GenerationEvent> events) {
    if (events.get(events.size() - 1).seq() >= failAppendsFromSeq && appendFailures > 0) {
      appendFailures--;
      Future<Void> applied =
          applyFailedAppends ? store.append(id, epoch, events) : Future.succeededFuture();
      return later(
          applied.compose(
              v -> Future.failedFuture(new IllegalStateException("injected append failure"))));
    }
    return later(store.append(id, epoch, events));
  }

  @Override
  public Future<List<GenerationEvent>> readAfter(String id, long afterSeq) {
    Future<List<GenerationEvent>> read =
        store.readAfter(id, afterSeq).onComplete(ar -> readsTaken.add(afterSeq));
    Promise<Void> hold = heldRead;
    heldRead = null;
    return later(hold == null ? read : read.compose(events -> hold.future().map(events)));
  }

  @Override
  public Future<List<GenerationSummary>> list(GenerationQuery query) {
    return later(store.list(query));
  }

  @Override
  public Future<Boolean> release(String id, long epoch) {
    return later(store.release(id, epoch));
  }

  @Override
  public Future<GenerationSnapshot> snapshot(String id) {
    Future<GenerationSnapshot> snapshot = store.snapshot(id);
    if (finishedForgotten) {
      snapshot = snapshot.map(s -> s == null || s.terminal() != null ? null : s);
    }
    return later(snapshot);
  }
}
