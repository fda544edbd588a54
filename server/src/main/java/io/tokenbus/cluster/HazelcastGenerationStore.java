package io.tokenbus.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.ResumeGeneration;
import io.tokenbus.generation.StaleEpochException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The cluster's store: each generation is one entry of the {@code tokenbus.generations} map, with
 * one synchronous backup (conf/cluster.xml), so any node serves status, join, snapshot and resume
 * for any generation, and an acknowledged append survives the loss of a node. Every operation is
 * one entry processor on the partition owner; the owner appends once per batch, not per token.
 * Results complete on the caller's Vert.x context.
 */
public final class HazelcastGenerationStore implements GenerationStore {

  public static final String MAP = "tokenbus.generations";

  private final ProcessedMap<StoredGeneration> entries;
  private final long retentionSeconds;
  private final String node;

  /**
   * @param node this node's id (the cluster manager's), recorded as the owner of what it takes over
   */
  public HazelcastGenerationStore(
      Vertx vertx, HazelcastInstance hazelcast, long retentionSeconds, String node) {
    this.entries = new ProcessedMap<>(vertx, hazelcast, MAP);
    this.retentionSeconds = retentionSeconds;
    this.node = node;
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
            new LogProcessors.Append(epoch, new ArrayList<>(events), retentionSeconds),
            LogProcessors.UNKNOWN)
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
