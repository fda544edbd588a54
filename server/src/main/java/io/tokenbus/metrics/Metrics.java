package io.tokenbus.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.util.concurrent.EventExecutor;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * A node's metrics, served at {@code GET /metrics} in Prometheus's text format: Vert.x's own (HTTP
 * server and client, event bus, JVM) and tokenbus's, named {@code tokenbus_*} (README, "Metrics").
 *
 * <p>Labels are bounded: {@code tenant} by {@code metrics.max-tenant-labels} (later tenants count
 * as {@code other}), {@code model} by what the node serves (a model it does not serve is refused
 * before anything is counted, and circuits are capped by {@code circuit-breaker.max-models}), and
 * everything else by a fixed set of values. No generation or session id is ever a label.
 *
 * <p>The hot paths hold their meters: a generation looks its meters up once, at its start ({@link
 * #generation}); the fan-out adds one count per write. Turned off ({@code metrics.enabled: false}),
 * every meter is a no-op of a registry with nothing behind it.
 */
public final class Metrics {

  /**
   * The time-to-first-token histogram's bucket bounds: 5 ms to 60 s, each 10% above the one before
   * (rounded to three digits), so that a quantile interpolated inside one bucket (Prometheus's
   * histogram_quantile) is off by a few percent at most. Micrometer's own percentile buckets are up
   * to a third apart at a few hundred milliseconds, where most first tokens come.
   */
  static final Duration[] TTFT_BUCKETS = geometric(0.005, 60, 1.1);

  /** Label value of tenants and models past their label bounds. */
  public static final String OTHER = "other";

  /** A generation's request, by the label of its viewers' transport. */
  public enum Transport {
    SSE("sse"),
    WEBSOCKET("websocket"),
    NON_STREAMING("non_streaming");

    final String label;

    Transport(String label) {
      this.label = label;
    }
  }

  /** Why a viewer's connection ended before its stream did. */
  public enum Disconnect {
    /** The client closed it, or unsubscribed. */
    CLIENT("client"),
    /** It could not keep up for {@code viewer.max-stall-seconds}: tokenbus closed it. */
    STALLED("stalled"),
    /** Its stream could not be read (gone, or the store failed). */
    LOST("lost");

    final String label;

    Disconnect(String label) {
      this.label = label;
    }
  }

  private final MeterRegistry registry;
  private final PrometheusMeterRegistry prometheus;
  private final BoundedLabel tenants;
  private final BoundedLabel models;
  private final Map<Tags, GenerationMeters> generations = new ConcurrentHashMap<>();
  private final Map<Tags, Counter> upstreamRequests = new ConcurrentHashMap<>();
  private final Map<String, Counter> recoveries = new ConcurrentHashMap<>();
  private final AtomicInteger[] viewers = new AtomicInteger[Transport.values().length];
  private final Counter[] disconnects = new Counter[Disconnect.values().length];
  private final Counter tokensIn;
  private final Counter tokensOut;
  private final Counter catchups;
  private volatile List<LoopProbe> loopProbes = List.of();

  private Metrics(
      MeterRegistry registry, PrometheusMeterRegistry prometheus, int maxTenants, int maxModels) {
    this.registry = registry;
    this.prometheus = prometheus;
    this.tenants = new BoundedLabel(maxTenants);
    this.models = new BoundedLabel(maxModels);
    tokensIn = tokens(registry, "in");
    tokensOut = tokens(registry, "out");
    catchups =
        Counter.builder("tokenbus_viewer_catchups")
            .description(
                "Times a viewer that fell behind (a full write queue, a gap) read what it missed"
                    + " from the stream's log")
            .register(registry);
    for (Transport transport : Transport.values()) {
      AtomicInteger count = new AtomicInteger();
      viewers[transport.ordinal()] = count;
      Gauge.builder("tokenbus_viewers", count, AtomicInteger::get)
          .description("Viewers on this node: connections (or subscriptions) watching a stream")
          .tag("transport", transport.label)
          .register(registry);
    }
    for (Disconnect reason : Disconnect.values()) {
      disconnects[reason.ordinal()] =
          Counter.builder("tokenbus_viewer_disconnects")
              .description("Viewers that left before their stream ended, by why")
              .tag("reason", reason.label)
              .register(registry);
    }
  }

  /**
   * Metrics into a Prometheus registry of their own (one per node, so that nodes in one JVM, as in
   * tests, keep theirs apart), or, when {@code metrics.enabled} is false, into nothing.
   */
  public static Metrics create(TokenbusConfig.Metrics config) {
    return config.enabled()
        ? of(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), config)
        : new Metrics(
            new CompositeMeterRegistry(), null, config.maxTenantLabels(), config.maxModelLabels());
  }

  /** Metrics that count nothing (tests of parts that need some). */
  public static Metrics none() {
    return new Metrics(new CompositeMeterRegistry(), null, 1, 1);
  }

  /** Metrics into {@code registry}, which Vert.x's own metrics may already use. */
  public static Metrics of(PrometheusMeterRegistry registry, TokenbusConfig.Metrics config) {
    return new Metrics(registry, registry, config.maxTenantLabels(), config.maxModelLabels());
  }

  /** The registry scraped at {@code /metrics}, or null when metrics are off. */
  public PrometheusMeterRegistry prometheus() {
    return prometheus;
  }

  public MeterRegistry registry() {
    return registry;
  }

  /**
   * The tenant's label value: itself while fewer than {@code metrics.max-tenant-labels} tenants
   * have one, {@code other} after.
   */
  String tenantLabel(String tenant) {
    return tenants.of(tenant);
  }

  /**
   * The model's label value: clients choose model names (any {@code mock-*}, anything a pattern
   * such as {@code gpt-*} matches), so past {@code metrics.max-model-labels} they count as {@code
   * other}.
   */
  String modelLabel(String model) {
    return models.of(model);
  }

  /** A label's values: the first {@code max} seen are themselves, every later one {@code other}. */
  private static final class BoundedLabel {
    private final Set<String> values = ConcurrentHashMap.newKeySet();
    private final int max;

    BoundedLabel(int max) {
      this.max = max;
    }

    String of(String value) {
      if (values.contains(value)) {
        return value;
      }
      synchronized (values) {
        if (values.size() < max) {
          values.add(value);
          return value;
        }
      }
      return OTHER;
    }
  }

  /** The meters of a generation of {@code tenant} on {@code model} served by {@code provider}. */
  public GenerationMeters generation(String tenant, String model, String provider) {
    Tags tags =
        Tags.of("tenant", tenantLabel(tenant), "model", modelLabel(model), "provider", provider);
    return generations.computeIfAbsent(tags, t -> new GenerationMeters(registry, t, tokensIn));
  }

  /** One attempt on an upstream ended: {@code status} is {@code ok} or an error code. */
  public void upstreamRequest(String provider, String model, String status) {
    upstreamRequests
        .computeIfAbsent(
            Tags.of("provider", provider, "model", modelLabel(model), "status", status),
            tags ->
                Counter.builder("tokenbus_upstream_requests")
                    .description(
                        "Attempts on upstreams, by how they ended: ok (the answer finished), or the"
                            + " error code a client would see (upstream_rate_limited,"
                            + " upstream_timeout, circuit_open...)")
                    .tags(tags)
                    .register(registry))
        .increment();
  }

  /** A generation's upstream broke and tokenbus went on ({@code kind}: retry, fallback...). */
  public void recovery(String kind) {
    recoveries
        .computeIfAbsent(
            kind,
            k ->
                Counter.builder("tokenbus_upstream_recoveries")
                    .description(
                        "Retries, recoveries and fallbacks after an upstream failed, by kind")
                    .tag("kind", k)
                    .register(registry))
        .increment();
  }

  public void viewerJoined(Transport transport) {
    viewers[transport.ordinal()].incrementAndGet();
  }

  public void viewerLeft(Transport transport) {
    viewers[transport.ordinal()].decrementAndGet();
  }

  /** Viewers on this node now, every transport. */
  public int viewers() {
    int sum = 0;
    for (AtomicInteger count : viewers) {
      sum += count.get();
    }
    return sum;
  }

  /** {@code events} were written to one viewer. */
  public void delivered(int events) {
    tokensOut.increment(events);
  }

  public void catchup() {
    catchups.increment();
  }

  public void disconnected(Disconnect reason) {
    disconnects[reason.ordinal()].increment();
  }

  /** A gauge read at each scrape. */
  public void gauge(String name, String description, IntSupplier value) {
    Gauge.builder(name, value, v -> v.getAsInt())
        .description(description)
        .strongReference(true) // nothing else may hold the supplier
        .register(registry);
  }

  /**
   * Measures each event loop's delay: a task scheduled on every loop each {@link
   * LoopProbe#PERIOD_MS} ms records how late it ran. {@code tokenbus_event_loop_delay_seconds} is
   * the worst loop's worst delay over the last second: a loop held up by a long task, or a machine
   * out of CPU, shows there.
   */
  public void watchEventLoops(Vertx vertx) {
    List<LoopProbe> probes = new ArrayList<>();
    for (EventExecutor loop : ((VertxInternal) vertx).eventLoopGroup()) {
      LoopProbe probe = new LoopProbe(loop);
      probes.add(probe);
      probe.schedule();
    }
    loopProbes = List.copyOf(probes);
    Gauge.builder("tokenbus_event_loop_delay", this, Metrics::eventLoopDelaySeconds)
        .description(
            "The worst delay of a task on any event loop over the last second (measured every "
                + LoopProbe.PERIOD_MS
                + " ms on each loop)")
        .baseUnit("seconds")
        .register(registry);
  }

  /** The worst event-loop delay over the last second, in seconds (0 before any is measured). */
  public double eventLoopDelaySeconds() {
    long worst = 0;
    for (LoopProbe probe : loopProbes) {
      worst = Math.max(worst, probe.lastMaxNanos);
    }
    return worst / 1e9;
  }

  /** One event loop's delay probe; runs on that loop. */
  private static final class LoopProbe implements Runnable {
    static final long PERIOD_MS = 50;
    static final int SAMPLES_PER_WINDOW = (int) (1000 / PERIOD_MS);

    private final EventExecutor loop;
    private long dueNanos;
    private long windowMaxNanos;
    private int samples;
    volatile long lastMaxNanos;

    LoopProbe(EventExecutor loop) {
      this.loop = loop;
    }

    void schedule() {
      if (loop.isShuttingDown()) {
        return;
      }
      dueNanos = System.nanoTime() + PERIOD_MS * 1_000_000;
      loop.schedule(this, PERIOD_MS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void run() {
      windowMaxNanos = Math.max(windowMaxNanos, Math.max(0, System.nanoTime() - dueNanos));
      if (++samples == SAMPLES_PER_WINDOW) {
        lastMaxNanos = windowMaxNanos;
        windowMaxNanos = 0;
        samples = 0;
      }
      schedule();
    }
  }

  /** What one kind of generation (tenant, model, provider) counts. */
  public static final class GenerationMeters {
    private final Counter started;
    private final Counter tokensIn;
    private final Timer firstToken;
    private final Timer gap;
    private final AtomicInteger active = new AtomicInteger();
    private final Map<String, Counter> finished = new ConcurrentHashMap<>();
    private final MeterRegistry registry;
    private final Tags tags;

    GenerationMeters(MeterRegistry registry, Tags tags, Counter tokensIn) {
      this.registry = registry;
      this.tags = tags;
      this.tokensIn = tokensIn;
      started =
          Counter.builder("tokenbus_generations_started")
              .description("Generations started on this node (taken over ones included)")
              .tags(tags)
              .register(registry);
      Gauge.builder("tokenbus_generations_active", active, AtomicInteger::get)
          .description("Generations this node runs now")
          .tags(tags)
          .register(registry);
      firstToken =
          Timer.builder("tokenbus_time_to_first_token")
              .description(
                  "From a generation's request reaching a node to its first token published to"
                      + " its viewers (not for one taken over mid-answer)")
              .tags(tags)
              .serviceLevelObjectives(TTFT_BUCKETS)
              .register(registry);
      gap =
          Timer.builder("tokenbus_inter_token_gap")
              .description("Between two tokens of one generation from its upstream")
              .tags(tags)
              .publishPercentileHistogram()
              .minimumExpectedValue(Duration.ofMillis(1))
              .maximumExpectedValue(Duration.ofSeconds(30))
              .register(registry);
    }

    public void started() {
      started.increment();
      active.incrementAndGet();
    }

    public void firstToken(long nanos) {
      firstToken.record(Duration.ofNanos(nanos));
    }

    /** A token arrived {@code gapNanos} after the one before (negative: it is the first). */
    public void token(long gapNanos) {
      tokensIn.increment();
      if (gapNanos >= 0) {
        gap.record(Duration.ofNanos(gapNanos));
      }
    }

    /** The generation ended here ({@code status}: its wire status), or was handed over (null). */
    public void ended(String status) {
      active.decrementAndGet();
      if (status != null) {
        finished
            .computeIfAbsent(
                status,
                s ->
                    Counter.builder("tokenbus_generations_finished")
                        .description("Generations that ended on this node, by final status")
                        .tags(tags)
                        .tag("status", s)
                        .register(registry))
            .increment();
      }
    }
  }

  static Duration[] geometric(double fromSeconds, double toSeconds, double ratio) {
    List<Duration> bounds = new ArrayList<>();
    for (double bound = fromSeconds; bound < toSeconds * ratio; bound *= ratio) {
      double rounded =
          new java.math.BigDecimal(Math.min(bound, toSeconds))
              .round(new java.math.MathContext(3))
              .doubleValue();
      Duration duration = Duration.ofNanos(Math.round(rounded * 1e9));
      if (bounds.isEmpty() || bounds.get(bounds.size() - 1).compareTo(duration) < 0) {
        bounds.add(duration);
      }
    }
    return bounds.toArray(Duration[]::new);
  }

  /**
   * Tokens in and out, labelled by direction only: Prometheus wants one set of labels per name, and
   * the fan-out, which counts what goes out, writes events, not tenants' generations.
   */
  private static Counter tokens(MeterRegistry registry, String direction) {
    return Counter.builder("tokenbus_tokens")
        .description(
            "Tokens from upstreams (in), and events written to viewers (out: tokens and the few"
                + " lifecycle events; one written to 100 viewers counts 100)")
        .tag("direction", direction)
        .register(registry);
  }
}
