package io.tokenbus.bench;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Not a benchmark: proves the load tool still works end to end (a few seconds, a few subscribers).
 */
@ExtendWith(VertxExtension.class)
@DisplayName("The load tool, smoke run")
class BenchSmokeTest {

  @ParameterizedTest
  @ValueSource(strings = {"sse", "ws"})
  @DisplayName(
      "50 subscribers (SSE, then WebSocket) of one generation at 100 tokens/s for 2 s: every token counted once")
  void smoke(String transport, Vertx vertx) {
    BenchUpstream upstream = new BenchUpstream(vertx, 100, 200);
    int upstreamPort = await(upstream.start(0));
    TestHub hub =
        await(
            TestHub.start(
                vertx, Map.of("OPENAI_BASE_URL", "http://127.0.0.1:" + upstreamPort + "/v1")));
    Bench.Report report =
        await(
            Bench.run(
                vertx,
                upstream,
                new Bench.Options(
                    "127.0.0.1",
                    hub.port(),
                    upstreamPort,
                    50,
                    100,
                    2,
                    String.valueOf(ProcessHandle.current().pid()),
                    25,
                    transport,
                    "tokenbus",
                    20,
                    List.of(hub.port()),
                    1)),
            30);
    assertEquals(50 * 200, report.delivered());
    assertEquals(0, report.lost());
    assertEquals(0, report.duplicated());
    assertEquals(0, report.outOfOrder());
    assertEquals(50L * 200, report.latencyMicros().getTotalCount());
    assertEquals(
        50L * 100,
        report.steadyLatencyMicros().getTotalCount()); // the first second's 100 tokens settle
    assertTrue(report.latencyMicros().getValueAtPercentile(50) > 0);
    assertTrue(report.hubCpuSeconds() > 0 && report.hubRssKb() > 0, report.asMap().toString());
  }

  @Test
  @DisplayName(
      "across a three-node cluster: the subscribers read from the two nodes that do not run the generation, every token once")
  void crossNode(Vertx vertx) {
    BenchUpstream upstream = new BenchUpstream(vertx, 100, 100);
    int upstreamPort = await(upstream.start(0));
    try (TestCluster cluster = new TestCluster(3)) {
      Map<String, String> env =
          Map.of("OPENAI_BASE_URL", "http://127.0.0.1:" + upstreamPort + "/v1");
      List<Integer> ports =
          List.of(cluster.start(0, env), cluster.start(1, env), cluster.start(2, env));
      Bench.Options options =
          new Bench.Options(
              "127.0.0.1",
              ports.get(0),
              upstreamPort,
              30,
              100,
              1,
              String.valueOf(ProcessHandle.current().pid()),
              10,
              "sse",
              "tokenbus",
              20,
              ports,
              0);
      Bench.Report report = await(Bench.run(vertx, upstream, options), 60);
      assertEquals(30 * 100, report.delivered());
      assertEquals(0, report.lost() + report.duplicated() + report.outOfOrder());
      Bench.Placement placement = report.placement();
      assertTrue(ports.contains(placement.ownerPort()), placement.toString());
      assertEquals(
          ports.stream().filter(p -> p != placement.ownerPort()).toList(),
          placement.subscriberPorts());
      assertEquals(placement.ownerPort(), report.asMap().get("owner_port"));
      // The first node took the request, so it runs the generation; the others serve every
      // subscriber.
      assertEquals(new Bench.Placement(ports.get(0), ports.subList(1, 3)), placement);
      assertEquals(
          30L * 100,
          report.steadyLatencyMicros().getTotalCount()); // no settling asked: every token
    }
  }

  @Test
  @DisplayName(
      "the time-to-first-token probe measures both paths and the idle probe weighs each subscriber")
  void probes(Vertx vertx) throws Exception {
    int upstreamPort =
        TestCluster
            .freePort(); // below the ephemeral range: no outgoing connection takes it meanwhile
    TestHub hub =
        await(
            TestHub.start(
                vertx, Map.of("OPENAI_BASE_URL", "http://127.0.0.1:" + upstreamPort + "/v1")));
    String pid = String.valueOf(ProcessHandle.current().pid());
    Bench.Options options =
        new Bench.Options(
            "127.0.0.1", hub.port(), upstreamPort, 20, 50, 1, pid, 10, "sse", "tokenbus", 5);
    Map<String, Object> ttft =
        await(vertx.executeBlocking(() -> Probes.ttft(vertx, options, 5, 2)), 60);
    assertEquals(5, ttft.get("requests"));
    assertTrue(
        (Double) ttft.get("tokenbus_ms_p50") > 0 && (Double) ttft.get("direct_ms_p50") > 0,
        ttft.toString());
    assertTrue(
        (Double) ttft.get("tokenbus_ms_p50") > (Double) ttft.get("direct_ms_p50"),
        "the hub adds a hop: " + ttft);
    Map<String, Object> idle = await(vertx.executeBlocking(() -> Probes.idle(vertx, options)), 60);
    assertEquals(20, idle.get("subscribers"));
    assertTrue(
        (Long) idle.get("heap_kb_after") > 0 && (Long) idle.get("rss_kb_after") > 0,
        idle.toString());
  }
}
