package io.tokenbus.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.GenerationSummary;
import io.tokenbus.generation.ResumeGeneration;
import io.tokenbus.generation.StaleEpochException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's store: each generation is one entry of the {@code tokenbus.generations} map, with
 * one synchronous backup (conf/cluster.xml), so any node serves status, join, snapshot and resume
 * for any generation, and an acknowledged append survives the loss of a node. Every operation is
 * one entry processor on the partition owner; the owner appends once per batch, not per token.
 * Results complete on the caller's Vert.x context.
 *
 * <p>What finished generations keep is bounded per node, counting the generations <em>this node
 * finished</em> (it appended the terminal event, as their owner): at most {@code maxRetained} of
 * them and {@code maxRetainedBytes} of their logs, the oldest to finish evicted first, each removed
 * {@code retentionSeconds} after it finished (within a second: one sweep a second); a running one
 * is never evicted, and a finished one keeps no prompt. Counting what a node finished, not what its
 * partitions hold, keeps the count true while partitions migrate (nothing moves between counts) and
 * needs no scan. When a node dies, nobody counts what it finished any more: those entries only
 * shrink, each removed by the map's own time to live ({@link #TTL_GRACE_SECONDS} after its
 * retention). So the cluster holds at most that many finished generations per node that finished
 * any within the retention period, each entry on two members (its backup). An evicted or expired id
 * leaves a tombstone (id to tenant) in {@link #GONE_MAP} for one retention period, so it answers
 * {@code generation_expired} on every node; a node keeps at most as many tombstones as generations,
 * deleting its oldest.
 */
public final class HazelcastGenerationStore implements GenerationStore {

  public static final String MAP = "tokenbus.generations";

  /** Tombstones: the tenant of each generation that ended and is no longer kept. */
  public static final String GONE_MAP = "tokenbus.generations.gone";

  /**
   * How long past its retention a finished entry lives if its finishing node is not there to remove
   * it (it died): the finishing node removes it, leaving a tombstone, before this.
   */
  static final long TTL_GRACE_SECONDS = 60;

  private static final Logger LOG = LoggerFactory.getLogger(HazelcastGenerationStore.class);

  private final Vertx vertx;
  private final ProcessedMap<StoredGeneration> entries;
  private final IMap<String, String> gone;
  private final long retentionSeconds;
  private final RetainedGenerations retained;
  private final String node;

  /**
   * @param node this node's id (the cluster manager's), recorded as the owner of what it takes over
   */
  public HazelcastGenerationStore(
      Vertx vertx, HazelcastInstance hazelcast, long retentionSeconds, String node) {
    this(vertx, hazelcast, retentionSeconds, Integer.MAX_VALUE, Long.MAX_VALUE, node);
  }

  /**
   * @param maxRetained finished generations this node keeps at most ({@code
   *     generation.max-retained})
   * @param maxRetainedBytes bytes of their logs this node keeps at most ({@code
   *     generation.max-retained-bytes})
   * @param node this node's id (the cluster manager's), recorded as the owner of what it takes over
   */
  public HazelcastGenerationStore(
      Vertx vertx,
      HazelcastInstance hazelcast,
      long retentionSeconds,
      int maxRetained,
      long maxRetainedBytes,
      String node) {
    this.vertx = vertx;
    this.entries = new ProcessedMap<>(vertx, hazelcast, MAP);
    this.gone = hazelcast.getMap(GONE_MAP);
    this.retentionSeconds = retentionSeconds;
    this.retained = new RetainedGenerations(maxRetained, maxRetainedBytes);
    this.node = node;
    // One sweep a second, not a timer per generation: a node that finishes many keeps no more
    // than the bounds allow, timers included.
    long retentionMs = retentionSeconds * 1000;
    vertx.setPeriodic(
        Math.min(1000, retentionMs),
        t -> retained.expireBefore(nowMs() - retentionMs).forEach(this::forget));
  }

  /** Runs {@code processor}; an entry that cannot be read is {@code absent}. */
  private <R> Future<R> run(
      String id, EntryProcessor<String, StoredGeneration, R> processor, R absent) {
    return entries.run(id, processor, absent);
  }

  @Override
  public Future<Void> create(GenerationInfo info) {
    return run(info.id(), new LogProcessors.Create(new StoredGeneration(info)), false)
        .compose(
            created ->
                created
                    ? Future.succeededFuture()
                    : Future.failedFuture(
                        new IllegalStateException("generation " + info.id() + " already exists")));
  }

  @Override
  public Future<GenerationInfo> info(String id) {
    return run(id, new LogProcessors.Info(), null).map(data -> data == null ? null : data.toInfo());
  }

  @Override
  public Future<Void> append(String id, long epoch, List<GenerationEvent> events) {
    return run(
            id,
            new LogProcessors.Append(
                epoch, new ArrayList<>(events), retentionSeconds + TTL_GRACE_SECONDS),
            LogProcessors.Appended.UNKNOWN_GENERATION)
        .compose(
            appended -> {
              if (appended.finished()) {
                retain(id, appended);
              }
              return Future.succeededFuture(appended.outcome());
            })
        .compose(
            outcome ->
                switch (outcome) {
                  case LogProcessors.APPENDED -> Future.succeededFuture();
                  case LogProcessors.STALE_EPOCH ->
                      Future.failedFuture(new StaleEpochException(id, epoch));
                  case LogProcessors.UNKNOWN ->
                      Future.failedFuture(
                          new IllegalStateException("generation " + id + " is unknown or expired"));
                  case LogProcessors.ENDED ->
                      Future.failedFuture(
                          new IllegalStateException("generation " + id + " has already ended"));
                  default ->
                      Future.failedFuture(
                          new IllegalStateException(
                              "generation "
                                  + id
                                  + " refused seq "
                                  + events.get(0).seq()
                                  + " out of order"));
                });
  }

  /**
   * Counts a generation this node finished and evicts the oldest past a bound; the sweep removes it
   * at the end of its retention.
   */
  private void retain(String id, LogProcessors.Appended appended) {
    retained.add(id, appended.tenant(), appended.bytes(), nowMs()).evicted().forEach(this::forget);
  }

  /** Milliseconds of a clock that never goes back. */
  private static long nowMs() {
    return System.nanoTime() / 1_000_000;
  }

  /**
   * Removes a finished generation this node counted, tombstone first, so that a reader in between
   * finds one or the other, never neither. Asynchronous; a failure is logged (the entry's time to
   * live still removes it).
   */
  private void forget(RetainedGenerations.Finished finished) {
    String tenant = finished.tenant() == null ? "" : finished.tenant();
    entries
        .onContext(gone.setAsync(finished.id(), tenant, retentionSeconds, TimeUnit.SECONDS))
        .onSuccess(
            v -> {
              String dropped = retained.remember(finished.id());
              if (dropped != null) {
                entries.onContext(gone.removeAsync(dropped));
              }
            })
        .transform(v -> entries.run(finished.id(), new LogProcessors.Evict(), false))
        .onFailure(
            e ->
                LOG.warn(
                    "Generation {}: could not be removed past a retention bound ({}); the map's"
                        + " time to live removes it later",
                    finished.id(),
                    e.toString()));
  }

  /**
   * The tenant of a generation that ended and is no longer kept, from its tombstone (left by the
   * node that finished it, for one retention period), or null.
   */
  @Override
  public Future<String> gone(String id) {
    return entries.onContext(gone.getAsync(id)).map(t -> t == null || t.isEmpty() ? null : t);
  }

  /** Finished generations this node counts, and their bytes: for tests and metrics. */
  int retainedCount() {
    return retained.size();
  }

  long retainedBytes() {
    return retained.bytes();
  }

  /**
   * One query over the whole map: {@link LogProcessors.Listed} runs on each partition's owner, over
   * the stored objects in place, and only the {@link GenerationSummary} of each match crosses the
   * network ({@link LogProcessors.Summarize}; a few hundred bytes, metadata included), never a log
   * or a prompt. Every entry is looked at (running generations plus what each node retains), and
   * every match travels, then this node keeps the first {@code limit + 1}: narrow filters and the
   * {@code after} cursor, which are tested on the members, cut what travels. Hazelcast's query
   * blocks, so it runs on a worker and completes on the caller's context.
   */
  @Override
  public Future<List<GenerationSummary>> list(GenerationQuery query) {
    return vertx.executeBlocking(
        () ->
            query.page(
                entries
                    .map()
                    .project(new LogProcessors.Summarize(), new LogProcessors.Listed(query))),
        false);
  }

  @Override
  public Future<List<GenerationEvent>> readAfter(String id, long afterSeq) {
    return run(id, new LogProcessors.ReadAfter(afterSeq), null).map(events -> events);
  }

  @Override
  public Future<Boolean> release(String id, long epoch) {
    return run(id, new LogProcessors.Release(epoch, node), false);
  }

  /**
   * Ids of running generations stored on this member whose owner is gone. Blocking: call off the
   * event loop.
   */
  Set<String> localOrphans(Set<String> alive) {
    return entries.map().localKeySet(new LogProcessors.Orphans(new HashSet<>(alive)));
  }

  /**
   * Takes a generation over for this node; completes with where it stands, or null if another node
   * has it.
   */
  Future<ResumeGeneration> takeover(String id, Set<String> alive) {
    return run(id, new LogProcessors.Takeover(new HashSet<>(alive), node), null)
        .map(
            data ->
                data == null ? null : new ResumeGeneration(data.info().toInfo(), data.progress()));
  }

  @Override
  public Future<GenerationSnapshot> snapshot(String id) {
    return run(id, new LogProcessors.Snapshot(), null)
        .map(data -> data == null ? null : data.toSnapshot());
  }
}
