package io.tokenbus.limits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** A tenant past its rate is refused on the node without a round trip to the counters. */
@DisplayName("Rate refusals are remembered until they could pass")
class LimitsRefusalTest {

  @Test
  @DisplayName("after one refusal, the next ones until its Retry-After ask the counters nothing")
  void refusalsStayLocal() {
    TokenbusConfig config =
        ConfigLoader.load(
            (Path) null,
            Map.of(
                "TOKENBUS_API_KEYS", "acme:sk-acme-1234567890abcdef",
                "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE", "2"));
    AtomicInteger asked = new AtomicInteger();
    InMemoryUsageCounters counters = new InMemoryUsageCounters();
    UsageCounters counting =
        new UsageCounters() {
          @Override
          public Future<TenantUsage.RequestCount> request(
              String tenant, long nowMillis, int perMinute, int burst) {
            asked.incrementAndGet();
            return counters.request(tenant, nowMillis, perMinute, burst);
          }

          @Override
          public Future<TenantUsage.Admission> admit(
              String tenant, String id, long now, int max, long quota, long stale) {
            return counters.admit(tenant, id, now, max, quota, stale);
          }

          @Override
          public Future<Void> end(String tenant, String id, long now, long tokens) {
            return counters.end(tenant, id, now, tokens);
          }

          @Override
          public Future<Void> seed(String tenant, long now, long tokens) {
            return counters.seed(tenant, now, tokens);
          }
        };
    Limits limits = new Limits(config, counting);
    Principal acme =
        new Principal("acme", "acme#1", null, EnumSet.of(Scope.GENERATE, Scope.WATCH), null);
    assertTrue(limits.countRequest(acme).succeeded());
    assertTrue(limits.countRequest(acme).succeeded());
    Future<RateHeaders> refused = limits.countRequest(acme);
    assertInstanceOf(LimitExceeded.class, refused.cause());
    assertEquals(3, asked.get());
    for (int i = 0; i < 100; i++) {
      LimitExceeded again = (LimitExceeded) limits.countRequest(acme).cause();
      assertEquals("rate_limit_exceeded", again.failure().code());
      assertTrue(again.retryAfterSeconds() >= 1 && again.retryAfterSeconds() <= 30);
      assertEquals(0, again.headers().requestsRemaining());
    }
    assertEquals(3, asked.get(), "the counters were asked again while the refusal held");
  }
}
