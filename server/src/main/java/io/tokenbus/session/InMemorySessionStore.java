package io.tokenbus.session;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Sessions of a single node, in memory; an op runs under the session's lock. Idle ones are swept
 * every few seconds: one nobody ever posted to after the unused expiry, a used one after the idle
 * expiry.
 */
public final class InMemorySessionStore implements SessionStore {

  private final Map<String, SessionState> sessions = new ConcurrentHashMap<>();
  private final int maxSessions;
  private final long idleMillis;
  private final long unusedMillis;

  public InMemorySessionStore(Vertx vertx, int maxSessions, long idleMillis) {
    this(vertx, maxSessions, idleMillis, idleMillis);
  }

  /**
   * @param idleMillis how long a used session lives without a change
   * @param unusedMillis how long one nobody has posted to lives without a change
   */
  public InMemorySessionStore(Vertx vertx, int maxSessions, long idleMillis, long unusedMillis) {
    this.maxSessions = maxSessions;
    this.idleMillis = idleMillis;
    this.unusedMillis = unusedMillis;
    vertx.setPeriodic(
        Math.min(5000, Math.min(idleMillis, unusedMillis)), t -> sweep(System.currentTimeMillis()));
  }

  /** Deletes the sessions idle since before {@code now} − their expiry. */
  void sweep(long now) {
    sessions
        .values()
        .removeIf(
            s -> {
              synchronized (s) {
                return now - s.lastActive > (s.used() ? idleMillis : unusedMillis);
              }
            });
  }

  @Override
  public Future<Void> create(SessionState session) {
    if (sessions.size() >= maxSessions) {
      return Future.failedFuture(new SessionLimitException(maxSessions));
    }
    sessions.put(session.id(), session);
    return Future.succeededFuture();
  }

  @Override
  public <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op) {
    SessionState session = sessions.get(id);
    if (session == null) {
      return Future.succeededFuture(null);
    }
    List<SessionEvent> out = new ArrayList<>();
    T value;
    synchronized (session) {
      value = op.apply(session, out);
      if (op.mutates()) {
        session.lastActive = Math.max(session.lastActive, System.currentTimeMillis());
      }
    }
    return Future.succeededFuture(new SessionResult<>(value, out));
  }
}
