package io.tokenbus.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Secure defaults: what the auth settings allow with which http.host. */
@DisplayName("Auth configuration and secure defaults")
class AuthConfigTest {

  private static final String KEYS = "acme:sk-acme-1234567890abcdef";

  private static TokenbusConfig load(Map<String, String> env) {
    return ConfigLoader.load((Path) null, env);
  }

  @Test
  @DisplayName("by default tokenbus binds 127.0.0.1 with auth off")
  void loopbackByDefault() {
    TokenbusConfig config = load(Map.of());
    assertEquals("127.0.0.1", config.http().host());
    assertEquals(false, config.auth().enabled());
    assertEquals(TokenbusConfig.Auth.AUTO, config.auth().mode());
  }

  @Test
  @DisplayName("any loopback address or name may be served without a key")
  void loopbackNeedsNoKey() {
    for (String host : new String[] {"127.0.0.1", "127.0.0.2", "localhost", "::1"}) {
      assertEquals(host, load(Map.of("TOKENBUS_HTTP_HOST", host)).http().host());
    }
  }

  @Test
  @DisplayName(
      "a non-loopback address without a key stops loading, naming TOKENBUS_API_KEYS and the way"
          + " out")
  void publicAddressNeedsAKey() {
    ConfigException error =
        assertThrows(ConfigException.class, () -> load(Map.of("TOKENBUS_HTTP_HOST", "0.0.0.0")));
    assertTrue(error.getMessage().contains("TOKENBUS_API_KEYS"), error.getMessage());
    assertTrue(error.getMessage().contains("TOKENBUS_AUTH_MODE=open"), error.getMessage());
    assertTrue(
        load(Map.of("TOKENBUS_HTTP_HOST", "0.0.0.0", "TOKENBUS_API_KEYS", KEYS)).auth().enabled());
    assertTrue(
        load(Map.of("TOKENBUS_HTTP_HOST", "0.0.0.0", "TOKENBUS_ADMIN_KEY", "sk-admin-123456789012"))
            .auth()
            .enabled());
  }

  @Test
  @DisplayName("auth.mode open serves a public address without keys, and cannot be mixed with keys")
  void openMode() {
    TokenbusConfig open =
        load(Map.of("TOKENBUS_HTTP_HOST", "0.0.0.0", "TOKENBUS_AUTH_MODE", "Open"));
    assertTrue(open.auth().open());
    assertEquals(false, open.auth().enabled());
    ConfigException mixed =
        assertThrows(
            ConfigException.class,
            () -> load(Map.of("TOKENBUS_AUTH_MODE", "open", "TOKENBUS_API_KEYS", KEYS)));
    assertTrue(mixed.getMessage().contains("auth.mode"), mixed.getMessage());
    ConfigException unknown =
        assertThrows(ConfigException.class, () -> load(Map.of("TOKENBUS_AUTH_MODE", "none")));
    assertTrue(unknown.getMessage().contains("auto or open"), unknown.getMessage());
  }

  @Test
  @DisplayName(
      "a JWT key alone turns auth on; a short HMAC secret or a key that is not a PEM public key"
          + " stops loading, never quoting the secret")
  void jwtKeys() {
    String secret = "an-hs256-secret-of-at-least-32-characters";
    assertTrue(
        load(Map.of("TOKENBUS_HTTP_HOST", "0.0.0.0", "TOKENBUS_JWT_SECRET", secret))
            .auth()
            .enabled());
    ConfigException shortSecret =
        assertThrows(
            ConfigException.class, () -> load(Map.of("TOKENBUS_JWT_SECRET", "short-secret-1")));
    assertTrue(shortSecret.getMessage().contains("auth.jwt-secret"), shortSecret.getMessage());
    assertTrue(!shortSecret.getMessage().contains("short-secret-1"), shortSecret.getMessage());
    assertThrows(
        ConfigException.class, () -> load(Map.of("TOKENBUS_TOKEN_SECRET", "too-short-as-well")));
    ConfigException notPem =
        assertThrows(
            ConfigException.class,
            () ->
                load(
                    Map.of(
                        "TOKENBUS_JWT_PUBLIC_KEY",
                        "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----")));
    assertTrue(notPem.getMessage().contains("auth.jwt-public-key"), notPem.getMessage());
    assertThrows(
        ConfigException.class, () -> load(Map.of("TOKENBUS_JWT_PUBLIC_KEY", "/no/such/key.pem")));
  }
}
