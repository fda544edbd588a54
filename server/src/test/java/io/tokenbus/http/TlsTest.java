package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.config.ConfigException;
import io.tokenbus.provider.MockText;
import io.tokenbus.support.Await;
import io.tokenbus.support.Poll;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SelfSignedCertificate;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTPS, HTTP/2 by ALPN and WSS on one port, with a throwaway self-signed certificate made for this
 * run (no key is committed). Streams must behave exactly as over plain HTTP/1.1: every event once,
 * in order, as it happens. (H2cTest covers HTTP/2 on a plain port.)
 */
@ExtendWith(VertxExtension.class)
@DisplayName("TLS and HTTP/2")
class TlsTest {

  private static SelfSignedCertificate certificate;

  @BeforeAll
  static void certificate() {
    certificate = SelfSignedCertificate.create("localhost");
  }

  @AfterAll
  static void deleteCertificate() {
    certificate.delete();
  }

  private static TestHub tlsHub(Vertx vertx) {
    return await(
        TestHub.start(
            vertx,
            Map.of(
                "TOKENBUS_HTTP_TLS_CERT_PATH", certificate.certificatePath(),
                "TOKENBUS_HTTP_TLS_KEY_PATH", certificate.privateKeyPath())));
  }

  /**
   * A client that trusts only the test certificate and offers {@code version} by ALPN. The
   * certificate names localhost and the hub is reached as 127.0.0.1, so the host is not verified.
   */
  private static HttpClientAgent tlsClient(Vertx vertx, HttpVersion version) {
    return vertx.createHttpClient(
        new HttpClientOptions()
            .setSsl(true)
            .setUseAlpn(true)
            .setProtocolVersion(version)
            .setTrustOptions(certificate.trustOptions())
            .setVerifyHost(false),
        new PoolOptions().setHttp1MaxSize(20));
  }

  private static JsonObject chatRequest(int tokens, int tokensPerSecond) {
    return new JsonObject()
        .put("model", "mock")
        .put("stream", true)
        .put("max_tokens", tokens)
        .put("mock_tokens_per_second", tokensPerSecond)
        .put(
            "messages",
            new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")));
  }

  /**
   * The content of each chunk of a chat completions stream that carries some, in order (the first
   * chunk, which gives the role, carries none).
   */
  private static List<String> contents(List<SseEvent> events) {
    List<String> contents = new ArrayList<>();
    for (SseEvent event : events) {
      if (event.data().equals("[DONE]")) {
        continue;
      }
      JsonArray choices = event.json().getJsonArray("choices");
      String content =
          choices.isEmpty()
              ? null
              : choices.getJsonObject(0).getJsonObject("delta").getString("content");
      if (content != null && !content.isEmpty()) {
        contents.add(content);
      }
    }
    return contents;
  }

  private static void assertContiguous(List<SseEvent> events, long from) {
    for (int i = 0; i < events.size(); i++) {
      assertEquals(from + i, events.get(i).seq(), "seq of event " + i);
    }
  }

  /**
   * One chat completions stream over {@code client}: asserts that its first tokens arrive while the
   * generation still runs (streamed, not delivered at the end), and returns the stream once ended.
   */
  private static SseClient chatStream(TestHub hub, HttpClientAgent client, int tokens) {
    SseClient sse =
        await(
            SseClient.post(
                client, hub.port(), "/v1/chat/completions", chatRequest(tokens, 20).encode()));
    assertEquals(200, sse.status());
    String id = sse.headers().get("X-Generation-Id");
    await(sse.events().whenAny(e -> !contents(List.of(e)).isEmpty()), 20, "first token");
    JsonObject status = await(hub.get("/v1/generations/" + id)).bodyAsJsonObject();
    assertEquals("running", status.getString("status"), "the first token came before the end");
    assertTrue(status.getLong("seq") < tokens, status.encode());
    await(sse.ended(), 20, "end of the stream");
    return sse;
  }

  @Test
  @DisplayName(
      "HTTPS chat completions stream token by token over HTTP/2 and HTTP/1.1 alike, with no"
          + " hop-by-hop header on HTTP/2")
  void chatCompletionsOverHttp2AndHttp11(Vertx vertx) {
    TestHub hub = tlsHub(vertx);
    int tokens = 20;
    SseClient h2 = chatStream(hub, tlsClient(vertx, HttpVersion.HTTP_2), tokens);
    SseClient h1 = chatStream(hub, tlsClient(vertx, HttpVersion.HTTP_1_1), tokens);

    assertEquals(HttpVersion.HTTP_2, h2.version(), "negotiated by ALPN");
    assertEquals(HttpVersion.HTTP_1_1, h1.version());
    assertEquals(List.of(), h2.connectionHeaders());
    assertTrue(h2.headers().get("content-type").startsWith("text/event-stream"));
    assertEquals("no-cache", h2.headers().get("cache-control"));
    List<String> overH2 = contents(h2.events().items());
    assertEquals(tokens, overH2.size(), "one chunk per token");
    assertEquals(MockText.text(tokens), String.join("", overH2));
    assertEquals(overH2, contents(h1.events().items()), "the same chunks over both protocols");
    assertEquals("[DONE]", h2.events().items().get(h2.events().size() - 1).data());
  }

  @Test
  @DisplayName(
      "a generation's SSE over HTTP/2 resumes with Last-Event-ID with no gap and no duplicate,"
          + " and a stream the client resets frees its viewer")
  void resumeOverHttp2(Vertx vertx) {
    TestHub hub = tlsHub(vertx);
    HttpClientAgent h2 = tlsClient(vertx, HttpVersion.HTTP_2);
    String id = await(hub.startGeneration(TestHub.mockRequest(60, 100)));
    String path = "/v1/generations/" + id + "/events";

    SseClient first = await(SseClient.get(h2, hub.port(), path, Map.of()));
    assertEquals(HttpVersion.HTTP_2, first.version());
    assertEquals(List.of(), first.connectionHeaders());
    List<SseEvent> before = await(first.events().whenCount(10)).subList(0, 10);
    first.close(); // RST_STREAM: the connection stays, the stream goes
    await(
        Poll.until(
            vertx,
            () -> hub.get("/health").map(r -> r.bodyAsJsonObject().getInteger("streams")),
            streams -> streams == 0,
            10_000),
        15,
        "the reset stream's viewer is gone");

    SseClient resumed = await(SseClient.get(h2, hub.port(), path, Map.of("Last-Event-ID", "10")));
    assertEquals(HttpVersion.HTTP_2, resumed.version());
    await(resumed.ended(), 20, "end of the resumed stream");
    List<SseEvent> after = resumed.events().items();
    assertContiguous(after, 11);
    List<SseEvent> all = new ArrayList<>(before);
    all.addAll(after);
    assertContiguous(all, 1);
    assertEquals(MockText.text(60), SseEvent.text(all));
    assertEquals("done", all.get(all.size() - 1).event());
  }

  @Test
  @DisplayName(
      "eight SSE streams from one client share one HTTP/2 connection (HTTP/1.1 would need eight)"
          + " and each gets every event once, in order")
  void streamsShareOneConnection(Vertx vertx) {
    TestHub hub = tlsHub(vertx);
    HttpClientAgent h2 = tlsClient(vertx, HttpVersion.HTTP_2);
    int tokens = 40;
    String id = await(hub.startGeneration(TestHub.mockRequest(tokens, 200)));
    List<SseClient> viewers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      viewers.add(
          await(SseClient.get(h2, hub.port(), "/v1/generations/" + id + "/events", Map.of())));
    }
    Set<Integer> connections =
        viewers.stream().map(v -> v.connection().localAddress().port()).collect(Collectors.toSet());
    assertEquals(1, connections.size(), "client ports of the streams' connections");
    for (SseClient viewer : viewers) {
      assertEquals(HttpVersion.HTTP_2, viewer.version());
      await(viewer.ended(), 20, "end of a stream");
      List<SseEvent> events = viewer.events().items();
      assertEquals(tokens + 1, events.size());
      assertContiguous(events, 1);
      assertEquals(MockText.text(tokens), SseEvent.text(events));
    }
  }

