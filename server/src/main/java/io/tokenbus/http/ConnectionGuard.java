package io.tokenbus.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.generation.GenerationEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * The deadlines of one HTTP/1.x connection, in its Netty pipeline, so they hold whatever route (or
 * none) a request reaches: a request head must be complete within {@code
 * http.header-timeout-seconds} of the connection opening or of its first byte, a body within {@code
 * http.body-timeout-seconds} of its head (408), and a kept-alive connection with nothing in
 * progress is closed after {@code http.idle-timeout-seconds}. An answer in progress (an SSE stream
 * for hours) has no deadline: its client is not the one who is slow. A WebSocket leaves the guard
 * at its upgrade. On a connection taken from the health reserve ({@link Connections}), the one
 * request allowed must be for {@code /health}; anything else is answered 503 and the connection
 * closed.
 *
 * <p>Sits between Vert.x's HTTP encoder and its connection handler, so it sees decoded request
 * heads and the heads and ends of answers; a second handler below the decoder tells it when the
 * next request's first byte arrives. Everything runs on the connection's event loop.
 */
final class ConnectionGuard extends ChannelDuplexHandler {

  /** Vert.x's names for its HTTP/1.x request decoder and its connection handler. */
  private static final String HTTP_DECODER = "httpDecoder";

  private static final String VERTX_HANDLER = "handler";

  private enum Deadline {
    NONE,
    HEAD,
    BODY,
    IDLE
  }

  private final long headerMs;
  private final long bodyMs;
  private final long idleMs;

  /** Set once a request head arrived, on a health-reserve connection; null on any other. */
  private final AtomicBoolean healthOnly;

  private final FirstByte firstByte = new FirstByte();
  private ChannelHandlerContext ctx;
  private Deadline armed = Deadline.NONE;
  private ScheduledFuture<?> timer;

  /** A request head is in and its body is not yet. */
  private boolean requestOpen;

  /** Request heads in minus answers ended. */
  private int answersOwed;

  /** The latest request's answer has its head out: a 408 can no longer be sent. */
  private boolean answerStarted;

  /** A health-reserve connection has had its one request. */
  private boolean requested;

  /** Answering 408 or 503 and closing: the rest of what the client sends is dropped. */
  private boolean refusing;

  private ConnectionGuard(TokenbusConfig.Http http, AtomicBoolean healthOnly) {
    this.headerMs = http.headerTimeoutSeconds() * 1000L;
    this.bodyMs = http.bodyTimeoutSeconds() * 1000L;
    this.idleMs = http.idleTimeoutSeconds() * 1000L;
    this.healthOnly = healthOnly;
  }

