package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.core.HazelcastInstance;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
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
 * tenant's exhaustion leaves another's answers unchanged, and a node leaving forgets no count.
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
          "acme:"
              + ACME
              + ",globex:"
              + GLOBEX
              + ",initech:"
              + INITECH
              + ",hooli:sk-hooli-1234567890abcdef,umbrella:sk-umbrella-1234567890abcdef"
              + ",soylent:sk-soylent-1234567890abcdef",
          "TOKENBUS_LIMITS_MAX_SESSION_BYTES",
          "40000",
          "TOKENBUS_LIMITS_MAX_SESSIONS",
          "2",
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
  @DisplayName("a tenant's sessions on both nodes count against one limit")
  void sessionsAcrossNodes(Vertx vertx) {
    String umbrella = "sk-umbrella-1234567890abcdef";
    assertEquals(201, call(vertx, portA, "/v1/sessions", umbrella, new JsonObject()).statusCode());
    assertEquals(201, call(vertx, portB, "/v1/sessions", umbrella, new JsonObject()).statusCode());
    HttpResponse<Buffer> refused = call(vertx, portA, "/v1/sessions", umbrella, new JsonObject());
    assertEquals(429, refused.statusCode(), refused.bodyAsString());
    assertEquals(
        "session_limit_reached",
        refused.bodyAsJsonObject().getJsonObject("error").getString("code"));
    assertEquals(201, call(vertx, portB, "/v1/sessions", GLOBEX, new JsonObject()).statusCode());
  }

  @Test
  @Order(4)
  @DisplayName(
      "a tenant's session bytes filled through one node are refused on the other within its next"
          + " sum")
  void sessionBytesAcrossNodes(Vertx vertx) {
    String soylent = "sk-soylent-1234567890abcdef";
    String id =
        call(vertx, portA, "/v1/sessions", soylent, new JsonObject())
            .bodyAsJsonObject()
            .getString("id");
    JsonObject question =
        new JsonObject().put("author", "ann").put("content", "a long question ".repeat(500));
    HttpResponse<Buffer> onA = null;
    for (int i = 0; i < 4 && (onA == null || onA.statusCode() == 202); i++) {
      onA = call(vertx, portA, "/v1/sessions/" + id + "/messages", soylent, question);
    }
    assertEquals(429, onA.statusCode(), "four 8,000-character questions fit in 40,000 bytes");
    assertEquals(
        "session_storage_full", onA.bodyAsJsonObject().getJsonObject("error").getString("code"));
    // Node B learns of A's growth at its next sum of the cluster's sessions (every 2 s): asking
    // it sooner would spend the tenant's requests (six a minute here), so the test waits for two
    // sums, then asks once.
    await(vertx.timer(4500));
    HttpResponse<Buffer> onB = call(vertx, portB, "/v1/sessions", soylent, new JsonObject());
    assertEquals(429, onB.statusCode(), onB.bodyAsString());
    assertEquals(
        "session_storage_full", onB.bodyAsJsonObject().getJsonObject("error").getString("code"));
    assertEquals(201, call(vertx, portB, "/v1/sessions", GLOBEX, new JsonObject()).statusCode());
  }

  @Test
  @Order(5)
  @DisplayName(
      "the node that holds a tenant's count leaves: the survivor goes on from that count, not"
          + " from zero")
  void countsSurviveTheirNode(Vertx vertx) {
    // A tenant of its own: two of its six requests used.
    String hooli = "sk-hooli-1234567890abcdef";
    call(vertx, portA, "/v1/models", INITECH, null); // the cluster is warm
    int[] ports = {portA, portB};
    HttpResponse<Buffer> used = null;
    for (int i = 0; i < 2; i++) {
      used = call(vertx, ports[i], "/v1/models", hooli, null);
      assertEquals(200, used.statusCode(), used.bodyAsString());
    }
    assertEquals("4", used.getHeader("x-ratelimit-remaining-requests"));
    int owner = ownerOf("hooli");
    cluster.stop(owner);
    HttpResponse<Buffer> after = call(vertx, ports[1 - owner], "/v1/models", hooli, null);
    assertEquals(200, after.statusCode());
    // A fresh count would say 5; one request comes back every 10 s, so 4 if the test was slow.
    int remaining = Integer.parseInt(after.getHeader("x-ratelimit-remaining-requests"));
    assertTrue(remaining <= 4, "the count was lost with its node: " + remaining + " remaining");
  }

  /** The index of the node whose member owns {@code key}'s partition of tokenbus.limits. */
  private int ownerOf(String key) {
    for (int i = 0; i < 2; i++) {
      HazelcastInstance hazelcast =
          ((HazelcastClusterManager) ((VertxInternal) cluster.node(i).vertx()).clusterManager())
              .getHazelcastInstance();
      if (hazelcast.getPartitionService().getPartition(key).getOwner().localMember()) {
        return i;
      }
    }
    throw new IllegalStateException("no node owns " + key);
  }
}
