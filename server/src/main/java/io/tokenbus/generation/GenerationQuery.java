package io.tokenbus.generation;

import io.tokenbus.bus.GenerationRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Which generations a listing asks for: every filter must hold, and the page starts past the cursor
 * in {@link GenerationSummary#NEWEST_FIRST} order. Stores answer at most {@code limit + 1}
 * summaries, so the caller can tell whether there are more.
 *
 * @param tenant only this tenant's; null for every tenant's (the admin)
 * @param status only in this status, or null
 * @param model only of this model, or null
 * @param metadata only those whose metadata holds every one of these pairs
 * @param limit the page size, at least 1
 * @param after the cursor: only what comes after it, or null for the first page
 */
public record GenerationQuery(
    String tenant,
    GenerationStatus status,
    String model,
    Map<String, String> metadata,
    int limit,
    Cursor after) {

  /** A place in a listing: the creation time and id of the last generation of a page. */
  public record Cursor(long created, String id) {}

  public GenerationQuery {
    metadata = GenerationRequest.metadataOf(metadata);
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be at least 1: " + limit);
    }
  }

  /** Whether a generation with these fields belongs in the answer. */
  public boolean matches(
      String id,
      String model,
      long created,
      String tenant,
      GenerationStatus status,
      Map<String, String> metadata) {
    if (this.tenant != null && !this.tenant.equals(tenant)) {
      return false;
    }
    if (this.status != null && this.status != status) {
      return false;
    }
    if (this.model != null && !this.model.equals(model)) {
      return false;
    }
    if (after != null
        && (created > after.created()
            || (created == after.created() && id.compareTo(after.id()) >= 0))) {
      return false;
    }
    for (Map.Entry<String, String> wanted : this.metadata.entrySet()) {
      if (!wanted.getValue().equals(metadata.get(wanted.getKey()))) {
        return false;
      }
    }
    return true;
  }

  public boolean matches(GenerationSummary s) {
    return matches(s.id(), s.model(), s.created(), s.tenant(), s.status(), s.metadata());
  }

  /**
   * The first {@code limit + 1} of {@code found}, newest first: what a store answers. Holds no more
   * than that many at a time, however many were found.
   */
  public List<GenerationSummary> page(Iterable<GenerationSummary> found) {
    // The newest limit + 1 so far, the oldest of them at the head to be dropped first.
    PriorityQueue<GenerationSummary> kept =
        new PriorityQueue<>(GenerationSummary.NEWEST_FIRST.reversed());
    for (GenerationSummary summary : found) {
      kept.add(summary);
      if (kept.size() > limit + 1) {
        kept.poll();
      }
    }
    List<GenerationSummary> page = new ArrayList<>(kept);
    page.sort(GenerationSummary.NEWEST_FIRST);
    return page;
  }
}
