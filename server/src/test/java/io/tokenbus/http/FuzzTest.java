package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.FuzzValues;
import io.tokenbus.support.RawHttp;
import io.tokenbus.support.RawWebSocket;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded, bounded fuzzer: thousands of malformed requests over every endpoint and thousands of
 * malformed WebSocket frames at one hub, which must answer each in time and in the documented
 * shape, never with a 5xx, and go on serving with its heap where it started. The seed is printed;
 * {@code -Dtokenbus.fuzz.seed=N} replays a run (request {@code i} is drawn from the seed and {@code
 * i} alone, whatever the timing).
 */
@ExtendWith(VertxExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@DisplayName("Fuzzing: malformed requests and frames")
class FuzzTest {

  private static final long SEED =
      Long.getLong("tokenbus.fuzz.seed", new SecureRandom().nextLong());
  private static final String REPLAY =
      "fuzz seed " + SEED + " (replay with -Dtokenbus.fuzz.seed=" + SEED + ")";

  private static final int REQUESTS = 5_000;
  private static final int FRAMES = 2_000;
  private static final int IN_FLIGHT = 24;
  private static final int SOFT_SOCKETS = 8;
  private static final int HARD_SOCKETS = 300;
  private static final long ANSWER_MS = 10_000;

  /** http.header-timeout-seconds and http.body-timeout-seconds, short for cut-short requests. */
  private static final int DEADLINE_SECONDS = 2;

  private static final long HEAP_GROWTH_BOUND = 64L << 20;

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final String SLOW = "sk-slow-1234567890abcdef"; // 5 requests a minute
  private static final String ADMIN = "sk-admin-1234567890abcdef";

  private static Vertx vertx;
  private static TestHub hub;
  private static HttpClientAgent http;
  private static NetClient net;
  private static long heapAtStart;

  // Real ids of acme's and globex's, so that some requests reach past the lookups.
  private static String generation;
  private static String otherGeneration;
  private static String session;
  private static String otherSession;

  @BeforeAll
  static void start(Vertx v, @TempDir Path dir) throws Exception {
    System.out.println("FuzzTest: " + REPLAY);
    vertx = v;
    Path tenants = dir.resolve("tenants.yaml");
    Files.writeString(tenants, "limits:\n  tenants:\n    slow:\n      requests-per-minute: 5\n");
    hub =
        await(
            TestHub.start(
                vertx,
                "TOKENBUS_CONFIG",
                tenants.toString(),
                "TOKENBUS_API_KEYS",
                "acme:" + ACME + ",globex:" + GLOBEX + ",slow:" + SLOW,
                "TOKENBUS_ADMIN_KEY",
                ADMIN,
                "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE",
                "1000000",
                "TOKENBUS_LIMITS_MAX_TOKENS",
                "16",
                "TOKENBUS_MOCK_TOKENS_PER_SECOND",
                "5000",
                "TOKENBUS_MOCK_MIN_TOKENS_PER_SECOND",
                "2000",
                "TOKENBUS_HTTP_HEADER_TIMEOUT_SECONDS",
                String.valueOf(DEADLINE_SECONDS),
                "TOKENBUS_HTTP_BODY_TIMEOUT_SECONDS",
                String.valueOf(DEADLINE_SECONDS)));
    http =
        vertx.createHttpClient(
            new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(hub.port()),
            new PoolOptions().setHttp1MaxSize(IN_FLIGHT));
    net = vertx.createNetClient();
    generation = started(ACME);
    otherGeneration = started(GLOBEX);
    session = sessionOf(ACME);
    otherSession = sessionOf(GLOBEX);
    // Classes loaded, pools filled: what a served node holds before the fuzzing starts.
    assertEquals(200, completion().statusCode());
    heapAtStart = settledHeap();
  }

  @AfterAll
  static void stop() {
    System.out.println("FuzzTest: done, " + REPLAY);
  }

  private static String started(String key) {
    return await(
            hub.web()
                .post("/v1/generations")
                .putHeader("Authorization", "Bearer " + key)
                .sendJsonObject(TestHub.mockRequest(3, 5000)))
        .bodyAsJsonObject()
        .getString("id");
  }

  private static String sessionOf(String key) {
    return await(
            hub.web()
                .post("/v1/sessions")
                .putHeader("Authorization", "Bearer " + key)
                .sendJsonObject(new JsonObject().put("title", "fuzz")))
        .bodyAsJsonObject()
        .getString("id");
  }

  private static HttpResponse<Buffer> completion() {
    return await(
        hub.web()
            .post("/v1/chat/completions")
            .putHeader("Authorization", "Bearer " + ACME)
            .sendJsonObject(TestHub.mockRequest(4, 5000)));
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  @Test
  @Order(1)
  @DisplayName(
      "5,000 malformed requests over every endpoint: no 5xx, every error in OpenAI's shape, every"
          + " one answered within 10 s, or, cut short, closed at its deadline")
  void requests() {
    Findings findings = new Findings();
    Map<String, LongAdder> seen = new ConcurrentHashMap<>();
    long began = System.nanoTime();
    await(
        runAll(
            REQUESTS,
            IN_FLIGHT,
            i -> {
              Attempt attempt = Attempt.draw(i, random(i));
              return send(attempt)
                  .map(
                      outcome -> {
                        check(attempt, outcome, findings);
                        seen.computeIfAbsent(
                                (attempt.raw() ? "raw " : "") + outcome.status(),
                                k -> new LongAdder())
                            .increment();
                        return null;
                      });
            }),
        240,
        "the fuzz run, " + REPLAY);
    System.out.printf(
        "FuzzTest: %d requests in %d ms, answers %s%n",
        REQUESTS, (System.nanoTime() - began) / 1_000_000, new TreeMap<>(seen));
    findings.assertNone("requests");
    assertTrue(
        findings.rateLimited.get() > 0,
        "the low-limit tenant was never rate-limited (expected 429s), " + REPLAY);
  }

  /**
   * One request as drawn: sent by the pooled client, or byte for byte on a connection of its own.
   */
  private record Attempt(
      int index,
      String method,
      String target,
      List<String[]> headers,
      byte[] body,
      Cut cut,
      String rawRequest) {

    enum Cut {
      NONE,
      HEAD,
      BODY
    }

    static final List<String> METHODS =
        List.of("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE");

    boolean raw() {
      if (rawRequest != null || cut != Cut.NONE || !METHODS.contains(method)) {
        return true;
      }
      if (!printable(target, 0x21)) {
        return true;
      }
      return headers.stream().anyMatch(h -> !token(h[0]) || !printable(h[1], 0x20));
    }

    private static boolean printable(String text, int lowest) {
      return text.chars().allMatch(c -> c >= lowest && c <= 0x7e);
    }

    private static boolean token(String name) {
      return !name.isEmpty() && name.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != ':');
    }

    /** The whole request as bytes; every char of target and headers is one byte. */
    Buffer bytes(int port) {
      if (rawRequest != null) {
        return Buffer.buffer(rawRequest.replace("{port}", String.valueOf(port)), "ISO-8859-1");
      }
      StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\n");
      if (headers.stream().noneMatch(h -> h[0].equalsIgnoreCase("Host"))) {
        head.append("Host: 127.0.0.1:").append(port).append("\r\n");
      }
      headers.forEach(h -> head.append(h[0]).append(": ").append(h[1]).append("\r\n"));
      int length = body == null ? 0 : body.length;
      if (cut == Cut.BODY) {
        head.append("Content-Length: ").append(length + 10 + length % 1000).append("\r\n");
      } else if (body != null) {
        head.append("Content-Length: ").append(length).append("\r\n");
      }
      if (cut == Cut.HEAD) {
        return Buffer.buffer(head.toString(), "ISO-8859-1"); // no blank line: the head never ends
      }
      head.append("Connection: close\r\n\r\n");
      Buffer bytes = Buffer.buffer(head.toString(), "ISO-8859-1");
      return body == null ? bytes : bytes.appendBytes(body);
    }

    @Override
    public String toString() {
      String shown =
          rawRequest != null
              ? rawRequest
              : method
                  + " "
                  + target
                  + " "
                  + headers.stream().map(h -> h[0] + ": " + h[1]).collect(Collectors.joining(", "))
                  + (body == null ? "" : " body " + new String(body, StandardCharsets.ISO_8859_1))
                  + (cut == Cut.NONE ? "" : " (cut short: " + cut + ")");
      return "#" + index + (raw() ? " raw " : " ") + clip(shown, 300);
    }

    /** Request {@code index}, drawn from {@code r} alone. */
    static Attempt draw(int index, Random r) {
      Draw d = new Draw(r);
      switch (r.nextInt(17)) {
        case 0 -> d.chat("/v1/chat/completions");
        case 1 -> d.read("/v1/models");
        case 2 -> d.post("/v1/sessions", FuzzValues.encode(Map.of("title", "\"t\"")), SESSION);
        case 3 -> d.read("/v1/sessions/" + d.id(session, otherSession, "s"));
        case 4 ->
            d.post(
                "/v1/sessions/" + d.id(session, otherSession, "s") + "/messages",
                FuzzValues.encode(Map.of("author", "\"ann\"", "content", "\"hi\"")),
                MESSAGE);
        case 5 ->
            d.post("/v1/sessions/" + d.id(session, otherSession, "s") + "/stop", "{}", MESSAGE);
        case 6 ->
            d.post(
                "/v1/sessions/" + d.id(session, otherSession, "s") + "/typing",
                "{\"author\":\"ann\"}",
                MESSAGE);
        case 7 -> d.events("/v1/sessions/" + d.id(session, otherSession, "s") + "/events");
        case 8 -> d.chat("/v1/generations");
        case 9 -> d.read("/v1/generations/" + d.id(generation, otherGeneration, "chatcmpl-"));
        case 10 ->
            d.events(
                "/v1/generations/" + d.id(generation, otherGeneration, "chatcmpl-") + "/events");
        case 11 ->
            d.post(
                "/v1/generations/" + d.id(generation, otherGeneration, "chatcmpl-") + "/cancel",
                null,
                List.of());
        case 12 -> d.read(d.oddPath());
        case 13 -> d.post("/stream", "{\"prompt\":\"hi\"}", List.of("prompt"));
        case 14 ->
            d.read(List.of("/health", "/", "/index.html", "/app.js", "/v1/ws").get(r.nextInt(5)));
        default -> d.rawRequest = Special.draw(r);
      }
      return d.finish(index);
    }
  }

  private static final List<String> SESSION = List.of("title", "model", "system");
  private static final List<String> MESSAGE = List.of("author", "content");

  /** Builds one {@link Attempt}: an endpoint's request, then odd methods, auth, headers, bodies. */
  private static final class Draw {
    final Random r;
    String method;
    String path;
    final List<String> query = new ArrayList<>();
    final List<String[]> headers = new ArrayList<>();
    byte[] body;
    Attempt.Cut cut = Attempt.Cut.NONE;
    String rawRequest;

    Draw(Random r) {
      this.r = r;
    }

    void read(String path) {
      this.method = r.nextInt(5) == 0 ? "HEAD" : "GET";
      this.path = path;
    }

    void events(String path) {
      read(path);
      method = "GET";
      if (r.nextBoolean()) {
        query.add("after=" + cursor());
      }
      if (r.nextInt(3) == 0) {
        headers.add(new String[] {"Last-Event-ID", cursor()});
      }
      if (r.nextInt(3) == 0) {
        query.add("snapshot=" + List.of("true", "false", "", "1", "yes", "%zz").get(r.nextInt(6)));
      }
      if (r.nextInt(3) == 0) {
        query.add(
            "author="
                + List.of("ann", "", "%00", "x".repeat(500), "%C3%A9", "%ff").get(r.nextInt(6)));
      }
    }

    void chat(String path) {
      post(path, null, FuzzValues.CHAT_FIELDS);
    }

    /** A POST of {@code valid} (a chat request when null) with some of {@code fields} broken. */
    void post(String path, String valid, List<String> fields) {
      this.method = "POST";
      this.path = path;
      String json;
      int how = r.nextInt(10);
      if (how < 6 && !fields.isEmpty()) {
        Map<String, String> base = valid == null ? FuzzValues.chatRequest() : parseFlat(valid);
        json = FuzzValues.mutate(base, fields, r);
      } else if (how < 9) {
        json = FuzzValues.junk(r);
      } else {
        json = valid == null ? FuzzValues.encode(FuzzValues.chatRequest()) : valid;
      }
      if (path.equals("/stream") && r.nextBoolean()) {
        query.add(
            "prompt="
                + List.of("hi", "", "%zz", "%ff%fe", "a+b", "x".repeat(3000)).get(r.nextInt(6)));
      }
      body = json.getBytes(StandardCharsets.UTF_8);
      headers.add(new String[] {"Content-Type", contentType()});
    }

    /** The fields of a flat JSON object of strings, as JSON text per field. */
    private Map<String, String> parseFlat(String json) {
      Map<String, String> base = new java.util.LinkedHashMap<>();
      JsonObject object = new JsonObject(json);
      object.forEach(e -> base.put(e.getKey(), "\"" + e.getValue() + "\""));
      return base;
    }

    String cursor() {
      return List.of(
              "-1",
              "abc",
              "1e99",
              "99999999999999999999",
              "",
              " 1",
              "1.5",
              "0",
              "1",
              "3",
              "9223372036854775807",
              "999999999999999999",
              "%",
              "%zz",
              "%ff",
              "+1",
              "0x10",
              "\u00d9\u00a1")
          .get(r.nextInt(18));
    }

    /** Mostly the id of the caller's own thing; else another tenant's, unknown or malformed. */
    String id(String own, String other, String prefix) {
      return switch (r.nextInt(20)) {
        case 0 -> other;
        case 1 -> prefix + "abcdefghijklmnopqrstuvwx";
        case 2 -> "";
        case 3 -> "..";
        case 4 -> "%2e%2e";
        case 5 -> "x".repeat(3000);
        case 6 -> "%zz";
        case 7 -> "%";
        case 8 -> "%00";
        case 9 -> "%ff%fe";
        case 10 -> "\u00ff\u00fe"; // raw bytes: not UTF-8
        case 11 -> "%C3%A9";
        case 12 -> "null";
        case 13 -> own + "/extra";
        case 14 -> own.toUpperCase();
        default -> own;
      };
    }

    String oddPath() {
      return List.of(
              "//v1//models",
              "/v1/models/",
              "/v1/../v1/models",
              "/V1/MODELS",
              "/v1/models;x=1",
              "/v1",
              "/v1/",
              "/v1/nothing",
              "/v1/sessions",
              "/v1/generations",
              "/%2e%2e/%2e%2e/etc/passwd",
              "/../../etc/passwd",
              "/.hidden",
              "/index.html%00.js",
              "/" + "a/".repeat(1000),
              "/v1/models?" + "a=1&".repeat(500),
              "/v1/models?%zz",
              "/v1/models?a=%",
              "/v1/models?a=%ff",
              "/stream",
              "/health/x",
              "/\u00ff",
              "/\u00c3\u00a9",
              "/v1/models#frag",
              "/v1/models?x=" + "b".repeat(5000))
          .get(r.nextInt(25));
    }

    String contentType() {
      if (r.nextInt(5) != 0) {
        return "application/json";
      }
      return List.of(
              "",
              "text/plain",
              "application/x-www-form-urlencoded",
              "multipart/form-data; boundary=x",
              "application/json; charset=latin1",
              "APPLICATION/JSON",
              "application/vnd.api+json",
              "application/json, text/plain",
              "application/jsonx",
              ";",
              "application/json; charset=\u00ff")
          .get(r.nextInt(11));
    }

    Attempt finish(int index) {
      if (rawRequest != null) {
        return new Attempt(index, "RAW", "", List.of(), null, Attempt.Cut.NONE, rawRequest);
      }
      // An odd method now and then, on any path.
      if (r.nextInt(12) == 0) {
        method =
            List.of("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "get", "POST", "GET")
                .get(r.nextInt(9));
      }
      auth(method.equals("GET") || method.equals("HEAD"));
      if (r.nextInt(6) == 0) {
        headers.add(oddHeader());
      }
      if (body != null && r.nextInt(12) == 0) {
        body = notUtf8(body);
      }
      if (body != null && r.nextInt(20) == 0) {
        body = java.util.Arrays.copyOf(body, r.nextInt(body.length + 1));
      }
      if (r.nextInt(150) == 0) {
        headers.add(new String[] {"Content-Type", "application/json"});
        body = new byte[(1 << 20) + 1 + r.nextInt(1000)]; // over http.max-body-bytes: 413
        java.util.Arrays.fill(body, (byte) ' ');
      }
      if (r.nextInt(100) == 0) {
        cut = Attempt.Cut.HEAD;
      } else if (r.nextInt(100) == 0) {
        cut = Attempt.Cut.BODY;
        method = "POST";
        if (body == null) {
          body = "{\"model\":".getBytes(StandardCharsets.UTF_8);
        }
      }
      String target =
          query.isEmpty()
              ? path
              : path + (path.contains("?") ? "&" : "?") + String.join("&", query);
      return new Attempt(index, method, target, headers, body, cut, null);
    }

    /** A credential: mostly acme's key, else another tenant's, the admin's, none, or malformed. */
    void auth(boolean reading) {
      int pick = r.nextInt(100);
      if (pick < 70) {
        bearer(ACME);
      } else if (pick < 77) {
        bearer(GLOBEX);
      } else if (pick < 82) {
        bearer(reading ? ADMIN : ACME); // the admin is not limited: no long generations
      } else if (pick < 85) {
        return;
      } else if (pick < 89) {
        bearer(SLOW);
      } else if (pick < 94) {
        String token = List.of(ACME, GLOBEX, "bad", "", "%zz", "%ff").get(r.nextInt(6));
        path = path + (path.contains("?") ? "&" : "?") + "access_token=" + token;
      } else {
        headers.add(
            new String[] {
              "Authorization",
              List.of(
                      "Bearer",
                      "Bearer ",
                      "Basic YWNtZTpzZWNyZXQ=",
                      "bearer " + ACME,
                      "Bearer " + ACME + " extra",
                      "Bearer sk-unknown-000000000000",
                      "Token " + ACME,
                      "Bearer " + "x".repeat(5000),
                      "Bearer \u00ff\u00fe\u00fd",
                      "Bearer  " + ACME)
                  .get(r.nextInt(10))
            });
      }
    }

    private void bearer(String key) {
      headers.add(new String[] {"Authorization", "Bearer " + key});
    }

    String[] oddHeader() {
      return switch (r.nextInt(14)) {
        case 0 -> new String[] {"Origin", "http://evil.example"};
        case 1 -> new String[] {"Origin", "null"};
        case 2 -> new String[] {"Accept", "text/event-stream"};
        case 3 -> new String[] {"Accept", "\u00ff/\u00fe"};
        case 4 -> new String[] {"Last-Event-ID", cursor()};
        case 5 -> new String[] {"X-Forwarded-For", "not an address"};
        case 6 -> new String[] {"Content-Encoding", "gzip"};
        case 7 -> new String[] {"X-Padding", "p".repeat(6000)};
        case 8 -> new String[] {"X-Big", "q".repeat(9000)}; // over the header limit: 431
        case 9 -> new String[] {"Range", "bytes=zz-"};
        case 10 -> new String[] {"Expect", "100-continue"};
        case 11 -> new String[] {"Cookie", "a=\u00c3\u0028"};
        case 12 -> new String[] {"Transfer-Encoding", "identity"};
        default -> new String[] {"Accept-Encoding", "gzip, br, \u00ff"};
      };
    }

    /** {@code body} with bytes that are not UTF-8 put in its middle. */
    private byte[] notUtf8(byte[] body) {
      byte[][] bad = {
        {(byte) 0xff},
        {(byte) 0xc3, 0x28},
        {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
        {(byte) 0xc0, (byte) 0xaf}
      };
      byte[] insert = bad[r.nextInt(bad.length)];
      int at = body.length == 0 ? 0 : r.nextInt(body.length);
      byte[] out = new byte[body.length + insert.length];
      System.arraycopy(body, 0, out, 0, at);
      System.arraycopy(insert, 0, out, at, insert.length);
      System.arraycopy(body, at, out, at + insert.length, body.length - at);
      return out;
    }
  }

  /** Whole requests no client writes: broken request lines, framing, headers and upgrades. */
  private static final class Special {
    static String draw(Random r) {
      String auth = "Authorization: Bearer " + ACME + "\r\n";
      String host = "Host: 127.0.0.1:{port}\r\n";
      String close = "Connection: close\r\n";
      String json = "Content-Type: application/json\r\n";
      String upgrade =
          "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
      return switch (r.nextInt(33)) {
        case 0 -> "GET /v1/models HTTP/1.0\r\n" + auth + "\r\n";
        case 1 -> "GET /v1/models HTTP/9.9\r\n" + host + auth + close + "\r\n";
        case 2 -> "GARBAGE\r\n\r\n";
        case 3 -> "GET\r\n\r\n";
        case 4 -> "get /v1/models HTTP/1.1\r\n" + host + auth + close + "\r\n";
        case 5 -> "GET /v1/models HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + auth + close + "\r\n";
        case 6 ->
            "POST /v1/generations HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}";
        case 7 ->
            "POST /v1/generations HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Content-Length: -1\r\n\r\n{}";
        case 8 ->
            "POST /v1/generations HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Content-Length: abc\r\n\r\n{}";
        case 9 ->
            "POST /v1/generations HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Content-Length: 99999999999999999999\r\n\r\n{}";
        case 10 ->
            "POST /v1/generations HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        case 11 ->
            "POST /v1/generations HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
        case 12 ->
            "POST /v1/chat/completions HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        case 13 ->
            "POST /v1/generations HTTP/1.1\r\n"
                + host
                + auth
                + json
                + close
                + "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        case 14 -> "GET /v1/models HTTP/1.1\r\n" + host + auth + "NoColonHere\r\n" + close + "\r\n";
        case 15 -> "GET /v1/models HTTP/1.1\r\n" + host + auth + "Bad Name: x\r\n" + close + "\r\n";
        case 16 ->
            "GET /v1/models HTTP/1.1\r\n" + host + auth + "X-Fold: a\r\n  b\r\n" + close + "\r\n";
        case 17 ->
            "GET /v1/models HTTP/1.1\r\n" + host + auth + "X-Nul: a\u0000b\r\n" + close + "\r\n";
        case 18 -> "GET /v1/models?" + "a".repeat(5000) + " HTTP/1.1\r\n" + host + close + "\r\n";
        case 19 ->
            "GET /v1/models HTTP/1.1\r\n"
                + host
                + auth
                + "X-A: "
                + "a".repeat(5000)
                + "\r\nX-B: "
                + "b".repeat(5000)
                + "\r\n"
                + close
                + "\r\n";
        case 20 -> "OPTIONS * HTTP/1.1\r\n" + host + auth + close + "\r\n";
        case 21 -> "CONNECT 127.0.0.1:{port} HTTP/1.1\r\n" + host + auth + close + "\r\n";
        case 22 ->
            "GET http://127.0.0.1:{port}/v1/models HTTP/1.1\r\n" + host + auth + close + "\r\n";
        case 23 ->
            "GET /v1/models HTTP/1.1\n"
                + "Host: x\n"
                + auth.replace("\r\n", "\n")
                + "Connection: close\n\n";
        case 24 ->
            "GET /v1/ws HTTP/1.1\r\n" + host + auth + upgrade + "Sec-WebSocket-Version: 13\r\n\r\n";
        case 25 ->
            "GET /v1/ws HTTP/1.1\r\n" + host + auth + upgrade + "Sec-WebSocket-Version: 99\r\n\r\n";
        case 26 -> "GET /v1/ws HTTP/1.1\r\n" + host + upgrade + "Sec-WebSocket-Version: 13\r\n\r\n";
        case 27 ->
            "GET /v1/wsx HTTP/1.1\r\n"
                + host
                + auth
                + upgrade
                + "Sec-WebSocket-Version: 13\r\n\r\n";
        case 29 ->
            "GET /v1/ws?access_token=%zz HTTP/1.1\r\n"
                + host
                + upgrade
                + "Sec-WebSocket-Version: 13\r\n\r\n";
        case 30 ->
            "GET /v1/ws?access_token=bad HTTP/1.1\r\n"
                + host
                + upgrade
                + "Sec-WebSocket-Version: 13\r\n\r\n";
        case 31 ->
            "GET /v1/models HTTP/1.1\r\n"
                + host
                + auth
                + upgrade
                + "Sec-WebSocket-Version: 13\r\n"
                + close
                + "\r\n";
        case 28 ->
            "GET /v1/ws HTTP/1.1\r\n"
                + host
                + auth
                + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
        default ->
            "GET /v1/models HTTP/1.1\r\n"
                + host
                + auth
                + "\r\nGET /health HTTP/1.1\r\n"
                + host
                + close
                + "\r\n";
      };
    }
  }

  /**
   * What came back: a status (-1 for none), the content type and the body, and how long it took.
   */
  private record Outcome(
      int status, String contentType, String retryAfter, Buffer body, long millis, String trouble) {

    static Outcome trouble(String what, long millis) {
      return new Outcome(-1, null, null, Buffer.buffer(), millis, what);
    }
  }

  private static Future<Outcome> send(Attempt attempt) {
    return attempt.raw() ? sendRaw(attempt) : sendPooled(attempt);
  }

  private static Future<Outcome> sendPooled(Attempt attempt) {
    long began = System.nanoTime();
    Promise<Outcome> outcome = Promise.promise();
    RequestOptions options =
        new RequestOptions()
            .setMethod(HttpMethod.valueOf(attempt.method()))
            .setURI(attempt.target());
    attempt.headers().forEach(h -> options.addHeader(h[0], h[1]));
    http.request(options)
        .onFailure(e -> outcome.tryComplete(Outcome.trouble("not sent: " + e, millis(began))))
        .onSuccess(
            request -> {
              long timer =
                  vertx.setTimer(
                      ANSWER_MS,
                      t -> {
                        if (outcome.tryComplete(Outcome.trouble("no answer", millis(began)))) {
                          request.reset();
                        }
                      });
              Future<HttpClientResponse> response =
                  attempt.body() == null
                      ? request.send()
                      : request.send(Buffer.buffer(attempt.body()));
              response
                  .compose(
                      r -> {
                        String type = r.getHeader("content-type");
                        if (type != null && type.startsWith("text/event-stream")) {
                          request.reset(); // a stream: its head is the answer
                          return Future.succeededFuture(
                              new Outcome(
                                  r.statusCode(),
                                  type,
                                  null,
                                  Buffer.buffer(),
                                  millis(began),
                                  null));
                        }
                        return r.body()
                            .map(
                                b ->
                                    new Outcome(
                                        r.statusCode(),
                                        type,
                                        r.getHeader("retry-after"),
                                        b,
                                        millis(began),
                                        null));
                      })
                  .onComplete(
                      ar -> {
                        vertx.cancelTimer(timer);
                        outcome.tryComplete(
                            ar.succeeded()
                                ? ar.result()
                                : Outcome.trouble("failed: " + ar.cause(), millis(began)));
                      });
            });
    return outcome.future();
  }

  private static Future<Outcome> sendRaw(Attempt attempt) {
    long began = System.nanoTime();
    long limit = attempt.cut() == Attempt.Cut.NONE ? ANSWER_MS : (DEADLINE_SECONDS + 5) * 1000L;
    Promise<Outcome> outcome = Promise.promise();
    RawHttp.send(net, hub.port(), attempt.bytes(hub.port()))
        .onFailure(e -> outcome.tryComplete(Outcome.trouble("not sent: " + e, millis(began))))
        .onSuccess(
            exchange -> {
              long timer =
                  vertx.setTimer(
                      limit,
                      t -> {
                        outcome.tryComplete(
                            Outcome.trouble(
                                attempt.cut() == Attempt.Cut.NONE
                                    ? "no answer"
                                    : "not closed by its deadline",
                                millis(began)));
                        exchange.close();
                      });
              Future<RawHttp.Answer> answer = exchange.answer();
              // Cut short, the connection must also be closed by the hub, by its deadline.
              Future<?> done =
                  attempt.cut() == Attempt.Cut.NONE
                      ? answer
                      : Future.all(answer, exchange.closed());
              done.onComplete(
                  ar -> {
                    vertx.cancelTimer(timer);
                    RawHttp.Answer a = answer.result();
                    outcome.tryComplete(
                        a.status() < 0
                            ? Outcome.trouble("closed without an answer", millis(began))
                            : new Outcome(
                                a.status(),
                                a.header("content-type"),
                                a.header("retry-after"),
                                a.body(),
                                millis(began),
                                a.status() == 0 ? "unreadable status line " + a.headers() : null));
                    exchange.close();
                  });
            });
    return outcome.future();
  }

  /**
   * A request the node answers and then closes its connection by design: a request line or headers
   * over the limits, or a body whose framing it cannot trust.
   */
  private static boolean closesByDesign(Attempt attempt) {
    int headerBytes = attempt.headers().stream().mapToInt(h -> h[0].length() + h[1].length()).sum();
    return attempt.target().length() > 4000
        || headerBytes > 8000
        || attempt.headers().stream()
            .anyMatch(
                h ->
                    h[0].equalsIgnoreCase("Transfer-Encoding")
                        && !h[1].trim().toLowerCase(java.util.Locale.ROOT).endsWith("chunked"));
  }

  private static void check(Attempt attempt, Outcome outcome, Findings findings) {
    switch (attempt.cut()) {
      case HEAD -> {
        // Documented: a head not complete in http.header-timeout-seconds is closed, unanswered;
        // one already malformed (or too large) may be refused at once, in the error shape.
        // An answer to HEAD has no body (RFC 9110, 9.3.2), a refusal's error included.
        boolean refused =
            outcome.status() >= 400
                && outcome.status() < 500
                && (attempt.method().equals("HEAD") || shapeError(outcome) == null);
        if (!refused && !"closed without an answer".equals(outcome.trouble())) {
          findings.add(attempt, outcome, "a cut-short head was neither refused nor just closed");
        }
        return;
      }
      case BODY -> {
        // A body shorter than its Content-Length: 408 request_timeout, then closed.
        if (outcome.status() != 408
            && !(outcome.status() >= 400
                && outcome.status() < 500
                && shapeError(outcome) == null)) {
          findings.add(attempt, outcome, "a cut-short body was not refused with a 4xx");
          return;
        }
      }
      case NONE -> {
        if (outcome.trouble() != null
            && outcome.trouble().startsWith("failed: ")
            && outcome.trouble().contains("Connection was closed")
            && closesByDesign(attempt)) {
          // Refused with the connection closed after the answer (414, 431, an unknown framing):
          // a client still sending its request when the close comes may lose the answer to the
          // reset (TCP discards what it had not read). Raw requests check these answers.
          return;
        }
        if (outcome.trouble() != null) {
          findings.add(attempt, outcome, outcome.trouble());
          return;
        }
      }
    }
    int status = outcome.status();
    if (status >= 500) {
      findings.add(attempt, outcome, "a 5xx");
      return;
    }
    if (status >= 400 && !attempt.method().equals("HEAD")) {
      String wrong = shapeError(outcome);
      if (wrong != null) {
        findings.add(attempt, outcome, wrong);
        return;
      }
    }
    if (status == 429) {
      if (outcome.retryAfter() == null || !outcome.retryAfter().matches("\\d+")) {
        findings.add(attempt, outcome, "a 429 without a Retry-After of whole seconds");
      }
      if (outcome.body().toString().contains("\"rate_limit_exceeded\"")) {
        findings.rateLimited.incrementAndGet();
      }
    }
  }

  /** Null when the answer is OpenAI's error shape, else what is wrong with it. */
  private static String shapeError(Outcome outcome) {
    if (outcome.contentType() == null || !outcome.contentType().startsWith("application/json")) {
      return "an error answered as " + outcome.contentType() + ", not JSON";
    }
    JsonObject error;
    try {
      error = new JsonObject(outcome.body()).getJsonObject("error");
    } catch (RuntimeException e) {
      return "an error body that is not {\"error\": {...}}";
    }
    if (error == null
        || !(error.getValue("message") instanceof String)
        || !(error.getValue("type") instanceof String)
        || !(error.getValue("code") == null || error.getValue("code") instanceof String)
        || !error.containsKey("param")) {
      return "an error not in OpenAI's shape";
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // WebSocket

  @Test
  @Order(2)
  @DisplayName(
      "2,000 malformed WebSocket frames: each answered by an error frame, or the socket closed with"
          + " RFC 6455's code, never a hang; new sockets are still accepted")
  void frames() {
    Findings findings = new Findings();
    AtomicInteger sent = new AtomicInteger();
    long began = System.nanoTime();
    int perSocket = FRAMES / SOFT_SOCKETS;
    List<Future<Void>> all = new ArrayList<>();
    for (int k = 0; k < SOFT_SOCKETS; k++) {
      all.add(softSocket(k, perSocket, sent, findings));
    }
    all.add(runAll(HARD_SOCKETS, 8, i -> hardSocket(i, sent, findings)));
    long progress =
        vertx.setPeriodic(
            5000,
            t ->
                System.out.println(
                    "FuzzTest progress: "
                        + sent.get()
                        + " frames; pending "
                        + all.stream().filter(f -> !f.isComplete()).count()
                        + "; findings "
                        + findings.all));
    Future<?> run = Future.all(all);
    run.onComplete(ar -> vertx.cancelTimer(progress));
    await(run, 240, "the WebSocket fuzz run, " + REPLAY);
    System.out.printf(
        "FuzzTest: %d frames in %d ms (%d sockets closed on purpose)%n",
        sent.get(), (System.nanoTime() - began) / 1_000_000, HARD_SOCKETS);
    findings.assertNone("frames");
    assertTrue(sent.get() >= FRAMES, sent.get() + " frames sent, " + REPLAY);
  }

  /** A frame (or fragments of one message) that the socket survives, and what it was. */
  private record Soft(List<Buffer> frames, String what) {}

  /**
   * A socket sent batches of frames it must survive, each followed by a sentinel frame of an
   * unknown type, whose error frame shows the batch was read and answered.
   */
  private static Future<Void> softSocket(int k, int frames, AtomicInteger sent, Findings findings) {
    Random r = random(1_000_000 + k);
    return within(RawWebSocket.open(net, hub.port(), ACME), ANSWER_MS)
        .transform(
            ar -> {
              if (ar.failed()) {
                findings.add("socket " + k + " not opened: " + ar.cause());
                return Future.succeededFuture();
              }
              return batch(ar.result(), r, k, 0, frames, new int[] {0}, sent, findings);
            });
  }

  private static Future<Void> batch(
      RawWebSocket ws,
      Random r,
      int k,
      int done,
      int total,
      int[] checked,
      AtomicInteger sent,
      Findings findings) {
    if (done >= total) {
      if (ws.closeCode().isComplete()) {
        findings.add("socket " + k + " was closed with " + ws.closeCode().result());
      }
      ws.close();
      return Future.succeededFuture();
    }
    List<String> what = new ArrayList<>();
    int count = 0;
    int size = 1 + r.nextInt(12);
    while (count < size && done + count < total) {
      Soft soft = softFrame(r);
      soft.frames().forEach(ws::write);
      count += soft.frames().size();
      what.add(soft.what());
    }
    sent.addAndGet(count);
    String sentinel = "fuzz.sentinel." + k + "." + done;
    ws.write(RawWebSocket.text("{\"type\":\"" + sentinel + "\"}", r));
    int next = done + count;
    return within(ws.texts().whenAny(t -> t.contains(sentinel)), ANSWER_MS)
        .transform(
            ar -> {
              List<String> texts = ws.texts().items();
              for (; checked[0] < texts.size(); checked[0]++) {
                String wrong = frameError(texts.get(checked[0]));
                if (wrong != null) {
                  findings.add(
                      "socket " + k + ": " + wrong + " after " + clip(what.toString(), 400));
                }
              }
              if (ar.failed()) {
                findings.add(
                    "socket "
                        + k
                        + ": no answer within "
                        + ANSWER_MS
                        + " ms (closed: "
                        + (ws.closeCode().isComplete() ? ws.closeCode().result() : "no")
                        + ") after "
                        + clip(what.toString(), 600));
                ws.close();
                return Future.succeededFuture();
              }
              return batch(ws, r, k, next, total, checked, sent, findings);
            });
  }

  /** Null when {@code text} is a JSON object with a type, and an error frame in its shape. */
  private static String frameError(String text) {
    JsonObject frame;
    try {
      frame = new JsonObject(text);
    } catch (RuntimeException e) {
      return "a frame that is not a JSON object: " + clip(text, 200);
    }
    if (!(frame.getValue("type") instanceof String type)) {
      return "a frame without a type: " + clip(text, 200);
    }
    if (type.equals("error")
        && !frame.containsKey("seq")
        && (!(frame.getValue("code") instanceof String)
            || !(frame.getValue("message") instanceof String))) {
      return "an error frame without a string code and message: " + clip(text, 200);
    }
    return null;
  }

  private static Soft softFrame(Random r) {
    int pick = r.nextInt(100);
    if (pick < 40) {
      String json = typedFrame(r);
      return text(json);
    } else if (pick < 50) {
      return text(
          "{\"type\":"
              + List.of(
                      "\"dance\"",
                      "\"SUBSCRIBE\"",
                      "\"\"",
                      "null",
                      "1",
                      "[]",
                      "{}",
                      "\"subscribe \"")
                  .get(r.nextInt(8))
              + (r.nextBoolean() ? ",\"generation\":\"" + generation + "\"" : "")
              + "}");
    } else if (pick < 62) {
      return text(FuzzValues.junk(r));
    } else if (pick < 72) {
      byte[] bytes = new byte[r.nextInt(200)];
      r.nextBytes(bytes);
      return new Soft(
          List.of(RawWebSocket.frame(RawWebSocket.BINARY, 0, true, bytes, r)),
          "binary of " + bytes.length);
    } else if (pick < 80) {
      byte[] bytes = new byte[r.nextInt(126)];
      r.nextBytes(bytes);
      int opcode = r.nextInt(3) == 0 ? RawWebSocket.PONG : RawWebSocket.PING;
      return new Soft(
          List.of(RawWebSocket.frame(opcode, 0, true, bytes, r)),
          (opcode == RawWebSocket.PING ? "ping" : "pong") + " of " + bytes.length);
    } else if (pick < 90) {
      // A message in fragments, a ping between them now and then: both allowed by RFC 6455.
      byte[] json = typedFrame(r).getBytes(StandardCharsets.UTF_8);
      // Now and then an empty first fragment, which Vert.x 5.0.7's aggregation fails on alone
      // (EmptyFragments).
      int cut = r.nextInt(8) == 0 || json.length < 2 ? 0 : 1 + r.nextInt(json.length - 1);
      List<Buffer> frames = new ArrayList<>();
      frames.add(
          RawWebSocket.frame(
              RawWebSocket.TEXT, 0, false, java.util.Arrays.copyOfRange(json, 0, cut), r));
      if (r.nextBoolean()) {
        frames.add(RawWebSocket.frame(RawWebSocket.PING, 0, true, new byte[] {1, 2}, r));
      }
      frames.add(
          RawWebSocket.frame(
              RawWebSocket.CONTINUATION,
              0,
              true,
              java.util.Arrays.copyOfRange(json, cut, json.length),
              r));
      return new Soft(
          frames, "fragments of " + clip(new String(json, StandardCharsets.UTF_8), 200));
    } else if (pick < 94) {
      return text("");
    } else {
      return text("{\"type\":\"subscribe\",\"generation\":\"" + generation + "\",\"after\":0}");
    }
  }

  private static Soft text(String json) {
    if (json.length() > 60_000) {
      json = json.substring(0, 60_000); // under websocket.max-frame-bytes
    }
    return new Soft(List.of(RawWebSocket.text(json, new Random(json.length()))), clip(json, 200));
  }

  /** A frame of a known type with its fields missing, of the wrong type, or naming the unknown. */
  private static String typedFrame(Random r) {
    String type =
        List.of("subscribe", "unsubscribe", "generate", "cancel", "join", "leave", "typing")
            .get(r.nextInt(7));
    Map<String, String> frame = new java.util.LinkedHashMap<>();
    frame.put("type", "\"" + type + "\"");
    switch (type) {
      case "generate" -> {
        String request =
            r.nextBoolean()
                ? FuzzValues.mutate(FuzzValues.chatRequest(), FuzzValues.CHAT_FIELDS, r)
                : FuzzValues.value(r);
        frame.put("request", request);
      }
      case "join", "leave", "typing" -> {
        frame.put("session", wsId(r, session, otherSession));
        if (r.nextBoolean()) {
          frame.put("author", r.nextBoolean() ? "\"ann\"" : FuzzValues.value(r));
        }
        if (r.nextInt(3) == 0) {
          frame.put("after", FuzzValues.value(r));
        }
      }
      default -> {
        frame.put("generation", wsId(r, generation, otherGeneration));
        if (r.nextInt(3) == 0) {
          frame.put("after", FuzzValues.value(r));
        }
        if (r.nextInt(3) == 0) {
          frame.put("snapshot", FuzzValues.value(r));
        }
      }
    }
    if (r.nextInt(6) == 0) {
      frame.remove(List.copyOf(frame.keySet()).get(1 % frame.size()));
    }
    return FuzzValues.encode(frame);
  }

  private static String wsId(Random r, String own, String other) {
    return switch (r.nextInt(6)) {
      case 0 -> "\"" + other + "\"";
      case 1 -> "\"chatcmpl-unknown\"";
      case 2 -> FuzzValues.value(r);
      default -> "\"" + own + "\"";
    };
  }

  /** A frame RFC 6455 does not allow, and the close code it must get (0: any close frame). */
  private record Hard(List<Buffer> frames, int code, String what) {}

  private static Hard hardFrame(Random r) {
    byte[] big = new byte[65_537 + r.nextInt(20_000)];
    java.util.Arrays.fill(big, (byte) 'a');
    byte[][] notUtf8 = {
      {(byte) 0xff},
      {(byte) 0xc3, 0x28},
      {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
      {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
      {(byte) 0xc0, (byte) 0xaf},
      {'{', (byte) 0xe2, (byte) 0x82}
    };
    byte[] text = "{\"type\":\"subscribe\"}".getBytes(StandardCharsets.UTF_8);
    return switch (r.nextInt(16)) {
      case 0 ->
          new Hard(
              List.of(RawWebSocket.frame(RawWebSocket.TEXT, 0, true, big, r)),
              1009,
              "text of " + big.length);
      case 1 ->
          new Hard(
              List.of(
                  RawWebSocket.frame(RawWebSocket.TEXT, 0, false, new byte[40_000], r),
                  RawWebSocket.frame(RawWebSocket.CONTINUATION, 0, true, new byte[40_000], r)),
              1009,
              "fragments of 80,000");
      case 2 ->
          new Hard(
              List.of(RawWebSocket.frame(RawWebSocket.BINARY, 0, true, big, r)),
              1009,
              "binary of " + big.length);
      case 3 -> {
        int rsv = List.of(0x10, 0x20, 0x40, 0x70).get(r.nextInt(4));
        int opcode = r.nextBoolean() ? RawWebSocket.TEXT : RawWebSocket.PING;
        yield new Hard(
            List.of(RawWebSocket.frame(opcode, rsv, true, text, r)),
            1002,
            "reserved bits " + rsv + " on opcode " + opcode);
      }
      case 4 -> {
        byte[] bad = notUtf8[r.nextInt(notUtf8.length)];
        yield new Hard(
            List.of(RawWebSocket.frame(RawWebSocket.TEXT, 0, true, bad, r)),
            1007,
            "text not UTF-8 " + java.util.Arrays.toString(bad));
      }
      case 5 ->
          new Hard(
              List.of(
                  RawWebSocket.frame(
                      RawWebSocket.TEXT, 0, false, new byte[] {'{', '"', (byte) 0xe2}, r),
                  RawWebSocket.frame(
                      RawWebSocket.CONTINUATION, 0, true, new byte[] {0x28, (byte) 0xa1, '}'}, r)),
              1007,
              "fragments not UTF-8");
      case 6 -> {
        int opcode = List.of(3, 4, 5, 6, 7, 11, 12, 13, 14, 15).get(r.nextInt(10));
        yield new Hard(
            List.of(RawWebSocket.frame(opcode, 0, true, text, r)), 1002, "opcode " + opcode);
      }
      case 7 ->
          new Hard(
              List.of(RawWebSocket.frame(RawWebSocket.TEXT, 0, true, false, text, r)),
              1002,
              "an unmasked frame");
      case 8 ->
          new Hard(
              List.of(RawWebSocket.frame(RawWebSocket.CONTINUATION, 0, true, text, r)),
              1002,
              "a continuation with nothing to continue");
      case 9 ->
          new Hard(
              List.of(
                  RawWebSocket.frame(RawWebSocket.TEXT, 0, false, text, r),
                  RawWebSocket.frame(RawWebSocket.TEXT, 0, true, text, r)),
              1002,
              "a new message inside a fragmented one");
      case 10 ->
          new Hard(
              List.of(RawWebSocket.frame(RawWebSocket.PING, 0, false, new byte[] {1}, r)),
              1002,
              "a fragmented ping");
      case 11 ->
          new Hard(
              List.of(RawWebSocket.frame(RawWebSocket.PING, 0, true, new byte[126], r)),
              1002,
              "a ping of 126 bytes");
      case 12 ->
          new Hard(
              List.of(RawWebSocket.frame(RawWebSocket.CLOSE, 0, true, new byte[] {3}, r)),
              1002,
              "a close of one byte");
      case 13 -> {
        int code = List.of(0, 999, 1004, 1005, 1006, 1015, 1016, 2999).get(r.nextInt(8));
        yield new Hard(
            List.of(
                RawWebSocket.frame(
                    RawWebSocket.CLOSE,
                    0,
                    true,
                    Buffer.buffer().appendUnsignedShort(code).getBytes(),
                    r)),
            1002,
            "a close with code " + code);
      }
      case 14 ->
          new Hard(
              List.of(
                  RawWebSocket.frame(
                      RawWebSocket.CLOSE,
                      0,
                      true,
                      Buffer.buffer().appendUnsignedShort(1000).appendByte((byte) 0xff).getBytes(),
                      r)),
              1007,
              "a close whose reason is not UTF-8");
      default -> {
        // A frame header announcing 2^62 bytes.
        Buffer frame =
            Buffer.buffer()
                .appendByte((byte) 0x81)
                .appendByte((byte) (0x80 | 127))
                .appendLong(1L << 62)
                .appendInt(r.nextInt())
                .appendBytes(new byte[16]);
        yield new Hard(List.of(frame), 1009, "a frame header announcing 2^62 bytes");
      }
    };
  }

  /**
   * A fresh socket sent zero to two frames it survives, then one it must not: the hub closes it
   * with the code RFC 6455 gives, in time.
   */
  private static Future<Void> hardSocket(int i, AtomicInteger sent, Findings findings) {
    Random r = random(2_000_000 + i);
    List<Soft> before = new ArrayList<>();
    for (int n = r.nextInt(3); n > 0; n--) {
      before.add(softFrame(r));
    }
    Hard hard = hardFrame(r);
    String what =
        "socket #"
            + i
            + ": "
            + clip(before.stream().map(Soft::what).toList().toString(), 200)
            + " then "
            + hard.what();
    return within(RawWebSocket.open(net, hub.port(), ACME), ANSWER_MS)
        .transform(
            opened -> {
              if (opened.failed()) {
                findings.add(what + ": not opened: " + opened.cause());
                return Future.succeededFuture();
              }
              RawWebSocket ws = opened.result();
              before.forEach(s -> s.frames().forEach(ws::write));
              hard.frames().forEach(ws::write);
              sent.addAndGet(
                  before.stream().mapToInt(s -> s.frames().size()).sum() + hard.frames().size());
              return within(Future.any(ws.closeCode(), ws.closed()), ANSWER_MS)
                  .transform(
                      ar -> {
                        if (ar.failed()) {
                          findings.add(
                              what + ": neither closed nor a close frame in " + ANSWER_MS + " ms");
                        } else if (!ws.closeCode().isComplete()) {
                          // Closed in time, but RFC 6455 (and docs/API.md) want a close frame.
                          findings.add(what + ": closed without a close frame");
                        } else if (hard.code() != 0 && ws.closeCode().result() != hard.code()) {
                          findings.add(
                              what
                                  + ": closed with "
                                  + ws.closeCode().result()
                                  + ", not "
                                  + hard.code());
                        }
                        ws.texts().items().stream()
                            .map(FuzzTest::frameError)
                            .filter(java.util.Objects::nonNull)
                            .forEach(wrong -> findings.add(what + ": " + wrong));
                        ws.close();
                        return Future.succeededFuture();
                      });
            });
  }

  // ---------------------------------------------------------------------------------------------
  // Afterwards

  @Test
  @Order(3)
  @DisplayName(
      "afterwards the node serves as before (health, a completion, a WebSocket generation) and its"
          + " heap is back near where it started")
  void afterwards() {
    assertEquals(200, await(hub.get("/health")).statusCode(), REPLAY);
    HttpResponse<Buffer> answer = completion();
    assertEquals(200, answer.statusCode(), answer.bodyAsString() + ", " + REPLAY);
    assertEquals("chat.completion", answer.bodyAsJsonObject().getString("object"), REPLAY);
    WsClient socket = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + ACME));
    await(
        socket.send(
            new JsonObject().put("type", "generate").put("request", TestHub.mockRequest(3, 5000))));
    await(socket.frames().whenAny(f -> "done".equals(f.getString("type"))), 10, "done, " + REPLAY);
    await(socket.close());

    long heapAtEnd = settledHeap();
    System.out.printf(
        "FuzzTest: heap %d MB at the start, %d MB at the end%n",
        heapAtStart >> 20, heapAtEnd >> 20);
    assertTrue(
        heapAtEnd - heapAtStart < HEAP_GROWTH_BOUND,
        "heap grew from " + (heapAtStart >> 20) + " MB to " + (heapAtEnd >> 20) + " MB, " + REPLAY);
  }

  // ---------------------------------------------------------------------------------------------
  // Support

  /** The random source of item {@code i}: a function of the seed and {@code i} alone. */
  private static Random random(long i) {
    return new Random(SEED * 0x9E3779B97F4A7C15L + i);
  }

  /** Runs {@code task(0..count-1)}, {@code lanes} at a time; tasks record, never fail. */
  private static Future<Void> runAll(int count, int lanes, IntFunction<Future<?>> task) {
    AtomicInteger next = new AtomicInteger();
    List<Future<Void>> all = new ArrayList<>();
    for (int i = 0; i < lanes; i++) {
      all.add(lane(next, count, task));
    }
    return Future.all(all).mapEmpty();
  }

  private static Future<Void> lane(AtomicInteger next, int count, IntFunction<Future<?>> task) {
    int i = next.getAndIncrement();
    if (i >= count) {
      return Future.succeededFuture();
    }
    return task.apply(i).transform(ar -> lane(next, count, task));
  }

  /** {@code future}, failed if not complete within {@code ms}. */
  private static <T> Future<T> within(Future<T> future, long ms) {
    Promise<T> promise = Promise.promise();
    long timer = vertx.setTimer(ms, t -> promise.tryFail("timed out after " + ms + " ms"));
    future.onComplete(
        ar -> {
          vertx.cancelTimer(timer);
          if (ar.succeeded()) {
            promise.tryComplete(ar.result());
          } else {
            promise.tryFail(ar.cause());
          }
        });
    return promise.future();
  }

  private static long millis(long began) {
    return (System.nanoTime() - began) / 1_000_000;
  }

  /** Heap in use after full collections, once two in a row agree within a megabyte. */
  private static long settledHeap() {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    long last = Long.MAX_VALUE;
    for (int i = 0; i < 10; i++) {
      System.gc();
      long used = memory.getHeapMemoryUsage().getUsed();
      if (Math.abs(used - last) < (1 << 20)) {
        return used;
      }
      last = used;
    }
    return last;
  }

  private static String clip(String text, int max) {
    StringBuilder out = new StringBuilder();
    for (char c : text.toCharArray()) {
      if (out.length() >= max) {
        return out.append("…").toString();
      }
      out.append(c < 0x20 || c > 0x7e ? String.format("\\x%02x", (int) c) : String.valueOf(c));
    }
    return out.toString();
  }

  /** What the fuzzer found, from any thread; the first few are shown with the seed. */
  private static final class Findings {
    final ConcurrentLinkedQueue<String> all = new ConcurrentLinkedQueue<>();
    final AtomicInteger rateLimited = new AtomicInteger();

    void add(Attempt attempt, Outcome outcome, String what) {
      add(
          what
              + ": "
              + attempt
              + " -> "
              + outcome.status()
              + " in "
              + outcome.millis()
              + " ms "
              + clip(outcome.body().toString(StandardCharsets.ISO_8859_1), 300));
    }

    void add(String finding) {
      all.add(finding);
    }

    void assertNone(String of) {
      assertTrue(
          all.isEmpty(),
          all.size()
              + " findings among the "
              + of
              + ", "
              + REPLAY
              + ":\n"
              + all.stream().limit(25).collect(Collectors.joining("\n")));
    }
  }
}
