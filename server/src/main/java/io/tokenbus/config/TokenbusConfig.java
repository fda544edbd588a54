package io.tokenbus.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The whole configuration, parsed once at start-up and handed down. Every key is documented in
 * {@code conf/tokenbus.yaml}; {@link ConfigLoader} builds this from the layers and validates it.
 */
public record TokenbusConfig(
    Http http,
    Auth auth,
    Viewer viewer,
    WebSocket websocket,
    Generation generation,
    Mock mock,
    Map<String, Provider> providers,
    Map<String, String> fallbacks,
    Sessions sessions,
    Cluster cluster,
    Limits limits,
    Metrics metrics,
    Database database) {

  /**
   * The durable history ({@code history}): off without a {@code url}. {@code url} is {@code
   * postgresql://user[:password]@host[:port]/database}; {@code password}, when set, overrides the
   * URL's. {@code poolSize} connections at most; a session's answer in progress is written every
   * {@code checkpointMs}; finished generations are kept {@code retentionDays}; at most {@code
   * maxQueuedWrites} writes wait for the database, past which new sessions and posts are refused
   * (503). Neither the password nor the URL's is ever in a log or in {@link #toString()}.
   */
  public record Database(
      String url,
      String password,
      int poolSize,
      int checkpointMs,
      int retentionDays,
      int maxQueuedWrites) {

    public boolean enabled() {
      return url != null && !url.isBlank();
    }

    @Override
    public String toString() {
      return "Database[" + (enabled() ? redacted(url) : "off") + "]";
    }

    /**
     * The URL without any password, for logs: the user info's, and a {@code password} parameter of
     * the query (which the PostgreSQL client would read too). One that does not parse is not shown.
     */
    public static String redacted(String url) {
      if (url == null || url.isBlank()) {
        return "";
      }
      try {
        URI uri = new URI(url.trim());
        String user = uri.getRawUserInfo();
        if (user != null && user.contains(":")) {
          user = user.substring(0, user.indexOf(':')) + ":***";
        }
        String query = uri.getRawQuery();
        if (query != null) {
          query = query.replaceAll("(?i)(^|&)(password)=[^&]*", "$1$2=***");
        }
        return uri.getScheme()
            + "://"
            + (user == null ? "" : user + "@")
            + (uri.getHost() == null ? "" : uri.getHost())
            + (uri.getPort() < 0 ? "" : ":" + uri.getPort())
            + (uri.getRawPath() == null ? "" : uri.getRawPath())
            + (query == null ? "" : "?" + query);
      } catch (URISyntaxException e) {
        return "(a URL that does not parse)";
      }
    }

    /** The URL's parts, checked: scheme postgresql or postgres, a host, a database. */
    Database validated() {
      if (!enabled()) {
        return new Database(
            "",
            password == null ? "" : password,
            poolSize,
            checkpointMs,
            retentionDays,
            maxQueuedWrites);
      }
      String trimmed = url.trim();
      URI uri;
      try {
        uri = new URI(trimmed);
      } catch (URISyntaxException e) {
        throw new ConfigException("database.url", "is not a valid URL: " + redacted(trimmed));
      }
      if (!"postgresql".equals(uri.getScheme()) && !"postgres".equals(uri.getScheme())
          || uri.getHost() == null
          || uri.getPath() == null
          || uri.getPath().length() < 2) {
        throw new ConfigException(
            "database.url",
            "must be postgresql://user:password@host:port/database, got " + redacted(trimmed));
      }
      return new Database(
          trimmed,
          password == null ? "" : password,
          poolSize,
          checkpointMs,
          retentionDays,
          maxQueuedWrites);
    }
  }

  /**
   * {@code GET /metrics}: whether metrics are kept at all, and whether anyone may read them when
   * auth is on (otherwise only the admin key). {@code maxTenantLabels} and {@code maxModelLabels}
   * bound the distinct values of the {@code tenant} and {@code model} labels: later ones are
   * counted as {@code other}.
   */
  public record Metrics(
      boolean enabled,
      @JsonProperty("public") boolean open,
      int maxTenantLabels,
      int maxModelLabels) {}

  /**
   * Per-tenant limits: the defaults every tenant gets ({@code TOKENBUS_LIMITS_*}), and the
   * overrides of named tenants ({@code limits.tenants.<tenant>.<key>} in a file). Zero: no limit.
   */
  public record Limits(
      int requestsPerMinute,
      int requestsBurst,
      int maxConcurrentGenerations,
      int maxTokens,
      int maxN,
      long completionTokensPerDay,
      int maxSessions,
      long maxSessionBytes,
      Map<String, TenantOverride> tenants) {

    /** The keys a tenant's entry may set, as in the file. */
    public static final List<String> KEYS =
        List.of(
            "requests-per-minute",
            "requests-burst",
            "max-concurrent-generations",
            "max-tokens",
            "max-n",
            "completion-tokens-per-day",
            "max-sessions",
            "max-session-bytes");

    /** {@code tenant}'s limits: its overrides over the defaults. */
    public io.tokenbus.limits.TenantLimits of(String tenant) {
      TenantOverride own = tenants.get(tenant);
      if (own == null) {
        return new io.tokenbus.limits.TenantLimits(
            requestsPerMinute,
            requestsBurst,
            maxConcurrentGenerations,
            maxTokens,
            maxN,
            completionTokensPerDay,
            maxSessions,
            maxSessionBytes);
      }
      return new io.tokenbus.limits.TenantLimits(
          own.requestsPerMinute != null ? own.requestsPerMinute : requestsPerMinute,
          own.requestsBurst != null ? own.requestsBurst : requestsBurst,
          own.maxConcurrentGenerations != null
              ? own.maxConcurrentGenerations
              : maxConcurrentGenerations,
          own.maxTokens != null ? own.maxTokens : maxTokens,
          own.maxN != null ? own.maxN : maxN,
          own.completionTokensPerDay != null ? own.completionTokensPerDay : completionTokensPerDay,
          own.maxSessions != null ? own.maxSessions : maxSessions,
          own.maxSessionBytes != null ? own.maxSessionBytes : maxSessionBytes);
    }

    void check() {
      range("limits.requests-per-minute", requestsPerMinute, 0, 60_000_000);
      range("limits.requests-burst", requestsBurst, 0, 60_000_000);
      range("limits.max-concurrent-generations", maxConcurrentGenerations, 0, 10_000_000);
      range("limits.max-tokens", maxTokens, 0, Integer.MAX_VALUE);
      range("limits.max-n", maxN, 0, 128);
      range("limits.completion-tokens-per-day", completionTokensPerDay, 0, Long.MAX_VALUE);
      range("limits.max-sessions", maxSessions, 0, 10_000_000);
      range("limits.max-session-bytes", maxSessionBytes, 0, Long.MAX_VALUE);
      tenants.forEach(
          (tenant, own) -> {
            if (!tenant.matches("[A-Za-z0-9_.-]{1,64}")) {
              throw new ConfigException(
                  "limits.tenants." + tenant,
                  "names no tenant: a tenant is 1 to 64 letters, digits, '_', '.' or '-'");
            }
            String key = "limits.tenants." + tenant + ".";
            if (own.requestsPerMinute != null) {
              range(key + "requests-per-minute", own.requestsPerMinute, 0, 60_000_000);
            }
            if (own.requestsBurst != null) {
              range(key + "requests-burst", own.requestsBurst, 0, 60_000_000);
            }
            if (own.maxConcurrentGenerations != null) {
              range(
                  key + "max-concurrent-generations", own.maxConcurrentGenerations, 0, 10_000_000);
            }
            if (own.maxTokens != null) {
              range(key + "max-tokens", own.maxTokens, 0, Integer.MAX_VALUE);
            }
            if (own.maxN != null) {
              range(key + "max-n", own.maxN, 0, 128);
            }
            if (own.maxSessionBytes != null) {
              range(key + "max-session-bytes", own.maxSessionBytes, 0, Long.MAX_VALUE);
            }
            if (own.maxSessions != null) {
              range(key + "max-sessions", own.maxSessions, 0, 10_000_000);
            }
            if (own.completionTokensPerDay != null) {
              range(
                  key + "completion-tokens-per-day", own.completionTokensPerDay, 0, Long.MAX_VALUE);
            }
          });
    }
  }

  /** One tenant's own limits; a null key takes the default. */
  public record TenantOverride(
      Integer requestsPerMinute,
      Integer requestsBurst,
      Integer maxConcurrentGenerations,
      Integer maxTokens,
      Integer maxN,
      Long completionTokensPerDay,
      Integer maxSessions,
      Long maxSessionBytes) {}

  /**
   * Chat sessions: their limits and timings. {@code maxBytes} bounds what all sessions hold
   * together (as {@code session.SessionState#bytes} counts it): on a node, or about that across a
   * cluster.
   */
  public record Sessions(
      int maxSessions,
      long maxBytes,
      int maxParticipants,
      int maxMessageChars,
      int maxTranscriptChars,
      int maxTitleChars,
      int maxQueued,
      int idleExpirySeconds,
      int unusedExpirySeconds,
      int presenceGraceSeconds,
      String defaultModel) {

    /** How long a session nobody posted to lives without a change: never longer than a used one. */
    public int effectiveUnusedExpirySeconds() {
      return Math.min(unusedExpirySeconds, idleExpirySeconds);
    }
  }

  /**
   * The API's listener. {@code h2c}: HTTP/2 without TLS (prior knowledge or {@code Upgrade: h2c}),
   * for a proxy in front that ends TLS; off, a plain port speaks HTTP/1.x only. With {@link Tls},
   * HTTP/2 is offered by ALPN instead and {@code h2c} is not used.
   *
   * <p>Connection bounds ({@code http.Connections}, {@code http.ConnectionGuard}): a request head
   * must be complete within {@code headerTimeoutSeconds} of the connection opening or of the next
   * request's first byte, a body within {@code bodyTimeoutSeconds} of its head (else 408); a
   * keep-alive connection with no exchange in progress is closed after {@code idleTimeoutSeconds}.
   * At most {@code maxConnections} (0: derived from the process's open-file limit) and {@code
   * maxConnectionsPerAddress} (0: no limit) are served; {@code healthReserveConnections} more may
   * ask only for {@code /health}. On SIGTERM the node keeps serving for {@code drainSeconds} with
   * {@code /health/ready} answering 503, so that a load balancer stops sending, before it closes.
   */
  public record Http(
      int port,
      String host,
      int instances,
      int maxBodyBytes,
      boolean h2c,
      Tls tls,
      Cors cors,
      int headerTimeoutSeconds,
      int bodyTimeoutSeconds,
      int idleTimeoutSeconds,
      int maxConnections,
      int maxConnectionsPerAddress,
      int healthReserveConnections,
      int drainSeconds,
      boolean accessLog) {}

  /**
   * HTTPS and WSS on the API's port: a PEM certificate (chain) and its PEM private key, both or
   * neither; neither (the default) serves plain HTTP.
   */
  public record Tls(String certPath, String keyPath) {

    private static final String CERT_KEY = "http.tls.cert-path";
    private static final String KEY_KEY = "http.tls.key-path";

    /** Private-key forms Vert.x reads: PKCS#8, and PKCS#1 (RSA) or SEC1 (EC) keys. */
    private static final List<String> KEY_DELIMITERS =
        List.of(
            "-----BEGIN PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----");

    public boolean enabled() {
      return !cert().isEmpty();
    }

    /** The certificate file's path, trimmed; empty when TLS is off. */
    public String cert() {
      return certPath == null ? "" : certPath.trim();
    }

    /** The private key file's path, trimmed; empty when TLS is off. */
    public String key() {
      return keyPath == null ? "" : keyPath.trim();
    }

    /**
     * Both paths or neither, each a readable file of the right PEM kind, so that a mistake stops
     * start-up naming its key instead of failing at bind. (That the key is the certificate's is
     * checked before the port binds: {@code http.Listener}.) The files' contents never reach a
     * message.
     */
    void check() {
      if (cert().isEmpty() != key().isEmpty()) {
        String missing = cert().isEmpty() ? CERT_KEY : KEY_KEY;
        String set = cert().isEmpty() ? KEY_KEY : CERT_KEY;
        throw new ConfigException(
            missing,
            "is empty while "
                + set
                + " is set: HTTPS needs both the certificate and its private key (PEM files); set"
                + " it too ("
                + ConfigLoader.envName(missing)
                + ")");
      }
      if (!enabled()) {
        return;
      }
      String cert = pem(CERT_KEY, cert());
      if (!cert.contains("-----BEGIN CERTIFICATE-----")) {
        throw new ConfigException(
            CERT_KEY,
            "names " + cert() + ", which holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
      }
      String key = pem(KEY_KEY, key());
      if (KEY_DELIMITERS.stream().noneMatch(key::contains)) {
        throw new ConfigException(
            KEY_KEY,
            "names "
                + key()
                + ", which holds no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----, or an"
                + " RSA or EC PRIVATE KEY)");
      }
    }

    private static String pem(String configKey, String path) {
      Path file = Path.of(path);
      if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
        throw new ConfigException(configKey, "names no readable file: " + path);
      }
      try {
        // Latin-1 reads any bytes, so a DER file is refused below rather than failing to decode.
        return Files.readString(file, StandardCharsets.ISO_8859_1);
      } catch (IOException e) {
        throw new ConfigException(configKey, "names a file that cannot be read: " + path);
      }
    }
  }

  /**
   * Browser pages on other origins that may call the API ({@code scheme://host[:port]},
   * comma-separated; empty: none but the hub's own).
   */
  public record Cors(String allowedOrigins) {

    /** The origins, checked: a bad one is a {@link ConfigException}. */
    public List<String> origins() {
      List<String> origins = new ArrayList<>();
      for (String entry : (allowedOrigins == null ? "" : allowedOrigins).split(",")) {
        String origin = entry.trim();
        if (origin.isEmpty()) {
          continue;
        }
        if (!origin.matches("https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")) {
          throw new ConfigException(
              "http.cors.allowed-origins",
              "must be origins such as https://app.example.com or http://localhost:3000 (a scheme,"
                  + " a host and maybe a port, no path), got \""
                  + origin
                  + "\"");
        }
        origins.add(origin.toLowerCase(Locale.ROOT));
      }
      return origins;
    }
  }

  public record Viewer(
      int heartbeatSeconds,
      int writeQueueBytes,
      int maxStallSeconds,
      int catchUpBufferEvents,
      int coalesceMaxDelayMs) {}

  public record WebSocket(int maxFrameBytes, int maxSubscriptions, int maxFeedPending) {}

  /**
   * Who may call: client API keys by tenant ({@code <tenant>:<key>}, comma-separated), and the
   * admin key. A key may be given as {@code sha256:<hex>}, so a file need not hold the secret. Both
   * empty: auth is off. Only the keys' SHA-256 digests are kept once parsed.
   */
  public record Auth(
      String apiKeys,
      String adminKey,
      String mode,
      String jwtSecret,
      String jwtPublicKey,
      int watchTokenTtlSeconds,
      String tokenSecret) {

    /** {@code auth.mode}: keys when any is set, and none only on a loopback host (the default). */
    public static final String AUTO = "auto";

    /** {@code auth.mode}: no keys even on a public address, on purpose (warned at every start). */
    public static final String OPEN = "open";

    /** The fewest characters a key may have. */
    public static final int MIN_KEY_CHARS = 16;

    private static final String SHA256 = "sha256:";

    /**
     * One client key: its tenant, its place among that tenant's keys (1, 2, ...; what logs name it
     * by), and the SHA-256 of the key.
     */
    public record ApiKey(String tenant, int index, byte[] sha256) {}

    /** The client keys, parsed and checked; a bad entry is a {@link ConfigException}. */
    public List<ApiKey> keys() {
      List<ApiKey> keys = new ArrayList<>();
      Map<String, Integer> perTenant = new LinkedHashMap<>();
      String[] entries = apiKeys == null ? new String[0] : apiKeys.split(",");
      for (int i = 0; i < entries.length; i++) {
        String entry = entries[i].trim();
        if (entry.isEmpty()) {
          continue;
        }
        int colon = entry.indexOf(':');
        String tenant = colon < 0 ? "" : entry.substring(0, colon).trim();
        if (!tenant.matches("[A-Za-z0-9_.-]{1,64}")) {
          throw new ConfigException(
              "auth.api-keys",
              "entry "
                  + (i + 1)
                  + " must be <tenant>:<key>, the tenant 1 to 64 letters, digits, '_', '.' or '-'");
        }
        int index = perTenant.merge(tenant, 1, Integer::sum);
        keys.add(
            new ApiKey(
                tenant,
                index,
                digest("auth.api-keys", "entry " + (i + 1), entry.substring(colon + 1).trim())));
      }
      return keys;
    }

    /** The SHA-256 of the admin key, or null when there is none. */
    public byte[] adminKeySha256() {
      return adminKey == null || adminKey.isBlank()
          ? null
          : digest("auth.admin-key", "the admin key", adminKey.trim());
    }

    /** The fewest characters of an HMAC secret ({@code auth.jwt-secret}, {@code token-secret}). */
    public static final int MIN_SECRET_CHARS = 32;

    /** True when any key is set: every API call then needs one. */
    public boolean enabled() {
      return !keys().isEmpty()
          || adminKeySha256() != null
          || jwtSecretOrNull() != null
          || jwtPublicKeyOrNull() != null;
    }

    /** The HS256 secret for apps' JWTs, checked; null when none. */
    public String jwtSecretOrNull() {
      return secret("auth.jwt-secret", jwtSecret);
    }

    /** The secret tokenbus signs its own tokens with, checked; null for a random one. */
    public String tokenSecretOrNull() {
      return secret("auth.token-secret", tokenSecret);
    }

    /**
     * The public key for apps' RS256 or ES256 JWTs, as PEM (read from the file when the setting is
     * a path), with the algorithm it verifies; null when none.
     */
    public JwtKey jwtPublicKeyOrNull() {
      if (jwtPublicKey == null || jwtPublicKey.isBlank()) {
        return null;
      }
      String pem = jwtPublicKey.trim();
      if (!pem.startsWith("-----BEGIN")) {
        try {
          pem = Files.readString(Path.of(pem)).trim();
        } catch (IOException | InvalidPathException e) {
          throw new ConfigException(
              "auth.jwt-public-key",
              "is neither a PEM public key nor a readable file: " + e.getMessage());
        }
      }
      return JwtKey.parse(pem);
    }

    /** A PEM public key and the JWT algorithm it verifies ({@code RS256} or {@code ES256}). */
    public record JwtKey(String pem, String algorithm) {
      static JwtKey parse(String pem) {
        String body = pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----", "").replaceAll("\\s", "");
        if (!pem.startsWith("-----BEGIN PUBLIC KEY-----")) {
          throw new ConfigException(
              "auth.jwt-public-key", "must be a PEM public key (-----BEGIN PUBLIC KEY-----)");
        }
        byte[] der;
        try {
          der = Base64.getDecoder().decode(body);
        } catch (IllegalArgumentException e) {
          throw new ConfigException("auth.jwt-public-key", "is not valid PEM (bad base64)");
        }
        for (String[] kind : new String[][] {{"RSA", "RS256"}, {"EC", "ES256"}}) {
          try {
            KeyFactory.getInstance(kind[0]).generatePublic(new X509EncodedKeySpec(der));
            return new JwtKey(pem, kind[1]);
          } catch (GeneralSecurityException e) {
            // not this kind
          }
        }
        throw new ConfigException(
            "auth.jwt-public-key", "must be an RSA (RS256) or EC P-256 (ES256) public key");
      }
    }

    private static String secret(String configKey, String value) {
      if (value == null || value.isBlank()) {
        return null;
      }
      if (value.trim().length() < MIN_SECRET_CHARS) {
        throw new ConfigException(
            configKey,
            "must have at least "
                + MIN_SECRET_CHARS
                + " characters (an HMAC-SHA256 key), got "
                + value.trim().length());
      }
      return value.trim();
    }

    /** True when the API is served without keys on purpose ({@code auth.mode: open}). */
    public boolean open() {
      return OPEN.equals(mode);
    }

    /** A key's SHA-256: given as {@code sha256:<hex>}, or computed. Messages never hold the key. */
    private static byte[] digest(String configKey, String what, String key) {
      if (key.startsWith(SHA256)) {
        String hex = key.substring(SHA256.length());
        if (!hex.matches("[0-9a-fA-F]{64}")) {
          throw new ConfigException(
              configKey, what + ": sha256: must be followed by 64 hex digits (a SHA-256 digest)");
        }
        return HexFormat.of().parseHex(hex);
      }
      if (key.length() < MIN_KEY_CHARS) {
        throw new ConfigException(
            configKey,
            what
                + ": a key must have at least "
                + MIN_KEY_CHARS
                + " characters, got "
                + key.length());
      }
      return sha256(key);
    }

    /** The SHA-256 of a presented key, to compare with the configured digests. */
    public static byte[] sha256(String key) {
      try {
        return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every Java runtime has SHA-256", e);
      }
    }
  }

  public record Generation(
      int workers,
      int maxConcurrent,
      int placementAttempts,
      int maxEvents,
      long maxLogBytes,
      int batchWindowMs,
      int batchMaxEvents,
      int retentionSeconds,
      int maxRetained,
      long maxRetainedBytes,
      String streamModel,
      int idleCancelSeconds,
      int maxDurationSeconds) {}

  /**
   * The built-in model's speed, its floor for a request's {@code mock_tokens_per_second}, and its
   * length without {@code max_tokens}.
   */
  public record Mock(double tokensPerSecond, double minTokensPerSecond, int defaultMaxTokens) {}

  /**
   * One upstream: which models it serves, where it is, and how tokenbus treats its failures.
   *
   * @param type {@code openai} (any OpenAI-compatible server) or {@code anthropic} (the Messages
   *     API)
   * @param models comma-separated model patterns; {@code *} matches any run of characters
   * @param maxEventBytes the largest SSE event (its data lines together) read from the upstream
   * @param maxLineBytes the longest SSE line read from the upstream
   */
  public record Provider(
      String type,
      String models,
      String baseUrl,
      String apiKey,
      Map<String, String> headers,
      int maxEventBytes,
      int maxLineBytes,
      Timeouts timeouts,
      Retry retry,
      Recovery recovery,
      CircuitBreaker circuitBreaker,
      Anthropic anthropic) {

    public static final String OPENAI = "openai";
    public static final String ANTHROPIC = "anthropic";

    /** A provider with neither a base URL nor a key is not in use. */
    public boolean enabled() {
      return !baseUrl.isEmpty() || !apiKey.isEmpty();
    }

    /** The base URL in effect: the configured one, or the provider type's public endpoint. */
    public String effectiveBaseUrl() {
      if (!baseUrl.isEmpty()) {
        return baseUrl;
      }
      return type.equals(ANTHROPIC) ? "https://api.anthropic.com" : "https://api.openai.com/v1";
    }

    public List<String> modelPatterns() {
      return Arrays.stream(models.split(",")).map(String::trim).filter(m -> !m.isEmpty()).toList();
    }

    /** Never prints the key or header values (they often hold credentials). */
    @Override
    public String toString() {
      return "Provider[type="
          + type
          + ", models="
          + models
          + ", baseUrl="
          + baseUrl
          + ", apiKey="
          + (apiKey.isEmpty() ? "(none)" : "(set)")
          + ", headers="
          + headers.keySet()
          + ", maxEventBytes="
          + maxEventBytes
          + ", maxLineBytes="
          + maxLineBytes
          + ", "
          + timeouts
          + ", "
          + retry
          + ", "
          + recovery
          + ", "
          + circuitBreaker
          + "]";
    }
  }

  /**
   * Upstream timeouts; each ends the attempt, and all but {@code totalMs} may be retried or
   * recovered.
   */
  public record Timeouts(int connectMs, int firstTokenMs, int idleMs, int totalMs) {}

  /**
   * Retries of an attempt that failed before producing anything: exponential backoff with full
   * jitter.
   */
  public record Retry(
      int maxAttempts, int initialBackoffMs, int maxBackoffMs, int maxRetryAfterMs) {}

  /**
   * What happens when a stream breaks after it produced text.
   *
   * @param onBreak the {@code strategy} key, parsed once when the configuration is read
   */
  public record Recovery(
      @JsonProperty("strategy") Strategy onBreak,
      int maxAttempts,
      String continueInstruction,
      boolean continueFinalMessage) {

    /** The strategy as configured; logs and recovery events name it so. */
    public String strategy() {
      return onBreak.configName();
    }

    /**
     * Continue from the partial text, restart the answer (a reset first), or fail keeping the
     * partial text.
     */
    public enum Strategy {
      CONTINUE,
      RESTART,
      FAIL;

      public String configName() {
        return name().toLowerCase(Locale.ROOT);
      }

      /**
       * Reads a configured value, case and surrounding blanks aside. A refusal's message is the one
       * the configuration error shows, under the key's name.
       */
      @JsonCreator
      public static Strategy parse(String value) {
        String name = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        for (Strategy strategy : values()) {
          if (strategy.configName().equals(name)) {
            return strategy;
          }
        }
        throw new IllegalArgumentException(refusal(value));
      }

      static String refusal(String value) {
        return "must be one of "
            + Arrays.stream(values()).map(Strategy::configName).toList()
            + ", got \""
            + value
            + "\"";
      }
    }
  }

  /**
   * One circuit per model of the provider, at most {@code maxModels} of them (past it, the least
   * recently used one that is closed and counts no failure is forgotten first).
   */
  public record CircuitBreaker(int failureThreshold, int resetMs, int maxModels) {}

  /** Settings only the Anthropic Messages API needs. */
  public record Anthropic(String version, int defaultMaxTokens) {}

  public record Cluster(
      boolean enabled,
      String name,
      String secret,
      boolean insecure,
      String host,
      int port,
      int eventBusPort,
      int batchWindowMs,
      String members,
      String configFile,
      EventBusTls tls) {

    /** The fewest characters of {@code cluster.secret}. */
    public static final int MIN_SECRET_CHARS = 32;

    /** The members as {@code host:port} strings. */
    public List<String> memberList() {
      return members.isBlank()
          ? List.of()
          : Arrays.stream(members.split(",")).map(String::trim).filter(m -> !m.isEmpty()).toList();
    }

    /** Never prints the secret. */
    @Override
    public String toString() {
      return "Cluster[enabled="
          + enabled
          + ", name="
          + name
          + ", secret="
          + (secret.isEmpty() ? "(none)" : "(set)")
          + ", insecure="
          + insecure
          + ", host="
          + host
          + ", port="
          + port
          + ", eventBusPort="
          + eventBusPort
          + ", batchWindowMs="
          + batchWindowMs
          + ", members="
          + members
          + ", configFile="
          + configFile
          + ", tls="
          + tls
          + "]";
    }
  }

  /**
   * TLS with mutual authentication on the clustered event bus ({@code cluster.tls.*}): this node's
   * PEM certificate and private key, and the CA whose signature every node's certificate must bear.
   * All three or none; Hazelcast's own links are not covered (see the README's Security section).
   */
  public record EventBusTls(String certPath, String keyPath, String caPath) {

    private static final String CERTIFICATE = "CERTIFICATE";

    /** The private-key blocks Vert.x reads: PKCS#8, PKCS#1 (RSA) and SEC1 (EC), unencrypted. */
    private static final String PRIVATE_KEY = "(RSA |EC )?PRIVATE KEY";

    /** True when the event bus runs on TLS. */
    public boolean enabled() {
      return !certPath.isEmpty();
    }

    /** Checks the three paths together; returns them trimmed. */
    EventBusTls validated() {
      Map<String, String> paths = new LinkedHashMap<>();
      paths.put("cluster.tls.cert-path", certPath == null ? "" : certPath.trim());
      paths.put("cluster.tls.key-path", keyPath == null ? "" : keyPath.trim());
      paths.put("cluster.tls.ca-path", caPath == null ? "" : caPath.trim());
      List<String> set =
          paths.entrySet().stream()
              .filter(e -> !e.getValue().isEmpty())
              .map(Map.Entry::getKey)
              .toList();
      if (set.isEmpty()) {
        return new EventBusTls("", "", "");
      }
      for (Map.Entry<String, String> path : paths.entrySet()) {
        if (path.getValue().isEmpty()) {
          throw new ConfigException(
              path.getKey(),
              "must be set too: event-bus TLS needs cluster.tls.cert-path, cluster.tls.key-path"
                  + " and cluster.tls.ca-path together, and only "
                  + String.join(" and ", set)
                  + (set.size() == 1 ? " is" : " are")
                  + " set");
        }
      }
      pem("cluster.tls.cert-path", paths.get("cluster.tls.cert-path"), CERTIFICATE);
      pem("cluster.tls.key-path", paths.get("cluster.tls.key-path"), PRIVATE_KEY);
      pem("cluster.tls.ca-path", paths.get("cluster.tls.ca-path"), CERTIFICATE);
      return new EventBusTls(
          paths.get("cluster.tls.cert-path"),
          paths.get("cluster.tls.key-path"),
          paths.get("cluster.tls.ca-path"));
    }

    /**
     * Refuses a file that cannot be read or holds no PEM block of the kind wanted. The message
     * names the file, never its content.
     */
    private static void pem(String key, String path, String block) {
      String text;
      try {
        text = Files.readString(Path.of(path), StandardCharsets.ISO_8859_1);
      } catch (IOException | RuntimeException e) {
        throw new ConfigException(key, "names a file that cannot be read: " + path);
      }
      if (!Pattern.compile("^-----BEGIN " + block + "-----$", Pattern.MULTILINE)
          .matcher(text)
          .find()) {
        throw new ConfigException(
            key,
            "must name a PEM file with a "
                + (block.equals(CERTIFICATE)
                    ? "-----BEGIN CERTIFICATE----- block"
                    : "-----BEGIN PRIVATE KEY----- block (or RSA or EC PRIVATE KEY, unencrypted)")
                + "; "
                + path
                + " has none");
      }
    }
  }

  /**
   * The group-commit window in effect: a clustered node with no window of its own uses the
   * cluster's.
   */
  public int batchWindowMs() {
    return cluster.enabled() && generation.batchWindowMs() == 0
        ? cluster.batchWindowMs()
        : generation.batchWindowMs();
  }

  /**
   * Checks every value, naming the key of the first bad one; returns the config with strings
   * normalised.
   */
  TokenbusConfig validated() {
    range("http.port", http.port, 0, 65535);
    notBlank("http.host", http.host);
    range("http.instances", http.instances, 0, 256);
    range("http.max-body-bytes", http.maxBodyBytes, 1024, 64 * 1024 * 1024);
    range("http.header-timeout-seconds", http.headerTimeoutSeconds, 1, 3600);
    range("http.body-timeout-seconds", http.bodyTimeoutSeconds, 1, 3600);
    range("http.idle-timeout-seconds", http.idleTimeoutSeconds, 1, 24 * 3600);
    range("http.max-connections", http.maxConnections, 0, 10_000_000);
    range("http.max-connections-per-address", http.maxConnectionsPerAddress, 0, 10_000_000);
    range("http.health-reserve-connections", http.healthReserveConnections, 0, 10_000);
    range("http.drain-seconds", http.drainSeconds, 0, 3600);
    http.cors().origins();
    http.tls().check();
    Auth authNormalised =
        new Auth(
            auth.apiKeys,
            auth.adminKey,
            auth.mode == null ? Auth.AUTO : auth.mode.trim().toLowerCase(Locale.ROOT),
            auth.jwtSecret,
            auth.jwtPublicKey,
            auth.watchTokenTtlSeconds,
            auth.tokenSecret);
    if (!List.of(Auth.AUTO, Auth.OPEN).contains(authNormalised.mode)) {
      throw new ConfigException("auth.mode", "must be auto or open, got \"" + auth.mode + "\"");
    }
    range("auth.watch-token-ttl-seconds", auth.watchTokenTtlSeconds, 1, 30 * 24 * 3600);
    authNormalised.tokenSecretOrNull(); // throws when too short
    boolean keyed = authNormalised.enabled(); // parses the keys: throws on a bad entry
    if (keyed && authNormalised.open()) {
      throw new ConfigException(
          "auth.mode",
          "is open, which would ignore the API keys that are set: remove one or the other");
    }
    if (!keyed && !authNormalised.open() && !loopback(http.host)) {
      throw new ConfigException(
          "auth.api-keys",
          "is empty, and http.host "
              + http.host
              + " is not a loopback address: anyone who reaches it could use the API and the"
              + " upstreams' keys. Set TOKENBUS_API_KEYS (or TOKENBUS_ADMIN_KEY, or a JWT key), bind to"
              + " 127.0.0.1, or set TOKENBUS_AUTH_MODE=open to serve it without keys on purpose");
    }
    range("viewer.heartbeat-seconds", viewer.heartbeatSeconds, 1, 3600);
    range("viewer.write-queue-bytes", viewer.writeQueueBytes, 1024, 64 * 1024 * 1024);
    range("viewer.max-stall-seconds", viewer.maxStallSeconds, 1, 3600);
    range("viewer.catch-up-buffer-events", viewer.catchUpBufferEvents, 1, 1_000_000);
    range("viewer.coalesce-max-delay-ms", viewer.coalesceMaxDelayMs, 0, 1000);
    range("websocket.max-frame-bytes", websocket.maxFrameBytes, 256, 16 * 1024 * 1024);
    range("websocket.max-subscriptions", websocket.maxSubscriptions, 1, 10_000);
    range("websocket.max-feed-pending", websocket.maxFeedPending, 16, 10_000_000);
    range("generation.workers", generation.workers, 0, 256);
    range("generation.max-concurrent", generation.maxConcurrent, 1, 1_000_000);
    range("generation.placement-attempts", generation.placementAttempts, 1, 1000);
    range("generation.max-events", generation.maxEvents, 1, 100_000_000);
    if (generation.maxLogBytes < 64 * 1024) {
      throw new ConfigException(
          "generation.max-log-bytes", "must be at least 65536, got " + generation.maxLogBytes);
    }
    range("generation.batch-window-ms", generation.batchWindowMs, 0, 1000);
    range("generation.batch-max-events", generation.batchMaxEvents, 1, 100_000);
    range("generation.retention-seconds", generation.retentionSeconds, 1, 7 * 24 * 3600);
    range("generation.max-retained", generation.maxRetained, 1, 10_000_000);
    if (generation.maxRetainedBytes < 1024 * 1024) {
      throw new ConfigException(
          "generation.max-retained-bytes",
          "must be at least 1048576 (1 MiB), got " + generation.maxRetainedBytes);
    }
    notBlank("generation.stream-model", generation.streamModel);
    range("generation.idle-cancel-seconds", generation.idleCancelSeconds, 0, 24 * 3600);
    range("generation.max-duration-seconds", generation.maxDurationSeconds, 1, 7 * 24 * 3600);
    if (!(mock.tokensPerSecond > 0 && mock.tokensPerSecond <= 1_000_000)) {
      throw new ConfigException(
          "mock.tokens-per-second",
          "must be above 0 and at most 1000000, got " + mock.tokensPerSecond);
    }
    if (!(mock.minTokensPerSecond > 0 && mock.minTokensPerSecond <= mock.tokensPerSecond)) {
      throw new ConfigException(
          "mock.min-tokens-per-second",
          "must be above 0 and at most mock.tokens-per-second, got " + mock.minTokensPerSecond);
    }
    range("mock.default-max-tokens", mock.defaultMaxTokens, 1, 1_000_000);
    Map<String, Provider> providersNormalised = new LinkedHashMap<>();
    providers.forEach(
        (name, provider) ->
            providersNormalised.put(name, validated("providers." + name, provider)));
    Map<String, String> fallbacksNormalised = new LinkedHashMap<>();
    fallbacks.forEach(
        (model, chain) -> {
          List<String> models =
              Arrays.stream((chain == null ? "" : chain).split(","))
                  .map(String::trim)
                  .filter(m -> !m.isEmpty())
                  .toList();
          if (models.isEmpty()) {
            throw new ConfigException(
                "fallbacks." + model, "must name at least one model, comma-separated");
          }
          fallbacksNormalised.put(model.trim(), String.join(",", models));
        });
    notBlank("cluster.name", cluster.name);
    notBlank("cluster.host", cluster.host);
    range("cluster.port", cluster.port, 1, 65535);
    range("cluster.event-bus-port", cluster.eventBusPort, 0, 65535);
    range("cluster.batch-window-ms", cluster.batchWindowMs, 0, 1000);
    Cluster clusterNormalised =
        new Cluster(
            cluster.enabled,
            cluster.name.trim(),
            cluster.secret == null ? "" : cluster.secret.trim(),
            cluster.insecure,
            cluster.host.trim(),
            cluster.port,
            cluster.eventBusPort,
            cluster.batchWindowMs,
            cluster.members == null ? "" : cluster.members.trim(),
            cluster.configFile == null ? "" : cluster.configFile.trim(),
            cluster.tls.validated());
    if (!clusterNormalised.secret().isEmpty()
        && clusterNormalised.secret().length() < Cluster.MIN_SECRET_CHARS) {
      throw new ConfigException(
          "cluster.secret",
          "must have at least "
              + Cluster.MIN_SECRET_CHARS
              + " characters, got "
              + clusterNormalised.secret().length());
    }
    if (clusterNormalised.enabled()
        && clusterNormalised.secret().isEmpty()
        && !clusterNormalised.insecure()) {
      throw new ConfigException(
          "cluster.secret",
          "is required when clustered: set TOKENBUS_CLUSTER_SECRET to the same "
              + Cluster.MIN_SECRET_CHARS
              + " or more random characters on every node (openssl rand -hex 32), or"
              + " TOKENBUS_CLUSTER_INSECURE=true to let any process that reaches cluster.port join");
    }
    for (String member : clusterNormalised.memberList()) {
      int colon = member.lastIndexOf(':');
      String port = colon < 0 ? "" : member.substring(colon + 1);
      if (colon <= 0
          || port.isEmpty()
          || !port.chars().allMatch(Character::isDigit)
          || Integer.parseInt(port) < 1
          || Integer.parseInt(port) > 65535) {
        throw new ConfigException(
            "cluster.members",
            "must be comma-separated host:port pairs such as "
                + "10.0.0.1:5701,10.0.0.2:5701; got \""
                + member
                + "\"");
      }
    }
    if (!clusterNormalised.configFile().isEmpty()
        && !Files.isRegularFile(Path.of(clusterNormalised.configFile()))) {
      throw new ConfigException(
          "cluster.config-file",
          "names a file that does not exist: " + clusterNormalised.configFile());
    }
    range("sessions.max-sessions", sessions.maxSessions(), 1, 10_000_000);
    if (sessions.maxBytes() < 1024 * 1024 || sessions.maxBytes() > 1L << 40) {
      throw new ConfigException(
          "sessions.max-bytes",
          "must be at least 1048576 (1 MiB) and at most 1099511627776 (1 TiB), got "
              + sessions.maxBytes());
    }
    range("sessions.max-participants", sessions.maxParticipants(), 1, 10_000);
    range("sessions.max-message-chars", sessions.maxMessageChars(), 1, 1_000_000);
    range(
        "sessions.max-transcript-chars",
        sessions.maxTranscriptChars(),
        sessions.maxMessageChars(),
        100_000_000);
    range("sessions.max-title-chars", sessions.maxTitleChars(), 1, 10_000);
    range("sessions.max-queued", sessions.maxQueued(), 0, 10_000);
    range("sessions.idle-expiry-seconds", sessions.idleExpirySeconds(), 10, 365 * 24 * 3600);
    range("sessions.unused-expiry-seconds", sessions.unusedExpirySeconds(), 10, 365 * 24 * 3600);
    range("sessions.presence-grace-seconds", sessions.presenceGraceSeconds(), 0, 3600);
    notBlank("sessions.default-model", sessions.defaultModel());
    limits.check();
    range("metrics.max-tenant-labels", metrics.maxTenantLabels, 1, 100_000);
    range("metrics.max-model-labels", metrics.maxModelLabels, 1, 100_000);
    range("database.pool-size", database.poolSize, 1, 1000);
    range("database.checkpoint-ms", database.checkpointMs, 10, 600_000);
    range("database.retention-days", database.retentionDays, 1, 36_500);
    range("database.max-queued-writes", database.maxQueuedWrites, 1, 10_000_000);
    return new TokenbusConfig(
        http,
        authNormalised,
        viewer,
        websocket,
        generation,
        mock,
        Collections.unmodifiableMap(providersNormalised),
        Collections.unmodifiableMap(fallbacksNormalised),
        sessions,
        clusterNormalised,
        limits,
        metrics,
        database.validated());
  }

  /** True for 127.0.0.0/8, ::1 and names that resolve to them (localhost). */
  private static boolean loopback(String host) {
    try {
      return InetAddress.getByName(host.trim()).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /**
   * The fallback chain of a model: the models to try, in order, after it; empty when it has none.
   */
  public List<String> fallbacksOf(String model) {
    String chain = fallbacks.get(model);
    return chain == null ? List.of() : List.of(chain.split(","));
  }

  private static Provider validated(String key, Provider p) {
    String type = p.type() == null ? "" : p.type().trim().toLowerCase(Locale.ROOT);
    if (!type.equals(Provider.OPENAI) && !type.equals(Provider.ANTHROPIC)) {
      throw new ConfigException(
          key + ".type", "must be openai or anthropic, got \"" + p.type() + "\"");
    }
    String models = p.models() == null ? "" : p.models().trim();
    if (Arrays.stream(models.split(",")).allMatch(String::isBlank)) {
      throw new ConfigException(
          key + ".models", "must name at least one model pattern, such as gpt-* or llama*");
    }
    String baseUrl = p.baseUrl() == null ? "" : p.baseUrl().trim();
    while (baseUrl.endsWith("/")) {
      baseUrl = baseUrl.substring(0, baseUrl.length() - 1);
    }
    if (!baseUrl.isEmpty()) {
      checkUrl(key + ".base-url", baseUrl);
    }
    String apiKey = p.apiKey() == null ? "" : p.apiKey().trim();
    Map<String, String> headers = new LinkedHashMap<>();
    (p.headers() == null ? Map.<String, String>of() : p.headers())
        .forEach(
            (name, value) -> {
              if (name.isBlank() || !name.chars().allMatch(c -> c > 32 && c < 127 && c != ':')) {
                throw new ConfigException(
                    key + ".headers", "has an invalid header name \"" + name + "\"");
              }
              headers.put(name, value == null ? "" : value);
            });
    range(key + ".max-event-bytes", p.maxEventBytes(), 1024, 256 * 1024 * 1024);
    range(key + ".max-line-bytes", p.maxLineBytes(), 1024, 256 * 1024 * 1024);
    Timeouts t = p.timeouts();
    range(key + ".timeouts.connect-ms", t.connectMs(), 1, 600_000);
    range(key + ".timeouts.first-token-ms", t.firstTokenMs(), 1, 3_600_000);
    range(key + ".timeouts.idle-ms", t.idleMs(), 1, 3_600_000);
    range(key + ".timeouts.total-ms", t.totalMs(), 1, 24 * 3_600_000);
    Retry r = p.retry();
    range(key + ".retry.max-attempts", r.maxAttempts(), 1, 100);
    range(key + ".retry.initial-backoff-ms", r.initialBackoffMs(), 0, 600_000);
    range(key + ".retry.max-backoff-ms", r.maxBackoffMs(), r.initialBackoffMs(), 600_000);
    range(key + ".retry.max-retry-after-ms", r.maxRetryAfterMs(), 0, 3_600_000);
    Recovery rec = p.recovery();
    // Any other bad value was refused while binding (Strategy.parse); an empty one never reaches
    // the parser.
    if (rec.onBreak() == null) {
      throw new ConfigException(key + ".recovery.strategy", Recovery.Strategy.refusal(null));
    }
    range(key + ".recovery.max-attempts", rec.maxAttempts(), 0, 100);
    CircuitBreaker cb = p.circuitBreaker();
    range(key + ".circuit-breaker.failure-threshold", cb.failureThreshold(), 0, 10_000);
    range(key + ".circuit-breaker.reset-ms", cb.resetMs(), 1, 3_600_000);
    range(key + ".circuit-breaker.max-models", cb.maxModels(), 1, 1_000_000);
    notBlank(key + ".anthropic.version", p.anthropic().version());
    range(key + ".anthropic.default-max-tokens", p.anthropic().defaultMaxTokens(), 1, 1_000_000);
    return new Provider(
        type,
        models,
        baseUrl,
        apiKey,
        Collections.unmodifiableMap(headers),
        p.maxEventBytes(),
        p.maxLineBytes(),
        t,
        r,
        new Recovery(
            rec.onBreak(),
            rec.maxAttempts(),
            rec.continueInstruction() == null ? "" : rec.continueInstruction(),
            rec.continueFinalMessage()),
        cb,
        p.anthropic());
  }

  private static void range(String key, long value, long min, long max) {
    if (value < min || value > max) {
      throw new ConfigException(key, "must be between " + min + " and " + max + ", got " + value);
    }
  }

  private static void notBlank(String key, String value) {
    if (value == null || value.isBlank()) {
      throw new ConfigException(key, "must not be empty");
    }
  }

  private static void checkUrl(String key, String value) {
    try {
      URI uri = new URI(value);
      String scheme = uri.getScheme();
      if (scheme == null
          || !(scheme.equals("http") || scheme.equals("https"))
          || uri.getHost() == null) {
        throw new ConfigException(
            key,
            "must be an http:// or https:// URL such as https://api.openai.com/v1, got \""
                + value
                + "\"");
      }
      // Both would end up in logs, and a query would also break the paths appended to the URL.
      if (uri.getRawUserInfo() != null
          || uri.getRawQuery() != null
          || uri.getRawFragment() != null) {
        throw new ConfigException(
            key,
            "must not hold credentials, a query or a fragment (use api-key and headers); got a URL with "
                + (uri.getRawUserInfo() != null
                    ? "user info"
                    : uri.getRawQuery() != null ? "a query" : "a fragment"));
      }
    } catch (URISyntaxException e) {
      throw new ConfigException(key, "is not a valid URL: \"" + value + "\"");
    }
  }
}
