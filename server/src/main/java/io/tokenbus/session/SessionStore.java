package io.tokenbus.session;

import io.vertx.core.Future;
import java.util.List;

/**
 * Where sessions live: in memory on a single node, in a replicated Hazelcast map in a cluster. A
 * session not used for {@code sessions.idle-expiry-seconds} disappears.
 */
public interface SessionStore {

  /**
   * Stores a new session; fails with {@link SessionLimitException} when {@code
   * sessions.max-sessions} are stored, and with {@link SessionStorageFullException} when the
   * sessions hold {@code sessions.max-bytes}.
   */
  Future<Void> create(SessionState session);

  /**
   * How many sessions {@code tenant} has: exact on a single node; in a cluster, read from every
   * member (a scan, for creations only), so a burst of creations may pass a limit by a few.
   */
  Future<Integer> count(String tenant);

  /**
   * Puts back a session rebuilt from the durable history, unless the store holds it already (two
   * requests rebuilt it at once): no limit is checked, since it existed before.
   */
  default Future<Void> restore(SessionState session) {
    return create(session);
  }

  /**
   * The sessions {@code query} asks for: at most {@code query.limit() + 1}, newest first ({@link
   * SessionSummary#NEWEST_FIRST}). A scan of every session (on every member, in a cluster): for a
   * listing, not for a hot path.
   */
  Future<List<SessionSummary>> list(SessionQuery query);

  /**
   * Deletes a session: completes with false if there was none. What it held is counted out of
   * {@link #full()} and {@link #bytesOf}; an op that comes after finds no session.
   */
  Future<Boolean> remove(String id);

  /** Runs {@code op} atomically on the session; completes with null if there is no such session. */
  <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op);

  /**
   * Reads a session that does not exist, as a request's read would (in a cluster, on a partition
   * owner): completes once the store answers. For the readiness probe.
   */
  default Future<Void> probe() {
    return apply("tokenbus-health-probe", new SessionOps.Tenant()).mapEmpty();
  }

  /**
   * Sessions held on this node, for {@code tokenbus_sessions_active}: all of them on a single node,
   * its share (the primary copies it owns) in a cluster, so that the nodes' figures add up to the
   * cluster's. Answers without waiting.
   */
  int localCount();

  /**
   * Whether the sessions hold {@code sessions.max-bytes} (see {@link SessionState#bytes()}): then
   * no question may be posted. Answers it without waiting, from a figure kept as sessions change.
   */
  default boolean full() {
    return false;
  }

  /**
   * What {@code tenant}'s sessions hold together, as {@link SessionState#bytes()} counts: exact on
   * a single node; in a cluster, summed every few seconds plus this node's own changes since.
   * Answers without waiting.
   */
  default long bytesOf(String tenant) {
    return 0;
  }
}
