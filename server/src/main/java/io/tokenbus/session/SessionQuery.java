package io.tokenbus.session;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Which sessions a listing asks for: a tenant's (or every tenant's), past the cursor in {@link
 * SessionSummary#NEWEST_FIRST} order. Stores answer at most {@code limit + 1} summaries, so the
 * caller can tell whether there are more.
 *
 * @param tenant only this tenant's; null for every tenant's (the admin)
 * @param after the cursor: only what comes after it, or null for the first page
 * @param limit the page size, at least 1
 */
public record SessionQuery(String tenant, Cursor after, int limit) {

  /** A place in a listing: the creation time and id of the last session of a page. */
  public record Cursor(long created, String id) {}

  public SessionQuery {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be at least 1: " + limit);
    }
  }

  /** Whether a session with these fields belongs in the answer. */
  public boolean matches(String id, String tenant, long created) {
    if (this.tenant != null && !this.tenant.equals(tenant)) {
      return false;
    }
    return after == null
        || created < after.created()
        || (created == after.created() && id.compareTo(after.id()) < 0);
  }

  public boolean matches(SessionSummary s) {
    return matches(s.id(), s.tenant(), s.created());
  }

  /**
   * Whether a stored session belongs in the answer, read in place (a cluster store's predicate).
   */
  public boolean matches(SessionState state) {
    return matches(state.id(), state.tenant, state.created);
  }

  /**
   * The first {@code limit + 1} of {@code found}, newest first: what a store answers. Holds no more
   * than that many at a time, however many were found.
   */
  public List<SessionSummary> page(Iterable<SessionSummary> found) {
    // The newest limit + 1 so far, the oldest of them at the head to be dropped first.
    PriorityQueue<SessionSummary> kept =
        new PriorityQueue<>(SessionSummary.NEWEST_FIRST.reversed());
    for (SessionSummary summary : found) {
      kept.add(summary);
      if (kept.size() > limit + 1) {
        kept.poll();
      }
    }
    List<SessionSummary> page = new ArrayList<>(kept);
    page.sort(SessionSummary.NEWEST_FIRST);
    return page;
  }
}
