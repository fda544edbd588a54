package io.tokenbus.session;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sessions of a single node, in memory; an op runs under the session's lock. Idle ones are swept
 * every few seconds: one nobody ever posted to after the unused expiry, a used one after the idle
 * expiry. What they hold together is counted as they change (each op adds what it grew its session
 * by): at {@code maxBytes}, new sessions and questions are refused.
 */
public final class InMemorySessionStore implements SessionStore {

  private final Map<String, SessionState> sessions = new ConcurrentHashMap<>();
  private final int maxSessions;
  private final long maxBytes;
  private final long idleMillis;
  private final long unusedMillis;
  private final AtomicLong bytes = new AtomicLong();

  /** What each tenant's sessions hold; a tenant holding nothing has no entry. */
  private final Map<String, Long> tenantBytes = new ConcurrentHashMap<>();

  public InMemorySessionStore(Vertx vertx, int maxSessions, long idleMillis) {
    this(vertx, maxSessions, Long.MAX_VALUE, idleMillis, idleMillis);
  }

  public InMemorySessionStore(Vertx vertx, int maxSessions, long idleMillis, long unusedMillis) {
    this(vertx, maxSessions, Long.MAX_VALUE, idleMillis, unusedMillis);
  }

  /**
   * @param maxBytes what all sessions may hold together ({@code sessions.max-bytes})
   * @param idleMillis how long a used session lives without a change
   * @param unusedMillis how long one nobody has posted to lives without a change
   */
  public InMemorySessionStore(
      Vertx vertx, int maxSessions, long maxBytes, long idleMillis, long unusedMillis) {
    this.maxSessions = maxSessions;
    this.maxBytes = maxBytes;
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
                if (s.dropped) {
                  return true; // removed meanwhile, and counted out then
                }
                if (now - s.lastActive <= (s.used() ? idleMillis : unusedMillis)) {
                  return false;
                }
                s.dropped = true;
                grow(s.tenant(), -s.bytes());
                return true;
              }
            });
  }

  @Override
  public int localCount() {
    return sessions.size();
  }

  @Override
  public Future<Integer> count(String tenant) {
    int count = 0;
    for (SessionState session : sessions.values()) {
      if (session.tenant().equals(tenant)) {
        count++;
      }
    }
    return Future.succeededFuture(count);
  }

  /** One pass over the map (at most {@code sessions.max-sessions}), each read under its lock. */
  @Override
  public Future<List<SessionSummary>> list(SessionQuery query) {
    List<SessionSummary> found = new ArrayList<>();
    for (SessionState session : sessions.values()) {
      synchronized (session) {
        if (!session.dropped && query.matches(session)) {
          found.add(session.summary());
        }
      }
    }
    return Future.succeededFuture(query.page(found));
  }

  @Override
  public Future<Void> create(SessionState session) {
    if (sessions.size() >= maxSessions) {
      return Future.failedFuture(new SessionLimitException(maxSessions));
    }
    long size = session.bytes();
    if (bytes.get() + size > maxBytes) {
      return Future.failedFuture(new SessionStorageFullException(maxBytes));
    }
    grow(session.tenant(), size);
    sessions.put(session.id(), session);
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> restore(SessionState session) {
    if (sessions.putIfAbsent(session.id(), session) == null) {
      grow(session.tenant(), session.bytes());
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<Boolean> remove(String id) {
    SessionState session = sessions.remove(id);
    if (session == null) {
      return Future.succeededFuture(false);
    }
    synchronized (session) {
      if (session.dropped) {
        return Future.succeededFuture(false); // the sweep took it first
      }
      session.dropped = true;
      grow(session.tenant(), -session.bytes());
    }
    return Future.succeededFuture(true);
  }

  /**
   * Runs {@code op} under the session's lock. A session dropped while the op waited for the lock
   * (deleted, or swept) is absent: no op runs on it, so nothing it would publish or start follows a
   * deletion.
   */
  @Override
  public <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op) {
    SessionState session = sessions.get(id);
    if (session == null) {
      return Future.succeededFuture(null);
    }
    List<SessionEvent> out = new ArrayList<>();
    T value;
    synchronized (session) {
      if (session.dropped) {
        return Future.succeededFuture(null);
      }
      long before = session.bytes();
      value = op.apply(session, out);
      if (op.mutates()) {
        session.lastActive = Math.max(session.lastActive, System.currentTimeMillis());
        grow(session.tenant(), session.bytes() - before);
      }
    }
    return Future.succeededFuture(new SessionResult<>(value, out));
  }

  @Override
  public boolean full() {
    return bytes.get() >= maxBytes;
  }

  @Override
  public long bytesOf(String tenant) {
    return tenantBytes.getOrDefault(tenant, 0L);
  }

  private void grow(String tenant, long delta) {
    bytes.addAndGet(delta);
    tenantBytes.merge(tenant, delta, (a, b) -> a + b == 0 ? null : a + b);
  }

  /** What the sessions hold together, as counted. */
  long bytes() {
    return bytes.get();
  }
}
