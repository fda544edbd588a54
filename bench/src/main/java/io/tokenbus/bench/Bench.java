package io.tokenbus.bench;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.ext.web.client.WebClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;
import org.HdrHistogram.Histogram;

/**
 * The load tool: N SSE subscribers of one generation, fed by {@link BenchUpstream} at R tokens/s
 * for T seconds, and a report of what they got. Run a hub with {@code OPENAI_BASE_URL} pointing at
 * the tool's upstream port, then:
 *
 * <pre>
 * java -cp target/tokenbus.jar io.tokenbus.bench.Bench --hub-port 8080 --upstream-port 9700 \
 *     --subscribers 1000 --rate 50 --seconds 10 [--transport sse|ws] [--hub-pid PID]
 * </pre>
 *
 * With {@code --hub-pid} it also reports the hub's CPU time per delivered token and its RSS (from
 * /proc). Every figure comes from one run; the tool never retries or hides a loss.
 *
 * <p>{@code --hub-ports 8081,8082,8083} runs it across a cluster: the generation starts through the
 * first node, and the subscribers connect to every node but its owner, so each token crosses the
 * clustered event bus ({@code --hub-pid} then lists every node's pid).
 *
 * <p>{@code --mode ttft [--requests 200]} measures time to first token through the hub and straight
 * to the upstream; {@code --mode idle --subscribers N --hub-pid PID} the hub's memory per idle
 * subscriber (see {@link Probes}).
 */
public final class Bench {

  /**
   * What to run. {@code nodePorts} lists a cluster's nodes (the first takes the request); with more
   * than one, the generation's owner is found and the subscribers are spread over the other nodes.
   */
  public record Options(
      String hubHost,
      int hubPort,
      int upstreamPort,
      int subscribers,
      double rate,
      int seconds,
      String hubPid,
      int connectBatch,
      String transport,
      String target,
      int drainSeconds,
      List<Integer> nodePorts,
      int settleSeconds) {

    /** One node. */
    public Options(
        String hubHost,
        int hubPort,
        int upstreamPort,
        int subscribers,
        double rate,
        int seconds,
        String hubPid,
        int connectBatch,
        String transport,
        String target,
        int drainSeconds) {
      this(
          hubHost,
          hubPort,
          upstreamPort,
          subscribers,
          rate,
          seconds,
          hubPid,
          connectBatch,
          transport,
          target,
          drainSeconds,
          List.of(hubPort),
          2);
    }

    boolean crossNode() {
      return nodePorts.size() > 1;
    }

    boolean webSocket() {
      return transport.equals("ws");
    }

    boolean nchan() {
      return target.equals("nchan");
    }
  }

