package io.tokenbus.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.ext.web.client.WebClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * The load tool: N SSE subscribers of one generation, fed by {@link BenchUpstream} at R tokens/s for
 * T seconds, and a report of what they got. Run a hub with {@code OPENAI_BASE_URL} pointing at the
 * tool's upstream port, then:
 *
 * <pre>
 * java -cp target/tokenbus.jar io.tokenbus.bench.Bench --hub-port 8080 --upstream-port 9700 \
 *     --subscribers 1000 --rate 50 --seconds 10 [--transport sse|ws] [--hub-pid PID]
 * </pre>
 *
 * With {@code --hub-pid} it also reports the hub's CPU time per delivered token and its RSS
 * (from /proc). Every figure comes from one run; the tool never retries or hides a loss.
 *
 * <p>{@code --mode ttft [--requests 200]} measures time to first token through the hub and
 * straight to the upstream; {@code --mode idle --subscribers N --hub-pid PID} the hub's memory per
 * idle subscriber (see {@link Probes}).
 */
public final class Bench {

  /** What to run. */
  public record Options(String hubHost, int hubPort, int upstreamPort, int subscribers, double rate, int seconds, String hubPid,
                        int connectBatch, String transport, String target, int drainSeconds) {

    boolean webSocket() {
      return transport.equals("ws");
    }

    boolean nchan() {
      return target.equals("nchan");
    }
  }

  /** What a run measured. */
  public record Report(int subscribers, long expectedPerSubscriber, long delivered, long lost, long duplicated, long outOfOrder,
                       double seconds, Histogram latencyMicros, double hubCpuSeconds, long hubRssKb) {

    public double tokensPerSecond() {
      return delivered / seconds;
    }

    public Map<String, Object> asMap() {
      Map<String, Object> map = new LinkedHashMap<>();
      map.put("subscribers", subscribers);
      map.put("tokens_expected", expectedPerSubscriber * subscribers);
      map.put("tokens_delivered", delivered);
      map.put("tokens_per_second", Math.round(tokensPerSecond()));
      map.put("lost", lost);
      map.put("duplicated", duplicated);
      map.put("out_of_order", outOfOrder);
      map.put("latency_ms_p50", latencyMicros.getValueAtPercentile(50) / 1000.0);
      map.put("latency_ms_p99", latencyMicros.getValueAtPercentile(99) / 1000.0);
      map.put("latency_ms_p999", latencyMicros.getValueAtPercentile(99.9) / 1000.0);
      map.put("latency_ms_max", latencyMicros.getMaxValue() / 1000.0);
      if (hubCpuSeconds >= 0) {
        map.put("hub_cpu_us_per_token", delivered == 0 ? null : Math.round(hubCpuSeconds * 1e6 / delivered * 100) / 100.0);
        map.put("hub_rss_mb", hubRssKb / 1024);
      }
      return map;
    }
  }

