package io.tokenbus.provider;

import io.micrometer.core.instrument.Gauge;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.metrics.Metrics;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.CircuitBreakerOptions;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One provider's circuit breakers, one per model, so a failing model does not stop the provider's
 * others. Clients choose model names, so there are at most {@code circuit-breaker.max-models}: past
 * it the least recently used circuit that is closed and counts no failure is forgotten, or, when
 * every one is open or counting, the least recently used of all (its count starts over, an open one
 * closes early: the worst a flood of names can do is let a failing model be tried again sooner).
 * Shared by every worker of the node, hence synchronized.
 */
public final class ModelCircuits {

  private static final Logger LOG = LoggerFactory.getLogger(ModelCircuits.class);

  private final Vertx vertx;
  private final String provider;
  private final TokenbusConfig.CircuitBreaker settings;
  private final Metrics metrics;
  private final Map<String, Gauge> gauges = new HashMap<>();
  private final LinkedHashMap<String, CircuitBreaker> byModel =
      new LinkedHashMap<>(16, 0.75f, true);

  ModelCircuits(
      Vertx vertx, String provider, TokenbusConfig.CircuitBreaker settings, Metrics metrics) {
    this.metrics = metrics;
    this.vertx = vertx;
    this.provider = provider;
    this.settings = settings;
  }

  /** The circuit of {@code model}, made on first use. */
  public synchronized CircuitBreaker of(String model) {
    CircuitBreaker breaker = byModel.get(model);
    if (breaker == null) {
      if (byModel.size() >= settings.maxModels()) {
        forgetOne();
      }
      breaker = create(model);
      byModel.put(model, breaker);
    }
    return breaker;
  }

  /** How many models have a circuit now. */
  synchronized int size() {
    return byModel.size();
  }

  /** Whether {@code model} has a circuit now (without making one, or touching its recency). */
  synchronized boolean has(String model) {
    return byModel.containsKey(model);
  }

  private void forgetOne() {
    Iterator<Map.Entry<String, CircuitBreaker>> eldestFirst = byModel.entrySet().iterator();
    Map.Entry<String, CircuitBreaker> victim = null;
    while (eldestFirst.hasNext()) {
      Map.Entry<String, CircuitBreaker> entry = eldestFirst.next();
      if (victim == null) {
        victim = entry;
      }
      CircuitBreaker breaker = entry.getValue();
      if (breaker.state() == CircuitBreakerState.CLOSED && breaker.failureCount() == 0) {
        victim = entry;
        break;
      }
    }
    if (victim.getValue().state() != CircuitBreakerState.CLOSED
        || victim.getValue().failureCount() > 0) {
      LOG.warn(
          "Provider {} has circuits for {} models (circuit-breaker.max-models): the circuit of model {} is "
              + "forgotten while {}",
          provider,
          byModel.size(),
          victim.getKey(),
          victim.getValue().state() == CircuitBreakerState.CLOSED ? "counting failures" : "open");
    }
    victim.getValue().close();
    byModel.remove(victim.getKey());
    metrics.registry().remove(gauges.remove(victim.getKey()));
  }

  private CircuitBreaker create(String model) {
    CircuitBreaker breaker =
        CircuitBreaker.create(
            "tokenbus.provider." + provider + "." + model,
            vertx,
            new CircuitBreakerOptions()
                .setMaxFailures(settings.failureThreshold())
                .setResetTimeout(settings.resetMs())
                .setTimeout(-1) // tokenbus times attempts itself
                // Failures count until a success resets them ("in a row"), not only within
                // Vert.x's 10 s default window.
                .setFailuresRollingWindow(3_600_000)
                .setNotificationAddress(null));
    breaker.openHandler(
        v ->
            LOG.warn(
                "Circuit of model {} at provider {} opened: its requests fail at once, or go to their "
                    + "fallbacks, for {} ms",
                model,
                provider,
                settings.resetMs()));
    breaker.halfOpenHandler(
        v ->
            LOG.info(
                "Circuit of model {} at provider {} half-open: one trial request goes through",
                model,
                provider));
    breaker.closeHandler(
        v -> LOG.info("Circuit of model {} at provider {} closed", model, provider));
    gauges.put(
        model,
        Gauge.builder("tokenbus_circuit_breaker_state", breaker, ModelCircuits::stateValue)
            .description(
                "A model's circuit at a provider: 0 closed (calls go through), 1 half-open (one"
                    + " trial call), 2 open (calls fail at once or go to fallbacks)")
            .tags("provider", provider, "model", model)
            .register(metrics.registry()));
    return breaker;
  }

  private static double stateValue(CircuitBreaker breaker) {
    return switch (breaker.state()) {
      case CLOSED -> 0;
      case HALF_OPEN -> 1;
      case OPEN -> 2;
    };
  }
}