  @Test
  @DisplayName("a WebSocket over TLS (wss) on the same port follows a generation to its end")
  void webSocketOverTls(Vertx vertx) {
    TestHub hub = tlsHub(vertx);
    WsClient ws =
        await(
            WsClient.connect(
                vertx.createWebSocketClient(
                    new WebSocketClientOptions()
                        .setSsl(true)
                        .setTrustOptions(certificate.trustOptions())
                        .setVerifyHost(false)),
                hub.port(),
                "/v1/ws"));
    int tokens = 30;
    String id = await(hub.startGeneration(TestHub.mockRequest(tokens, 300)));
    await(ws.send(new JsonObject().put("type", "subscribe").put("generation", id)));
    await(
        ws.frames()
            .whenAny(
                f -> id.equals(f.getString("generation")) && "done".equals(f.getString("type"))),
        20,
        "the done frame");
    List<JsonObject> frames =
        ws.frames().items().stream()
            .filter(f -> id.equals(f.getString("generation")) && f.containsKey("seq"))
            .toList();
    assertEquals(tokens + 1, frames.size());
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < frames.size(); i++) {
      assertEquals(i + 1, frames.get(i).getLong("seq"));
      if (frames.get(i).getString("type").equals("delta")) {
        text.append(frames.get(i).getString("text"));
      }
    }
    assertEquals(MockText.text(tokens), text.toString());
  }

  @Test
  @DisplayName("the TLS port serves no plain HTTP")
  void noPlainHttpOnTheTlsPort(Vertx vertx) {
    TestHub hub = tlsHub(vertx);
    HttpClientAgent plain = vertx.createHttpClient();
    Future<Integer> status =
        plain
            .request(HttpMethod.GET, hub.port(), "127.0.0.1", "/health")
            .compose(req -> req.send())
            .map(r -> r.statusCode());
    assertNotNull(
        Await.failure(status, "a plain request to the TLS port"),
        "a plain request to the TLS port got an answer");
  }

  @Test
  @DisplayName(
      "a key that is not the certificate's, or one that cannot be read, stops the node before it"
          + " listens, naming http.tls.key-path")
  void keyMustMatchTheCertificate(@TempDir Path dir) throws IOException {
    SelfSignedCertificate other = SelfSignedCertificate.create("localhost");
    Path corrupt =
        Files.writeString(
            dir.resolve("corrupt.pem"),
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n");
    try {
      for (String key : List.of(other.privateKeyPath(), corrupt.toString())) {
        Vertx vertx = Vertx.vertx(); // a node's codecs are registered once per Vert.x
        Throwable failure;
        try {
          failure =
              Await.failure(
                  TestHub.start(
                      vertx,
                      Map.of(
                          "TOKENBUS_HTTP_TLS_CERT_PATH",
                          certificate.certificatePath(),
                          "TOKENBUS_HTTP_TLS_KEY_PATH",
                          key)),
                  "a start with key " + key);
        } finally {
          await(vertx.close());
        }
        assertTrue(failure instanceof ConfigException, String.valueOf(failure));
        assertEquals("http.tls.key-path", ((ConfigException) failure).key(), failure.getMessage());
        assertTrue(failure.getMessage().contains(key), failure.getMessage());
      }
    } finally {
      other.delete();
    }
  }
}
