package io.tokenbus.auth;

import io.tokenbus.config.TokenbusConfig;
import java.security.MessageDigest;
import java.util.EnumSet;
import java.util.List;

/**
 * Tells who a presented credential belongs to. Keys are held as SHA-256 digests only, and a
 * presented key is compared with each in constant time, so neither memory nor timing gives a key
 * away.
 */
public final class Authenticator {

  /** What a client API key allows. */
  private static final EnumSet<Scope> CLIENT =
      EnumSet.of(Scope.GENERATE, Scope.WATCH, Scope.SESSIONS);

  private final List<TokenbusConfig.Auth.ApiKey> keys;
  private final byte[] adminKey;

  public Authenticator(TokenbusConfig.Auth config) {
    this.keys = config.keys();
    this.adminKey = config.adminKeySha256();
  }

  /** False when no key is configured: every caller is then {@link Principal#ANONYMOUS}. */
  public boolean enabled() {
    return !keys.isEmpty() || adminKey != null;
  }

  /**
   * The principal a presented key stands for, or null for a key that is not known (with auth off,
   * every key is; callers serve {@link Principal#ANONYMOUS} without asking).
   */
  public Principal authenticate(String presented) {
    if (presented == null || presented.isEmpty()) {
      return null;
    }
    byte[] digest = TokenbusConfig.Auth.sha256(presented);
    Principal found = null;
    if (adminKey != null && MessageDigest.isEqual(digest, adminKey)) {
      found = new Principal(Principal.ALL_TENANTS, "admin", null, EnumSet.allOf(Scope.class), null);
    }
    for (TokenbusConfig.Auth.ApiKey key : keys) { // every key compared: no early exit to time
      if (MessageDigest.isEqual(digest, key.sha256()) && found == null) {
        found = new Principal(key.tenant(), key.tenant() + "#" + key.index(), null, CLIENT, null);
      }
    }
    return found;
  }

  /** For the start-up line: how many tenants and keys, never the keys. */
  public String describe() {
    if (!enabled()) {
      return "auth off (no API keys)";
    }
    long tenants = keys.stream().map(TokenbusConfig.Auth.ApiKey::tenant).distinct().count();
    return "auth on ("
        + keys.size()
        + " API key"
        + (keys.size() == 1 ? "" : "s")
        + " of "
        + tenants
        + " tenant"
        + (tenants == 1 ? "" : "s")
        + (adminKey != null ? ", admin key" : "")
        + ")";
  }
}
