package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;
import io.vertx.core.Future;
import java.util.List;

/**
 * Generation metadata and each generation's ordered event log: the single source of truth for
 * status, late join, resume, snapshot and (in a cluster) takeover. Every method is asynchronous so
 * that a replicated implementation can stand behind the same interface. Unknown or expired
 * generations read as {@code null}.
 */
public interface GenerationStore {

  /** Records a new generation with an empty log. */
  Future<Void> create(GenerationInfo info);

  Future<GenerationInfo> info(String id);

  /**
   * Appends consecutive events (the first one's seq follows the log's last). Fails with {@link
   * StaleEpochException} when {@code epoch} is not the generation's current epoch, so a former
   * owner can never write again. Idempotent: a retry of an append that already landed (the same
   * events at the same seqs) succeeds without changing anything. A terminal event starts the
   * retention period.
   */
  Future<Void> append(String id, long epoch, List<GenerationEvent> events);

  /** The events with seq above {@code afterSeq}, in order. */
  Future<List<GenerationEvent>> readAfter(String id, long afterSeq);

  Future<GenerationSnapshot> snapshot(String id);

  /**
   * Gives up ownership held at {@code epoch} without ending the generation, so that another node
   * takes it over; bumps the epoch so the releasing writer is fenced off. Completes with false when
   * there is no other node to take over (and nothing was changed).
   */
  Future<Boolean> release(String id, long epoch);

  /**
   * The generations {@code query} asks for, newest first, at most {@code query.limit() + 1} of them
   * (one more than a page, so the caller knows whether another follows). Summaries only, never a
   * log; every kept generation is looked at, so the cost grows with what the store holds (running
   * ones plus at most {@code generation.max-retained} finished ones per node).
   */
  Future<List<GenerationSummary>> list(GenerationQuery query);

  /**
   * The tenant of a generation that ended and is no longer kept (evicted past a bound, or past its
   * retention), or null when the id is unknown or still kept. Lets an answer say "expired" rather
   * than "never existed"; a store that does not remember answers null.
   */
  default Future<String> gone(String id) {
    return Future.succeededFuture();
  }
}