  /**
   * What a run measured. {@code placement} is where the generation ran and where its subscribers
   * read it: the owner's port and the subscribers' ports (one port for a single node).
   */
  public record Report(
      int subscribers,
      long expectedPerSubscriber,
      long delivered,
      long lost,
      long duplicated,
      long outOfOrder,
      double seconds,
      Histogram latencyMicros,
      Histogram steadyLatencyMicros,
      int settleSeconds,
      double hubCpuSeconds,
      long hubRssKb,
      Placement placement) {

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
      map.put("settle_seconds", settleSeconds);
      map.put("steady_ms_p50", steadyLatencyMicros.getValueAtPercentile(50) / 1000.0);
      map.put("steady_ms_p99", steadyLatencyMicros.getValueAtPercentile(99) / 1000.0);
      map.put("steady_ms_max", steadyLatencyMicros.getMaxValue() / 1000.0);
      if (hubCpuSeconds >= 0) {
        map.put(
            "hub_cpu_us_per_token",
            delivered == 0 ? null : Math.round(hubCpuSeconds * 1e6 / delivered * 100) / 100.0);
        map.put("hub_rss_mb", hubRssKb / 1024);
      }
      if (placement.crossNode()) {
        map.put("owner_port", placement.ownerPort());
        map.put("subscriber_ports", placement.subscriberPorts());
      }
      return map;
    }
  }

  /** The node that runs the generation and the nodes its subscribers read from. */
  public record Placement(int ownerPort, List<Integer> subscriberPorts) {

    boolean crossNode() {
      return !subscriberPorts.contains(ownerPort);
    }
  }

  private Bench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    List<Integer> nodePorts = ports(a);
    Options options =
        new Options(
            a.getOrDefault("hub-host", "127.0.0.1"),
            nodePorts.get(0),
            Integer.parseInt(a.getOrDefault("upstream-port", "9700")),
            Integer.parseInt(a.getOrDefault("subscribers", "100")),
            Double.parseDouble(a.getOrDefault("rate", "50")),
            Integer.parseInt(a.getOrDefault("seconds", "10")),
            a.getOrDefault("hub-pid", ""),
            Integer.parseInt(a.getOrDefault("connect-batch", "500")),
            a.getOrDefault("transport", "sse"),
            a.getOrDefault("target", "tokenbus"),
            Integer.parseInt(a.getOrDefault("drain-seconds", "30")),
            nodePorts,
            Integer.parseInt(a.getOrDefault("settle-seconds", "2")));
    if (options.crossNode() && options.nchan()) {
      throw new IllegalArgumentException(
          "--hub-ports is for a tokenbus cluster; nchan has no cluster of its own");
    }
    if (!options.transport().equals("sse") && !options.webSocket()) {
      throw new IllegalArgumentException("--transport is sse or ws, got " + options.transport());
    }
    // One event loop per core by default (Vert.x would make two): the subscribers are spread over
    // them.
    int threads =
        Integer.parseInt(
            a.getOrDefault(
                "client-threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
    Vertx vertx =
        Vertx.vertx(
            new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(threads));
    String mode = a.getOrDefault("mode", "fanout");
    if (!mode.equals("fanout")) {
      try {
        Map<String, Object> line =
            switch (mode) {
              case "ttft" ->
                  Probes.ttft(
                      vertx,
                      options,
                      Integer.parseInt(a.getOrDefault("requests", "200")),
                      Integer.parseInt(a.getOrDefault("warm-up", "5000")));
              case "idle" -> Probes.idle(vertx, options);
              default ->
                  throw new IllegalArgumentException("--mode is fanout, ttft or idle, got " + mode);
            };
        System.out.println(new JsonObject(line).encode());
      } finally {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      return;
    }
    // The source (the upstream, or nchan's publisher) on an event loop of its own, as a real
    // upstream
    // is another process: sharing a loop with thousands of subscribers would hold tokens back.
    Vertx source = sourceVertx();
    try {
      BenchUpstream upstream =
          new BenchUpstream(source, options.rate(), (long) (options.rate() * options.seconds()));
      upstream.start(options.upstreamPort()).toCompletionStage().toCompletableFuture().get();
      Report report =
          run(vertx, upstream, options)
              .toCompletionStage()
              .toCompletableFuture()
              .get(options.seconds() + options.drainSeconds() + 120L, TimeUnit.SECONDS);
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("target", options.target());
      line.put("transport", options.transport());
      line.put("rate", options.rate());
      line.putAll(report.asMap());
      System.out.println(new JsonObject(line).encode());
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      source.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  /** A Vert.x with one event loop, for the token source. */
  static Vertx sourceVertx() {
    return Vertx.vertx(new VertxOptions().setPreferNativeTransport(true).setEventLoopPoolSize(1));
  }

  /** {@code --hub-ports 8081,8082,8083} (a cluster), else {@code --hub-port} (8080). */
  private static List<Integer> ports(Map<String, String> a) {
    return Arrays.stream(a.getOrDefault("hub-ports", a.getOrDefault("hub-port", "8080")).split(","))
        .map(p -> Integer.parseInt(p.trim()))
        .toList();
  }

  /** Runs one scenario against a hub whose upstream is {@code upstream} (already listening). */
  public static Future<Report> run(Vertx vertx, BenchUpstream upstream, Options options) {
    long tokens = (long) (options.rate() * options.seconds());
    WebClient web = WebClient.create(vertx);
    NetClient net =
        vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(30_000));
    Latencies recorder = new Latencies((long) (options.rate() * options.settleSeconds()) + 1);
    List<Subscriber> subscribers = new ArrayList<>();
    JsonObject request =
        new JsonObject()
            .put("model", "bench")
            .put("max_tokens", tokens)
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "bench")));
    long[] cpuBefore = {-1};
    long[] started = {0};
    long connectStart = System.nanoTime();
    Future<String> channel =
        options.nchan()
            ? Future.succeededFuture("bench-" + System.nanoTime())
            : web.post(options.hubPort(), options.hubHost(), "/v1/generations")
                .sendJsonObject(request)
                .compose(
                    response ->
                        response.statusCode() != 201
                            ? Future.failedFuture(
                                "the hub refused the generation: " + response.bodyAsString())
                            : Future.succeededFuture(response.bodyAsJsonObject().getString("id")));
    Placement[] placement = {new Placement(options.hubPort(), List.of(options.hubPort()))};
    return channel
        .compose(
            id ->
                place(web, options, id)
                    .compose(
                        p -> {
                          placement[0] = p;
                          return connectAll(
                                  loops(vertx),
                                  net,
                                  options,
                                  id,
                                  p.subscriberPorts(),
                                  recorder,
                                  subscribers,
                                  0)
                              .compose(
                                  v ->
                                      options.nchan()
                                          ? Future.succeededFuture()
                                          : subscribed(
                                              vertx,
                                              web,
                                              options,
                                              id,
                                              p.subscriberPorts(),
                                              System.nanoTime() + 60_000_000_000L));
                        }))
        .compose(
            v -> {
              System.err.printf(
                  "%d subscribers connected in %.1f s to %s (the generation runs on %d)%n",
                  options.subscribers(),
                  (System.nanoTime() - connectStart) / 1e9,
                  placement[0].subscriberPorts(),
                  placement[0].ownerPort());
              cpuBefore[0] = cpuTicks(options.hubPid());
              started[0] = System.nanoTime();
              if (options.nchan()) {
                WebClient publisher = WebClient.create(upstream.vertx());
                publish(
                    upstream.vertx(),
                    publisher,
                    options,
                    "/pub?channel=" + channel.result(),
                    tokens);
              } else {
                upstream.go();
              }
              // Every subscriber's end, or the deadline: what has not arrived DRAIN seconds after
              // the last token was due is lost.
              Promise<Void> deadline = Promise.promise();
              long timer =
                  vertx.setTimer(
                      (options.seconds() + options.drainSeconds()) * 1000L,
                      t -> deadline.tryComplete());
              Future.join(subscribers.stream().map(Subscriber::ended).toList())
                  .onComplete(
                      ar -> {
                        vertx.cancelTimer(timer);
                        deadline.tryComplete();
                      });
              return deadline.future();
            })
        .compose(
            v -> {
              double seconds = (System.nanoTime() - started[0]) / 1e9;
              long cpuAfter = cpuTicks(options.hubPid());
              // Closed before the counts are read: past the deadline, late subscribers would still
              // be recording.
              return net.close()
                  .map(
                      closed ->
                          report(
                              options,
                              tokens,
                              subscribers,
                              recorder,
                              seconds,
                              cpuBefore[0],
                              cpuAfter,
                              placement[0]));
            })
        .onComplete(ar -> web.close());
  }

  private static Report report(
      Options options,
      long tokens,
      List<Subscriber> subscribers,
      Latencies recorder,
      double seconds,
      long cpuBefore,
      long cpuAfter,
      Placement placement) {
    long delivered = 0;
    long lost = 0;
    long duplicated = 0;
    long outOfOrder = 0;
    long failed = subscribers.stream().filter(Subscriber::failed).count();
    if (failed > 0) {
      System.err.println(
          failed + " subscribers saw the generation end with an error or a cancel, not done");
    }
    for (Subscriber subscriber : subscribers) {
      TokenScanner s = subscriber.tokens;
      delivered += s.received;
      lost +=
          Math.max(
              0,
              tokens
                  - (s.received
                      - s.duplicated)); // every token not seen once, in a gap or at the end
      duplicated += s.duplicated;
      outOfOrder += s.outOfOrder;
    }
    double cpu = cpuBefore < 0 || cpuAfter < 0 ? -1 : (cpuAfter - cpuBefore) / 100.0;
    return new Report(
        options.subscribers(),
        tokens,
        delivered,
        lost,
        duplicated,
        outOfOrder,
        seconds,
        recorder.merged(),
        recorder.mergedSteady(),
        options.settleSeconds(),
        cpu,
        rssKb(options.hubPid()),
        placement);
  }

  /**
   * Waits until the nodes count every subscriber as a viewer of the generation (its status's {@code
   * subscribers}): a WebSocket subscription is made by a frame after the handshake, and a cluster
   * node may still be reading the log for late joins when the first token would be due.
   */
  private static Future<Void> subscribed(
      Vertx vertx,
      WebClient web,
      Options options,
      String generation,
      List<Integer> ports,
      long deadline) {
    List<Future<Integer>> counts =
        ports.stream()
            .map(
                port ->
                    web.get(port, options.hubHost(), "/v1/generations/" + generation)
                        .send()
                        .map(r -> r.bodyAsJsonObject().getInteger("subscribers", 0)))
            .toList();
    return Future.all(counts)
        .compose(
            all -> {
              int viewers = counts.stream().mapToInt(Future::result).sum();
              if (viewers >= options.subscribers()) {
                return Future.succeededFuture();
              }
              if (System.nanoTime() > deadline) {
                return Future.failedFuture(
                    "only "
                        + viewers
                        + " of "
                        + options.subscribers()
                        + " subscribers registered after 60 s");
              }
              Promise<Void> next = Promise.promise();
              vertx.setTimer(
                  50,
                  t ->
                      subscribed(vertx, web, options, generation, ports, deadline)
                          .onComplete(next));
              return next.future();
            });
  }

  /**
   * Where the subscribers connect: the hub, or on a cluster every node but the generation's owner
   * (found by matching the generation's {@code owner} with each node's {@code /health}), so every
   * token crosses the clustered event bus.
   */
  private static Future<Placement> place(WebClient web, Options options, String generation) {
    if (!options.crossNode()) {
      return Future.succeededFuture(new Placement(options.hubPort(), List.of(options.hubPort())));
    }
    Future<String> owner =
        web.get(options.hubPort(), options.hubHost(), "/v1/generations/" + generation)
            .send()
            .map(r -> r.bodyAsJsonObject().getString("owner"));
    List<Future<String>> nodes =
        options.nodePorts().stream()
            .map(
                port ->
                    web.get(port, options.hubHost(), "/health")
                        .send()
                        .map(r -> r.bodyAsJsonObject().getString("node")))
            .toList();
    List<Future<String>> answers = new ArrayList<>(nodes);
    answers.add(owner);
    return Future.all(answers)
        .compose(
            v -> {
              List<Integer> others = new ArrayList<>();
              int ownerPort = -1;
              for (int i = 0; i < nodes.size(); i++) {
                if (nodes.get(i).result().equals(owner.result())) {
                  ownerPort = options.nodePorts().get(i);
                } else {
                  others.add(options.nodePorts().get(i));
                }
              }
              return ownerPort < 0
                  ? Future.failedFuture(
                      "the generation's owner "
                          + owner.result()
                          + " is none of "
                          + options.nodePorts())
                  : Future.succeededFuture(new Placement(ownerPort, others));
            });
  }

  /**
   * One context on each of the tool's event loops: subscribers are dealt out over them, so the
   * client reads on every core it has (connected from one callback, they would all share its loop).
   */
  static List<Context> loops(Vertx vertx) {
    Map<Object, Context> byLoop = new LinkedHashMap<>();
    for (int i = 0; i < 64 && byLoop.size() < eventLoops(vertx); i++) {
      ContextInternal context = ((VertxInternal) vertx).createEventLoopContext();
      byLoop.putIfAbsent(context.nettyEventLoop(), context);
    }
    return List.copyOf(byLoop.values());
  }

  private static int eventLoops(Vertx vertx) {
    int count = 0;
    for (Object ignored : ((VertxInternal) vertx).nettyEventLoopGroup()) {
      count++;
    }
    return count;
  }

  /**
   * Connects subscribers a batch at a time (a burst of 10,000 SYNs overflows the listen backlog).
   */
  static Future<Void> connectAll(
      List<Context> loops,
      NetClient net,
      Options options,
      String generation,
      List<Integer> ports,
      Latencies recorder,
      List<Subscriber> subscribers,
      int done) {
    if (done >= options.subscribers()) {
      return Future.succeededFuture();
    }
    int batch = Math.min(options.connectBatch(), options.subscribers() - done);
    List<Future<Void>> connects = new ArrayList<>();
    for (int i = 0; i < batch; i++) {
      String path =
          options.nchan()
              ? (options.webSocket() ? "/ws" : "/sub") + "?channel=" + generation
              : options.webSocket() ? "/v1/ws" : "/v1/generations/" + generation + "/events";
      String subscribe =
          options.nchan() ? null : "{\"type\":\"subscribe\",\"generation\":\"" + generation + "\"}";
      Subscriber subscriber =
          options.webSocket()
              ? new WsSubscriber(recorder, path, subscribe)
              : new SseSubscriber(recorder, path);
      subscribers.add(subscriber);
      int index = subscribers.size() - 1;
      connects.add(
          subscriber.connect(
              loops.get(index % loops.size()),
              net,
              options.hubHost(),
              ports.get(index % ports.size())));
    }
    return Future.all(connects)
        .compose(
            v ->
                connectAll(
                    loops, net, options, generation, ports, recorder, subscribers, done + batch));
  }

  /**
   * nchan's side: publishes the tokens to its channel at the rate, one POST after another (so they
   * keep their order), then a last message that ends the subscribers. Each token carries its
   * scheduled time, as the tokenbus upstream's do: when nchan is slow to take them, that delay
   * counts.
   */
  private static void publish(
      Vertx vertx, WebClient web, Options options, String path, long tokens) {
    long start = System.nanoTime();
    long[] due = {0};
    long[] posted = {0};
    boolean[] busy = {false};
    long period = Math.max(1, (long) (1000 / options.rate()));
    vertx.setPeriodic(
        period,
        period,
        timer -> {
          due[0] =
              Math.min(tokens, (long) ((System.nanoTime() - start) / 1e9 * options.rate()) + 1);
          if (!busy[0]) {
            busy[0] = true;
            postDue(web, options, path, start, due, posted, tokens, () -> busy[0] = false);
          }
          if (posted[0] >= tokens) {
            vertx.cancelTimer(timer);
          }
        });
  }

  private static void postDue(
      WebClient web,
      Options options,
      String path,
      long start,
      long[] due,
      long[] posted,
      long tokens,
      Runnable idle) {
    if (posted[0] >= due[0]) {
      if (posted[0] >= tokens && posted[0] != Long.MAX_VALUE) {
        posted[0] = Long.MAX_VALUE; // once: the end
        web.post(options.hubPort(), options.hubHost(), path)
            .sendBuffer(Buffer.buffer("event: done"));
      }
      idle.run();
      return;
    }
    long seq = ++posted[0];
    long scheduled = start + (long) ((seq - 1) * 1e9 / options.rate());
    web.post(options.hubPort(), options.hubHost(), path)
        .sendBuffer(Buffer.buffer(seq + ":" + scheduled + " "))
        .onComplete(ar -> postDue(web, options, path, start, due, posted, tokens, idle));
  }

  /**
   * utime + stime of the processes (comma-separated pids: nginx's workers), in clock ticks (100 per
   * second), or -1.
   */
  static long cpuTicks(String pids) {
    return sum(pids, Bench::cpuTicks);
  }

  static long rssKb(String pids) {
    return sum(pids, Bench::rssKb);
  }

  private static long sum(String pids, LongUnaryOperator each) {
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
      return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
          .filter(l -> l.startsWith("VmRSS:"))
          .map(l -> Long.parseLong(l.replaceAll("\\D", "")))
          .findFirst()
          .orElse(-1L);
    } catch (IOException e) {
      return -1;
    }
  }
}
