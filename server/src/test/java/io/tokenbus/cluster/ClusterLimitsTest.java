package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Tenant limits across nodes: a tenant gets each limit once however many nodes it calls, one
 * tenant's exhaustion leaves another's answers unchanged, and a node's death forgets no count.
 */
@ExtendWith(VertxExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("Tenant limits in a cluster")
class ClusterLimitsTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final String INITECH = "sk-initech-1234567890abcdef";
  private static final Map<String, String> ENV =
      Map.of(
          "TOKENBUS_API_KEYS",
          "acme:" + ACME + ",globex:" + GLOBEX + ",initech:" + INITECH,
          "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE",
          "6",
          "TOKENBUS_LIMITS_MAX_CONCURRENT_GENERATIONS",
          "1");

  private final TestCluster cluster = new TestCluster(2);
  private int portA;
  private int portB;

  @BeforeAll
  void startCluster() {
    portA = cluster.start(0, ENV);
    portB = cluster.start(1, ENV);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  private static HttpResponse<Buffer> call(
      Vertx vertx, int port, String path, String key, JsonObject body) {
    WebClient web =
        WebClient.create(
            vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port));
    var request =
        (body == null ? web.get(path) : web.post(path)).putHeader("Authorization", "Bearer " + key);
    return await(body == null ? request.send() : request.sendJsonObject(body));
  }

  @Test
  @Order(1)
  @DisplayName(
      "requests on both nodes count against one limit; another tenant's remaining is untouched")
  void requestsAcrossNodes(Vertx vertx) {
    for (int i = 0; i < 3; i++) {
      assertEquals(200, call(vertx, portA, "/v1/models", ACME, null).statusCode());
      assertEquals(200, call(vertx, portB, "/v1/models", ACME, null).statusCode());
    }
    HttpResponse<Buffer> refusedA = call(vertx, portA, "/v1/models", ACME, null);
    HttpResponse<Buffer> refusedB = call(vertx, portB, "/v1/models", ACME, null);
    assertEquals(429, refusedA.statusCode());
    assertEquals(429, refusedB.statusCode());
    assertEquals(
        "rate_limit_exceeded",
        refusedB.bodyAsJsonObject().getJsonObject("error").getString("code"));

    HttpResponse<Buffer> other = call(vertx, portB, "/v1/models", GLOBEX, null);
    assertEquals(200, other.statusCode());
    assertEquals("5", other.getHeader("x-ratelimit-remaining-requests"));
  }

  @Test
  @Order(2)
  @DisplayName(
      "a generation running on one node takes the tenant's only slot on the other; ending it"
          + " there frees it")
  void concurrencyAcrossNodes(Vertx vertx) {
    HttpResponse<Buffer> started =
        call(vertx, portA, "/v1/generations", INITECH, TestHub.mockRequest(2000, 20));
    assertEquals(201, started.statusCode(), started.bodyAsString());
    String id = started.bodyAsJsonObject().getString("id");
    HttpResponse<Buffer> refused =
        call(vertx, portB, "/v1/generations", INITECH, TestHub.mockRequest(5, 100));
    assertEquals(429, refused.statusCode(), refused.bodyAsString());
    assertEquals(
        "rate_limit_exceeded", refused.bodyAsJsonObject().getJsonObject("error").getString("code"));
    HttpResponse<Buffer> cancelled =
        call(vertx, portB, "/v1/generations/" + id + "/cancel", INITECH, new JsonObject());
    assertEquals(200, cancelled.statusCode(), cancelled.bodyAsString());
    assertEquals(
        201,
        call(vertx, portB, "/v1/generations", INITECH, TestHub.mockRequest(5, 100)).statusCode());
  }

  @Test
  @Order(3)
  @DisplayName("a node's death forgets no count: the survivor still refuses the tenant")
  void countsSurviveANode(Vertx vertx) {
    assertEquals(429, call(vertx, portB, "/v1/models", ACME, null).statusCode());
    cluster.stop(0);
    HttpResponse<Buffer> refused = call(vertx, portB, "/v1/models", ACME, null);
    assertEquals(429, refused.statusCode(), "the count was lost with node A");
  }
}
