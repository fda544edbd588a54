package io.tokenbus.session;

import io.vertx.core.Future;
import java.util.List;

/**
 * Where sessions are kept durably, beside the store that serves them (in memory, or the cluster's
 * map): {@link #NONE} by default; PostgreSQL with {@code database.url} ({@code
 * io.tokenbus.history}). {@link Sessions} tells it what changed; the futures complete once the
 * change is committed, and never fail for a database that is only unreachable (its writes wait and
 * are tried again). Reads come only for a session the store does not hold.
 */
public interface SessionHistory {

  SessionHistory NONE =
      new SessionHistory() {
        @Override
        public Future<Void> created(SessionState.View session, String creator) {
          return Future.succeededFuture();
        }

        @Override
        public Future<Void> changed(String session, List<SessionEvent> events) {
          return Future.succeededFuture();
        }

        @Override
        public Future<Void> answerEnded(String session, SessionMessage answer) {
          return Future.succeededFuture();
        }

        @Override
        public void checkpoint(String session, String message, String text, long version) {}

        @Override
        public Future<Void> deleted(String session) {
          return Future.succeededFuture();
        }

        @Override
        public Future<SessionState> load(String id) {
          return Future.succeededFuture();
        }
      };

  /** Whether anything is kept: false for {@link #NONE}. */
  default boolean enabled() {
    return false;
  }

  /**
   * Whether the writes waiting for the database have reached their bound: new sessions and posts
   * are then refused (503) before anything changes.
   */
  default boolean full() {
    return false;
  }

  /**
   * The session changed in any way (presence, typing, a copy of its answer): its durable copy's
   * expiry is moved on as the live one's is, at most about once a minute.
   */
  default void touched(String session) {}

  /** A session was created; {@code creator} is the user a JWT named, or null. */
  Future<Void> created(SessionState.View session, String creator);

  /**
   * A session's op caused {@code events}: its new messages, its ended answers (status only: their
   * text comes from {@link #answerEnded} or the checkpoints), who joined.
   */
  Future<Void> changed(String session, List<SessionEvent> events);

  /** An answer ended, with its final text and status: committed before its end is published. */
  Future<Void> answerEnded(String session, SessionMessage answer);

  /**
   * The text of an answer in progress, as of generation seq {@code version}: only the latest
   * waiting one is written, and never over a later one.
   */
  void checkpoint(String session, String message, String text, long version);

  Future<Void> deleted(String session);

  /**
   * The sessions {@code query} asks for, from the history (which holds those not in memory too), at
   * most limit + 1, newest first; null when there is no history (the store answers).
   */
  default Future<List<SessionSummary>> list(SessionQuery query) {
    return null;
  }

  /**
   * The session as last written, rebuilt ({@link SessionState#restored}), or null when none is kept
   * (never created, deleted, or expired).
   */
  Future<SessionState> load(String id);
}
