package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.support.Poll;
import io.tokenbus.support.ScriptedStore;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What a WebSocket leaves behind when it closes, whatever it was doing. */
@ExtendWith(VertxExtension.class)
@DisplayName("WebSocket close")
class WebSocketCloseTest {

  @Test
  @DisplayName(
      "a socket that closes while a subscribe is still looking its generation up leaves the"
          + " sessions it joined")
  void closeDuringASubscribeLeavesSessions(Vertx vertx) {
    // Every store answer comes a second late: the subscribe below is still looking its generation
    // up when the socket closes.
    TestHub slowStore =
        await(
            TestHub.start(
                vertx,
                Map.of("TOKENBUS_SESSIONS_PRESENCE_GRACE_SECONDS", "0"),
                new ScriptedStore(vertx).delay(1000)));
    var created = await(slowStore.post("/v1/sessions", new JsonObject()));
    String session = created.bodyAsJsonObject().getString("id");
    WsClient socket = await(WsClient.connect(vertx, slowStore.port()));
    await(
        socket.send(
            new JsonObject().put("type", "join").put("session", session).put("author", "Ann")));
    await(socket.frames().whenAny(f -> "state".equals(f.getString("type"))));
    assertEquals(
        List.of("Ann"),
        await(slowStore.get("/v1/sessions/" + session))
            .bodyAsJsonObject()
            .getJsonArray("participants")
            .getList());

    await(
        socket.send(
            new JsonObject()
                .put("type", "subscribe")
                .put("generation", "chatcmpl-looked-up-slowly")));
    await(socket.close());
    await(
        Poll.until(
            vertx,
            () -> slowStore.get("/v1/sessions/" + session).map(r -> r.bodyAsJsonObject()),
            state -> state.getJsonArray("participants").isEmpty(),
            10_000));
  }
}
