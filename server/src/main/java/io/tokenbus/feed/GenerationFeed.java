package io.tokenbus.feed;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.generation.GenerationEncoder;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.metrics.Metrics;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * What this node tells every node's {@link Board} (the dashboard feed's source): a generation it
 * starts and one it finishes, at once, on {@link #GENERATIONS}; and once a second, on {@link
 * #NODES}, one report of itself (members, connections, viewers, generations, tokens per second,
 * event-loop delay, heap) with the progress of each generation it runs and the viewers it has of
 * each generation. One message per node per second however many generations run: a dashboard's cost
 * does not grow with the tokens.
 */
public final class GenerationFeed {

  /** Generations started and finished, cluster-wide. */
  public static final String GENERATIONS = "tokenbus.feed.generations";

  /** Each node's report, once a second, cluster-wide. */
  public static final String NODES = "tokenbus.feed.nodes";

  static final long REPORT_MS = 1000;

  private final Vertx vertx;
  private final String node;
  private final Metrics metrics;
  private final IntSupplier members;
  private final IntSupplier connections;
  private final IntSupplier running;
  private final FanOut fanOut;
  private final Map<String, Run> runs = new ConcurrentHashMap<>();
  private final LongAdder tokens = new LongAdder();
  private long lastTokens;
  private long lastReportNanos = System.nanoTime();

  public GenerationFeed(
      Vertx vertx,
      String node,
      Metrics metrics,
      IntSupplier members,
      IntSupplier connections,
      IntSupplier running,
      FanOut fanOut) {
    this.vertx = vertx;
    this.node = node;
    this.metrics = metrics;
    this.members = members;
    this.connections = connections;
    this.running = running;
    this.fanOut = fanOut;
  }

  /**
   * Starts the reports, on an event-loop context of its own: once the node's verticles are deployed
   * (see {@link Board#start}).
   */
  public void start() {
    ((VertxInternal) vertx)
        .createEventLoopContext()
        .runOnContext(v -> vertx.setPeriodic(REPORT_MS, t -> report()));
  }

  /** The generation started running here (or was taken over by this node). */
  public Run started(GenerationInfo info, boolean resumed) {
    Run run = new Run(info);
    runs.put(info.id(), run);
    vertx
        .eventBus()
        .publish(GENERATIONS, describe(info).put("event", "started").put("resumed", resumed));
    return run;
  }

  /** What a watcher learns of a generation first (the request itself is never told). */
  static JsonObject describe(GenerationInfo info) {
    JsonObject metadata = new JsonObject();
    info.request().metadata().forEach(metadata::put);
    return new JsonObject()
        .put("id", info.id())
        .put("model", info.model())
        .put("tenant", info.request().creator().tenant())
        .put("node", info.owner())
        .put("metadata", metadata)
        .put("created", info.created());
  }

  private void report() {
    long now = System.nanoTime();
    double seconds = Math.max(1e-3, (now - lastReportNanos) / 1e9);
    long total = tokens.sum();
    JsonArray progress = new JsonArray();
    for (Run run : runs.values()) {
      progress.add(run.progress(now));
    }
    JsonObject viewersOf = new JsonObject();
    fanOut
        .viewersByAddress()
        .forEach(
            (address, count) -> {
              String id = Addresses.generationOfEvents(address);
              if (id != null) {
                viewersOf.put(id, count);
              }
            });
    Runtime runtime = Runtime.getRuntime();
    JsonObject report =
        new JsonObject()
            .put("node", node)
            .put("time", System.currentTimeMillis())
            .put("members", members.getAsInt())
            .put("connections", connections.getAsInt())
            .put("viewers", metrics.viewers())
            .put("generations", running.getAsInt())
            .put("tokens_per_second", round((total - lastTokens) / seconds))
            .put("event_loop_delay_ms", round(metrics.eventLoopDelaySeconds() * 1000))
            .put("heap_used_bytes", runtime.totalMemory() - runtime.freeMemory())
            .put("heap_max_bytes", runtime.maxMemory())
            .put("progress", progress)
            .put("viewers_of", viewersOf);
    lastTokens = total;
    lastReportNanos = now;
    vertx.eventBus().publish(NODES, report);
  }

  static double round(double value) {
    return Math.round(value * 10) / 10.0;
  }

  /**
   * One generation this node runs. Written by its run's loop only, read by the report's timer:
   * single-writer volatile fields.
   */
  public final class Run {
    private final GenerationInfo info;
    private final long startNanos = System.nanoTime();
    private volatile long tokenCount;
    private volatile int recoveries;
    private volatile long firstTokenMs = -1;
    private long reportedTokens;
    private long reportedNanos = startNanos;

    Run(GenerationInfo info) {
      this.info = info;
    }

    /** A token came from the upstream. */
    public void token() {
      tokenCount++;
      tokens.increment();
    }

    /** Its first token was published {@code ms} after its request was taken. */
    public void firstToken(long ms) {
      firstTokenMs = ms;
    }

    public void recovery() {
      recoveries++;
    }

    /** Its terminal event is in the log. */
    public void finished(GenerationEvent terminal) {
      runs.remove(info.id(), this);
      vertx
          .eventBus()
          .publish(
              GENERATIONS,
              describe(info)
                  .put("event", "finished")
                  .put("status", GenerationStatus.of(terminal).wireName())
                  .put("usage", GenerationEncoder.usage(terminal.usage()))
                  .put("time_to_first_token_ms", firstTokenMs < 0 ? null : firstTokenMs)
                  .put("duration_ms", (System.nanoTime() - startNanos) / 1_000_000)
                  .put("tokens", tokenCount)
                  .put("recoveries", recoveries));
    }

    /** Handed over to another node, or stopped without an end here: no longer reported. */
    public void gone() {
      runs.remove(info.id(), this);
    }

    /** Where it stands: id, tokens, tokens per second since the last report, recoveries, TTFT. */
    JsonObject progress(long now) {
      long count = tokenCount;
      double seconds = Math.max(1e-3, (now - reportedNanos) / 1e9);
      JsonObject progress =
          new JsonObject()
              .put("id", info.id())
              .put("tokens", count)
              .put("tokens_per_second", round((count - reportedTokens) / seconds))
              .put("recoveries", recoveries)
              .put("time_to_first_token_ms", firstTokenMs < 0 ? null : firstTokenMs);
      reportedTokens = count;
      reportedNanos = now;
      return progress;
    }

    GenerationInfo info() {
      return info;
    }
  }
}
