package io.tokenbus.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.ext.web.client.WebClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;

/**
 * The load tool's two other scenarios.
 *
 * <p>{@code --mode ttft}: time to first token, through tokenbus and straight to the upstream,
 * request by request, alternating (so drift hits both alike): from the request's first byte to the
 * first token's bytes, over one kept-alive connection each, after a warm-up that is not counted
 * ({@code --warm-up}, 5,000 pairs). The upstream sends its first token as soon as it is asked.
 *
 * <p>{@code --mode idle}: memory per idle subscriber. A generation that has not produced anything
 * yet, N SSE subscribers of it, and the hub's live heap (after a full GC, by {@code jcmd}) and RSS
 * before and after they connect.
 */
final class Probes {

  private Probes() {}

  /**
   * {@code warmUp} pairs first, not counted: a request's path through the hub runs once per
   * request, so the JIT compiler needs thousands of them (with 20, the figure was three times the
   * steady one).
   */
  static Map<String, Object> ttft(Vertx vertx, Bench.Options options, int count, int warmUp)
      throws Exception {
    // The upstream on a loop of its own, as in the fan-out runs: on the client's loop the direct
    // path
    // would cross no thread at all, unlike any real upstream.
    Vertx source = Bench.sourceVertx();
    try {
      return ttft(vertx, source, options, count, warmUp);
    } finally {
      await(source.close());
    }
  }

  private static Map<String, Object> ttft(
      Vertx vertx, Vertx source, Bench.Options options, int count, int warmUp) throws Exception {
    BenchUpstream upstream = new BenchUpstream(source, 1000, 1);
    upstream.go();
    await(upstream.start(options.upstreamPort()));
    HttpClientAgent client =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(1));
    HttpClientAgent direct =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(1));
    String body =
        new JsonObject()
            .put("model", "bench")
            .put("stream", true)
            .put("max_tokens", 1)
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "bench")))
            .encode();
    Histogram viaHub = new Histogram(3);
    Histogram straight = new Histogram(3);
    for (int i = 0; i < warmUp + count; i++) {
      long hub = await(firstToken(client, options.hubHost(), options.hubPort(), body));
      long up = await(firstToken(direct, "127.0.0.1", options.upstreamPort(), body));
      if (i >= warmUp) {
        viaHub.recordValue(hub);
        straight.recordValue(up);
      }
    }
    await(upstream.close());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("scenario", "ttft");
    out.put("requests", count);
    out.put("warm_up", warmUp);
    out.put("direct_ms_p50", straight.getValueAtPercentile(50) / 1000.0);
    out.put("direct_ms_p99", straight.getValueAtPercentile(99) / 1000.0);
    out.put("tokenbus_ms_p50", viaHub.getValueAtPercentile(50) / 1000.0);
    out.put("tokenbus_ms_p99", viaHub.getValueAtPercentile(99) / 1000.0);
    out.put(
        "overhead_ms_p50",
        (viaHub.getValueAtPercentile(50) - straight.getValueAtPercentile(50)) / 1000.0);
    out.put(
        "overhead_ms_p99",
        (viaHub.getValueAtPercentile(99) - straight.getValueAtPercentile(99)) / 1000.0);
    return out;
  }

  /** µs from sending a streaming chat completion to reading its first token ({@code 1:}). */
  private static Future<Long> firstToken(
      HttpClientAgent client, String host, int port, String body) {
    RequestOptions request =
        new RequestOptions()
            .setMethod(HttpMethod.POST)
            .setHost(host)
            .setPort(port)
            .setURI("/v1/chat/completions")
            .putHeader("content-type", "application/json");
    long[] start = {0};
    long[] first = {-1};
    return client
        .request(request)
        .compose(
            req -> {
              StringBuilder seen = new StringBuilder();
              // Handlers set as the response arrives (not in a later compose step, when a short
              // answer may have ended).
              Future<Void> done =
                  req.response()
                      .compose(
                          response -> {
                            response.handler(
                                chunk -> {
                                  if (first[0] < 0) {
                                    seen.append(chunk.toString());
                                    if (seen.indexOf("\"1:") >= 0) {
                                      first[0] = System.nanoTime();
                                    }
                                  }
                                });
                            return response.statusCode() != 200
                                ? Future.failedFuture("status " + response.statusCode())
                                : response.end();
                          });
              start[0] = System.nanoTime();
              req.end(body);
              return done.compose(
                  v ->
                      first[0] < 0
                          ? Future.failedFuture("no token in the answer: " + seen)
                          : Future.succeededFuture((first[0] - start[0]) / 1000));
            });
  }

  static Map<String, Object> idle(Vertx vertx, Bench.Options options) throws Exception {
    long pid = Long.parseLong(options.hubPid().split(",")[0]);
    BenchUpstream upstream =
        new BenchUpstream(vertx, 1, 1); // never told to go: the generation waits, its viewers idle
    await(upstream.start(options.upstreamPort()));
    WebClient web = WebClient.create(vertx);
    JsonObject request =
        new JsonObject()
            .put("model", "bench")
            .put("max_tokens", 1)
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "bench")));
    String id =
        await(
                web.post(options.hubPort(), options.hubHost(), "/v1/generations")
                    .sendJsonObject(request))
            .bodyAsJsonObject()
            .getString("id");
    long heapBefore = liveHeapKb(pid);
    long rssBefore = Bench.rssKb(pid);
    NetClient net =
        vertx.createNetClient(new NetClientOptions().setTcpNoDelay(true).setConnectTimeout(30_000));
    await(
        Bench.connectAll(
            Bench.loops(vertx),
            net,
            options,
            id,
            List.of(options.hubPort()),
            new Latencies(1),
            new ArrayList<>(),
            0));
    long heapAfter = liveHeapKb(pid);
    long rssAfter = Bench.rssKb(pid);
    await(
        web.post(options.hubPort(), options.hubHost(), "/v1/generations/" + id + "/cancel").send());
    await(net.close());
    await(upstream.close());
    int n = options.subscribers();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("scenario", "idle");
    out.put("subscribers", n);
    out.put("heap_kb_before", heapBefore);
    out.put("heap_kb_after", heapAfter);
    out.put("heap_bytes_per_subscriber", (heapAfter - heapBefore) * 1024 / n);
    out.put("rss_kb_before", rssBefore);
    out.put("rss_kb_after", rssAfter);
    out.put("rss_bytes_per_subscriber", (rssAfter - rssBefore) * 1024 / n);
    return out;
  }

  private static final Pattern USED = Pattern.compile("used (\\d+)K");

  /** The hub's heap in use right after a full collection, in KB, from {@code jcmd}. */
  static long liveHeapKb(long pid) throws IOException, InterruptedException {
    run("jcmd", String.valueOf(pid), "GC.run");
    String info = run("jcmd", String.valueOf(pid), "GC.heap_info");
    Matcher m = USED.matcher(info);
    if (!m.find()) {
      throw new IOException("no heap figure in jcmd's answer: " + info);
    }
    return Long.parseLong(m.group(1));
  }

  private static String run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(process.getInputStream().readAllBytes());
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IOException(String.join(" ", command) + " failed: " + out);
    }
    return out;
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
  }
}
