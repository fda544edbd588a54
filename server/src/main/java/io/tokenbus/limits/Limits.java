package io.tokenbus.limits;

import io.tokenbus.auth.Principal;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Future;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tenants' limits and quotas, the one place they are decided: a request is counted as it arrives
 * ({@link #countRequest}), a generation is admitted before any worker is asked ({@link #admit}),
 * and its slot and tokens are settled when it ends, on whichever node ends it ({@link #ended}). The
 * admin key's tenant ({@code *}) and every caller when auth is off are not limited: there is no
 * tenant to tell apart from another.
 */
public final class Limits {

  private static final Logger LOG = LoggerFactory.getLogger(Limits.class);

  /** Tries of a generation's end on counters that fail (a cluster migrating the entry). */
  private static final int END_ATTEMPTS = 3;

  private final boolean enabled;

  /** Every tenant's limits but those below, resolved once: this is asked on every request. */
  private final TenantLimits defaults;

  /** The tenants the configuration names, their overrides resolved over the defaults. */
  private final Map<String, TenantLimits> named = new HashMap<>();

  private final UsageCounters counters;

  /** Tenants refused for their rate on this node, while it lasts; one entry a tenant at most. */
  private final ConcurrentHashMap<String, Refusal> refusals = new ConcurrentHashMap<>();

  /** How long a running slot is kept if its end is never seen: the longest run, and a minute. */
  private final long staleMillis;

  public Limits(TokenbusConfig config, UsageCounters counters) {
    this.enabled = config.auth().enabled();
    this.defaults = config.limits().of("");
    config.limits().tenants().keySet().forEach(t -> named.put(t, config.limits().of(t)));
    this.counters = counters;
    this.staleMillis = (config.generation().maxDurationSeconds() + 60) * 1000L;
  }

  /** The limits of {@code tenant}; none for the admin key's, or when auth is off. */
  public TenantLimits of(String tenant) {
    return !enabled || Principal.ALL_TENANTS.equals(tenant)
        ? TenantLimits.NONE
        : named.getOrDefault(tenant, defaults);
  }

  /**
   * Counts one request of {@code caller}: completes with the headers to answer with (null when the
   * tenant has no limit to report), or fails with {@link LimitExceeded} (429 rate_limit_exceeded)
   * that still carries them. A tenant refused for its rate is refused here, without asking the
   * counters, until a request of its could pass again.
   */
  public Future<RateHeaders> countRequest(Principal caller) {
    TenantLimits limits = of(caller.tenant());
    if (limits.requestsPerMinute() == 0 && limits.completionTokensPerDay() == 0) {
      return Future.succeededFuture();
    }
    long now = System.currentTimeMillis();
    String tenant = caller.tenant();
    Refusal refused = refusals.get(tenant);
    if (refused != null) {
      if (now < refused.until()) {
        // Refused here without asking the counters: nothing can let it through sooner.
        return Future.failedFuture(
            rateExceeded(
                tenant,
                limits,
                refused.until() - now,
                new RateHeaders(
                    limits.requestsPerMinute(),
                    0,
                    Math.max(0, refused.resetAt() - now),
                    limits.completionTokensPerDay(),
                    Math.max(0, limits.completionTokensPerDay() - refused.tokensToday()),
                    untilMidnight(now))));
      }
      refusals.remove(tenant, refused);
    }
    return counters
        .request(tenant, now, limits.requestsPerMinute(), limits.requestsBurst())
        .compose(
            count -> {
              RateHeaders headers =
                  new RateHeaders(
                      count.limit(),
                      count.remaining(),
                      count.resetMillis(),
                      limits.completionTokensPerDay(),
                      Math.max(0, limits.completionTokensPerDay() - count.tokensToday()),
                      untilMidnight(now));
              if (count.allowed()) {
                return Future.succeededFuture(headers);
              }
              refusals.put(
                  tenant,
                  new Refusal(
                      now + count.retryAfterMillis(),
                      now + count.resetMillis(),
                      count.tokensToday()));
              return Future.failedFuture(
                  rateExceeded(tenant, limits, count.retryAfterMillis(), headers));
            },
            e -> unavailable(tenant, "request", e).map((RateHeaders) null));
  }

  private static LimitExceeded rateExceeded(
      String tenant, TenantLimits limits, long retryAfterMillis, RateHeaders headers) {
    return new LimitExceeded(
        new Failure(
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
            "Rate limit reached for tenant "
                + tenant
                + ": "
                + limits.requestsPerMinute()
                + " requests per minute (limits.requests-per-minute). Retry in "
                + RateHeaders.duration(retryAfterMillis)
                + "."),
        null,
        seconds(retryAfterMillis),
        headers);
  }

  /**
   * A tenant refused for its rate: until when no request of its can pass, on any node (a refusal
   * never moves the count, and other nodes' requests only move it later), and the figures for the
   * headers. So a tenant past its rate costs its refusals no round trip to the counters.
   */
  private record Refusal(long until, long resetAt, long tokensToday) {}

  /**
   * The counters failed (a cluster that lost the entry's owner and its backup, say): the request is
   * let through, unlimited, rather than the API failing with them. Logged.
   */
  private static Future<Void> unavailable(String tenant, String what, Throwable e) {
    LOG.warn(
        "Tenant {}: its limits could not be checked for a {} ({}); let through",
        tenant,
        what,
        e.toString());
    return Future.succeededFuture();
  }

  /**
   * Admits generation {@code id} for its creator's tenant: checks {@code n} and the requested
   * tokens (400), the day's quota (429 quota_exceeded) and the running generations (429
   * rate_limit_exceeded), and takes a running slot. Completes with the request as it may run:
   * capped at {@code limits.max-tokens} and at what is left of the day's quota.
   */
  public Future<GenerationRequest> admit(GenerationRequest request, String id) {
    TenantLimits limits = of(request.creator().tenant());
    if (limits == TenantLimits.NONE) {
      return Future.succeededFuture(request);
    }
    try {
      checkShape(request, limits);
    } catch (LimitExceeded e) {
      return Future.failedFuture(e);
    }
    if (!limits.counted()) {
      return Future.succeededFuture(capped(request, limits.maxTokens()));
    }
    long now = System.currentTimeMillis();
    String tenant = request.creator().tenant();
    return counters
        .admit(
            tenant,
            id,
            now,
            limits.maxConcurrentGenerations(),
            limits.completionTokensPerDay(),
            staleMillis)
        .compose(
            admission ->
                switch (admission.verdict()) {
                  case TenantUsage.Admission.QUOTA ->
                      Future.failedFuture(
                          new LimitExceeded(
                              new Failure(
                                  429,
                                  "insufficient_quota",
                                  "quota_exceeded",
                                  "Tenant "
                                      + tenant
                                      + " has used its "
                                      + limits.completionTokensPerDay()
                                      + " completion tokens for today"
                                      + " (limits.completion-tokens-per-day); the quota renews"
                                      + " at midnight UTC."),
                              null,
                              seconds(untilMidnight(now)),
                              null));
                  case TenantUsage.Admission.CONCURRENCY ->
                      Future.failedFuture(
                          new LimitExceeded(
                              new Failure(
                                  429,
                                  "rate_limit_error",
                                  "rate_limit_exceeded",
                                  "Tenant "
                                      + tenant
                                      + " has "
                                      + admission.running()
                                      + " generations running, its limit"
                                      + " (limits.max-concurrent-generations); retry when one"
                                      + " ends."),
                              null,
                              1,
                              null));
                  default -> {
                    long cap = limits.maxTokens();
                    if (limits.completionTokensPerDay() > 0) {
                      long left = limits.completionTokensPerDay() - admission.tokensToday();
                      cap = cap == 0 ? left : Math.min(cap, left);
                    }
                    yield Future.succeededFuture(capped(request, cap));
                  }
                },
            e ->
                unavailable(tenant, "generation", e).map(v -> capped(request, limits.maxTokens())));
  }

  /** A generation admitted by {@link #admit} did not start after all: frees its slot. */
  public void release(GenerationRequest request, String id) {
    ended(request.creator(), id, 0);
  }

  /**
   * Generation {@code id} of {@code creator} ended with {@code completionTokens} produced: frees
   * its slot and counts its tokens. Completes once counted (at once for a tenant with nothing
   * counted); never fails: an update the counters refuse is tried again, then logged, and the slot
   * is forgotten at its stale time.
   */
  public Future<Void> ended(Creator creator, String id, long completionTokens) {
    if (!of(creator.tenant()).counted()) {
      return Future.succeededFuture();
    }
    return end(creator.tenant(), id, System.currentTimeMillis(), completionTokens, 1);
  }

  private Future<Void> end(String tenant, String id, long now, long tokens, int attempt) {
    return counters
        .end(tenant, id, now, tokens)
        .recover(
            e -> {
              if (attempt < END_ATTEMPTS) {
                return end(tenant, id, now, tokens, attempt + 1);
              }
              LOG.warn(
                  "Tenant {}: the end of generation {} ({} completion tokens) could not be counted:"
                      + " {}; its slot is freed at its stale time",
                  tenant,
                  id,
                  tokens,
                  e.toString());
              return Future.succeededFuture();
            });
  }

  private static void checkShape(GenerationRequest request, TenantLimits limits) {
    if (limits.maxN() > 0 && request.body().getValue("n") instanceof Number n) {
      if (n.doubleValue() > limits.maxN()) {
        throw new LimitExceeded(
            Failure.invalidRequest(
                "n_exceeded",
                "'n' may be at most "
                    + limits.maxN()
                    + " for this tenant (limits.max-n); tokenbus streams the first choice only."),
            "n",
            0,
            null);
      }
    }
    if (limits.maxTokens() == 0) {
      return;
    }
    // Both fields, each checked: servers disagree on which one they honour.
    for (String param : new String[] {"max_completion_tokens", "max_tokens"}) {
      if (!(request.body().getValue(param) instanceof Number asked)
          || asked.doubleValue() <= limits.maxTokens()) {
        continue;
      }
      throw new LimitExceeded(
          Failure.invalidRequest(
              "max_tokens_exceeded",
              "'"
                  + param
                  + "' may be at most "
                  + limits.maxTokens()
                  + " for this tenant (limits.max-tokens); got "
                  + asked
                  + "."),
          param,
          0,
          null);
    }
  }

  /** The request with its tokens capped at {@code cap} (0: as it is). */
  private static GenerationRequest capped(GenerationRequest request, long cap) {
    if (cap <= 0 || (request.maxTokens() != null && request.maxTokens() <= cap)) {
      return request;
    }
    int max = (int) Math.min(Integer.MAX_VALUE, cap);
    return request.withMaxTokens(max);
  }

  private static long untilMidnight(long nowMillis) {
    return TenantUsage.DAY_MILLIS - Math.floorMod(nowMillis, TenantUsage.DAY_MILLIS);
  }

  private static long seconds(long millis) {
    return Math.max(1, (millis + 999) / 1000);
  }
}
