package io.tokenbus.bench;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;

/** Not a benchmark: proves the load tool still works end to end (a few seconds, a few subscribers). */
@ExtendWith(VertxExtension.class)
@DisplayName("The load tool, smoke run")
class BenchSmokeTest {

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"sse", "ws"})
  @DisplayName("50 subscribers (SSE, then WebSocket) of one generation at 100 tokens/s for 2 s: every token counted once")
  void smoke(String transport, Vertx vertx) {
    BenchUpstream upstream = new BenchUpstream(vertx, 100, 200);
    int upstreamPort = await(upstream.start(0));
    TestHub hub = await(TestHub.start(vertx, Map.of("OPENAI_BASE_URL", "http://127.0.0.1:" + upstreamPort + "/v1")));
    Bench.Report report = await(Bench.run(vertx, upstream, new Bench.Options("127.0.0.1", hub.port(), upstreamPort, 50, 100, 2,
        String.valueOf(ProcessHandle.current().pid()), 25, transport, "tokenbus")), 30);
    assertEquals(50 * 200, report.delivered());
    assertEquals(0, report.lost());
    assertEquals(0, report.duplicated());
    assertEquals(0, report.outOfOrder());
    assertEquals(50L * 200, report.latencyMicros().getTotalCount());
    assertTrue(report.latencyMicros().getValueAtPercentile(50) > 0);
    assertTrue(report.hubCpuSeconds() >= 0 && report.hubRssKb() > 0, report.asMap().toString());
  }
}
