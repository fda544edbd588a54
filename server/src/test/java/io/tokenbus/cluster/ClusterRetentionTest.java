package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.support.Poll;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The replicated store's bounds: each node keeps at most its own share of finished generations. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("Cluster retention bounds")
class ClusterRetentionTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";

  private static WebClient web(Vertx vertx, int port) {
    return WebClient.create(
        vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port));
  }

  /** Runs a generation to its end through {@code web}'s node, as acme; returns its id. */
  private static String finished(WebClient web) {
    HttpResponse<Buffer> done =
        await(
            web.post("/v1/chat/completions")
                .putHeader("Authorization", "Bearer " + ACME)
                .sendJsonObject(TestHub.mockRequest(3, 1_000_000)));
    assertEquals(200, done.statusCode(), done.bodyAsString());
    return done.getHeader("X-Generation-Id");
  }

  private static Future<String> code(WebClient web, String key, String id) {
    return web.get("/v1/generations/" + id)
        .putHeader("Authorization", "Bearer " + key)
        .send()
        .map(
            r ->
                r.statusCode() == 200
                    ? "ok"
                    : r.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName(
      "past generation.max-retained a node's oldest finished generations are evicted and answer"
          + " 404 generation_expired on every node (generation_not_found to another tenant);"
          + " running ones stay, and each node counts what it finished")
  void boundedPerNode(Vertx vertx) {
    try (TestCluster cluster = new TestCluster(2)) {
      Map<String, String> env =
          Map.of(
              "TOKENBUS_API_KEYS",
              "acme:" + ACME + ",globex:" + GLOBEX,
              "TOKENBUS_GENERATION_MAX_RETAINED",
              "3",
              "TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS",
              "0");
      WebClient a = web(vertx, cluster.start(0, env));
      WebClient b = web(vertx, cluster.start(1, env));

      HttpResponse<Buffer> slow =
          await(
              a.post("/v1/generations")
                  .putHeader("Authorization", "Bearer " + ACME)
                  .sendJsonObject(TestHub.mockRequest(10_000, 2)));
      assertEquals(201, slow.statusCode(), slow.bodyAsString());
      String running = slow.bodyAsJsonObject().getString("id");

      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        ids.add(finished(a));
      }
      for (WebClient node : List.of(a, b)) {
        for (String evicted : ids.subList(0, 2)) {
          await(
              Poll.until(
                  vertx, () -> code(node, ACME, evicted), "generation_expired"::equals, 10_000));
          assertEquals("generation_not_found", await(code(node, GLOBEX, evicted)));
        }
        for (String kept : ids.subList(2, 5)) {
          assertEquals("ok", await(code(node, ACME, kept)), kept);
        }
        assertEquals("ok", await(code(node, ACME, running)), "a running one is never evicted");
        assertEquals("generation_not_found", await(code(node, ACME, "chatcmpl-never-was")));
      }

      // Node b counts only what it finished: two there evict nothing of a's.
      List<String> onB = List.of(finished(b), finished(b));
      for (String kept : ids.subList(2, 5)) {
        assertEquals("ok", await(code(b, ACME, kept)), kept);
      }
      for (String kept : onB) {
        assertEquals("ok", await(code(a, ACME, kept)), kept);
      }
      assertEquals(
          200,
          await(
                  a.post("/v1/generations/" + running + "/cancel")
                      .putHeader("Authorization", "Bearer " + ACME)
                      .send())
              .statusCode());
    }
  }
}
