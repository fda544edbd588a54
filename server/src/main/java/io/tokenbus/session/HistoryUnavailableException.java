package io.tokenbus.session;

/**
 * The durable history cannot take another write: as many as {@code database.max-queued-writes} wait
 * for a database that is slow or unreachable. A new session or message is refused (503) before
 * anything changes; streaming goes on.
 */
public final class HistoryUnavailableException extends RuntimeException {

  /** What a client is told to wait before it tries again. */
  public static final int RETRY_AFTER_SECONDS = 5;

  public HistoryUnavailableException() {
    super(
        "The history's database is not keeping up (database.max-queued-writes writes wait for it);"
            + " nothing was changed: try again shortly");
  }
}
