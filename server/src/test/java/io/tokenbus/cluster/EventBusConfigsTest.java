package io.tokenbus.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.support.TestCertificates;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event-bus options a node starts with. The clustered event bus builds its server and client
 * from {@code EventBusOptions.toJson()}, so that is what is checked.
 */
@DisplayName("Event-bus options")
class EventBusConfigsTest {

  @TempDir Path dir;

  private static TokenbusConfig.Cluster cluster(Map<String, String> env) {
    return ConfigLoader.load((Path) null, env).cluster();
  }

  @Test
  @DisplayName("without cluster.tls the event bus is plain TCP on cluster.host")
  void plain() {
    EventBusOptions options = EventBusConfigs.build(cluster(Map.of()));
    assertFalse(options.isSsl());
    assertEquals("127.0.0.1", options.getHost());
    assertTrue(EventBusConfigs.describe(cluster(Map.of()).tls()).startsWith("plain TCP"));
  }

  @Test
  @DisplayName(
      "with cluster.tls both sides are TLS: the server requires a client certificate, and the"
          + " client checks the server's against the CA (Vert.x's event-bus client trusts all by"
          + " default)")
  void mutualTls() {
    TestCertificates ca = TestCertificates.authority("options-test-ca", dir);
    TestCertificates.NodeFiles files = ca.node("node", ca);
    TokenbusConfig.Cluster cluster = cluster(files.env());
    EventBusOptions options = EventBusConfigs.build(cluster);

    NetServerOptions server = new NetServerOptions(options.toJson());
    assertTrue(server.isSsl());
    assertEquals(ClientAuth.REQUIRED, server.getClientAuth());
    PemKeyCertOptions identity =
        assertInstanceOf(PemKeyCertOptions.class, server.getKeyCertOptions());
    assertEquals(List.of(files.cert().toString()), identity.getCertPaths());
    assertEquals(List.of(files.key().toString()), identity.getKeyPaths());
    PemTrustOptions trustedByServer =
        assertInstanceOf(PemTrustOptions.class, server.getTrustOptions());
    assertEquals(List.of(files.ca().toString()), trustedByServer.getCertPaths());

    NetClientOptions client = new NetClientOptions(options.toJson());
    assertTrue(client.isSsl());
    assertFalse(client.isTrustAll(), "the client must check the server's certificate");
    PemTrustOptions trustedByClient =
        assertInstanceOf(PemTrustOptions.class, client.getTrustOptions());
    assertEquals(List.of(files.ca().toString()), trustedByClient.getCertPaths());
    assertInstanceOf(PemKeyCertOptions.class, client.getKeyCertOptions());

    String described = EventBusConfigs.describe(cluster.tls());
    assertTrue(described.startsWith("TLS with mutual authentication"), described);
    assertFalse(
        described.contains(files.key().toString()), "the key's path stays out: " + described);
  }
}
