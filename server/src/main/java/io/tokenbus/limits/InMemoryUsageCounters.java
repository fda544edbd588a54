package io.tokenbus.limits;

import io.vertx.core.Future;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A single node's counters. Every event loop counts here, so each update runs inside the map's
 * per-key lock; it is a few arithmetic operations, never blocking. A tenant's record is dropped
 * once it holds nothing (no slot, no recent request, no tokens today), so the map holds the tenants
 * active today.
 */
public final class InMemoryUsageCounters implements UsageCounters {

  private final ConcurrentHashMap<String, TenantUsage> tenants = new ConcurrentHashMap<>();

  @Override
  public Future<TenantUsage.RequestCount> request(
      String tenant, long nowMillis, int perMinute, int burst) {
    TenantUsage.RequestCount[] result = new TenantUsage.RequestCount[1];
    tenants.compute(
        tenant,
        (t, usage) -> {
          TenantUsage u = usage == null ? new TenantUsage() : usage;
          result[0] = u.request(nowMillis, perMinute, burst);
          return u.idle(nowMillis) ? null : u;
        });
    return Future.succeededFuture(result[0]);
  }

  @Override
  public Future<TenantUsage.Admission> admit(
      String tenant, String id, long nowMillis, int maxRunning, long quota, long staleMillis) {
    TenantUsage.Admission[] result = new TenantUsage.Admission[1];
    tenants.compute(
        tenant,
        (t, usage) -> {
          TenantUsage u = usage == null ? new TenantUsage() : usage;
          result[0] = u.admit(id, nowMillis, maxRunning, quota, staleMillis);
          return u.idle(nowMillis) ? null : u;
        });
    return Future.succeededFuture(result[0]);
  }

  @Override
  public Future<Void> end(String tenant, String id, long nowMillis, long completionTokens) {
    tenants.compute(
        tenant,
        (t, usage) -> {
          // A record gone (nothing in it for a while) still takes a long generation's tokens.
          TenantUsage u = usage == null ? new TenantUsage() : usage;
          u.end(id, nowMillis, completionTokens);
          return u.idle(nowMillis) ? null : u;
        });
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> seed(String tenant, long nowMillis, long tokensToday) {
    tenants.compute(
        tenant,
        (t, usage) -> {
          TenantUsage u = usage == null ? new TenantUsage() : usage;
          u.seed(nowMillis, tokensToday);
          return u.idle(nowMillis) ? null : u;
        });
    return Future.succeededFuture();
  }
}
