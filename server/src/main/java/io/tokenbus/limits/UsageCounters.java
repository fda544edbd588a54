package io.tokenbus.limits;

import io.vertx.core.Future;

/**
 * Where tenants' usage is counted: in this process for a single node, in a replicated Hazelcast map
 * in a cluster, so that a tenant gets its limit once, not once per node, and a node's death loses
 * no count. Each call is one atomic update of one tenant's {@link TenantUsage}; results complete on
 * the caller's context.
 */
public interface UsageCounters {

  /** Counts a request: see {@link TenantUsage#request(long, int, int)}. */
  Future<TenantUsage.RequestCount> request(String tenant, long nowMillis, int perMinute, int burst);

  Future<TenantUsage.Admission> admit(
      String tenant, String id, long nowMillis, int maxRunning, long quota, long staleMillis);

  Future<Void> end(String tenant, String id, long nowMillis, long completionTokens);

  /** Seeds the tenant's day with what the durable history counted: see {@link TenantUsage#seed}. */
  Future<Void> seed(String tenant, long nowMillis, long tokensToday);
}
