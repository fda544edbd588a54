package io.tokenbus.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.metrics.Metrics;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("ModelCircuits: one circuit per model, at most max-models")
class ModelCircuitsTest {

  private static ModelCircuits circuits(Vertx vertx, int maxModels) {
    return new ModelCircuits(
        vertx, "openai", new TokenbusConfig.CircuitBreaker(2, 60_000, maxModels), Metrics.none());
  }

  @Test
  @DisplayName("each model has its own circuit, the same one each time")
  void perModel(Vertx vertx) {
    ModelCircuits circuits = circuits(vertx, 10);
    CircuitBreaker a = circuits.of("gpt-a");
    assertSame(a, circuits.of("gpt-a"));
    assertNotSame(a, circuits.of("gpt-b"));
    a.open();
    assertEquals(CircuitBreakerState.OPEN, circuits.of("gpt-a").state());
    assertEquals(CircuitBreakerState.CLOSED, circuits.of("gpt-b").state());
  }

  @Test
  @DisplayName(
      "past max-models the least recently used healthy circuit is forgotten, never an open one while a healthy one is left")
  void boundedByMaxModels(Vertx vertx) {
    ModelCircuits circuits = circuits(vertx, 3);
    CircuitBreaker open = circuits.of("failing");
    open.open();
    circuits.of("b");
    circuits.of("c");
    circuits.of("d"); // full: "failing" is the eldest, but open; "b" goes
    assertEquals(3, circuits.size());
    assertTrue(circuits.has("failing"));
    assertFalse(circuits.has("b"));
    for (int i = 0; i < 100; i++) {
      circuits.of("flood-" + i);
    }
    assertEquals(3, circuits.size(), "a flood of model names never grows the map");
    assertTrue(circuits.has("failing"), "nor forgets an open circuit while healthy ones remain");
    assertSame(open, circuits.of("failing"));
  }

  @Test
  @DisplayName("when every circuit is open, the least recently used one is forgotten")
  void allOpen(Vertx vertx) {
    ModelCircuits circuits = circuits(vertx, 2);
    circuits.of("x").open();
    circuits.of("y").open();
    circuits.of("z");
    assertEquals(2, circuits.size());
    assertFalse(circuits.has("x"));
    assertTrue(circuits.has("y"));
  }

  @Test
  @DisplayName(
      "each circuit shows its state as tokenbus_circuit_breaker_state, and a forgotten one's gauge"
          + " goes with it")
  void gauges(Vertx vertx) {
    Metrics metrics = Metrics.create(new TokenbusConfig.Metrics(true, false, 10, 10));
    ModelCircuits circuits =
        new ModelCircuits(
            vertx, "openai", new TokenbusConfig.CircuitBreaker(2, 60_000, 2), metrics);
    circuits.of("x").open();
    circuits.of("y");
    assertEquals(2.0, state(metrics, "x"));
    assertEquals(0.0, state(metrics, "y"));
    circuits.of("z"); // y, healthy, is forgotten
    assertNull(metrics.registry().find("tokenbus_circuit_breaker_state").tag("model", "y").gauge());
    assertEquals(0.0, state(metrics, "z"));
    assertEquals(2, metrics.registry().find("tokenbus_circuit_breaker_state").gauges().size());
  }

  private static double state(Metrics metrics, String model) {
    return metrics
        .registry()
        .get("tokenbus_circuit_breaker_state")
        .tags("provider", "openai", "model", model)
        .gauge()
        .value();
  }
}
