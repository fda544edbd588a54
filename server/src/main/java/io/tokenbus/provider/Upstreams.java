package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.metrics.Metrics;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's upstreams: one {@link Provider} per configured provider (with its HTTP client and its
 * circuit breakers, one per model, shared by every worker of the node), the built-in mock, and the
 * routing of a model to the chain of targets to try: the model's own provider, then its fallbacks.
 */
public final class Upstreams {

  private static final Logger LOG = LoggerFactory.getLogger(Upstreams.class);

  /** The mock never fails by itself: one attempt, no breaker, generous timeouts. */
  public static final TokenbusConfig.Provider MOCK_POLICY =
      new TokenbusConfig.Provider(
          "mock",
          "mock,mock-*",
          "",
          "",
          Map.of(),
          1024 * 1024,
          256 * 1024,
          new TokenbusConfig.Timeouts(1000, 600_000, 600_000, 24 * 3_600_000),
          new TokenbusConfig.Retry(1, 0, 0, 0),
          new TokenbusConfig.Recovery(TokenbusConfig.Recovery.Strategy.CONTINUE, 3, "", false),
          new TokenbusConfig.CircuitBreaker(0, 1, 1),
          new TokenbusConfig.Anthropic("-", 1));

  private final TokenbusConfig config;
  private final MockProvider mock;
  private final Map<String, Served> providers = new LinkedHashMap<>();

  /** A configured provider in use; {@code circuits} is null when its breaker is disabled. */
  private record Served(
      String name, TokenbusConfig.Provider settings, Provider provider, ModelCircuits circuits) {}

  /**
   * One thing to try for a generation: a model, the provider that serves it, its policies and the
   * provider's circuits (null when disabled).
   */
  public record Target(
      String model, Provider provider, TokenbusConfig.Provider policy, ModelCircuits circuits) {

    /**
     * This model's circuit at its provider, or null when disabled. Asked at each attempt, so a
     * request is only routed, never given a circuit, until it is sent.
     */
    public CircuitBreaker breaker() {
      return circuits == null ? null : circuits.of(model);
    }
  }

  /** Either the chain of targets for a model, primary first, or why there is none. */
  public record Route(List<Target> chain, Failure failure) {}

  public Upstreams(Vertx vertx, TokenbusConfig config) {
    this(vertx, config, Metrics.none());
  }

  /**
   * @param metrics where each model's circuit shows its state
   */
  public Upstreams(Vertx vertx, TokenbusConfig config, Metrics metrics) {
    this.config = config;
    this.mock = new MockProvider(vertx, config.mock());
    config
        .providers()
        .forEach(
            (name, settings) -> {
              if (!settings.enabled()) {
                return;
              }
              Provider provider =
                  switch (settings.type()) {
                    // Every running generation may hold one streaming connection: the pool never
                    // makes one wait for another.
                    case TokenbusConfig.Provider.ANTHROPIC ->
                        new AnthropicProvider(
                            vertx, name, settings, config.generation().maxConcurrent());
                    default ->
                        new OpenAiProvider(
                            vertx, name, settings, config.generation().maxConcurrent());
                  };
              ModelCircuits circuits =
                  settings.circuitBreaker().failureThreshold() > 0
                      ? new ModelCircuits(vertx, name, settings.circuitBreaker(), metrics)
                      : null;
              providers.put(name, new Served(name, settings, provider, circuits));
            });
    // Said once at start-up, not on every request: routing skips such fallbacks quietly.
    config
        .fallbacks()
        .keySet()
        .forEach(
            model ->
                config.fallbacksOf(model).stream()
                    .filter(f -> target(f) == null)
                    .forEach(
                        f ->
                            LOG.warn(
                                "Fallback {} of model {} is not served by any provider; it is skipped",
                                f,
                                model)));
  }

  public static boolean isMock(String model) {
    return model.equals("mock") || model.startsWith("mock-");
  }

  /**
   * The model, then each of its fallbacks that is served; a failure if the model itself is not
   * served.
   */
  public Route route(String model) {
    Target primary = target(model);
    if (primary == null) {
      return new Route(
          List.of(),
          Failure.notFound(
              "model_not_found",
              "The model '"
                  + model
                  + "' is not served here. "
                  + "Served: "
                  + String.join(", ", servedPatterns())
                  + (providers.isEmpty()
                      ? " (no upstream is configured: set OPENAI_BASE_URL, OPENAI_API_KEY or ANTHROPIC_API_KEY)"
                      : "")
                  + "."));
    }
    List<Target> chain = new ArrayList<>();
    chain.add(primary);
    for (String fallback : config.fallbacksOf(model)) {
      Target target = target(fallback);
      if (target != null) { // an unserved one was reported at start-up
        chain.add(target);
      }
    }
    return new Route(List.copyOf(chain), null);
  }

  private Target target(String model) {
    if (isMock(model)) {
      return new Target(model, mock, MOCK_POLICY, null);
    }
    Served best = null;
    int bestScore = -1;
    for (Served served : providers.values()) {
      for (String pattern : served.settings().modelPatterns()) {
        if (matches(pattern, model)) {
          int score = 2 * pattern.replace("*", "").length() + (pattern.contains("*") ? 0 : 1);
          if (score > bestScore) {
            best = served;
            bestScore = score;
          }
        }
      }
    }
    return best == null
        ? null
        : new Target(model, best.provider(), best.settings(), best.circuits());
  }

  /** A glob where {@code *} matches any run of characters. */
  static boolean matches(String pattern, String model) {
    String[] parts = pattern.split("\\*", -1);
    if (parts.length == 1) {
      return pattern.equals(model);
    }
    if (!model.startsWith(parts[0])) {
      return false;
    }
    int at = parts[0].length();
    for (int i = 1; i < parts.length - 1; i++) {
      int found = model.indexOf(parts[i], at);
      if (found < 0) {
        return false;
      }
      at = found + parts[i].length();
    }
    String last = parts[parts.length - 1];
    return model.length() - at >= last.length() && model.endsWith(last);
  }

  /**
   * What {@code GET /v1/models} lists: the mock models and each provider's patterns, with the
   * provider that serves them.
   */
  public List<ServedModel> models() {
    List<ServedModel> models = new ArrayList<>();
    models.add(new ServedModel("mock", "mock", false));
    models.add(new ServedModel("mock-*", "mock", true));
    Set<String> seen = new HashSet<>();
    providers
        .values()
        .forEach(
            served ->
                served
                    .settings()
                    .modelPatterns()
                    .forEach(
                        pattern -> {
                          if (seen.add(pattern)) {
                            models.add(
                                new ServedModel(pattern, served.name(), pattern.contains("*")));
                          }
                        }));
    return models;
  }

  private List<String> servedPatterns() {
    return models().stream().map(ServedModel::id).toList();
  }

  /** A model, or a pattern of models, that tokenbus routes, and the provider it goes to. */
  public record ServedModel(String id, String provider, boolean pattern) {}
}
