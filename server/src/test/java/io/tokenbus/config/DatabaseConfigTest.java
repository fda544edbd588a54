package io.tokenbus.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("database.*: checked at start-up, and its password never shown")
class DatabaseConfigTest {

  private static TokenbusConfig load(Map<String, String> env) {
    return ConfigLoader.load(new String[0], env);
  }

  @Test
  @DisplayName("off without a URL; a URL that is not postgresql:// is refused, naming the key")
  void validation() {
    assertFalse(load(Map.of()).database().enabled());
    ConfigException refused =
        assertThrows(
            ConfigException.class,
            () -> load(Map.of("TOKENBUS_DATABASE_URL", "mysql://u:hunter2@h/db")));
    assertTrue(refused.getMessage().contains("database.url"), refused.getMessage());
    assertFalse(refused.getMessage().contains("hunter2"), refused.getMessage());
    assertThrows(
        ConfigException.class,
        () -> load(Map.of("TOKENBUS_DATABASE_URL", "postgresql://h"))); // no database
    TokenbusConfig.Database ok =
        load(Map.of(
                "TOKENBUS_DATABASE_URL", "postgres://u@db.example:5433/tb",
                "TOKENBUS_DATABASE_PASSWORD", "hunter2"))
            .database();
    assertTrue(ok.enabled());
    assertEquals("hunter2", ok.password());
    assertFalse(ok.toString().contains("hunter2"), ok.toString());
  }

  @Test
  @DisplayName("every way a URL carries a password is redacted")
  void redacted() {
    assertEquals(
        "postgresql://u:***@h:5432/db",
        TokenbusConfig.Database.redacted("postgresql://u:hunter2@h:5432/db"));
    assertEquals(
        "postgresql://h/db?sslmode=require&password=***",
        TokenbusConfig.Database.redacted("postgresql://h/db?sslmode=require&password=hunter2"));
    String at = TokenbusConfig.Database.redacted("postgresql://u:hun@ter2@h/db");
    assertFalse(at.contains("hun") || at.contains("ter2"), at);
  }
}
