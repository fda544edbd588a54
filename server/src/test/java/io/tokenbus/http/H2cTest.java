package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.Await;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * HTTP/2 without TLS on a plain port: served only with {@code http.h2c}, for a proxy in front that
 * speaks it; streams then behave exactly as over HTTP/1.1.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("h2c: HTTP/2 on a plain port")
class H2cTest {

  /** A plain client speaking HTTP/2 with prior knowledge, or offering it by Upgrade: h2c. */
  private static HttpClientAgent h2cClient(Vertx vertx, boolean upgrade) {
    return vertx.createHttpClient(
        new HttpClientOptions()
            .setProtocolVersion(HttpVersion.HTTP_2)
            .setHttp2ClearTextUpgrade(upgrade));
  }

  private static SseClient watch(TestHub hub, HttpClientAgent client, String id) {
    return await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
  }

  private static void assertContiguous(List<SseEvent> events, long from) {
    for (int i = 0; i < events.size(); i++) {
      assertEquals(from + i, events.get(i).seq(), "seq of event " + i);
    }
  }

  @Test
  @DisplayName(
      "with http.h2c a plain port streams SSE over HTTP/2, by prior knowledge and by Upgrade: h2c")
  void h2cWhenAsked(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_HTTP_H2C", "true")));
    int tokens = 30;
    String id = await(hub.startGeneration(TestHub.mockRequest(tokens, 300)));
    for (boolean upgrade : new boolean[] {false, true}) {
      SseClient sse = watch(hub, h2cClient(vertx, upgrade), id);
      assertEquals(HttpVersion.HTTP_2, sse.version(), upgrade ? "upgraded" : "prior knowledge");
      assertEquals(List.of(), sse.connectionHeaders());
      await(sse.ended(), 20, "end of the stream");
      List<SseEvent> events = sse.events().items();
      assertEquals(tokens + 1, events.size());
      assertContiguous(events, 1);
      assertEquals(MockText.text(tokens), SseEvent.text(events));
    }
  }

  @Test
  @DisplayName(
      "without http.h2c a plain port speaks HTTP/1.1 only: prior-knowledge HTTP/2 fails, and an"
          + " Upgrade: h2c request is answered over HTTP/1.1")
  void noH2cByDefault(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    String id = await(hub.startGeneration(TestHub.mockRequest(10, 300)));
    Throwable prior =
        Await.failure(
            h2cClient(vertx, false)
                .request(
                    new RequestOptions()
                        .setMethod(HttpMethod.GET)
                        .setHost("127.0.0.1")
                        .setPort(hub.port())
                        .setURI("/health"))
                .compose(req -> req.send()),
            "a prior-knowledge HTTP/2 request");
    assertNotNull(prior, "a prior-knowledge HTTP/2 request got an answer");

    SseClient upgraded = watch(hub, h2cClient(vertx, true), id);
    assertEquals(HttpVersion.HTTP_1_1, upgraded.version());
    await(upgraded.ended(), 20, "end of the stream");
    List<SseEvent> events = upgraded.events().items();
    assertEquals(11, events.size());
    assertContiguous(events, 1);
    assertEquals(MockText.text(10), SseEvent.text(events));
  }
}
