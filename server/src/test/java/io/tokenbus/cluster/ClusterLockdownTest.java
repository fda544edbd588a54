package io.tokenbus.cluster;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import io.tokenbus.support.TestCluster;
import io.vertx.junit5.Timeout;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Hazelcast's port as an attacker on the network meets it: it speaks only to members of this
 * cluster.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("A locked-down cluster")
class ClusterLockdownTest {

  private final TestCluster cluster = new TestCluster(2);

  @BeforeAll
  void startCluster() {
    cluster.start(0);
    cluster.start(1);
  }

  @AfterAll
  void stopCluster() {
    cluster.close();
  }

  @Test
  @DisplayName(
      "a Hazelcast client that knows the cluster name and a member's address cannot connect")
  void refusesClients() {
    ClientConfig client = new ClientConfig();
    client.setClusterName(cluster.name());
    client.setProperty("hazelcast.logging.type", "slf4j");
    client.setProperty("hazelcast.phone.home.enabled", "false");
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
}
