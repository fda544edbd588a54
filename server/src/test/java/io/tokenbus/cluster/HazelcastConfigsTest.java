package io.tokenbus.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The name members join under. */
@DisplayName("HazelcastConfigs")
class HazelcastConfigsTest {

  private static final String SECRET = "0123456789abcdef0123456789abcdef";

  @Test
  @DisplayName(
      "with a secret, members join under the name and an HMAC of it: the same secret gives the same name, another secret another")
  void clusterName() {
    String name = HazelcastConfigs.clusterName("tokenbus", SECRET);
    assertTrue(name.matches("tokenbus-[0-9a-f]{32}"), name);
    assertEquals(name, HazelcastConfigs.clusterName("tokenbus", SECRET));
    assertNotEquals(name, HazelcastConfigs.clusterName("tokenbus", SECRET + "x"));
    assertNotEquals(name, HazelcastConfigs.clusterName("other", SECRET));
    assertFalse(name.contains(SECRET.substring(0, 8)));
    assertEquals("tokenbus", HazelcastConfigs.clusterName("tokenbus", ""));
  }
}
