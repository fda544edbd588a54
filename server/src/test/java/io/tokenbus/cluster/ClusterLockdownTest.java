package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.support.TestCluster;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.management.BadAttributeValueExpException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;

/**
 * Hazelcast's port as an attacker on the network meets it: it speaks only to members that hold the
 * cluster secret.
 */
@ExtendWith(VertxExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("A locked-down cluster")
class ClusterLockdownTest {

  /** Nodes 0 and 1 are the cluster; 2 and 3 are ports for members that try to join it. */
  private final TestCluster cluster = new TestCluster(4);

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private int portA;
  private int portB;

  @BeforeAll
  void startCluster() {
    logs.start();
    root.addAppender(logs);
    portA = cluster.start(0);
    portB = cluster.start(1);
  }

  @AfterAll
  void stopCluster() {
    root.detachAppender(logs);
    cluster.close();
  }

  private String hazelcastName() {
    return HazelcastConfigs.clusterName(cluster.name(), cluster.secret());
  }

  private HazelcastInstance hazelcast(int node) {
    return ((HazelcastClusterManager) ((VertxInternal) cluster.node(node).vertx()).clusterManager())
        .getHazelcastInstance();
  }

  @Test
  @DisplayName(
      "a Hazelcast client that knows the cluster name and a member's address cannot connect")
  void refusesClients() {
    ClientConfig client = new ClientConfig();
    client.setClusterName(hazelcastName()); // even the name members join under
    client.setProperty("hazelcast.logging.type", "slf4j");
    client.setProperty("hazelcast.phone.home.enabled", "false");
    // The attacker's own log lines would print the name; this test checks the nodes'
    // (logsNoSecret).
    client.setProperty("hazelcast.logging.details.enabled", "false");
    client.getNetworkConfig().addAddress("127.0.0.1:" + cluster.hazelcastPort(0));
    client
        .getConnectionStrategyConfig()
        .getConnectionRetryConfig()
        .setClusterConnectTimeoutMillis(3000);
    IllegalStateException refused =
        assertThrows(
            IllegalStateException.class,
            () -> HazelcastClient.newHazelcastClient(client).shutdown());
    assertTrue(
        refused.getMessage().contains("Unable to connect to any cluster"), refused.getMessage());
  }

  @Test
  @DisplayName(
      "a member with another secret, or none, is not let in; the two nodes still serve each other's generations")
  void refusesMembersWithoutTheSecret(Vertx vertx) {
    for (Map<String, String> outsider :
        java.util.List.of(
            Map.of("TOKENBUS_CLUSTER_SECRET", "another-secret-of-at-least-32-characters"),
            Map.of("TOKENBUS_CLUSTER_SECRET", "", "TOKENBUS_CLUSTER_INSECURE", "true"))) {
      int index = outsider.get("TOKENBUS_CLUSTER_SECRET").isEmpty() ? 3 : 2;
      HazelcastInstance member =
          Hazelcast.newHazelcastInstance(
              HazelcastConfigs.build(
                  ConfigLoader.load((Path) null, cluster.env(index, outsider)).cluster()));
      try {
        assertEquals(1, member.getCluster().getMembers().size(), "the outsider is alone");
        assertEquals(2, hazelcast(0).getCluster().getMembers().size());
        assertEquals(2, hazelcast(1).getCluster().getMembers().size());
      } finally {
        member.shutdown();
      }
    }
    JsonObject request =
        new JsonObject()
            .put("model", "mock")
            .put("max_tokens", 3)
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")));
    var created =
        await(
            WebClient.create(vertx)
                .post(portA, "127.0.0.1", "/v1/generations")
                .sendJsonObject(request));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");
    var status =
        await(WebClient.create(vertx).get(portB, "127.0.0.1", "/v1/generations/" + id).send());
    assertEquals(200, status.statusCode(), status.bodyAsString());
  }

  @Test
  @DisplayName(
      "a foreign serialized object is refused by every member; a value of another type reads as absent, a 404, and the nodes serve on")
  void foreignValues(Vertx vertx) throws Exception {
    IMap<String, Object> generations = hazelcast(0).getMap(HazelcastGenerationStore.MAP);
    HashMap<Object, String> urlGadget = new HashMap<>(); // the shape of the URLDNS gadget
    urlGadget.put(URI.create("http://gadget.invalid/").toURL(), "x");
    for (Object foreign :
        java.util.List.of(new BadAttributeValueExpException("gadget"), urlGadget)) {
      for (int i = 0; i < 8; i++) { // keys on both members' partitions
        String key = "chatcmpl-foreign-" + i;
        RuntimeException refused =
            assertThrows(RuntimeException.class, () -> generations.put(key, foreign));
        assertTrue(refusedByFilter(refused), refused.toString());
        assertFalse(generations.containsKey(key));
      }
    }

    IMap<String, Object> sessions = hazelcast(1).getMap(HazelcastSessionStore.MAP);
    for (int i = 0; i < 4; i++) {
      generations.put("chatcmpl-malformed-" + i, "not a generation");
      sessions.put("sess_malformed" + i, 42L);
    }
    WebClient web = WebClient.create(vertx);
    for (int port : new int[] {portA, portB}) {
      for (int i = 0; i < 4; i++) {
        for (String path :
            java.util.List.of(
                "/v1/generations/chatcmpl-malformed-" + i,
                "/v1/generations/chatcmpl-malformed-" + i + "/events",
                "/v1/sessions/sess_malformed" + i)) {
          var response = await(web.get(port, "127.0.0.1", path).send());
          assertEquals(404, response.statusCode(), path + ": " + response.bodyAsString());
        }
      }
    }
    var created =
        await(
            web.post(portB, "127.0.0.1", "/v1/generations")
                .sendJsonObject(
                    new JsonObject()
                        .put("model", "mock")
                        .put("max_tokens", 3)
                        .put(
                            "messages",
                            new JsonArray()
                                .add(new JsonObject().put("role", "user").put("content", "hi")))));
    assertEquals(201, created.statusCode(), created.bodyAsString());
  }

  private static boolean refusedByFilter(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof SecurityException && cause.getMessage().contains("is not allowed")) {
        return true;
      }
    }
    return false;
  }

  @Test
  @DisplayName(
      "TOKENBUS_CLUSTER_INSECURE=true runs a clustered node without a secret, with a warning at start")
  void insecureWarns() {
    try (TestCluster insecure = new TestCluster(1)) {
      insecure.start(0, Map.of("TOKENBUS_CLUSTER_SECRET", "", "TOKENBUS_CLUSTER_INSECURE", "true"));
      assertTrue(
          logs.list.stream()
              .anyMatch(
                  e ->
                      e.getLevel() == ch.qos.logback.classic.Level.WARN
                          && e.getFormattedMessage().startsWith("cluster.insecure is true")),
          "a warning at start");
    }
  }

  @Test
  @Order(Integer.MAX_VALUE) // last, so it reads what every other test made the nodes log
  @DisplayName("no log line holds the cluster secret or the name members join under")
  void logsNoSecret() {
    assertFalse(logs.list.isEmpty());
    for (ILoggingEvent event : logs.list) {
      String line = event.getFormattedMessage();
      assertFalse(line.contains(cluster.secret()), line);
      assertFalse(line.contains(hazelcastName()), line);
    }
  }
}
