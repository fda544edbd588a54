package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.NodeProcess;
import io.tokenbus.support.Poll;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Tenants' counts in a cluster of three real processes when one dies (SIGKILL): no count is lost
 * with it (each tenant's record has a backup on another member), and the running slot of a
 * generation it owned is freed where the generation ends after its takeover.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 180, timeUnit = TimeUnit.SECONDS)
@DisplayName("Tenant limits when a node dies (three processes)")
class ClusterLimitsIT {

  /** Enough tenants that some have their record's primary on the node that dies. */
  private static final int TENANTS = 12;

  private static final String ADMIN = "sk-admin-1234567890abcdef";
  private final List<NodeProcess> nodes = new ArrayList<>();

  @AfterEach
  void stopNodes() {
    nodes.forEach(NodeProcess::close);
  }

  private static String key(int tenant) {
    return "sk-tenant" + tenant + "-1234567890abcdef";
  }

  private static HttpResponse<Buffer> call(
      Vertx vertx, NodeProcess node, String path, String key, JsonObject body) {
    WebClient web =
        WebClient.create(
            vertx,
            new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(node.httpPort()));
    var request =
        (body == null ? web.get(path) : web.post(path)).putHeader("Authorization", "Bearer " + key);
    return await(body == null ? request.send() : request.sendJsonObject(body), 30, path);
  }

  @Test
  @DisplayName(
      "SIGKILL of a member: every tenant's request count goes on where it was, and the slot of a"
          + " generation it owned is freed when the generation ends on a survivor")
  void countsOutliveAKilledNode(Vertx vertx) throws Exception {
    TestCluster cluster = new TestCluster(3);
    Map<String, String> env = new HashMap<>();
    env.put(
        "TOKENBUS_API_KEYS",
        IntStream.range(0, TENANTS + 1)
            .mapToObj(i -> "t" + i + ":" + key(i))
            .collect(Collectors.joining(",")));
    env.put("TOKENBUS_ADMIN_KEY", ADMIN);
    // One request back every 20 s: none comes back while the member is declared dead.
    env.put("TOKENBUS_LIMITS_REQUESTS_PER_MINUTE", "3");
    env.put("TOKENBUS_LIMITS_MAX_CONCURRENT_GENERATIONS", "1");
    for (int i = 0; i < 3; i++) {
      NodeProcess node = NodeProcess.start("node-" + (char) ('a' + i), cluster.env(i, env));
      nodes.add(node);
      await(node.ready(), 90);
    }

    // The generation's tenant (the last one) starts a generation on node a, which owns it.
    String genKey = key(TENANTS);
    HttpResponse<Buffer> started =
        call(vertx, nodes.get(0), "/v1/generations", genKey, TestHub.mockRequest(200, 40));
    assertEquals(201, started.statusCode(), started.bodyAsString());
    String id = started.bodyAsJsonObject().getString("id");
    assertEquals(
        started.bodyAsJsonObject().getString("owner"),
        call(vertx, nodes.get(0), "/health", ADMIN, null).bodyAsJsonObject().getString("node"),
        "started where it was asked");
    assertEquals(
        429,
        call(vertx, nodes.get(1), "/v1/generations", genKey, TestHub.mockRequest(5, 100))
            .statusCode(),
        "its only slot is taken");

    // Every other tenant uses two of its three requests, on the nodes that will survive.
    for (int t = 0; t < TENANTS; t++) {
      for (int n = 1; n <= 2; n++) {
        HttpResponse<Buffer> used = call(vertx, nodes.get(n), "/v1/models", key(t), null);
        assertEquals(200, used.statusCode(), used.bodyAsString());
      }
    }

    nodes.get(0).kill();

    for (int t = 0; t < TENANTS; t++) {
      HttpResponse<Buffer> after = call(vertx, nodes.get(1 + t % 2), "/v1/models", key(t), null);
      assertEquals(200, after.statusCode(), after.bodyAsString());
      assertEquals(
          "0",
          after.getHeader("x-ratelimit-remaining-requests"),
          "tenant t" + t + "'s count was lost with the killed node");
    }

    // The generation is taken over and ends on a survivor, which frees its slot.
    await(
        Poll.until(
            vertx,
            () ->
                WebClient.create(
                        vertx,
                        new WebClientOptions()
                            .setDefaultHost("127.0.0.1")
                            .setDefaultPort(nodes.get(1).httpPort()))
                    .get("/v1/generations/" + id)
                    .putHeader("Authorization", "Bearer " + ADMIN)
                    .send()
                    .map(r -> r.bodyAsJsonObject().getString("status")),
            "completed"::equals,
            60_000),
        70);
    HttpResponse<Buffer> again =
        call(vertx, nodes.get(2), "/v1/generations", genKey, TestHub.mockRequest(5, 100));
    assertEquals(201, again.statusCode(), again.bodyAsString());
    assertTrue(again.bodyAsJsonObject().getString("id").startsWith("chatcmpl-"));
  }
}
