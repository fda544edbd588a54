package io.tokenbus.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import com.hazelcast.nio.serialization.HazelcastSerializationException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A replicated Hazelcast map whose entries change only through entry processors, each run
 * atomically on the entry's partition owner (and, for a change, on its backup): how both cluster
 * stores keep one order of changes per generation or session. Results complete on the caller's
 * Vert.x context, never on a Hazelcast thread. An entry that is not what the store wrote (another
 * type, or a value the serialization filter refuses) reads as absent: logged once per key, never an
 * error for the API to answer with a 500.
 */
final class ProcessedMap<V> {

  private static final Logger LOG = LoggerFactory.getLogger(ProcessedMap.class);

  /** Keys already logged as unreadable; forgotten when full, so it stays bounded. */
  private static final int MAX_LOGGED_KEYS = 10_000;

  private final Vertx vertx;
  private final IMap<String, V> map;
  private final Set<String> logged = ConcurrentHashMap.newKeySet();

  ProcessedMap(Vertx vertx, HazelcastInstance hazelcast, String name) {
    this.vertx = vertx;
    this.map = hazelcast.getMap(name);
  }

  /**
   * Runs {@code processor} on the entry of {@code key}; completes with {@code absent} when that
   * entry cannot be read.
   */
  <R> Future<R> run(String key, EntryProcessor<String, V, R> processor, R absent) {
    return onContext(map.submitToKey(key, processor))
        .recover(
            failure -> {
              Throwable unreadable = unreadable(failure);
              if (unreadable == null) {
                return Future.failedFuture(failure);
              }
              if (logged.size() >= MAX_LOGGED_KEYS) {
                logged.clear();
              }
              if (logged.add(key)) {
                LOG.warn(
                    "{} {} holds a value this node cannot read ({}: {}); treated as absent",
                    map.getName(),
                    key,
                    unreadable.getClass().getSimpleName(),
                    unreadable.getMessage());
              }
              return Future.succeededFuture(absent);
            });
  }

  /**
   * The cause that says the entry is unreadable, or null: a value of a foreign type (the processor
   * finds it, or a cast fails) or one that cannot be deserialized (malformed, or refused by the
   * serialization filter).
   */
  static Throwable unreadable(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof UnreadableEntryException
          || cause instanceof ClassCastException
          || cause instanceof HazelcastSerializationException
          || cause instanceof SecurityException) {
        return cause;
      }
      if (cause.getCause() == cause) {
        break;
      }
    }
    return null;
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