  /**
   * Guards the HTTP/1.x connection whose pipeline this is, from now on.
   *
   * @param healthOnly for a connection from the health reserve: set once its request head arrived;
   *     null for any other connection
   */
  static void install(
      ChannelPipeline pipeline, TokenbusConfig.Http http, AtomicBoolean healthOnly) {
    if (pipeline.get(HTTP_DECODER) == null || pipeline.get(VERTX_HANDLER) == null) {
      return; // not the pipeline Vert.x builds for HTTP/1.x: nothing to guard
    }
    ConnectionGuard guard = new ConnectionGuard(http, healthOnly);
    pipeline.addBefore(VERTX_HANDLER, null, guard);
    pipeline.addBefore(HTTP_DECODER, null, guard.firstByte);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    arm(Deadline.HEAD); // the first head is due from the connection's opening
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    disarm();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    disarm();
    super.channelInactive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof HttpObject)) {
      detach(); // no longer HTTP/1.x (an upgrade it did not see)
      ctx.fireChannelRead(msg);
      return;
    }
    if (refusing) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof HttpRequest request) {
      if (request.decoderResult().isSuccess()
          && !request.protocolVersion().equals(HttpVersion.HTTP_1_1)
          && !request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
        // Vert.x would answer a version it does not speak (HTTP/9.9) with a bare 501: this makes
        // it the server's unparsable request, a 400 in the API's shape, the connection closed.
        request.setDecoderResult(
            DecoderResult.failure(
                new IllegalArgumentException(
                    "unsupported HTTP version " + request.protocolVersion())));
      } else if (request.decoderResult().isSuccess() && !framed(request)) {
        // RFC 9112 6.1: a Transfer-Encoding whose last coding is not chunked leaves the body's
        // length unknown; the request must be refused (400) and the connection closed, or its
        // body would be read until the connection ends, and whatever follows smuggled in.
        request.setDecoderResult(
            DecoderResult.failure(
                new IllegalArgumentException("a Transfer-Encoding other than chunked")));
      }
      if (healthOnly != null) {
        healthOnly.set(true);
        if (requested || !health(request)) {
          ReferenceCountUtil.release(msg);
          refuse();
          return;
        }
        requested = true;
        HttpUtil.setKeepAlive(request, false);
      }
      requestOpen = true;
      answersOwed++;
      answerStarted = false;
      arm(Deadline.BODY);
    }
    if (msg instanceof LastHttpContent) {
      requestOpen = false;
    }
    update();
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof HttpResponse response
        && response.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
      ctx.write(msg, promise);
      if (response.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
        detach(); // a WebSocket: a stream of its own, with its own pings and limits
      }
      return; // 100 Continue is not the answer
    }
    if (msg instanceof HttpResponse) {
      answerStarted = true;
    }
    if (msg instanceof LastHttpContent && answersOwed > 0) {
      answersOwed--;
    }
    update();
    ctx.write(msg, promise);
  }

  /** The deadline the connection's state calls for. */
  private void update() {
    if (requestOpen) {
      return; // BODY, armed at the head
    }
    if (answersOwed > 0) {
      disarm(); // an answer (perhaps a stream) is in progress
    } else if (armed != Deadline.HEAD && armed != Deadline.IDLE) {
      arm(Deadline.IDLE);
    }
  }

  /** A byte came in: between requests, the next head is now due. */
  private void bytesIn() {
    if (armed == Deadline.IDLE && !requestOpen && answersOwed == 0) {
      arm(Deadline.HEAD);
    }
  }

  private void arm(Deadline deadline) {
    disarm();
    long ms =
        switch (deadline) {
          case HEAD -> headerMs;
          case BODY -> bodyMs;
          case IDLE -> idleMs;
          case NONE -> 0;
        };
    armed = deadline;
    timer = ctx.executor().schedule(() -> expired(deadline), ms, TimeUnit.MILLISECONDS);
  }

  private void disarm() {
    armed = Deadline.NONE;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void expired(Deadline deadline) {
    if (armed != deadline) {
      return; // re-armed meanwhile
    }
    armed = Deadline.NONE;
    timer = null;
    if (ctx.pipeline().get(HTTP_DECODER) == null) {
      detach(); // upgraded away from HTTP/1.x
      return;
    }
    if (deadline == Deadline.BODY && !answerStarted) {
      answer(
          HttpResponseStatus.REQUEST_TIMEOUT,
          new Failure(
              408,
              "invalid_request_error",
              "request_timeout",
              "The request body was not complete within http.body-timeout-seconds ("
                  + bodyMs / 1000
                  + " s): a body shorter than its Content-Length, or sent too slowly"));
    } else {
      ctx.close();
    }
  }

  /** Refuses a health-reserve connection's request that is not for {@code /health}. */
  private void refuse() {
    answer(
        HttpResponseStatus.SERVICE_UNAVAILABLE,
        new Failure(
            503,
            "server_error",
            "too_many_connections",
            "This node is at its connection limit (http.max-connections or"
                + " http.max-connections-per-address); retry shortly"));
  }

  /** Answers {@code failure} in OpenAI's error shape, then closes; later input is dropped. */
  private void answer(HttpResponseStatus status, Failure failure) {
    refusing = true;
    disarm();
    byte[] body = GenerationEncoder.errorBody(failure).encode().getBytes(StandardCharsets.UTF_8);
    FullHttpResponse response =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
    response
        .headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE)
        .set("X-Content-Type-Options", "nosniff");
    if (status == HttpResponseStatus.SERVICE_UNAVAILABLE) {
      response.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
    }
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }

  /** Whether the request's body, if any, has a length the decoder can know. */
  private static boolean framed(HttpRequest request) {
    String codings = request.headers().get(HttpHeaderNames.TRANSFER_ENCODING);
    if (codings == null) {
      return true;
    }
    int comma = codings.lastIndexOf(',');
    return codings.substring(comma + 1).trim().equalsIgnoreCase("chunked");
  }

  private static boolean health(HttpRequest request) {
    if (!HttpMethod.GET.equals(request.method())) {
      return false;
    }
    String uri = request.uri();
    int query = uri.indexOf('?');
    // Plain segments only: the router would normalise /health/../v1/models to an API path.
    return HEALTH.matcher(query < 0 ? uri : uri.substring(0, query)).matches();
  }

  private static final Pattern HEALTH = Pattern.compile("/health(/[A-Za-z0-9_-]+)*/?");

  private void detach() {
    disarm();
    ChannelPipeline pipeline = ctx.pipeline();
    if (pipeline.context(firstByte) != null) {
      pipeline.remove(firstByte);
    }
    if (pipeline.context(this) != null) {
      pipeline.remove(this);
    }
  }

  /** Below the decoder: tells the guard that bytes arrived, whether or not they make a head. */
  private final class FirstByte extends ChannelInboundHandlerAdapter {

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof ByteBuf bytes && bytes.isReadable()) {
        bytesIn();
      }
      ctx.fireChannelRead(msg);
    }
  }
}
