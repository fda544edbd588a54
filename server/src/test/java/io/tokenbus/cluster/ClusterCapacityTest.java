package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.support.Poll;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two nodes, one with room for one generation and one with room for three, and a short retention.
 */
@ExtendWith(VertxExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("Cluster capacity and expiry")
class ClusterCapacityTest {

  private static Map<String, String> capacity(int generations) {
    return Map.of(
        "TOKENBUS_GENERATION_MAX_CONCURRENT",
        String.valueOf(generations),
        "TOKENBUS_GENERATION_WORKERS",
        "2",
        "TOKENBUS_GENERATION_RETENTION_SECONDS",
        "2");
  }

  private final TestCluster cluster = new TestCluster(2);
  private int portA;
  private int portB;

  @BeforeAll
  void startCluster() {
    portA = cluster.start(0, capacity(1));
    portB = cluster.start(1, capacity(3));
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  private static WebClient web(Vertx vertx, int port) {
    return WebClient.create(
        vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port));
  }

  @Test
  @DisplayName(
      "requests through one node fill every node before any is refused; the refusal is a 429 with Retry-After")
  void fillsTheClusterThenRefuses(Vertx vertx) {
    WebClient a = web(vertx, portA);
    for (int round = 0; round < 2; round++) {
      List<String> running = new ArrayList<>();
      Set<String> owners = new HashSet<>();
      for (int i = 0; i < 4; i++) {
        var response =
            await(a.post("/v1/generations").sendJsonObject(TestHub.mockRequest(10_000, 20)));
        assertEquals(
            201,
            response.statusCode(),
            "round " + round + ", generation " + (i + 1) + ": " + response.bodyAsString());
        running.add(response.bodyAsJsonObject().getString("id"));
        owners.add(response.bodyAsJsonObject().getString("owner"));
      }
      assertEquals(2, owners.size(), "both nodes run generations");
      var refused = await(a.post("/v1/generations").sendJsonObject(TestHub.mockRequest(10, 20)));
      assertEquals(429, refused.statusCode());
      assertEquals("1", refused.getHeader("Retry-After"));
      assertEquals(
          "capacity_exceeded", refused.bodyAsJsonObject().getJsonObject("error").getString("code"));
      for (String id : running) {
        assertEquals(200, await(a.post("/v1/generations/" + id + "/cancel").send()).statusCode());
      }
    }
  }

  @Test
  @DisplayName("a finished generation expires on every node after generation.retention-seconds")
  void expiresEverywhere(Vertx vertx) {
    JsonObject created =
        await(
                web(vertx, portA)
                    .post("/v1/generations")
                    .sendJsonObject(TestHub.mockRequest(3, 1000)))
            .bodyAsJsonObject();
    String path = "/v1/generations/" + created.getString("id");
    await(
        Poll.until(
            vertx,
            () ->
                web(vertx, portB)
                    .get(path)
                    .send()
                    .map(r -> r.bodyAsJsonObject().getString("status")),
            "completed"::equals,
            5000));
    for (int port : List.of(portA, portB)) {
      await(
          Poll.until(
              vertx,
              () -> web(vertx, port).get(path).send().map(r -> r.statusCode()),
              status -> status == 404,
              10_000));
    }
  }
}
