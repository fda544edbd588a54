package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.NodeProcess;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestCertificates;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real tokenbus processes with event-bus TLS. Two have certificates signed by the cluster's
 * CA. The third has a certificate from another CA but trusts the cluster's (which is public): the
 * most an outsider without the CA's key can do. It still joins Hazelcast, which open source cannot
 * refuse, but every event-bus link between it and the other two fails its TLS handshake.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 180, timeUnit = TimeUnit.SECONDS)
@DisplayName("Event-bus TLS between nodes (three processes)")
class EventBusTlsIT {

  private static final int TOKENS = 200;

  /** How long a viewer on the refused node is watched for an event that must not come. */
  private static final int NOTHING_MORE_SECONDS = 2;

  @TempDir Path certificates;

  private final List<NodeProcess> nodes = new ArrayList<>();

  @AfterEach
  void stopNodes() {
    nodes.forEach(NodeProcess::close);
  }

  private NodeProcess start(String name, Map<String, String> env) throws Exception {
    NodeProcess node = NodeProcess.start(name, env);
    nodes.add(node);
    await(node.ready(), 90, name + " serving"); // one after another: Hazelcast forms faster
    return node;
  }

  private static WebClient web(Vertx vertx, NodeProcess node) {
    return WebClient.create(
        vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(node.httpPort()));
  }

  private static String nodeId(Vertx vertx, NodeProcess node) {
    return await(web(vertx, node).get("/health").send()).bodyAsJsonObject().getString("node");
  }

  /** The warning a node logs about a member it cannot exchange event-bus messages with. */
  private static boolean refusal(String line, String member) {
    return line.contains("EventBusProbeVerticle")
        && line.contains("Member " + member)
        && line.contains("exchanges no event-bus messages");
  }

  @Test
  @DisplayName(
      "nodes with certificates of the cluster's CA stream to each other; a node with another CA's"
          + " certificate gets no live event, its requests fail, and each side logs the refusal")
  void nodeWithoutTheCaIsRefused(Vertx vertx) throws Exception {
    TestCertificates ca = TestCertificates.authority("tokenbus-test-ca", certificates);
    TestCertificates outsider = TestCertificates.authority("outsider-ca", certificates);
    TestCluster cluster = new TestCluster(3);
    NodeProcess a = start("tls-a", cluster.env(0, ca.node("node-a", ca).env()));
    NodeProcess b = start("tls-b", cluster.env(1, ca.node("node-b", ca).env()));
    NodeProcess c = start("tls-c", cluster.env(2, outsider.node("node-c", ca).env()));
    String idA = nodeId(vertx, a);
    String idB = nodeId(vertx, b);
    String idC = nodeId(vertx, c);

    JsonObject created =
        await(web(vertx, a).post("/v1/generations").sendJsonObject(TestHub.mockRequest(TOKENS, 40)))
            .bodyAsJsonObject();
    assertEquals(idA, created.getString("owner"), "it runs on the node that took it");
    String path = "/v1/generations/" + created.getString("id");
    HttpClientAgent client = SseClient.client(vertx);
    SseClient onC = await(SseClient.get(client, c.httpPort(), path + "/events", Map.of()));
    SseClient onB = await(SseClient.get(client, b.httpPort(), path + "/events", Map.of()));
    Future<HttpResponse<Buffer>> cancelFromC = web(vertx, c).post(path + "/cancel").send();

    // The trusted pair: every event, live, across the event bus, and the cancel never arrived.
    await(onB.ended(), 60, "the viewer on B ending");
    List<SseEvent> onBEvents = onB.events().items();
    assertEquals(TOKENS + 1, onBEvents.size(), "every delta and the end, on B");
    assertEquals("done", onBEvents.get(TOKENS).event(), "B's viewer: " + onBEvents.get(TOKENS));
    assertEquals(MockText.text(TOKENS), SseEvent.text(onBEvents));

    // The refused node: a request to the owner times out (it never reached A)...
    HttpResponse<Buffer> cancelled = await(cancelFromC, 30, "the cancel sent through C");
    assertTrue(
        cancelled.statusCode() >= 500,
        "the cancel through C fails: " + cancelled.statusCode() + " " + cancelled.bodyAsString());
    // ...and its viewer got what C read from Hazelcast's copy of the log (on joining, and once
    // 1.5 s later), but no live event: it has not seen the end, which B saw a while ago.
    try {
      onC.events().whenAny(SseEvent::terminal).await(NOTHING_MORE_SECONDS, TimeUnit.SECONDS);
      throw new AssertionError("the viewer on C saw the end: " + onC.events().items());
    } catch (TimeoutException expected) {
      // nothing came
    }
    assertTrue(
        onC.events().size() < TOKENS,
        "C's viewer got " + onC.events().size() + " events: live ones must not reach it");
    onC.close();

    // Each trusted node says which member it refuses, and the refused node says it too.
    await(a.printed(line -> refusal(line, idC)), 30, "A's warning about C");
    await(b.printed(line -> refusal(line, idC)), 30, "B's warning about C");
    await(c.printed(line -> refusal(line, idA)), 30, "C's warning about A");
    await(c.printed(line -> refusal(line, idB)), 30, "C's warning about B");
    assertEquals(List.of(), a.lines(line -> refusal(line, idB)), "A and B trust each other");
    assertEquals(List.of(), b.lines(line -> refusal(line, idA)), "A and B trust each other");
  }
}
