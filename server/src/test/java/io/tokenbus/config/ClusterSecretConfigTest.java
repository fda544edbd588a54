package io.tokenbus.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** {@code cluster.secret}: required when clustered, unless {@code cluster.insecure} says not. */
@DisplayName("cluster.secret")
class ClusterSecretConfigTest {

  private static final String SECRET = "0123456789abcdef0123456789abcdef";

  private static TokenbusConfig load(Map<String, String> env) {
    return ConfigLoader.load((Path) null, env);
  }

  @Test
  @DisplayName(
      "a clustered node without a secret stops start-up with a message naming TOKENBUS_CLUSTER_SECRET")
  void requiredWhenClustered() {
    ConfigException e =
        assertThrows(ConfigException.class, () -> load(Map.of("TOKENBUS_CLUSTER", "true")));
    assertEquals("cluster.secret", e.key());
    assertTrue(e.getMessage().contains("TOKENBUS_CLUSTER_SECRET"), e.getMessage());
    assertTrue(e.getMessage().contains("TOKENBUS_CLUSTER_INSECURE=true"), e.getMessage());
  }

  @Test
  @DisplayName(
      "a secret of fewer than 32 characters is refused, and the message does not repeat it")
  void minimumLength() {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                load(
                    Map.of("TOKENBUS_CLUSTER", "true", "TOKENBUS_CLUSTER_SECRET", "short-secret")));
    assertEquals("cluster.secret", e.key());
    assertTrue(e.getMessage().contains("at least 32"), e.getMessage());
    assertTrue(e.getMessage().contains("TOKENBUS_CLUSTER_SECRET"), e.getMessage());
    assertFalse(e.getMessage().contains("short-secret"), e.getMessage());
  }

  @Test
  @DisplayName("a secret of 32 characters is taken, and the configuration never prints it")
  void taken() {
    TokenbusConfig.Cluster cluster =
        load(Map.of("TOKENBUS_CLUSTER", "true", "TOKENBUS_CLUSTER_SECRET", " " + SECRET + " "))
            .cluster();
    assertEquals(SECRET, cluster.secret());
    assertFalse(cluster.toString().contains(SECRET), cluster.toString());
  }

  @Test
  @DisplayName(
      "TOKENBUS_CLUSTER_INSECURE=true is the explicit opt-out; a single node needs nothing")
  void optOut() {
    TokenbusConfig.Cluster cluster =
        load(Map.of("TOKENBUS_CLUSTER", "true", "TOKENBUS_CLUSTER_INSECURE", "true")).cluster();
    assertTrue(cluster.insecure());
    assertEquals("", cluster.secret());
    assertFalse(load(Map.of()).cluster().enabled());
  }
}
