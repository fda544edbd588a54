package io.tokenbus.session;

/** The node or cluster holds as many sessions as {@code sessions.max-sessions} allows. */
public final class SessionLimitException extends RuntimeException {

  public SessionLimitException(int max) {
    super(
        "There are already "
            + max
            + " sessions (sessions.max-sessions); retry when some have expired");
  }
}
