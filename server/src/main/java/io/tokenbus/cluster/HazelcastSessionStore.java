package io.tokenbus.cluster;

import com.hazelcast.aggregation.Aggregator;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.projection.Projection;
import com.hazelcast.query.Predicate;
import io.tokenbus.session.SessionEvent;
import io.tokenbus.session.SessionLimitException;
import io.tokenbus.session.SessionOp;
import io.tokenbus.session.SessionQuery;
import io.tokenbus.session.SessionResult;
import io.tokenbus.session.SessionState;
import io.tokenbus.session.SessionStorageFullException;
import io.tokenbus.session.SessionStore;
import io.tokenbus.session.SessionSummary;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sessions in the replicated map {@code tokenbus.sessions} (one synchronous backup, as the
 * generations'): each op runs as an entry processor where the session is stored, and again on its
 * backup, so a member's death loses nothing acknowledged. Every change restarts the session's time
 * to live, which is its idle expiry once anyone has posted to it, and the shorter unused expiry
 * until then.
 *
 * <p>{@code sessions.max-bytes} bounds what the whole cluster's sessions hold (each also has a
 * backup, spread over the members), as {@code sessions.max-sessions} bounds their count: a
 * per-member figure would move with every partition migration. Each session keeps its own size
 * ({@link SessionState#bytes()}, changed with it); every {@link #REFRESH_MS} each node sums them
 * (one aggregation, on every member in parallel, that reads a number per session), and adds what
 * its own ops grew sessions by since. So the figure is approximate: other nodes' growth of the last
 * refresh, and sessions that expired since, are not in it yet.
 */
public final class HazelcastSessionStore implements SessionStore {

  public static final String MAP = "tokenbus.sessions";

  private final Vertx vertx;
  private final ProcessedMap<SessionState> sessions;
  private final int maxSessions;
  private final long maxBytes;
  private final long idleSeconds;
  private final long unusedSeconds;

  /** How often the cluster's sessions are summed. */
  static final long REFRESH_MS = 2000;

  private static final Logger LOG = LoggerFactory.getLogger(HazelcastSessionStore.class);

  /** What the cluster's sessions held at the last sum. */
  private volatile long summed;

  /** What this node's ops grew sessions by since that sum. */
  private final AtomicLong grown = new AtomicLong();

  /** Each tenant's share of {@link #summed}, as last summed. */
  private volatile Map<String, Long> summedByTenant = Map.of();

  /** Each tenant's share of {@link #grown}. */
  private final Map<String, Long> grownByTenant = new ConcurrentHashMap<>();

  private final AtomicBoolean summing = new AtomicBoolean();

  public HazelcastSessionStore(
      Vertx vertx,
      HazelcastInstance hazelcast,
      int maxSessions,
      long idleSeconds,
      long unusedSeconds) {
    this(vertx, hazelcast, maxSessions, Long.MAX_VALUE, idleSeconds, unusedSeconds);
  }

  /**
   * @param maxBytes what all the cluster's sessions may hold together ({@code sessions.max-bytes})
   */
  public HazelcastSessionStore(
      Vertx vertx,
      HazelcastInstance hazelcast,
      int maxSessions,
      long maxBytes,
      long idleSeconds,
      long unusedSeconds) {
    this.vertx = vertx;
    this.sessions = new ProcessedMap<>(vertx, hazelcast, MAP);
    this.maxSessions = maxSessions;
    this.maxBytes = maxBytes;
    this.idleSeconds = idleSeconds;
    this.unusedSeconds = unusedSeconds;
    vertx.setPeriodic(REFRESH_MS, t -> sum());
  }

  /**
   * Sums what the cluster's sessions hold, off the event loop (Hazelcast's aggregation blocks); one
   * at a time.
   */
  Future<Long> sum() {
    if (!summing.compareAndSet(false, true)) {
      return Future.succeededFuture(summed + grown.get());
    }
    return vertx
        .executeBlocking(
            () -> {
              long before = grown.get();
              Map<String, Long> beforeByTenant = Map.copyOf(grownByTenant);
              Map<String, Long> byTenant = sessions.map().aggregate(new SessionBytes());
              long total = byTenant.values().stream().mapToLong(Long::longValue).sum();
              summed = total;
              summedByTenant = byTenant;
              grown.addAndGet(-before);
              beforeByTenant.forEach((tenant, grew) -> grow(grownByTenant, tenant, -grew));
              return total;
            },
            false)
        .onComplete(
            ar -> {
              summing.set(false);
              if (ar.failed()) {
                LOG.debug("Sessions could not be summed: {}", ar.cause().toString());
              }
            });
  }

  /** What the cluster's sessions hold, as this node last knew it. */
  long bytes() {
    return summed + grown.get();
  }

  @Override
  public boolean full() {
    return bytes() >= maxBytes;
  }

  @Override
  public int localCount() {
    return (int) sessions.map().getLocalMapStats().getOwnedEntryCount();
  }

  @Override
  public Future<Integer> count(String tenant) {
    return vertx.executeBlocking(() -> sessions.map().aggregate(new TenantSessions(tenant)), false);
  }

  @Override
  public Future<Void> create(SessionState session) {
    // The count is read, then the entry written: under a burst of creations it may pass the limit
    // by a few.
    return vertx
        .executeBlocking(sessions.map()::size, false)
        .compose(
            size ->
                size >= maxSessions
                    ? Future.failedFuture(new SessionLimitException(maxSessions))
                    : bytes() + session.bytes() > maxBytes
                        ? Future.failedFuture(new SessionStorageFullException(maxBytes))
                        : sessions.onContext(
                            sessions
                                .map()
                                .setAsync(
                                    session.id(),
                                    session,
                                    session.used() ? idleSeconds : unusedSeconds,
                                    TimeUnit.SECONDS)))
        .onSuccess(
            v -> {
              grown.addAndGet(session.bytes());
              grow(grownByTenant, session.tenant(), session.bytes());
            })
        .mapEmpty();
  }

  /**
   * One query over the whole map: {@link Listed} runs where each session is stored, over the stored
   * objects in place, and only the {@link SessionSummary} of each match travels ({@link Summarize};
   * a hundred bytes or so, never a transcript). Every session is looked at and every match travels,
   * then this node keeps the first {@code limit + 1}: the tenant and the cursor, tested on the
   * members, cut what travels. Hazelcast's query blocks, so it runs on a worker.
   */
  @Override
  public Future<List<SessionSummary>> list(SessionQuery query) {
    return vertx.executeBlocking(
        () -> query.page(sessions.map().project(new Summarize(), new Listed(query))), false);
  }

  @Override
  public Future<Void> restore(SessionState session) {
    return vertx
        .executeBlocking(
            () ->
                sessions
                    .map()
                    .putIfAbsent(
                        session.id(),
                        session,
                        session.used() ? idleSeconds : unusedSeconds,
                        TimeUnit.SECONDS),
            false)
        .onSuccess(
            previous -> {
              if (previous == null) {
                grown.addAndGet(session.bytes());
                grow(grownByTenant, session.tenant(), session.bytes());
              }
            })
        .mapEmpty();
  }

  @Override
  public <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op) {
    return sessions
        .run(id, new Run<>(op, idleSeconds, unusedSeconds), null)
        .map(
            ran -> {
              if (ran == null) {
                return null;
              }
              grown.addAndGet(ran.grew());
              grow(grownByTenant, ran.tenant(), ran.grew());
              return ran.result();
            });
  }

  /**
   * One entry processor where the session is stored (and on its backup), so only its size and
   * tenant travel back, never the state: what it held is counted out of this node's figure at once,
   * and out of the cluster's at the next sum.
   */
  @Override
  public Future<Boolean> remove(String id) {
    return sessions
        .run(id, new Remove(), null)
        .map(
            ran -> {
              if (ran == null) {
                return false;
              }
              grown.addAndGet(ran.grew());
              grow(grownByTenant, ran.tenant(), ran.grew());
              return true;
            });
  }

  /**
   * What an op gave, how many bytes it grew its session by (negative: shrank), and whose session it
   * is.
   */
  record Ran<T>(SessionResult<T> result, long grew, String tenant) implements Serializable {}

  @Override
  public long bytesOf(String tenant) {
    return summedByTenant.getOrDefault(tenant, 0L) + grownByTenant.getOrDefault(tenant, 0L);
  }

  private static void grow(Map<String, Long> byTenant, String tenant, long delta) {
    if (delta != 0) {
      byTenant.merge(tenant, delta, (a, b) -> a + b == 0 ? null : a + b);
    }
  }

  /** Runs an op where the session is stored. */
  record Run<T>(SessionOp<T> op, long idleSeconds, long unusedSeconds)
      implements EntryProcessor<String, SessionState, Ran<T>> {
    @Override
    public Ran<T> process(Map.Entry<String, SessionState> entry) {
      SessionState state = UnreadableEntryException.value(entry, SessionState.class);
      if (state == null) {
        return null;
      }
      long before = state.bytes();
      List<SessionEvent> out = new ArrayList<>();
      T value = op.apply(state, out);
      if (op.mutates()) {
        ((ExtendedMapEntry<String, SessionState>) entry)
            .setValue(state, state.used() ? idleSeconds : unusedSeconds, TimeUnit.SECONDS);
      }
      return new Ran<>(new SessionResult<>(value, out), state.bytes() - before, state.tenant());
    }

    @Override
    public EntryProcessor<String, SessionState, Ran<T>> getBackupProcessor() {
      return op.mutates() ? this : null;
    }
  }

  /**
   * Deletes the session where it is stored, and on its backup; gives what it held (as a negative
   * growth) and its tenant, or null when there was none.
   */
  record Remove() implements EntryProcessor<String, SessionState, Ran<Void>> {
    @Override
    public Ran<Void> process(Map.Entry<String, SessionState> entry) {
      SessionState state = UnreadableEntryException.value(entry, SessionState.class);
      if (state == null) {
        return null;
      }
      entry.setValue(null);
      return new Ran<>(null, -state.bytes(), state.tenant());
    }

    @Override
    public EntryProcessor<String, SessionState, Ran<Void>> getBackupProcessor() {
      return this;
    }
  }

  /** The sessions a listing asks for; a value of another type is skipped, not an error. */
  record Listed(SessionQuery query) implements Predicate<String, SessionState> {
    @Override
    public boolean apply(Map.Entry<String, SessionState> entry) {
      return ((Map.Entry<?, ?>) entry).getValue() instanceof SessionState state
          && query.matches(state);
    }
  }

  /** A stored session's {@link SessionSummary}: only that leaves its member. */
  record Summarize() implements Projection<Map.Entry<String, SessionState>, SessionSummary> {
    @Override
    public SessionSummary transform(Map.Entry<String, SessionState> entry) {
      return SessionSummary.of(entry.getValue());
    }
  }

  /** Sessions of one tenant, counted where they are stored. */
  static final class TenantSessions
      implements Aggregator<Map.Entry<String, SessionState>, Integer> {
    final String tenant;
    int count;

    TenantSessions(String tenant) {
      this.tenant = tenant;
    }

    @Override
    public void accumulate(Map.Entry<String, SessionState> entry) {
      if (((Map.Entry<?, ?>) entry).getValue() instanceof SessionState state
          && state.tenant().equals(tenant)) {
        count++;
      }
    }

    @Override
    public void combine(Aggregator aggregator) {
      count += ((TenantSessions) aggregator).count;
    }

    @Override
    public Integer aggregate() {
      return count;
    }
  }

  /** What the sessions hold, by tenant; a value of another type is skipped, not an error. */
  static final class SessionBytes
      implements Aggregator<Map.Entry<String, SessionState>, Map<String, Long>> {
    final HashMap<String, Long> byTenant = new HashMap<>();

    @Override
    public void accumulate(Map.Entry<String, SessionState> entry) {
      if (((Map.Entry<?, ?>) entry).getValue() instanceof SessionState state) {
        byTenant.merge(state.tenant(), state.bytes(), Long::sum);
      }
    }

    @Override
    public void combine(Aggregator aggregator) {
      ((SessionBytes) aggregator).byTenant.forEach((t, b) -> byTenant.merge(t, b, Long::sum));
    }

    @Override
    public Map<String, Long> aggregate() {
      return byTenant;
    }
  }
}
