package io.tokenbus.auth;

import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.User;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Tells who a presented credential belongs to: a client or admin API key, a JWT an app minted for
 * its user (HS256 with {@code auth.jwt-secret}, RS256 or ES256 with {@code auth.jwt-public-key}),
 * or a token tokenbus signed itself (a watch token for one generation, an owner, join or view token
 * for one session). Keys are held as SHA-256 digests only and a presented key is compared with each
 * in constant time, so neither memory nor timing gives a key away. One per node, shared by its HTTP
 * verticles (the JWT providers hold only immutable keys).
 */
public final class Authenticator {

  /** What a client API key allows, and a JWT without a {@code scope} claim. */
  private static final Set<Scope> CLIENT = EnumSet.of(Scope.GENERATE, Scope.WATCH, Scope.SESSIONS);

  /** The {@code iss} of the tokens tokenbus signs. */
  private static final String ISSUER = "tokenbus";

  private static final String TENANT = "[A-Za-z0-9_.-]{1,64}";

  private final List<TokenbusConfig.Auth.ApiKey> keys;
  private final byte[] adminKey;

  /** Verifies apps' JWTs; null when no JWT key is configured. */
  private final JWTAuth apps;

  /** Signs and verifies tokenbus's own tokens. */
  private final JWTAuth own;

  private final int watchTokenTtlSeconds;

