package io.tokenbus.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.CompletionStage;

/**
 * A replicated Hazelcast map whose entries change only through entry processors, each run
 * atomically on the entry's partition owner (and, for a change, on its backup): how both cluster
 * stores keep one order of changes per generation or session. Results complete on the caller's
 * Vert.x context, never on a Hazelcast thread.
 */
final class ProcessedMap<V> {

  private final Vertx vertx;
  private final IMap<String, V> map;

  ProcessedMap(Vertx vertx, HazelcastInstance hazelcast, String name) {
    this.vertx = vertx;
    this.map = hazelcast.getMap(name);
  }

  /** Runs {@code processor} on the entry of {@code key}. */
  <R> Future<R> run(String key, EntryProcessor<String, V, R> processor) {
    return onContext(map.submitToKey(key, processor));
  }

  /** A Hazelcast result, completed on the caller's context. */
  <R> Future<R> onContext(CompletionStage<R> stage) {
    return Future.fromCompletionStage(stage, vertx.getOrCreateContext());
  }

  /** The map itself, for what is not one entry's change (a count, a local key set). */
  IMap<String, V> map() {
    return map;
  }
}
