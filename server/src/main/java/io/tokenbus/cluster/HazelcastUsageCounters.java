package io.tokenbus.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import io.tokenbus.limits.TenantUsage;
import io.tokenbus.limits.UsageCounters;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Map;

/**
 * Tenants' usage in the replicated map {@code tokenbus.limits}, one entry per tenant with one
 * synchronous backup: each count runs as an entry processor on the member that owns the tenant's
 * partition (and is replayed on its backup, with the same time, to the same result), so every node
 * counts against the same figures and a member's death loses none of them. An entry that holds
 * nothing any more is removed.
 */
public final class HazelcastUsageCounters implements UsageCounters {

  public static final String MAP = "tokenbus.limits";

  private final ProcessedMap<TenantUsage> tenants;

  public HazelcastUsageCounters(Vertx vertx, HazelcastInstance hazelcast) {
    this.tenants = new ProcessedMap<>(vertx, hazelcast, MAP);
  }

  @Override
  public Future<TenantUsage.RequestCount> request(
      String tenant, long nowMillis, int perMinute, int burst) {
    // An unreadable entry (not tokenbus's) counts as a fresh one: it is replaced on the next write.
    return tenants.run(
        tenant,
        new Request(nowMillis, perMinute, burst),
        new TenantUsage().request(nowMillis, perMinute, burst));
  }

  @Override
  public Future<TenantUsage.Admission> admit(
      String tenant, String id, long nowMillis, int maxRunning, long quota, long staleMillis) {
    return tenants.run(
        tenant,
        new Admit(id, nowMillis, maxRunning, quota, staleMillis),
        new TenantUsage().admit(id, nowMillis, maxRunning, quota, staleMillis));
  }

  @Override
  public Future<Void> end(String tenant, String id, long nowMillis, long completionTokens) {
    return tenants.run(tenant, new End(id, nowMillis, completionTokens), Boolean.FALSE).mapEmpty();
  }

  @Override
  public Future<Void> seed(String tenant, long nowMillis, long tokensToday) {
    return tenants.run(tenant, new Seed(nowMillis, tokensToday), Boolean.FALSE).mapEmpty();
  }

  /** The tenant's record, a new one if the entry is empty or holds something else. */
  private static TenantUsage usage(Map.Entry<String, TenantUsage> entry) {
    return ((Map.Entry<?, ?>) entry).getValue() instanceof TenantUsage usage
        ? usage
        : new TenantUsage();
  }

  /** Writes the record back, or removes the entry once it holds nothing. */
  private static void store(Map.Entry<String, TenantUsage> entry, TenantUsage usage, long now) {
    entry.setValue(usage.idle(now) ? null : usage);
  }

  record Request(long nowMillis, int perMinute, int burst)
      implements EntryProcessor<String, TenantUsage, TenantUsage.RequestCount> {
    @Override
    public TenantUsage.RequestCount process(Map.Entry<String, TenantUsage> entry) {
      TenantUsage usage = usage(entry);
      TenantUsage.RequestCount count = usage.request(nowMillis, perMinute, burst);
      store(entry, usage, nowMillis);
      return count;
    }
  }

  record Admit(String id, long nowMillis, int maxRunning, long quota, long staleMillis)
      implements EntryProcessor<String, TenantUsage, TenantUsage.Admission> {
    @Override
    public TenantUsage.Admission process(Map.Entry<String, TenantUsage> entry) {
      TenantUsage usage = usage(entry);
      TenantUsage.Admission admission = usage.admit(id, nowMillis, maxRunning, quota, staleMillis);
      store(entry, usage, nowMillis);
      return admission;
    }
  }

  record End(String id, long nowMillis, long completionTokens)
      implements EntryProcessor<String, TenantUsage, Boolean> {
    @Override
    public Boolean process(Map.Entry<String, TenantUsage> entry) {
      // An entry expired (idle for two days under one very long generation) still takes its
      // tokens.
      TenantUsage usage = usage(entry);
      usage.end(id, nowMillis, completionTokens);
      store(entry, usage, nowMillis);
      return true;
    }
  }

  record Seed(long nowMillis, long tokensToday)
      implements EntryProcessor<String, TenantUsage, Boolean> {
    @Override
    public Boolean process(Map.Entry<String, TenantUsage> entry) {
      TenantUsage usage = usage(entry);
      usage.seed(nowMillis, tokensToday);
      store(entry, usage, nowMillis);
      return true;
    }
  }
}
