package io.tokenbus.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.TestCertificates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cluster.tls.*}: all three PEM files or none, each readable and of the right kind. */
@DisplayName("Event-bus TLS configuration")
class EventBusTlsConfigTest {

  @TempDir Path dir;

  private TestCertificates.NodeFiles files;

  @BeforeEach
  void certificates() {
    TestCertificates ca = TestCertificates.authority("config-test-ca", dir);
    files = ca.node("node", ca);
  }

  private static TokenbusConfig load(Map<String, String> env) {
    return ConfigLoader.load((Path) null, env);
  }

  private Map<String, String> env(String... without) {
    Map<String, String> env = new HashMap<>(files.env());
    for (String name : without) {
      env.remove(name);
    }
    return env;
  }

  private static ConfigException refused(Map<String, String> env) {
    return assertThrows(ConfigException.class, () -> load(env));
  }

  @Test
  @DisplayName("by default the event bus has no TLS")
  void offByDefault() {
    TokenbusConfig.EventBusTls tls = load(Map.of()).cluster().tls();
    assertFalse(tls.enabled());
    assertEquals(new TokenbusConfig.EventBusTls("", "", ""), tls);
  }

  @Test
  @DisplayName("the three TOKENBUS_CLUSTER_TLS_* variables turn it on")
  void allThree() {
    TokenbusConfig.EventBusTls tls = load(env()).cluster().tls();
    assertTrue(tls.enabled());
    assertEquals(files.cert().toString(), tls.certPath());
    assertEquals(files.key().toString(), tls.keyPath());
    assertEquals(files.ca().toString(), tls.caPath());
  }

  @Test
  @DisplayName("a configuration file sets them as cluster.tls.cert-path, key-path and ca-path")
  void fromAFile() throws IOException {
    Path file =
        Files.writeString(
            dir.resolve("tokenbus.yaml"),
            "cluster:\n  tls:\n    cert-path: "
                + files.cert()
                + "\n    key-path: "
                + files.key()
                + "\n    ca-path: "
                + files.ca()
                + "\n");
    assertTrue(ConfigLoader.load(file, Map.of()).cluster().tls().enabled());
  }

  @Test
  @DisplayName("a partial set stops loading, naming the first missing key and those that are set")
  void partialSet() {
    ConfigException noKey = refused(env("TOKENBUS_CLUSTER_TLS_KEY_PATH"));
    assertEquals("cluster.tls.key-path", noKey.key());
    assertTrue(
        noKey.getMessage().contains("only cluster.tls.cert-path and cluster.tls.ca-path are set"),
        noKey.getMessage());
    ConfigException onlyCert =
        refused(env("TOKENBUS_CLUSTER_TLS_KEY_PATH", "TOKENBUS_CLUSTER_TLS_CA_PATH"));
    assertEquals("cluster.tls.key-path", onlyCert.key());
    assertTrue(onlyCert.getMessage().contains("only cluster.tls.cert-path is set"));
    ConfigException noCert = refused(env("TOKENBUS_CLUSTER_TLS_CERT_PATH"));
    assertEquals("cluster.tls.cert-path", noCert.key());
    ConfigException blankCa =
        refused(
            Map.of(
                "TOKENBUS_CLUSTER_TLS_CERT_PATH", files.cert().toString(),
                "TOKENBUS_CLUSTER_TLS_KEY_PATH", files.key().toString(),
                "TOKENBUS_CLUSTER_TLS_CA_PATH", " "));
    assertEquals("cluster.tls.ca-path", blankCa.key());
  }

  @Test
  @DisplayName(
      "a file that cannot be read stops loading, naming the key, its variable and the path")
  void unreadableFile() {
    Map<String, String> env = env();
    env.put("TOKENBUS_CLUSTER_TLS_CA_PATH", dir.resolve("missing.crt").toString());
    ConfigException missing = refused(env);
    assertEquals("cluster.tls.ca-path", missing.key());
    assertTrue(missing.getMessage().contains("cannot be read"), missing.getMessage());
    assertTrue(missing.getMessage().contains("missing.crt"), missing.getMessage());
    assertTrue(
        missing.getMessage().contains("(from TOKENBUS_CLUSTER_TLS_CA_PATH)"), missing.getMessage());
    env.put("TOKENBUS_CLUSTER_TLS_CA_PATH", dir.toString());
    assertEquals("cluster.tls.ca-path", refused(env).key(), "a directory");
  }

  @Test
  @DisplayName(
      "a file without the PEM block its key needs stops loading, never showing the content")
  void wrongKindOfFile() throws IOException {
    Map<String, String> env = env();
    env.put("TOKENBUS_CLUSTER_TLS_KEY_PATH", files.cert().toString());
    ConfigException certAsKey = refused(env);
    assertEquals("cluster.tls.key-path", certAsKey.key());
    assertTrue(
        certAsKey.getMessage().contains("-----BEGIN PRIVATE KEY-----"), certAsKey.getMessage());
    env = env();
    env.put("TOKENBUS_CLUSTER_TLS_CERT_PATH", files.key().toString());
    ConfigException keyAsCert = refused(env);
    assertEquals("cluster.tls.cert-path", keyAsCert.key());
    String keyBody = Files.readAllLines(files.key()).get(1);
    assertFalse(keyAsCert.getMessage().contains(keyBody), "the key's content: " + keyAsCert);
  }
}
