package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.fanout.WebSocketFrames;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.session.Sessions;
import io.vertx.core.Vertx;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * One {@code /v1/ws} socket: reads the client's frames and hands each to the part that serves it,
 * {@link GenerationSubscriptions} ({@code subscribe}, {@code unsubscribe}, {@code generate}, {@code
 * cancel}) or {@link SessionMemberships} ({@code join}, {@code leave}, {@code typing}). It owns
 * what they share: the socket's {@link ConnectionWriter}, the error frames, and the one limit on
 * what a socket may watch. A frame that is not valid gets an {@code error} frame without {@code
 * seq} and the socket stays open.
 */
final class WebSocketConnection {

  private final Vertx vertx;
  private final ServerWebSocket socket;
  private final Principal caller;

  /** The timer that closes the socket when its credential expires; -1 when it does not. */
  private long expiry = -1;

  private final ConnectionWriter writer;
  private final int maxSubscriptions;
  private final GenerationSubscriptions generations;
  private final SessionMemberships sessions;

  /**
   * @param caller who opened it: every frame is checked against this credential
   * @param maxSubscriptions generations and sessions one socket may watch at once
   */
  WebSocketConnection(
      Vertx vertx,
      ServerWebSocket socket,
      Principal caller,
      Streams streams,
      GenerationClient client,
      GenerationStore store,
      Sessions sessions,
      int maxSubscriptions) {
    this.vertx = vertx;
    this.socket = socket;
    this.caller = caller;
    this.writer = streams.webSocket(socket);
    this.maxSubscriptions = maxSubscriptions;
    this.generations = new GenerationSubscriptions(this, client, store, streams);
    this.sessions = new SessionMemberships(this, sessions, streams);
  }

  /**
   * Reads frames until the socket closes; a socket opened with an expiring credential (a JWT, a
   * watch token) is closed when it expires, with an {@code error} frame and close code 1008: the
   * client reconnects with a fresh one.
   */
  void start() {
    long expires = caller.expires();
    if (expires > 0) {
      expiry =
          vertx.setTimer(
              Math.max(1, expires * 1000 - System.currentTimeMillis()),
              t -> {
                error(
                    null,
                    null,
                    "invalid_api_key",
                    "The credential this socket was opened with has expired: reconnect with a"
                        + " fresh one");
                socket.close((short) 1008, "credential expired");
              });
    }
    socket.textMessageHandler(this::onText);
    socket.binaryMessageHandler(
        b ->
            error(
                null,
                null,
                "invalid_frame",
                "Binary frames are not supported; send JSON text frames"));
    socket.closeHandler(
        v -> {
          if (expiry >= 0) {
            vertx.cancelTimer(expiry);
          }
          writer.stop();
          generations.closeAll();
          sessions.leaveAll();
        });
    socket.exceptionHandler(e -> socket.close());
  }

  private void onText(String text) {
    JsonObject frame;
    try {
      frame = new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      error(null, null, "invalid_frame", "Frames must be JSON objects");
      return;
    }
    Object type = frame.getValue("type");
    if (!(type instanceof String)) {
      error(
          null,
          null,
          "invalid_frame",
          "A frame needs a string 'type': subscribe, unsubscribe, generate, cancel, join, leave or typing");
      return;
    }
    switch ((String) type) {
      case "subscribe" -> generations.subscribe(frame);
      case "unsubscribe" -> generations.unsubscribe(frame);
      case "generate" -> generations.generate(frame);
      case "cancel" -> generations.cancel(frame);
      case "join" -> sessions.join(frame);
      case "leave" -> sessions.leave(frame);
      case "typing" -> sessions.typing(frame);
      default ->
          error(
              null,
              null,
              "invalid_frame",
              "Unknown frame type '"
                  + type
                  + "': expected subscribe, unsubscribe, generate, "
                  + "cancel, join, leave or typing");
    }
  }

  Principal caller() {
    return caller;
  }

  ConnectionWriter writer() {
    return writer;
  }

  boolean closed() {
    return socket.isClosed();
  }

  /**
   * True (after an error frame about {@code kind} {@code id}) when no slot is free: generations
   * watched or starting and sessions joined each take one of {@code websocket.max-subscriptions}.
   */
  boolean full(String kind, String id) {
    int watching = generations.count() + sessions.count();
    if (watching >= maxSubscriptions) {
      error(
          kind,
          id,
          "too_many_subscriptions",
          "This socket already watches "
              + watching
              + " generations and sessions (websocket.max-subscriptions)");
      return true;
    }
    return false;
  }

  /**
   * A JSON frame of the socket's own (started, errors): written in order with the streams' frames.
   */
  void send(JsonObject frame) {
    writer.write(WebSocketFrames.text(frame.encode()));
  }

  /**
   * A protocol error about a generation or a session ({@code kind} {@code id}; both null for the
   * socket itself). It has no {@code seq}, which tells it apart from a generation's terminal {@code
   * error} event.
   */
  void error(String kind, String id, String code, String message) {
    JsonObject frame =
        new JsonObject().put("type", "error").put("code", code).put("message", message);
    if (kind != null && id != null) {
      frame.put(kind, id);
    }
    send(frame);
  }

  /**
   * A stream of this socket stalled past the limit, so the whole socket is stuck: the client
   * reconnects and resumes with 'after'.
   */
  void closeStalled() {
    socket.close((short) 1013, "stalled; resubscribe with 'after'");
  }
}
