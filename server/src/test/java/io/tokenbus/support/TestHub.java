package io.tokenbus.support;

import io.tokenbus.Tokenbus;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.util.HashMap;
import java.util.Map;

/**
 * A real tokenbus node on 127.0.0.1 and a random port, configured through the same environment
 * variables users set.
 */
public final class TestHub {

  private final Tokenbus.Node node;
  private final WebClient web;

  private TestHub(Tokenbus.Node node, Vertx vertx) {
    this.node = node;
    WebClientOptions options =
        new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(node.port());
    if (node.config().http().tls().enabled()) {
      // The hub's own helper calls: a test that checks the certificate uses a client of its own.
      options.setSsl(true).setTrustAll(true).setVerifyHost(false);
    }
    this.web = WebClient.create(vertx, options);
  }

  /**
   * Starts a node with the embedded defaults plus {@code env} (environment-variable style
   * overrides).
   */
  public static Future<TestHub> start(Vertx vertx, Map<String, String> env) {
    TokenbusConfig config = config(env);
    return Tokenbus.deploy(vertx, config).map(node -> new TestHub(node, vertx));
  }

  /** The same over a given store. */
  public static Future<TestHub> start(Vertx vertx, Map<String, String> env, GenerationStore store) {
    return Tokenbus.deploy(vertx, config(env), store).map(node -> new TestHub(node, vertx));
  }

  private static TokenbusConfig config(Map<String, String> env) {
    Map<String, String> all = new HashMap<>();
    all.put("TOKENBUS_HTTP_PORT", "0");
    all.put("TOKENBUS_HTTP_HOST", "127.0.0.1");
    all.putAll(env);
    return ConfigLoader.load(
        new String[0], all); // honours TOKENBUS_CONFIG, as the real process does
  }

  /** A hub on {@code vertx} with the environment given as name, value, name, value... */
  public static Future<TestHub> start(Vertx vertx, String... env) {
    Map<String, String> all = new HashMap<>();
    for (int i = 0; i < env.length; i += 2) {
      all.put(env[i], env[i + 1]);
    }
    return start(vertx, all);
  }

  public static Future<TestHub> start(Vertx vertx) {
    return start(vertx, Map.of());
  }

  public int port() {
    return node.port();
  }

  /** The node itself, to close it as SIGTERM does. */
  public Tokenbus.Node node() {
    return node;
  }

  public TokenbusConfig config() {
    return node.config();
  }

  public WebClient web() {
    return web;
  }

  public Future<HttpResponse<Buffer>> post(String path, JsonObject body) {
    return web.post(path).sendJsonObject(body);
  }

  public Future<HttpResponse<Buffer>> postRaw(String path, String body) {
    return web.post(path)
        .putHeader("content-type", "application/json")
        .sendBuffer(Buffer.buffer(body));
  }

  public Future<HttpResponse<Buffer>> get(String path) {
    return web.get(path).send();
  }

  /** Starts a generation without watching it; completes with its id. */
  public Future<String> startGeneration(JsonObject request) {
    return post("/v1/generations", request)
        .map(
            response -> {
              if (response.statusCode() != 201) {
                throw new IllegalStateException(
                    "POST /v1/generations answered "
                        + response.statusCode()
                        + ": "
                        + response.bodyAsString());
              }
              return response.bodyAsJsonObject().getString("id");
            });
  }

  public static JsonObject mockRequest(int maxTokens, double tokensPerSecond) {
    return new JsonObject()
        .put("model", "mock")
        .put(
            "messages",
            new JsonArray().add(new JsonObject().put("role", "user").put("content", "hello there")))
        .put("max_tokens", maxTokens)
        .put("mock_tokens_per_second", tokensPerSecond);
  }
}
