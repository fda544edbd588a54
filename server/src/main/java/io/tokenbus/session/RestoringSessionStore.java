package io.tokenbus.session;

import io.vertx.core.Future;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * A session store that, for a session it does not hold, looks in the durable history: a session
 * lost from memory with every node (a full restart) is rebuilt from what was written, put back, and
 * the op runs on it as if it had never gone. What the history does not hold either (an unknown id,
 * a deleted or expired session) is remembered for {@link #MISS_MS}, so a client asking again and
 * again for one costs one query, not one each.
 */
public final class RestoringSessionStore implements SessionStore {

  /** The ids {@link Sessions} makes; anything else was never a session and is not looked up. */
  private static final Pattern SESSION_ID = Pattern.compile("sess_[0-9A-Za-z]{20}");

  static final long MISS_MS = 5000;
  static final int MAX_MISSES = 10_000;

  private final SessionStore store;
  private final SessionHistory history;

  /**
   * Ids the history did not hold, with when it was asked: at most {@link #MAX_MISSES}, forgotten
   * all at once past that (each then costs one query again).
   */
  private final Map<String, Long> misses = new ConcurrentHashMap<>();

  public RestoringSessionStore(SessionStore store, SessionHistory history) {
    this.store = store;
    this.history = history;
  }

  @Override
  public Future<Void> create(SessionState session) {
    return store.create(session);
  }

  @Override
  public Future<Integer> count(String tenant) {
    return store.count(tenant);
  }

  @Override
  public Future<java.util.List<SessionSummary>> list(SessionQuery query) {
    return store.list(query);
  }

  @Override
  public Future<Boolean> remove(String id) {
    return store.remove(id);
  }

  @Override
  public Future<Void> restore(SessionState session) {
    return store.restore(session);
  }

  @Override
  public <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op) {
    return store
        .apply(id, op)
        .compose(
            result ->
                result != null || !SESSION_ID.matcher(id).matches() || missedLately(id)
                    ? Future.succeededFuture(result)
                    : history
                        .load(id)
                        .compose(
                            restored -> {
                              if (restored == null) {
                                missed(id);
                                return Future.succeededFuture(null);
                              }
                              return store.restore(restored).compose(v -> store.apply(id, op));
                            }));
  }

  private boolean missedLately(String id) {
    Long at = misses.get(id);
    if (at == null) {
      return false;
    }
    if (System.currentTimeMillis() - at < MISS_MS) {
      return true;
    }
    misses.remove(id, at);
    return false;
  }

  private void missed(String id) {
    if (misses.size() >= MAX_MISSES) {
      misses.clear();
    }
    misses.put(id, System.currentTimeMillis());
  }

  @Override
  public Future<Void> probe() {
    return store.probe();
  }

  @Override
  public int localCount() {
    return store.localCount();
  }

  @Override
  public boolean full() {
    return store.full();
  }

  @Override
  public long bytesOf(String tenant) {
    return store.bytesOf(tenant);
  }
}
