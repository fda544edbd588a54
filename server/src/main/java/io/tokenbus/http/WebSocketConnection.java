package io.tokenbus.http;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.Utf8FrameValidator;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.tokenbus.auth.Principal;
import io.tokenbus.fanout.WebSocketFrames;
import io.tokenbus.feed.Board;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.session.Sessions;
import io.vertx.core.Vertx;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.internal.http.WebSocketInternal;
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

  /** The name Netty's handshaker gives the WebSocket frame decoder in the pipeline. */
  private static final String FRAME_DECODER = "wsdecoder";

  private static final String UTF8_VALIDATOR = "utf8-validator";

  private final Vertx vertx;
  private final ServerWebSocket socket;
  private final Principal caller;

  /** The timer that closes the socket when its credential expires; -1 when it does not. */
  private long expiry = -1;

  private final ConnectionWriter writer;
  private final int maxSubscriptions;
  private final GenerationSubscriptions generations;
  private final SessionMemberships sessions;
  private final FeedWatches feeds;

  /**
   * @param caller who opened it: every frame is checked against this credential
   * @param maxSubscriptions generations and sessions one socket may watch at once
   */
  private final AccessLog access;

  private final long opened = System.nanoTime();

  WebSocketConnection(
      Vertx vertx,
      ServerWebSocket socket,
      Principal caller,
      Streams streams,
      GenerationClient client,
      GenerationStore store,
      Sessions sessions,
      Board board,
      int maxSubscriptions) {
    this.vertx = vertx;
    this.socket = socket;
    this.caller = caller;
    this.writer = streams.webSocket(socket);
    this.access = streams.access();
    this.maxSubscriptions = maxSubscriptions;
    this.generations = new GenerationSubscriptions(this, client, store, streams);
    this.sessions = new SessionMemberships(this, sessions, streams);
    this.feeds = new FeedWatches(this, board);
  }

  /**
   * Reads frames until the socket closes; a socket opened with an expiring credential (a JWT, a
   * watch token) is closed when it expires, with an {@code error} frame and close code 1008: the
   * client reconnects with a fresh one.
   */
  void start() {
    guardPipeline();
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
          feeds.closeAll();
          access.webSocketClosed(socket.path(), opened, writer.piped(), caller);
        });
    socket.exceptionHandler(this::onException);
  }

  /**
   * Text frames must be UTF-8 (RFC 6455, 8.1). Vert.x decodes them leniently, replacing what is
   * not, so Netty's validator goes in right after the frame decoder; what it refuses reaches {@link
   * #onException} as a 1007. Behind it, {@link EmptyFragments} keeps a message that starts with an
   * empty fragment from breaking Vert.x's aggregation of messages.
   */
  private void guardPipeline() {
    if (socket instanceof WebSocketInternal internal) {
      ChannelPipeline pipeline = internal.channelHandlerContext().pipeline();
      if (pipeline.get(FRAME_DECODER) != null && pipeline.get(Utf8FrameValidator.class) == null) {
        pipeline.addAfter(FRAME_DECODER, UTF8_VALIDATOR, new Utf8FrameValidator(false));
        pipeline.addAfter(UTF8_VALIDATOR, EmptyFragments.NAME, new EmptyFragments());
      }
      if (pipeline.get(ReadGate.NAME) == null) {
        pipeline.addFirst(ReadGate.NAME, new ReadGate()); // pongs stay within the write bound
      }
    }
  }

  /**
   * A frame the protocol does not allow ends the socket with RFC 6455's code for it: 1009 for a
   * frame or message over {@code websocket.max-frame-bytes}, 1002 for reserved bits or a bad
   * opcode, 1007 for a text frame that is not UTF-8. Anything else (the connection broke) closes it
   * as it is.
   */
  private void onException(Throwable failure) {
    if (failure instanceof CorruptedWebSocketFrameException corrupted) {
      WebSocketCloseStatus status = corrupted.closeStatus();
      closeNow((short) status.code(), status.reasonText());
    } else if (failure instanceof TooLongFrameException || isMessageTooBig(failure)) {
      closeNow((short) 1009, "Message too big");
    } else {
      socket.close();
    }
  }

  /**
   * Closes with {@code code} and flushes the close frame at once. A frame Netty refuses reaches
   * {@link #onException} from Vert.x's {@code VertxHandler.exceptionCaught}, which closes the
   * channel as soon as this returns. While Vert.x handles the frames of one read it writes without
   * flushing ({@code VertxConnection.write}), until the read is done; so when the refused frame
   * came in the same read as one already handled (a frame that is not JSON, say, answered with an
   * {@code error} frame), the close frame was still unflushed when the channel closed, and a
   * channel drops what is unflushed when it closes.
   */
  private void closeNow(short code, String reason) {
    socket.close(code, reason);
    if (socket instanceof WebSocketInternal internal) {
      internal.channelHandlerContext().flush();
    }
  }

  /**
   * Vert.x's own message aggregation refuses a fragmented message over the limit this way ("...
   * would cause message buffer ... to overflow max message size of N").
   */
  private static boolean isMessageTooBig(Throwable failure) {
    return failure instanceof IllegalStateException
        && failure.getMessage() != null
        && failure.getMessage().contains("max message size");
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
          "A frame needs a string 'type': subscribe, unsubscribe, generate, cancel, join, leave,"
              + " typing, watch or unwatch");
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
      case "watch" -> feeds.watch(frame);
      case "unwatch" -> feeds.unwatch(frame);
      default ->
          error(
              null,
              null,
              "invalid_frame",
              "Unknown frame type '"
                  + type
                  + "': expected subscribe, unsubscribe, generate, "
                  + "cancel, join, leave, typing, watch or unwatch");
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
    int watching = generations.count() + sessions.count() + feeds.count();
    if (watching >= maxSubscriptions) {
      error(
          kind,
          id,
          "too_many_subscriptions",
          "This socket already watches "
              + watching
              + " generations, sessions and feeds (websocket.max-subscriptions)");
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
