package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.NodeProcess;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Three real tokenbus processes on 127.0.0.1. The node that owns a running generation dies
 * (SIGKILL) or shuts down (SIGTERM) mid-answer; the others take it over and every viewer ends with
 * the whole text, gap-free, with one terminal event.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 180, timeUnit = TimeUnit.SECONDS)
@DisplayName("Cluster failover (three processes)")
class ClusterFailoverIT {

  private static final int TOKENS = 200;
  private final List<NodeProcess> nodes = new ArrayList<>();

  @AfterEach
  void stopNodes() {
    nodes.forEach(NodeProcess::close);
  }

  private List<NodeProcess> startCluster(TestCluster cluster, int size) throws Exception {
    for (int i = 0; i < size; i++) {
      NodeProcess node = NodeProcess.start("node-" + (char) ('a' + i), cluster.env(i));
      nodes.add(node);
      await(node.ready(), 90); // one after another: Hazelcast forms faster that way
    }
    return new ArrayList<>(nodes);
  }

  private static WebClient web(Vertx vertx, NodeProcess node) {
    return WebClient.create(
        vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(node.httpPort()));
  }

  private static List<SseEvent> untilEnd(SseClient viewer, String who) {
    await(viewer.ended(), 60, who + " ending");
    return viewer.events().items();
  }

  private static void assertWhole(List<SseEvent> events) {
    for (int i = 0; i < events.size(); i++) {
      assertEquals(i + 1, events.get(i).seq(), "seq at " + i);
    }
    assertEquals(
        TOKENS,
        events.stream().filter(e -> e.event().equals("delta")).count(),
        "every delta, once");
    List<SseEvent> recoveries = events.stream().filter(e -> e.event().equals("recovery")).toList();
    assertEquals(1, recoveries.size(), "the takeover is reported once: " + recoveries);
    assertEquals("continue", recoveries.get(0).json().getString("kind"));
    assertTrue(
        recoveries.get(0).json().getString("message").contains("left the cluster"),
        recoveries.get(0).data());
    assertEquals(TOKENS + 2, events.size(), "every delta, the recovery and one terminal event");
    assertEquals("done", events.get(events.size() - 1).event());
    assertEquals(MockText.text(TOKENS), SseEvent.text(events));
  }

  /** Starts a generation and returns its id and the node that owns it. */
  private record Started(String id, NodeProcess owner) {}

  private Started startGeneration(Vertx vertx, List<NodeProcess> cluster) {
    JsonObject created =
        await(
                web(vertx, cluster.get(0))
                    .post("/v1/generations")
                    .sendJsonObject(TestHub.mockRequest(TOKENS, 40)))
            .bodyAsJsonObject();
    String owner = created.getString("owner");
    for (NodeProcess node : cluster) {
      if (await(web(vertx, node).get("/health").send())
          .bodyAsJsonObject()
          .getString("node")
          .equals(owner)) {
        return new Started(created.getString("id"), node);
      }
    }
    throw new AssertionError("no node owns " + created.encode());
  }

  private void failover(Vertx vertx, boolean kill) throws Exception {
    List<NodeProcess> cluster = startCluster(new TestCluster(3), 3);
    HttpClientAgent client = SseClient.client(vertx);
    Started started = startGeneration(vertx, cluster);
    String path = "/v1/generations/" + started.id() + "/events";
    List<NodeProcess> survivors = new ArrayList<>(cluster);
    survivors.remove(started.owner());
    List<SseClient> onSurvivors = new ArrayList<>();
    for (NodeProcess node : survivors) {
      onSurvivors.add(await(SseClient.get(client, node.httpPort(), path, Map.of())));
    }
    SseClient onOwner = await(SseClient.get(client, started.owner().httpPort(), path, Map.of()));
    await(onOwner.events().whenCount(30), 20, "30 events on the owner");

    if (kill) {
      started.owner().kill();
    } else {
      assertTrue(started.owner().terminate(60), "the node shut down");
    }

    // The viewer that was on the owner's node reconnects to a survivor with Last-Event-ID.
    await(onOwner.ended().recover(e -> Future.succeededFuture()), 30);
    List<SseEvent> before = onOwner.events().items();
    String lastId = before.get(before.size() - 1).id();
    SseClient reconnected =
        await(
            SseClient.get(
                client, survivors.get(0).httpPort(), path, Map.of("Last-Event-ID", lastId)),
            20,
            "reconnecting to " + survivors.get(0).name());
    List<SseEvent> joined = new ArrayList<>(before);
    joined.addAll(untilEnd(reconnected, "the reconnected viewer on " + survivors.get(0).name()));
    assertWhole(joined);
    for (int i = 0; i < onSurvivors.size(); i++) {
      assertWhole(untilEnd(onSurvivors.get(i), "the viewer on " + survivors.get(i).name()));
    }
    JsonObject status =
        await(
                web(vertx, survivors.get(1)).get("/v1/generations/" + started.id()).send(),
                20,
                "status from " + survivors.get(1).name())
            .bodyAsJsonObject();
    assertEquals("completed", status.getString("status"));
    assertEquals(MockText.text(TOKENS), status.getString("text"));
    assertEquals(1, status.getInteger("recoveries"), status.encode());
    // Killed: taken over once (epoch 2). Stopped: released, then taken over (epoch 3), a handover,
    // not a death.
    assertEquals(kill ? 2 : 3, status.getLong("epoch"), "ownership moved: " + status.encode());
  }

  @Test
  @DisplayName(
      "SIGKILL of the owner mid-answer: survivors take over; every viewer ends gap-free with the whole text")
  void ownerKilled(Vertx vertx) throws Exception {
    failover(vertx, true);
  }

  @Test
  @DisplayName("SIGTERM of the owner hands the generation over before the node exits")
  void ownerTerminated(Vertx vertx) throws Exception {
    failover(vertx, false);
  }
}
