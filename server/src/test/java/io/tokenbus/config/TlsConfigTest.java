package io.tokenbus.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The listener's settings: TLS files (both or neither, readable, PEM of the right kind) and h2c.
 * Only the files' shape is checked here; TlsTest serves real ones.
 */
@DisplayName("TLS and HTTP/2 configuration")
class TlsConfigTest {

  /** Stands for a key's secret body: no message may ever repeat it. */
  private static final String KEY_BODY =
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDsecret";

  @TempDir Path dir;
  private Path cert;
  private Path key;

  @BeforeEach
  void files() throws IOException {
    cert =
        Files.writeString(
            dir.resolve("cert.pem"),
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    key =
        Files.writeString(
            dir.resolve("key.pem"),
            "-----BEGIN PRIVATE KEY-----\n" + KEY_BODY + "\n-----END PRIVATE KEY-----\n");
  }

  private static TokenbusConfig load(Map<String, String> env) {
    return ConfigLoader.load((Path) null, env);
  }

  private static ConfigException refused(Map<String, String> env) {
    ConfigException error = assertThrows(ConfigException.class, () -> load(env));
    assertFalse(error.getMessage().contains(KEY_BODY), error.getMessage());
    return error;
  }

  private static void assertMentions(ConfigException error, String... parts) {
    for (String part : parts) {
      assertTrue(error.getMessage().contains(part), error.getMessage() + " should mention " + part);
    }
  }

  @Test
  @DisplayName("by default the port is plain HTTP/1.1: no TLS, no h2c")
  void plainByDefault() {
    TokenbusConfig.Http http = load(Map.of()).http();
    assertFalse(http.tls().enabled());
    assertEquals("", http.tls().cert());
    assertFalse(http.h2c());
  }

  @Test
  @DisplayName(
      "TOKENBUS_HTTP_TLS_CERT_PATH and TOKENBUS_HTTP_TLS_KEY_PATH turn TLS on; TOKENBUS_HTTP_H2C"
          + " turns h2c on")
  void fromEnvironment() {
    TokenbusConfig.Http http =
        load(Map.of(
                "TOKENBUS_HTTP_TLS_CERT_PATH",
                " " + cert + " ",
                "TOKENBUS_HTTP_TLS_KEY_PATH",
                key.toString()))
            .http();
    assertTrue(http.tls().enabled());
    assertEquals(cert.toString(), http.tls().cert());
    assertEquals(key.toString(), http.tls().key());
    assertTrue(load(Map.of("TOKENBUS_HTTP_H2C", "true")).http().h2c());
  }

  @Test
  @DisplayName("a configuration file sets them as http.tls.cert-path, http.tls.key-path, http.h2c")
  void fromAFile() throws IOException {
    Path file =
        Files.writeString(
            dir.resolve("tokenbus.yaml"),
            "http:\n  h2c: true\n  tls:\n    cert-path: " + cert + "\n    key-path: " + key + "\n");
    TokenbusConfig.Http http = ConfigLoader.load(file, Map.of()).http();
    assertTrue(http.tls().enabled());
    assertEquals(key.toString(), http.tls().key());
    assertTrue(http.h2c());
  }

  @Test
  @DisplayName("a certificate without its key, or a key without its certificate, stops loading")
  void bothOrNeither() {
    assertMentions(
        refused(Map.of("TOKENBUS_HTTP_TLS_CERT_PATH", cert.toString())),
        "http.tls.key-path",
        "http.tls.cert-path",
        "TOKENBUS_HTTP_TLS_KEY_PATH");
    assertMentions(
        refused(Map.of("TOKENBUS_HTTP_TLS_KEY_PATH", key.toString())),
        "http.tls.cert-path",
        "TOKENBUS_HTTP_TLS_CERT_PATH");
  }

  @Test
  @DisplayName(
      "a missing or unreadable file stops loading, naming the key, the path and the source")
  void unreadableFiles() throws IOException {
    Path missing = dir.resolve("nope.pem");
    assertMentions(
        refused(
            Map.of(
                "TOKENBUS_HTTP_TLS_CERT_PATH",
                missing.toString(),
                "TOKENBUS_HTTP_TLS_KEY_PATH",
                key.toString())),
        "http.tls.cert-path",
        missing.toString(),
        "TOKENBUS_HTTP_TLS_CERT_PATH");
    assertMentions(
        refused(
            Map.of(
                "TOKENBUS_HTTP_TLS_CERT_PATH",
                cert.toString(),
                "TOKENBUS_HTTP_TLS_KEY_PATH",
                dir.toString())),
        "http.tls.key-path",
        "no readable file");
  }

  @Test
  @DisplayName(
      "swapped files, a DER file or an encrypted key stop loading, and no message shows the key")
  void wrongKindOfFile() throws IOException {
    assertMentions(
        refused(
            Map.of(
                "TOKENBUS_HTTP_TLS_CERT_PATH",
                key.toString(),
                "TOKENBUS_HTTP_TLS_KEY_PATH",
                cert.toString())),
        "http.tls.cert-path",
        "BEGIN CERTIFICATE");
    Path der =
        Files.write(dir.resolve("key.der"), new byte[] {0x30, (byte) 0x82, 0x04, (byte) 0xbd});
    assertMentions(
        refused(
            Map.of(
                "TOKENBUS_HTTP_TLS_CERT_PATH",
                cert.toString(),
                "TOKENBUS_HTTP_TLS_KEY_PATH",
                der.toString())),
        "http.tls.key-path",
        "PRIVATE KEY");
    Path encrypted =
        Files.writeString(
            dir.resolve("encrypted.pem"),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
                + KEY_BODY
                + "\n-----END ENCRYPTED PRIVATE KEY-----\n");
    assertMentions(
        refused(
            Map.of(
                "TOKENBUS_HTTP_TLS_CERT_PATH",
                cert.toString(),
                "TOKENBUS_HTTP_TLS_KEY_PATH",
                encrypted.toString())),
        "http.tls.key-path",
        "unencrypted");
  }
}
