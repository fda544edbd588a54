package io.tokenbus.config;

import java.net.URI;

/**
 * The whole configuration, parsed once at start-up and handed down. Every key is documented in
 * {@code conf/tokenbus.yaml}; {@link ConfigLoader} builds this from the layers and validates it.
 */
public record TokenbusConfig(
    Http http, Viewer viewer, WebSocket websocket, Generation generation, Mock mock, OpenAi openai, Cluster cluster) {

  public record Http(int port, String host, int instances, int maxBodyBytes) {
  }

  public record Viewer(int heartbeatSeconds, int writeQueueBytes, int maxStallSeconds, int catchUpBufferEvents) {
  }

  public record WebSocket(int maxFrameBytes, int maxSubscriptions) {
  }

  public record Generation(
      int workers, int maxConcurrent, int placementAttempts, int maxEvents, int batchWindowMs, int batchMaxEvents,
      int retentionSeconds, String streamModel) {
  }

  public record Mock(double tokensPerSecond, int defaultMaxTokens) {
  }

  public record OpenAi(String baseUrl, String apiKey, int connectTimeoutMs, int idleTimeoutSeconds) {

    public boolean configured() {
      return !baseUrl.isEmpty();
    }

    /** Never prints the key. */
    @Override
    public String toString() {
      return "OpenAi[baseUrl=" + baseUrl + ", apiKey=" + (apiKey.isEmpty() ? "(none)" : "(set)")
          + ", connectTimeoutMs=" + connectTimeoutMs + ", idleTimeoutSeconds=" + idleTimeoutSeconds + "]";
    }
  }

  public record Cluster(boolean enabled, String name, String host, int port, int eventBusPort, int batchWindowMs,
                        String members, String configFile) {

    /** The members as {@code host:port} strings. */
    public java.util.List<String> memberList() {
      return members.isBlank() ? java.util.List.of()
          : java.util.Arrays.stream(members.split(",")).map(String::trim).filter(m -> !m.isEmpty()).toList();
    }
  }

  /** The group-commit window in effect: a clustered node with no window of its own uses the cluster's. */
  public int batchWindowMs() {
    return cluster.enabled() && generation.batchWindowMs() == 0 ? cluster.batchWindowMs() : generation.batchWindowMs();
  }

  /** Checks every value, naming the key of the first bad one; returns the config with strings normalised. */
  TokenbusConfig validated() {
    range("http.port", http.port, 0, 65535);
    notBlank("http.host", http.host);
    range("http.instances", http.instances, 0, 256);
    range("http.max-body-bytes", http.maxBodyBytes, 1024, 64 * 1024 * 1024);
    range("viewer.heartbeat-seconds", viewer.heartbeatSeconds, 1, 3600);
    range("viewer.write-queue-bytes", viewer.writeQueueBytes, 1024, 64 * 1024 * 1024);
    range("viewer.max-stall-seconds", viewer.maxStallSeconds, 1, 3600);
    range("viewer.catch-up-buffer-events", viewer.catchUpBufferEvents, 1, 1_000_000);
    range("websocket.max-frame-bytes", websocket.maxFrameBytes, 256, 16 * 1024 * 1024);
    range("websocket.max-subscriptions", websocket.maxSubscriptions, 1, 10_000);
    range("generation.workers", generation.workers, 0, 256);
    range("generation.max-concurrent", generation.maxConcurrent, 1, 1_000_000);
    range("generation.placement-attempts", generation.placementAttempts, 1, 1000);
    range("generation.max-events", generation.maxEvents, 1, 100_000_000);
    range("generation.batch-window-ms", generation.batchWindowMs, 0, 1000);
    range("generation.batch-max-events", generation.batchMaxEvents, 1, 100_000);
    range("generation.retention-seconds", generation.retentionSeconds, 1, 7 * 24 * 3600);
    notBlank("generation.stream-model", generation.streamModel);
    if (!(mock.tokensPerSecond > 0 && mock.tokensPerSecond <= 1_000_000)) {
      throw new ConfigException("mock.tokens-per-second", "must be above 0 and at most 1000000, got " + mock.tokensPerSecond);
    }
    range("mock.default-max-tokens", mock.defaultMaxTokens, 1, 1_000_000);
    range("openai.connect-timeout-ms", openai.connectTimeoutMs, 1, 600_000);
    range("openai.idle-timeout-seconds", openai.idleTimeoutSeconds, 1, 3600);
    String baseUrl = openai.baseUrl == null ? "" : openai.baseUrl.trim();
    while (baseUrl.endsWith("/")) {
      baseUrl = baseUrl.substring(0, baseUrl.length() - 1);
    }
    if (!baseUrl.isEmpty()) {
      checkUrl("openai.base-url", baseUrl);
    }
    String apiKey = openai.apiKey == null ? "" : openai.apiKey.trim();
    OpenAi normalised = new OpenAi(baseUrl, apiKey, openai.connectTimeoutMs, openai.idleTimeoutSeconds);
    notBlank("cluster.name", cluster.name);
    notBlank("cluster.host", cluster.host);
    range("cluster.port", cluster.port, 1, 65535);
    range("cluster.event-bus-port", cluster.eventBusPort, 0, 65535);
    range("cluster.batch-window-ms", cluster.batchWindowMs, 0, 1000);
    Cluster clusterNormalised = new Cluster(cluster.enabled, cluster.name.trim(), cluster.host.trim(), cluster.port,
        cluster.eventBusPort, cluster.batchWindowMs,
        cluster.members == null ? "" : cluster.members.trim(), cluster.configFile == null ? "" : cluster.configFile.trim());
    for (String member : clusterNormalised.memberList()) {
      int colon = member.lastIndexOf(':');
      String port = colon < 0 ? "" : member.substring(colon + 1);
      if (colon <= 0 || port.isEmpty() || !port.chars().allMatch(Character::isDigit) || Integer.parseInt(port) < 1
          || Integer.parseInt(port) > 65535) {
        throw new ConfigException("cluster.members", "must be comma-separated host:port pairs such as "
            + "10.0.0.1:5701,10.0.0.2:5701; got \"" + member + "\"");
      }
    }
    if (!clusterNormalised.configFile().isEmpty() && !java.nio.file.Files.isRegularFile(java.nio.file.Path.of(clusterNormalised.configFile()))) {
      throw new ConfigException("cluster.config-file", "names a file that does not exist: " + clusterNormalised.configFile());
    }
    return new TokenbusConfig(http, viewer, websocket, generation, mock, normalised, clusterNormalised);
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
      if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
        throw new ConfigException(key, "must be an http:// or https:// URL such as https://api.openai.com/v1, got \"" + value + "\"");
      }
    } catch (java.net.URISyntaxException e) {
      throw new ConfigException(key, "is not a valid URL: \"" + value + "\"");
    }
  }
}
