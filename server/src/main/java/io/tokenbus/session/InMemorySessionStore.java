package io.tokenbus.session;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Sessions of a single node, in memory; an op runs under the session's lock. Idle ones are swept
 * every few seconds.
 */
public final class InMemorySessionStore implements SessionStore {

  private final Map<String, SessionState> sessions = new ConcurrentHashMap<>();
  private final int maxSessions;
  private final long idleMillis;

  public InMemorySessionStore(Vertx vertx, int maxSessions, long idleMillis) {
    this.maxSessions = maxSessions;
    this.idleMillis = idleMillis;
    vertx.setPeriodic(Math.min(5000, idleMillis), t -> sweep(System.currentTimeMillis()));
  }

  /** Deletes the sessions idle since before {@code now} − the idle expiry. */
  void sweep(long now) {
    sessions
        .values()
        .removeIf(
            s -> {
              synchronized (s) {
                return now - s.lastActive > idleMillis;
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
