package io.tokenbus.session;

/**
 * The sessions together hold {@code sessions.max-bytes} (on this node, or about that across the
 * cluster): no new session, and no new question in any, until some expire. Nobody's conversation is
 * cut for it: answers under way finish, and every session can still be read and joined.
 */
public final class SessionStorageFullException extends RuntimeException {

  /** What a refused client is told to wait: sessions free memory as they expire, not at once. */
  public static final long RETRY_AFTER_SECONDS = 60;

  public SessionStorageFullException(long maxBytes) {
    super(
        "Chat sessions already hold "
            + maxBytes
            + " bytes (sessions.max-bytes); retry when some have expired",
        null,
        false,
        false);
  }
}