  private Authenticator(Vertx vertx, TokenbusConfig.Auth config, String tokenSecret) {
    this.keys = config.keys();
    this.adminKey = config.adminKeySha256();
    this.watchTokenTtlSeconds = config.watchTokenTtlSeconds();
    JWTAuthOptions appOptions = new JWTAuthOptions();
    String secret = config.jwtSecretOrNull();
    TokenbusConfig.Auth.JwtKey publicKey = config.jwtPublicKeyOrNull();
    if (secret != null) {
      appOptions.addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret));
    }
    if (publicKey != null) {
      appOptions.addPubSecKey(
          new PubSecKeyOptions().setAlgorithm(publicKey.algorithm()).setBuffer(publicKey.pem()));
    }
    this.apps = secret == null && publicKey == null ? null : JWTAuth.create(vertx, appOptions);
    this.own =
        JWTAuth.create(
            vertx,
            new JWTAuthOptions()
                .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(tokenSecret))
                .setJWTOptions(new JWTOptions().setIssuer(ISSUER)));
  }

  /**
   * The node's authenticator. The key its own tokens are signed with is {@code auth.token-secret},
   * or else a random one that the first node of a cluster puts in the cluster's shared data and
   * every later node takes, so that a token from any node is accepted by all.
   */
  public static Future<Authenticator> create(Vertx vertx, TokenbusConfig.Auth config) {
    String configured = config.tokenSecretOrNull();
    if (configured != null) {
      return Future.succeededFuture(new Authenticator(vertx, config, configured));
    }
    byte[] random = new byte[32];
    new SecureRandom().nextBytes(random);
    String mine = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    return vertx
        .sharedData()
        .<String, String>getAsyncMap("tokenbus.auth")
        .compose(map -> map.putIfAbsent("token-secret", mine))
        .map(agreed -> new Authenticator(vertx, config, agreed != null ? agreed : mine));
  }

  /** False when no key is configured: every caller is then {@link Principal#ANONYMOUS}. */
  public boolean enabled() {
    return !keys.isEmpty() || adminKey != null || apps != null;
  }

  /**
   * The principal a presented credential stands for, or null for one that is not valid (unknown,
   * expired, badly signed, missing a required claim). With auth off every credential is; callers
   * serve {@link Principal#ANONYMOUS} without asking.
   */
  public Future<Principal> authenticate(String presented) {
    if (presented == null || presented.isEmpty()) {
      return Future.succeededFuture();
    }
    Principal keyed = byKey(presented);
    if (keyed != null || !looksLikeJwt(presented)) {
      return Future.succeededFuture(keyed);
    }
    TokenCredentials credentials = new TokenCredentials(presented);
    return own.authenticate(credentials)
        .map(user -> expiring(ownToken(claims(user)), claims(user)))
        .recover(
            notOurs ->
                apps == null
                    ? Future.succeededFuture()
                    : apps.authenticate(credentials)
                        .map(user -> expiring(appToken(claims(user)), claims(user)))
                        .otherwise((Principal) null));
  }

  /**
   * A token that lets its holder read generation {@code generation} of {@code tenant}, and nothing
   * else, for {@code auth.watch-token-ttl-seconds}.
   */
  public String watchToken(String tenant, String generation) {
    return own.generateToken(
        new JsonObject().put("tenant", tenant).put("scope", "watch").put("generation", generation),
        new JWTOptions()
            .setAlgorithm("HS256")
            .setIssuer(ISSUER)
            .setExpiresInSeconds(watchTokenTtlSeconds));
  }

  /**
   * A token for session {@code session} of {@code tenant} in {@code role}. It has no expiry: it
   * lasts as long as the session (a share link is meant to work while the chat exists).
   */
  public String sessionToken(String tenant, String session, Grant.Role role) {
    return own.generateToken(
        new JsonObject()
            .put("tenant", tenant)
            .put("scope", "sessions")
            .put("session", session)
            .put("role", role.wireName()),
        // No iat: the same session and role always give the same token, so a link is stable.
        new JWTOptions().setAlgorithm("HS256").setIssuer(ISSUER).setNoTimestamp(true));
  }

  private Principal byKey(String presented) {
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

  /**
   * A verified token's claims, all of them: vertx-auth-jwt moves {@code exp} and {@code iat} out of
   * {@code principal()} (which also holds the raw token, never to be logged).
   */
  private static JsonObject claims(User user) {
    JsonObject claims = user.attributes().getJsonObject("accessToken");
    return claims != null ? claims : new JsonObject();
  }

  /** {@code principal} with its token's {@code exp}, so an open WebSocket ends when it does. */
  private static Principal expiring(Principal principal, JsonObject claims) {
    return principal == null || !(claims.getValue("exp") instanceof Number exp)
        ? principal
        : principal.expiring(exp.longValue());
  }

  private static boolean looksLikeJwt(String presented) {
    int first = presented.indexOf('.');
    return first > 0 && presented.indexOf('.', first + 1) > first + 1;
  }

  /** A token tokenbus signed: its tenant, and the one generation or session it is for. */
  private static Principal ownToken(JsonObject claims) {
    String tenant = claims.getString("tenant");
    if (claims.getValue("generation") instanceof String generation) {
      return new Principal(
          tenant, "watch-token", null, EnumSet.of(Scope.WATCH), Grant.generation(generation));
    }
    if (claims.getValue("session") instanceof String session
        && claims.getValue("role") instanceof String role) {
      Grant.Role part = Grant.Role.valueOf(role.toUpperCase(Locale.ROOT));
      return new Principal(
          tenant,
          part.wireName() + "-token",
          null,
          EnumSet.of(Scope.SESSIONS),
          Grant.session(session, part));
    }
    return null;
  }

  /**
   * An app's JWT: {@code tenant} and {@code exp} required; {@code sub}, {@code scope}, and {@code
   * generation} or {@code session} (not both) optional. Null when a claim is missing or malformed.
   */
  private static Principal appToken(JsonObject claims) {
    if (!(claims.getValue("exp") instanceof Number)
        || !(claims.getValue("tenant") instanceof String tenant)
        || !tenant.matches(TENANT)) {
      return null;
    }
    Set<Scope> scopes = CLIENT;
    Object scope = claims.getValue("scope");
    if (scope != null) {
      if (!(scope instanceof String names)) {
        return null;
      }
      scopes = EnumSet.noneOf(Scope.class);
      for (String name : names.trim().split("\\s+")) {
        for (Scope known : Scope.values()) {
          if (known.name().equalsIgnoreCase(name)) {
            scopes.add(known);
          }
        }
      }
    }
    Object generation = claims.getValue("generation");
    Object session = claims.getValue("session");
    if ((generation != null && !(generation instanceof String))
        || (session != null && !(session instanceof String))
        || (generation != null && session != null)) {
      return null;
    }
    Grant grant =
        generation != null
            ? Grant.generation((String) generation)
            : session != null ? Grant.session((String) session, Grant.Role.PARTICIPANT) : null;
    String subject = displayName(claims.getValue("sub"));
    return new Principal(
        tenant, subject == null ? "jwt" : "jwt:" + subject, subject, scopes, grant);
  }

  /** {@code sub} when it can be shown as a chat name (1 to 64 characters, no control ones). */
  private static String displayName(Object sub) {
    return sub instanceof String name
            && !name.isBlank()
            && name.length() <= 64
            && name.chars().noneMatch(Character::isISOControl)
        ? name.trim()
        : null;
  }

  /** For the start-up line: how many tenants and keys, never the keys. */
  public static String describe(TokenbusConfig.Auth config) {
    List<TokenbusConfig.Auth.ApiKey> keys = config.keys();
    boolean admin = config.adminKeySha256() != null;
    boolean jwt = config.jwtSecretOrNull() != null || config.jwtPublicKeyOrNull() != null;
    if (keys.isEmpty() && !admin && !jwt) {
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
        + (admin ? ", admin key" : "")
        + (jwt ? ", JWT" : "")
        + ")";
  }
}
