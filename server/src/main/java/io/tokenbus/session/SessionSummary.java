package io.tokenbus.session;

import java.util.Comparator;

/**
 * What a listing shows of one session: its settings and counts, never its transcript, so a store
 * can send many of them cheaply.
 *
 * @param created Unix seconds
 * @param lastMessageAt Unix seconds of the newest message; null if nobody has posted
 * @param messageCount messages in the transcript, the assistant's included
 * @param answering whether an answer is in progress
 */
public record SessionSummary(
    String id,
    String tenant,
    String title,
    String model,
    long created,
    Long lastMessageAt,
    int messageCount,
    boolean answering) {

  /** Newest first; the id breaks ties, so that every session has one place in a listing. */
  public static final Comparator<SessionSummary> NEWEST_FIRST =
      Comparator.comparingLong(SessionSummary::created)
          .reversed()
          .thenComparing(SessionSummary::id, Comparator.reverseOrder());

  /**
   * The summary of a stored session, read in place (a cluster store's projection, on the member
   * that holds it).
   */
  public static SessionSummary of(SessionState state) {
    return state.summary();
  }
}
