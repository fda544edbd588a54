package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Access control across nodes: tenants travel with what they created, and a token one node signs is
 * accepted by every other (the nodes agree on the signing key through the cluster).
 */
@ExtendWith(VertxExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("Access control in a cluster")
class ClusterAuthTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final Map<String, String> KEYS =
      Map.of("TOKENBUS_API_KEYS", "acme:" + ACME + ",globex:" + GLOBEX);

  private final TestCluster cluster = new TestCluster(2);
  private int portA;
  private int portB;

  @BeforeAll
  void startCluster() {
    portA = cluster.start(0, KEYS);
    portB = cluster.start(1, KEYS);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  private static HttpResponse<Buffer> call(
      Vertx vertx, int port, String method, String path, String credential, JsonObject body) {
    WebClient web =
        WebClient.create(
            vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port));
    var request =
        (method.equals("GET") ? web.get(path) : web.post(path))
            .putHeader("Authorization", "Bearer " + credential);
    return await(body == null ? request.send() : request.sendJsonObject(body));
  }

  @Test
  @DisplayName(
      "a generation started on one node keeps its tenant on the other, and its watch token from"
          + " the first node streams it from the second")
  void watchTokenOnAnotherNode(Vertx vertx) {
    HttpResponse<Buffer> created =
        call(vertx, portA, "POST", "/v1/generations", ACME, TestHub.mockRequest(30, 100));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");
    String watch = created.bodyAsJsonObject().getString("watch_token");

    SseClient events =
        await(
            SseClient.get(
                SseClient.client(vertx),
                portB,
                "/v1/generations/" + id + "/events?access_token=" + watch,
                Map.of()));
    await(events.ended(), 20);
    assertEquals(MockText.text(30), SseEvent.text(events.events().items()));
    HttpResponse<Buffer> status = call(vertx, portB, "GET", "/v1/generations/" + id, ACME, null);
    assertEquals("acme", status.bodyAsJsonObject().getString("tenant"));
    assertEquals(
        404, call(vertx, portB, "GET", "/v1/generations/" + id, GLOBEX, null).statusCode());
  }

  @Test
  @DisplayName(
      "session tokens from one node work on the other: a join token posts, a view token reads and"
          + " may not post")
  void sessionTokensOnAnotherNode(Vertx vertx) {
    HttpResponse<Buffer> created =
        call(vertx, portA, "POST", "/v1/sessions", ACME, new JsonObject().put("title", "x"));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    JsonObject session = created.bodyAsJsonObject();
    String base = "/v1/sessions/" + session.getString("id");
    JsonObject message = new JsonObject().put("author", "Ann").put("content", "hello");

    assertEquals(
        202,
        call(vertx, portB, "POST", base + "/messages", session.getString("join_token"), message)
            .statusCode());
    assertEquals(
        200, call(vertx, portB, "GET", base, session.getString("view_token"), null).statusCode());
    assertEquals(
        403,
        call(vertx, portB, "POST", base + "/messages", session.getString("view_token"), message)
            .statusCode());
    assertEquals(404, call(vertx, portB, "GET", base, GLOBEX, null).statusCode());
  }
}
