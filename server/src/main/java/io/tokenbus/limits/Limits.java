package io.tokenbus.limits;

import io.tokenbus.auth.Principal;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

/**
 * Tenants' limits and quotas, the one place they are decided: a request is counted as it arrives
 * ({@link #countRequest}), a generation is admitted before any worker is asked ({@link #admit}),
 * and its slot and tokens are settled when it ends, on whichever node ends it ({@link #ended}). The
 * admin key's tenant ({@code *}) and every caller when auth is off are not limited: there is no
 * tenant to tell apart from another.
 */
public final class Limits {

  private final TokenbusConfig.Limits config;
  private final boolean enabled;
  private final UsageCounters counters;

  /** How long a running slot is kept if its end is never seen: the longest run, and a minute. */
  private final long staleMillis;

  public Limits(TokenbusConfig config, UsageCounters counters) {
    this.config = config.limits();
    this.enabled = config.auth().enabled();
    this.counters = counters;
    this.staleMillis = (config.generation().maxDurationSeconds() + 60) * 1000L;
  }

  /** The limits of {@code tenant}; none for the admin key's, or when auth is off. */
  public TenantLimits of(String tenant) {
    return !enabled || Principal.ALL_TENANTS.equals(tenant) ? TenantLimits.NONE : config.of(tenant);
  }

  /**
   * Counts one request of {@code caller}: completes with the headers to answer with (null when the
   * tenant has no limit to report), or fails with {@link LimitExceeded} (429 rate_limit_exceeded)
   * carrying those headers' figures in its message.
   */
  public Future<RateHeaders> countRequest(Principal caller) {
    TenantLimits limits = of(caller.tenant());
    if (limits.requestsPerMinute() == 0 && limits.completionTokensPerDay() == 0) {
      return Future.succeededFuture();
    }
    long now = System.currentTimeMillis();
    return counters
        .request(caller.tenant(), now, limits.requestsPerMinute())
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
              return Future.failedFuture(
                  new LimitExceeded(
                      new Failure(
                          429,
                          "rate_limit_error",
                          "rate_limit_exceeded",
                          "Rate limit reached for tenant "
                              + caller.tenant()
                              + ": "
                              + limits.requestsPerMinute()
                              + " requests per minute (limits.requests-per-minute). Retry in "
                              + RateHeaders.duration(count.retryAfterMillis())
                              + "."),
                      null,
                      seconds(count.retryAfterMillis()),
                      headers));
            });
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
                });
  }

  /** A generation admitted by {@link #admit} did not start after all: frees its slot. */
  public void release(GenerationRequest request, String id) {
    ended(request.creator(), id, 0);
  }

  /** Generation {@code id} of {@code creator} ended with {@code completionTokens} produced. */
  public void ended(Creator creator, String id, long completionTokens) {
    if (of(creator.tenant()).counted()) {
      counters.end(creator.tenant(), id, System.currentTimeMillis(), completionTokens);
    }
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
    if (limits.maxTokens() > 0
        && request.maxTokens() != null
        && request.maxTokens() > limits.maxTokens()) {
      String param =
          request.body().containsKey("max_completion_tokens")
              ? "max_completion_tokens"
              : "max_tokens";
      throw new LimitExceeded(
          Failure.invalidRequest(
              "max_tokens_exceeded",
              "'"
                  + param
                  + "' may be at most "
                  + limits.maxTokens()
                  + " for this tenant (limits.max-tokens); got "
                  + request.maxTokens()
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
    return new GenerationRequest(
        request.model(),
        request.body(),
        max,
        request.mockTokensPerSecond(),
        request.session(),
        request.creator());
  }

  /**
   * The {@code max_completion_tokens} or {@code max_tokens} the client put in its body, or null.
   */
  public static Integer requested(JsonObject body) {
    Object value = body.getValue("max_completion_tokens");
    if (!(value instanceof Number)) {
      value = body.getValue("max_tokens");
    }
    return value instanceof Number n ? n.intValue() : null;
  }

  private static long untilMidnight(long nowMillis) {
    return TenantUsage.DAY_MILLIS - Math.floorMod(nowMillis, TenantUsage.DAY_MILLIS);
  }

  private static long seconds(long millis) {
    return Math.max(1, (millis + 999) / 1000);
  }
}
