package io.tokenbus.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import io.tokenbus.session.SessionEvent;
import io.tokenbus.session.SessionLimitException;
import io.tokenbus.session.SessionOp;
import io.tokenbus.session.SessionResult;
import io.tokenbus.session.SessionState;
import io.tokenbus.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Sessions in the replicated map {@code tokenbus.sessions} (one synchronous backup, as the
 * generations'): each op runs as an entry processor where the session is stored, and again on its
 * backup, so a member's death loses nothing acknowledged. Every change restarts the session's time
 * to live, which is its idle expiry once anyone has posted to it, and the shorter unused expiry
 * until then.
 */
public final class HazelcastSessionStore implements SessionStore {

  public static final String MAP = "tokenbus.sessions";

  private final Vertx vertx;
  private final ProcessedMap<SessionState> sessions;
  private final int maxSessions;
  private final long idleSeconds;
  private final long unusedSeconds;

  public HazelcastSessionStore(
      Vertx vertx,
      HazelcastInstance hazelcast,
      int maxSessions,
      long idleSeconds,
      long unusedSeconds) {
    this.vertx = vertx;
    this.sessions = new ProcessedMap<>(vertx, hazelcast, MAP);
    this.maxSessions = maxSessions;
    this.idleSeconds = idleSeconds;
    this.unusedSeconds = unusedSeconds;
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
                    : sessions.onContext(
                        sessions
                            .map()
                            .setAsync(
                                session.id(),
                                session,
                                session.used() ? idleSeconds : unusedSeconds,
                                TimeUnit.SECONDS)))
        .mapEmpty();
  }

  @Override
  public <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op) {
    return sessions.run(id, new Run<>(op, idleSeconds, unusedSeconds), null);
  }

  /** Runs an op where the session is stored. */
  record Run<T>(SessionOp<T> op, long idleSeconds, long unusedSeconds)
      implements EntryProcessor<String, SessionState, SessionResult<T>> {
    @Override
    public SessionResult<T> process(Map.Entry<String, SessionState> entry) {
      SessionState state = UnreadableEntryException.value(entry, SessionState.class);
      if (state == null) {
        return null;
      }
      List<SessionEvent> out = new ArrayList<>();
      T value = op.apply(state, out);
      if (op.mutates()) {
        ((ExtendedMapEntry<String, SessionState>) entry)
            .setValue(state, state.used() ? idleSeconds : unusedSeconds, TimeUnit.SECONDS);
      }
      return new SessionResult<>(value, out);
    }

    @Override
    public EntryProcessor<String, SessionState, SessionResult<T>> getBackupProcessor() {
      return op.mutates() ? this : null;
    }
  }
}
