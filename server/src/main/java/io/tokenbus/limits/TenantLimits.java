package io.tokenbus.limits;

/**
 * One tenant's limits, resolved from the defaults and its own overrides. Zero means no limit.
 *
 * @param requestsPerMinute API requests (and WebSocket frames that start something) per minute
 * @param requestsBurst how many of them may come at once from rest; 0 or more than {@code
 *     requestsPerMinute}: a whole minute's worth
 * @param maxConcurrentGenerations generations of the tenant running at once, cluster-wide
 * @param maxTokens the largest completion a request may ask for, and the cap of one that asks none
 * @param maxN the largest {@code n} (choices) a request may ask for
 * @param completionTokensPerDay completion tokens per UTC day, cluster-wide
 * @param maxSessions chat sessions of the tenant that may exist at once (approximate in a cluster)
 * @param maxSessionBytes bytes the tenant's sessions may hold together (approximate in a cluster)
 */
public record TenantLimits(
    int requestsPerMinute,
    int requestsBurst,
    int maxConcurrentGenerations,
    int maxTokens,
    int maxN,
    long completionTokensPerDay,
    int maxSessions,
    long maxSessionBytes) {

  /** No limit at all: the admin key's, and everyone's when auth is off. */
  public static final TenantLimits NONE = new TenantLimits(0, 0, 0, 0, 0, 0, 0, 0);

  /** Whether anything is counted for the tenant (requests, running generations or tokens). */
  public boolean counted() {
    return requestsPerMinute > 0 || maxConcurrentGenerations > 0 || completionTokensPerDay > 0;
  }
}
