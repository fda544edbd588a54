package io.tokenbus.limits;

import java.io.Serializable;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one tenant has used, in one record so that a request is counted with one atomic update
 * wherever it lives (a map on one node, an entry processor on the partition owner in a cluster):
 *
 * <ul>
 *   <li>requests, by the generic cell rate algorithm (GCRA): one timestamp, the theoretical arrival
 *       time of the next request. A limit of L per minute lets L through at once from rest, then
 *       one every 60/L seconds: a sliding minute, not a window that resets;
 *   <li>the generations running, by id with their start time, so that an end is counted once
 *       whichever node sees it, and one whose end is never seen (its whole cluster gone) is
 *       forgotten after the longest a generation may run;
 *   <li>completion tokens of the current UTC day.
 * </ul>
 *
 * Every operation takes the time as an argument: a cluster's backup replays it to the same result.
 * Not thread-safe; callers serialize the updates of one tenant.
 */
public final class TenantUsage implements Serializable {

  private static final long serialVersionUID = 1L;

  static final long MINUTE_NANOS = 60_000_000_000L;
  static final long DAY_MILLIS = 86_400_000L;

  /** GCRA's theoretical arrival time, in nanoseconds since the epoch (good until 2262). */
  long tat;

  /** The UTC day (days since the epoch) {@link #tokens} counts. */
  long day;

  long tokens;

  /** Running generations: id → start, in milliseconds since the epoch, oldest first. */
  final LinkedHashMap<String, Long> running = new LinkedHashMap<>();

  /**
   * Counts one request against {@code perMinute} (0: not limited, only the tokens are read), a
   * whole minute's worth of which may come at once from rest.
   */
  public RequestCount request(long nowMillis, int perMinute) {
    return request(nowMillis, perMinute, 0);
  }

  /**
   * Counts one request against {@code perMinute} (0: not limited, only the tokens are read), at
   * most {@code burst} of which may come at once from rest (0, or more than {@code perMinute}: a
   * minute's worth). A smaller burst spreads a tenant's minute out: one request every 60/L seconds
   * once the burst is spent, which is what keeps a tenant at its limit from taking every core for a
   * few seconds each minute.
   */
  public RequestCount request(long nowMillis, int perMinute, int burst) {
    long tokensToday = tokensOn(nowMillis);
    if (perMinute <= 0) {
      return new RequestCount(true, 0, 0, 0, 0, tokensToday);
    }
    long now = nowMillis * 1_000_000;
    // Rounded up, so that a minute never lets more than perMinute through; a burst from rest is
    // exactly perMinute.
    long interval = (MINUTE_NANOS + perMinute - 1) / perMinute;
    int atOnce = burst <= 0 || burst > perMinute ? perMinute : burst;
    long tolerance = interval * atOnce;
    long next = Math.max(tat, now) + interval;
    if (next - now > tolerance) {
      long retryAfter = next - tolerance - now;
      long reset = Math.max(tat, now) - now;
      return new RequestCount(
          false, perMinute, 0, nanosToMillis(reset), nanosToMillis(retryAfter), tokensToday);
    }
    tat = next;
    int remaining = (int) Math.min(atOnce, (tolerance - (next - now)) / interval);
    return new RequestCount(true, perMinute, remaining, nanosToMillis(next - now), 0, tokensToday);
  }

  /**
   * Takes a running slot for generation {@code id} unless {@code maxRunning} (0: no limit) are
   * taken or the day's {@code quota} (0: none) is used up; forgets slots older than {@code
   * staleMillis} first.
   */
  public Admission admit(String id, long nowMillis, int maxRunning, long quota, long staleMillis) {
    long tokensToday = tokensOn(nowMillis);
    if (quota > 0 && tokensToday >= quota) {
      return new Admission(Admission.QUOTA, running.size(), tokensToday);
    }
    forgetStale(nowMillis, staleMillis);
    if (maxRunning > 0 && !running.containsKey(id) && running.size() >= maxRunning) {
      return new Admission(Admission.CONCURRENCY, running.size(), tokensToday);
    }
    running.putIfAbsent(id, nowMillis);
    return new Admission(Admission.ADMITTED, running.size(), tokensToday);
  }

  /** Generation {@code id} ended (or never started): frees its slot, adds its tokens to the day. */
  public void end(String id, long nowMillis, long completionTokens) {
    running.remove(id);
    if (completionTokens > 0) {
      tokensOn(nowMillis);
      tokens += completionTokens;
    }
  }

  /** Whether this record holds nothing worth keeping: no slot taken, no request counted lately. */
  /**
   * Takes the day's tokens as the durable history counted them before this record existed (every
   * node restarted): at least {@code tokens} today, never fewer than already counted, so a seed
   * that arrives twice, or after this cluster counted more, changes nothing it should not.
   */
  public void seed(long nowMillis, long tokensToday) {
    tokensOn(nowMillis);
    tokens = Math.max(tokens, tokensToday);
  }

  public boolean idle(long nowMillis) {
    return running.isEmpty() && tat <= nowMillis * 1_000_000 && tokensOn(nowMillis) == 0;
  }

  public int running() {
    return running.size();
  }

  private long tokensOn(long nowMillis) {
    long today = Math.floorDiv(nowMillis, DAY_MILLIS);
    // Only forward: a node whose clock is behind, around midnight, must not wipe the new day.
    if (today > day) {
      day = today;
      tokens = 0;
    }
    return tokens;
  }

  private void forgetStale(long nowMillis, long staleMillis) {
    Iterator<Map.Entry<String, Long>> oldest = running.entrySet().iterator();
    while (oldest.hasNext() && oldest.next().getValue() < nowMillis - staleMillis) {
      oldest.remove();
    }
  }

  private static long nanosToMillis(long nanos) {
    return (nanos + 999_999) / 1_000_000;
  }

  /**
   * A request counted, or refused.
   *
   * @param limit requests per minute (0: not limited)
   * @param remaining requests that may follow at once
   * @param resetMillis until every request of the minute is available again
   * @param retryAfterMillis until a refused request would be let through
   * @param tokensToday completion tokens used so far this UTC day
   */
  public record RequestCount(
      boolean allowed,
      int limit,
      int remaining,
      long resetMillis,
      long retryAfterMillis,
      long tokensToday)
      implements Serializable {}

  /** A generation admitted, or why not, with what the tenant has running and used. */
  public record Admission(int verdict, int running, long tokensToday) implements Serializable {
    public static final int ADMITTED = 0;
    public static final int CONCURRENCY = 1;
    public static final int QUOTA = 2;
  }
}