  private Bench() {
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    Options options = new Options(a.getOrDefault("hub-host", "127.0.0.1"), Integer.parseInt(a.getOrDefault("hub-port", "8080")),
        Integer.parseInt(a.getOrDefault("upstream-port", "9700")), Integer.parseInt(a.getOrDefault("subscribers", "100")),
        Double.parseDouble(a.getOrDefault("rate", "50")), Integer.parseInt(a.getOrDefault("seconds", "10")),
        a.getOrDefault("hub-pid", ""), Integer.parseInt(a.getOrDefault("connect-batch", "500")),
        a.getOrDefault("transport", "sse"), a.getOrDefault("target", "tokenbus"),
        Integer.parseInt(a.getOrDefault("drain-seconds", "30")));
    if (!options.transport().equals("sse") && !options.webSocket()) {
      throw new IllegalArgumentException("--transport is sse or ws, got " + options.transport());
    }
    Vertx vertx = Vertx.vertx(new io.vertx.core.VertxOptions().setPreferNativeTransport(true));
    String mode = a.getOrDefault("mode", "fanout");
    if (!mode.equals("fanout")) {
      try {
        Map<String, Object> line = switch (mode) {
          case "ttft" -> Probes.ttft(vertx, options, Integer.parseInt(a.getOrDefault("requests", "200")));
          case "idle" -> Probes.idle(vertx, options);
          default -> throw new IllegalArgumentException("--mode is fanout, ttft or idle, got " + mode);
        };
        System.out.println(new JsonObject(line).encode());
      } finally {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      return;
    }
    try {
      BenchUpstream upstream = new BenchUpstream(vertx, options.rate(), (long) (options.rate() * options.seconds()));
      upstream.start(options.upstreamPort()).toCompletionStage().toCompletableFuture().get();
      Report report = run(vertx, upstream, options).toCompletionStage().toCompletableFuture()
          .get(options.seconds() + options.drainSeconds() + 120L, TimeUnit.SECONDS);
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("target", options.target());
      line.put("transport", options.transport());
      line.put("rate", options.rate());
      line.putAll(report.asMap());
      System.out.println(new JsonObject(line).encode());
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  /** Runs one scenario against a hub whose upstream is {@code upstream} (already listening). */
  public static Future<Report> run(Vertx vertx, BenchUpstream upstream, Options options) {
    long tokens = (long) (options.rate() * options.seconds());
    WebClient web = WebClient.create(vertx);
    NetClient net = vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(30_000));
    Latencies recorder = new Latencies();
    List<Subscriber> subscribers = new ArrayList<>();
    JsonObject request = new JsonObject().put("model", "bench").put("max_tokens", tokens)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "bench")));
    long[] cpuBefore = {-1};
    long[] started = {0};
    long connectStart = System.nanoTime();
    Future<String> channel = options.nchan() ? Future.succeededFuture("bench-" + System.nanoTime())
        : web.post(options.hubPort(), options.hubHost(), "/v1/generations").sendJsonObject(request).compose(response ->
            response.statusCode() != 201 ? Future.failedFuture("the hub refused the generation: " + response.bodyAsString())
                : Future.succeededFuture(response.bodyAsJsonObject().getString("id")));
    return channel.compose(id -> connectAll(vertx, net, options, id, recorder, subscribers, 0)).compose(v -> {
      System.err.printf("%d subscribers connected in %.1f s%n", options.subscribers(), (System.nanoTime() - connectStart) / 1e9);
      cpuBefore[0] = cpuTicks(options.hubPid());
      started[0] = System.nanoTime();
      if (options.nchan()) {
        publish(vertx, web, options, "/pub?channel=" + channel.result(), tokens);
      } else {
        upstream.go();
      }
      // Every subscriber's end, or the deadline: what has not arrived DRAIN seconds after the last token was due is lost.
      Promise<Void> deadline = Promise.promise();
      long timer = vertx.setTimer((options.seconds() + options.drainSeconds()) * 1000L, t -> deadline.tryComplete());
      Future.join(subscribers.stream().map(Subscriber::ended).toList()).onComplete(ar -> {
        vertx.cancelTimer(timer);
        deadline.tryComplete();
      });
      return deadline.future();
    }).map(v -> {
      double seconds = (System.nanoTime() - started[0]) / 1e9;
      long cpuAfter = cpuTicks(options.hubPid());
      long delivered = 0;
      long lost = 0;
      long duplicated = 0;
      long outOfOrder = 0;
      long failed = subscribers.stream().filter(Subscriber::failed).count();
      if (failed > 0) {
        System.err.println(failed + " subscribers saw the generation end with an error or a cancel, not done");
      }
      for (Subscriber subscriber : subscribers) {
        TokenScanner s = subscriber.tokens;
        delivered += s.received;
        lost += Math.max(0, tokens - (s.received - s.duplicated)); // every token not seen once, in a gap or at the end
        duplicated += s.duplicated;
        outOfOrder += s.outOfOrder;
      }
      double cpu = cpuBefore[0] < 0 || cpuAfter < 0 ? -1 : (cpuAfter - cpuBefore[0]) / 100.0;
      net.close();
      web.close();
      return new Report(options.subscribers(), tokens, delivered, lost, duplicated, outOfOrder, seconds,
          recorder.merged(), cpu, rssKb(options.hubPid()));
    });
  }

  /** Connects subscribers a batch at a time (a burst of 10,000 SYNs overflows the listen backlog). */
  private static Future<Void> connectAll(Vertx vertx, NetClient net, Options options, String generation, Latencies recorder,
                                         List<Subscriber> subscribers, int done) {
    if (done >= options.subscribers()) {
      return Future.succeededFuture();
    }
    int batch = Math.min(options.connectBatch(), options.subscribers() - done);
    List<Future<Void>> connects = new ArrayList<>();
    for (int i = 0; i < batch; i++) {
      String path = options.nchan() ? (options.webSocket() ? "/ws" : "/sub") + "?channel=" + generation
          : options.webSocket() ? "/v1/ws" : "/v1/generations/" + generation + "/events";
      String subscribe = options.nchan() ? null : "{\"type\":\"subscribe\",\"generation\":\"" + generation + "\"}";
      Subscriber subscriber = options.webSocket() ? new WsSubscriber(recorder, path, subscribe) : new SseSubscriber(recorder, path);
      subscribers.add(subscriber);
      connects.add(subscriber.connect(vertx, net, options.hubHost(), options.hubPort()));
    }
    return Future.all(connects).compose(v -> connectAll(vertx, net, options, generation, recorder, subscribers, done + batch));
  }

  /**
   * nchan's side: publishes the tokens to its channel at the rate, one POST after another (so they
   * keep their order), then a last message that ends the subscribers. Each token carries its
   * scheduled time, as the tokenbus upstream's do: when nchan is slow to take them, that delay counts.
   */
  private static void publish(Vertx vertx, WebClient web, Options options, String path, long tokens) {
    long start = System.nanoTime();
    long[] due = {0};
    long[] posted = {0};
    boolean[] busy = {false};
    long period = Math.max(1, (long) (1000 / options.rate()));
    vertx.setPeriodic(period, period, timer -> {
      due[0] = Math.min(tokens, (long) ((System.nanoTime() - start) / 1e9 * options.rate()) + 1);
      if (!busy[0]) {
        busy[0] = true;
        postDue(web, options, path, start, due, posted, tokens, () -> busy[0] = false);
      }
      if (posted[0] >= tokens) {
        vertx.cancelTimer(timer);
      }
    });
  }

  private static void postDue(WebClient web, Options options, String path, long start, long[] due, long[] posted, long tokens,
                              Runnable idle) {
    if (posted[0] >= due[0]) {
      if (posted[0] >= tokens && posted[0] != Long.MAX_VALUE) {
        posted[0] = Long.MAX_VALUE; // once: the end
        web.post(options.hubPort(), options.hubHost(), path).sendBuffer(io.vertx.core.buffer.Buffer.buffer("event: done"));
      }
      idle.run();
      return;
    }
    long seq = ++posted[0];
    long scheduled = start + (long) ((seq - 1) * 1e9 / options.rate());
    web.post(options.hubPort(), options.hubHost(), path).sendBuffer(io.vertx.core.buffer.Buffer.buffer(seq + ":" + scheduled + " "))
        .onComplete(ar -> postDue(web, options, path, start, due, posted, tokens, idle));
  }

  /** utime + stime of the processes (comma-separated pids: nginx's workers), in clock ticks (100 per second), or -1. */
  static long cpuTicks(String pids) {
    return sum(pids, Bench::cpuTicks);
  }

  static long rssKb(String pids) {
    return sum(pids, Bench::rssKb);
  }

  private static long sum(String pids, java.util.function.LongUnaryOperator each) {
    if (pids == null || pids.isBlank()) {
      return -1;
    }
    long total = 0;
    for (String pid : pids.split(",")) {
      long value = each.applyAsLong(Long.parseLong(pid.trim()));
      if (value < 0) {
        return -1;
      }
      total += value;
    }
    return total;
  }

  static long cpuTicks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  static long rssKb(long pid) {
    try {
      return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("VmRSS:"))
          .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(-1L);
    } catch (IOException e) {
      return -1;
    }
  }
}
