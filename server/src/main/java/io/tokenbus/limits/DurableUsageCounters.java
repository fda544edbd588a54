package io.tokenbus.limits;

import io.vertx.core.Future;
import java.time.LocalDate;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live counters, seeded from the durable history: the first time this node counts a tenant on a
 * day, it reads what the database counted that day (every finished generation's completion tokens,
 * written by the history) and the tenant's day starts from at least that, so a quota outlives a
 * restart of every node. The read does not hold up the request that caused it: the first requests
 * after a restart are counted from what the live counters had, until it lands (a few milliseconds);
 * a read that fails is tried again at the tenant's next request.
 */
public final class DurableUsageCounters implements UsageCounters {

  private static final Logger LOG = LoggerFactory.getLogger(DurableUsageCounters.class);

  /** Tenants seeded at most (on one day) before the set is started again. */
  static final int MAX_SEEDED = 100_000;

  private final UsageCounters counters;
  private final BiFunction<String, LocalDate, Future<Long>> counted;

  /** Tenant to the day (epoch day, UTC) it was seeded for, or is being. */
  private final Map<String, Long> seeded = new ConcurrentHashMap<>();

  /**
   * @param counted what the history counted for a tenant on a day (UTC)
   */
  public DurableUsageCounters(
      UsageCounters counters, BiFunction<String, LocalDate, Future<Long>> counted) {
    this.counters = counters;
    this.counted = counted;
  }

  private void seedOnce(String tenant, long nowMillis) {
    long day = Math.floorDiv(nowMillis, TenantUsage.DAY_MILLIS);
    Long was = seeded.put(tenant, day);
    if (was != null && was == day) {
      return;
    }
    if (seeded.size() > MAX_SEEDED) {
      seeded.clear();
    }
    counted
        .apply(tenant, LocalDate.ofEpochDay(day))
        .compose(
            tokens ->
                tokens > 0 ? counters.seed(tenant, nowMillis, tokens) : Future.succeededFuture())
        .onFailure(
            e -> {
              seeded.remove(tenant, day);
              LOG.debug("tenant {}: today's usage could not be read: {}", tenant, e.toString());
            });
  }

  @Override
  public Future<TenantUsage.RequestCount> request(
      String tenant, long nowMillis, int perMinute, int burst) {
    seedOnce(tenant, nowMillis);
    return counters.request(tenant, nowMillis, perMinute, burst);
  }

  @Override
  public Future<TenantUsage.Admission> admit(
      String tenant, String id, long nowMillis, int maxRunning, long quota, long staleMillis) {
    seedOnce(tenant, nowMillis);
    return counters.admit(tenant, id, nowMillis, maxRunning, quota, staleMillis);
  }

  @Override
  public Future<Void> end(String tenant, String id, long nowMillis, long completionTokens) {
    return counters.end(tenant, id, nowMillis, completionTokens);
  }

  @Override
  public Future<Void> seed(String tenant, long nowMillis, long tokensToday) {
    return counters.seed(tenant, nowMillis, tokensToday);
  }
}
