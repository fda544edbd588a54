package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;

/** A real WebSocket client of {@code /v1/ws}, recording every JSON frame it receives. */
public final class WsClient {

  private final WebSocketClient client; // held: Vert.x closes an unreachable client
  private final WebSocket socket;
  private final Recorder<JsonObject> frames = new Recorder<>();
  private final Promise<Short> closed = Promise.promise();

  private WsClient(WebSocketClient client, WebSocket socket) {
    this.client = client;
    this.socket = socket;
  }

  public static Future<WsClient> connect(Vertx vertx, int port) {
    return connect(vertx.createWebSocketClient(), port);
  }

  /** A client whose socket buffers little, so a paused one soon pushes back on the hub. */
  public static Future<WsClient> connectSmallWindow(Vertx vertx, int port) {
    return connect(
        vertx.createWebSocketClient(new WebSocketClientOptions().setReceiveBufferSize(4096)), port);
  }

  /** A socket to {@code uri} (the path and query, for example {@code /v1/ws?access_token=...}). */
  public static Future<WsClient> connect(Vertx vertx, int port, String uri) {
    return connect(vertx.createWebSocketClient(), port, uri);
  }

  private static Future<WsClient> connect(WebSocketClient wsClient, int port) {
    return connect(wsClient, port, "/v1/ws");
  }

  /** A socket to {@code uri} through a client of the caller's (for example one with TLS: wss). */
  public static Future<WsClient> connect(WebSocketClient wsClient, int port, String uri) {
    return wsClient
        .connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI(uri))
        .map(
            socket -> {
              WsClient client = new WsClient(wsClient, socket);
              socket.textMessageHandler(text -> client.frames.add(new JsonObject(text)));
              socket.closeHandler(v -> client.closed.tryComplete(socket.closeStatusCode()));
              return client;
            });
  }

  public Future<Void> send(JsonObject frame) {
    return socket.writeTextMessage(frame.encode());
  }

  public Future<Void> sendText(String text) {
    return socket.writeTextMessage(text);
  }

  public Recorder<JsonObject> frames() {
    return frames;
  }

  public Future<Short> closed() {
    return closed.future();
  }

  /** Stops reading from the socket (the hub's writes back up), until {@link #resume()}. */
  public void pause() {
    socket.pause();
  }

  public void resume() {
    socket.resume();
  }

  public boolean isClosed() {
    return socket.isClosed();
  }

  public Future<Void> close() {
    return socket.close();
  }
}
